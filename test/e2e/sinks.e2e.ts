// End to end: attention sinks. The overview's Sinks toggle asks for the run's sinks and shows, for
// every layer and head, the shares the engine computes for the same text (A1, A2 and |A1 − λ·A2| on
// the first token, BOS); Compare with Baseline shows both models' shares in one table.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { Engine } from '../../extension/core/engine';
import { DEFAULT_BASELINE, DEFAULT_MODEL } from '../../extension/core/modelPath';
import type { LayerSinks } from '../../shared/sinks';
import { assertClose } from '../support/tolerance';
import { inspectText, modelsFolder, ofRun, panelFixture } from './harness';

const SELECTED = 'numbers.append(numbers[-1] + numbers[-2])';
const panel = panelFixture('sinks', { inspect: { file: 'sample.py', text: SELECTED, command: 'DiffTransformer: Inspect Selection' }, engine: DEFAULT_MODEL });

const SHARES = ['a1', 'a2', 'diff'] as const;

/** A share as the panel writes it. */
const percent = (share: number) => `${(share * 100).toFixed(1)}%`;

/** Every head's expected shares, in the order the panel lists them. */
function expectedShares(layers: LayerSinks[]): { layer: number; head: number; shares: number[] }[] {
  return layers.flatMap((layer) => layer.a1.map((_, head) => ({ layer: layer.layer, head, shares: SHARES.flatMap((key) => (layer[key] ? [layer[key][head]] : [])) })));
}

test('the Sinks toggle shows every head’s shares on the first token, the engine’s', async () => {
  const { frame } = panel;
  const grid = frame.locator(ofRun('#sinks', panel.runId));
  assert.equal(await frame.locator('#sinks .sink-cell').count(), 0, 'nothing before the toggle');
  await frame.locator('#sinks-toggle').click();
  const cells = frame.locator(`${ofRun('#sinks', panel.runId)}[data-state="ready"] .sink-cell`);
  await cells.first().waitFor({ state: 'visible' });
  assert.match(await grid.locator('.sink-note').innerText(), /first token, position 0 \(BOS/);
  const shown = await cells.evaluateAll((elements) =>
    elements.map((element) => {
      const { dataset, textContent } = element as unknown as { dataset: Record<string, string>; textContent: string };
      return { layer: Number(dataset.layer), head: Number(dataset.head), shares: ['a1', 'a2', 'diff'].map((key) => Number(dataset[key])), text: textContent };
    }),
  );
  const expected = expectedShares(await panel.engine.sinks());
  assert.deepEqual(shown.map(({ layer, head }) => [layer, head]), expected.map(({ layer, head }) => [layer, head]), 'one cell per layer and head');
  for (const [n, { layer, head, shares, text }] of shown.entries()) {
    assertClose(shares, expected[n].shares, `layer ${layer} head ${head}: A1, A2 and |A1 − λ·A2| shares`);
    for (const share of shares) assert.ok(text.includes(percent(share)), `layer ${layer} head ${head} shows ${percent(share)}: ${text}`);
  }
  await panel.screenshot('sinks');
  await frame.locator('#sinks-toggle').click();
  await grid.waitFor({ state: 'hidden' });
});

test('Compare shows both models’ shares: the DIFF heads’ three beside the baseline’s softmax share', async () => {
  const { frame, page } = panel;
  panel.runId = await inspectText(page, 'sample.py', SELECTED, 'DiffTransformer: Compare with Baseline', DEFAULT_MODEL);
  const rows = frame.locator(`${ofRun('#compare-sinks', panel.runId)}[data-state="ready"] tbody tr`);
  await rows.first().waitFor({ state: 'visible' });
  const baseline = await Engine.load(path.join(modelsFolder, DEFAULT_BASELINE), 'cpu');
  await baseline.inspect(SELECTED);
  const [model, compared] = [expectedShares(await panel.engine.sinks()), expectedShares(await baseline.sinks())];
  const shown = await rows.evaluateAll((elements) => elements.map((element) => ({ ...(element as unknown as { dataset: Record<string, string> }).dataset })));
  assert.equal(shown.length, Math.max(model.length, compared.length), 'a row per layer and head');
  for (const row of shown) {
    const [layer, head] = [Number(row.layer), Number(row.head)];
    const mine = model.find((e) => e.layer === layer && e.head === head);
    const theirs = compared.find((e) => e.layer === layer && e.head === head);
    if (mine) assertClose([row.mainA1, row.mainA2, row.mainDiff].map(Number), mine.shares, `layer ${layer} head ${head}: the model's shares`);
    if (theirs) assertClose([Number(row.compareA1)], theirs.shares, `layer ${layer} head ${head}: the baseline's softmax share`);
    assert.equal(row.compareA2, undefined, 'a baseline has no A2');
  }
  assert.match(await frame.locator(`${ofRun('#compare-sinks', panel.runId)} caption`).innerText(), /BOS/);
  await panel.screenshot('compare-sinks');
});
