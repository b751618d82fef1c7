// The attention sinks are computed only while something shown needs them (the overview's Sinks
// toggle: the model's; Compare: both models'), once per run and pane.

import * as assert from 'node:assert/strict';
import { api, inspectAfresh, inspectSelection, panelCaughtUp } from './helpers';

suite('attention sinks', () => {
  test('computed only for the Sinks toggle or Compare, once per run and pane', async () => {
    const inspector = await api();
    const editor = await inspectAfresh();
    let before = inspector.engineRequests();
    const made = () => {
      const after = inspector.engineRequests();
      return [after.model.sinks - before.model.sinks, after.baseline.sinks - before.baseline.sinks];
    };

    const { runId } = await inspectSelection(editor);
    await panelCaughtUp('inspect');
    assert.deepEqual(made(), [0, 0], 'an inspection computes no sinks');
    await inspector.panelMessage({ type: 'viewShown', runId, tab: 'outliers' });
    assert.deepEqual(made(), [0, 0], 'the Outliers tab shows none');
    for (let shown = 0; shown < 2; shown++) await inspector.panelMessage({ type: 'sinksShown', runId });
    assert.deepEqual(made(), [1, 0], 'the Sinks toggle: the model’s, once');

    before = inspector.engineRequests();
    const compared = await inspectSelection(editor, 'compareWithBaseline');
    await panelCaughtUp('compare');
    for (const message of [{ type: 'viewShown', tab: 'compare' }, { type: 'sinksShown' }, { type: 'viewShown', tab: 'compare' }] as const) {
      await inspector.panelMessage({ ...message, runId: compared.runId });
    }
    assert.deepEqual(made(), [1, 1], 'Compare: each model’s, once (the toggle’s is the same run’s)');
  });
});
