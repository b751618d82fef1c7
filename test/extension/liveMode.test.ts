// Live mode inside the extension host: with difftransformer.liveMode on, moving the cursor in the
// inspected range locks the token under it from the run already computed (no new run, no map), and
// edits in the range run it again after a pause, never showing a run of text edited since.
/// <reference types="mocha" />
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { LIVE_RERUN_DELAY_MS } from '../../extension/vscode/liveMode';
import { api, inspectSelection, openSample, select } from './helpers';

const configure = (value: boolean | undefined) => vscode.workspace.getConfiguration('difftransformer').update('liveMode', value, vscode.ConfigurationTarget.Global);
const tick = () => new Promise((resolve) => setTimeout(resolve, 10));

/** Waits (checking every 10 ms, at most 60 s) until `done()`, calling `check()` at each step. */
async function until(done: () => boolean, check: () => void = () => undefined): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (check(); !done(); check()) {
    assert.ok(Date.now() < deadline, 'timed out');
    await tick();
  }
}

suite('live mode', () => {
  suiteSetup(() => configure(true));
  suiteTeardown(async () => {
    await configure(undefined);
    await vscode.commands.executeCommand('workbench.action.files.revert');
  });

  test('the panel follows the cursor inside the inspected range without running the model', async () => {
    const inspector = await api();
    const editor = await openSample('sample.py');
    select(editor, 'numbers.append', 'numbers[-2])');
    const inspection = await inspectSelection(editor);
    const before = inspector.engineRequests().model;
    const target = editor.document.getText().indexOf('append') + 2; // inside the token "append"
    const position = editor.document.positionAt(target);
    editor.selection = new vscode.Selection(position, position);
    await until(() => inspector.highlights(editor.document.uri)?.query?.contains(position) ?? false);
    const token = inspection.result.tokens.findIndex((t, i) => i > 0 && t.start <= target - inspection.baseOffset && target - inspection.baseOffset < t.end);
    assert.ok(token > 0, 'the cursor is on a token of the run');
    assert.equal(inspector.lastInspection()?.runId, inspection.runId, 'no new run');
    const after = inspector.engineRequests().model;
    assert.equal(after.map, before.map, 'no map computed: only the row moved');
    assert.ok(after.spans > before.spans, 'the locked token’s spans were computed from the run');
  });

  test('edits in the range run it again after a pause, and no run of an older text is shown', async () => {
    const inspector = await api();
    const editor = vscode.window.activeTextEditor!;
    const document = editor.document;
    const first = inspector.lastInspection()!;
    const at = document.positionAt(document.getText().indexOf('numbers[-1]') + 'numbers'.length);
    // Two edits, the second after the pause, so that the first edit's run may be in flight.
    await editor.edit((edit) => edit.insert(at, 'X'));
    const shown: number[] = [];
    const noStaleRun = () => {
      const current = inspector.lastInspection()!;
      if (current.runId === first.runId || shown.includes(current.runId)) return;
      shown.push(current.runId);
      assert.equal(current.version, document.version, `run ${current.runId} is of the text as it is now`);
    };
    // A run shown just before an edit arrived was current when shown: checked as the edit lands.
    const beforeEdit = vscode.workspace.onDidChangeTextDocument((event) => {
      if (event.document !== document) return;
      const current = inspector.lastInspection()!;
      if (current.runId === first.runId || shown.includes(current.runId)) return;
      shown.push(current.runId);
      // An emitter swallows a listener's exceptions: kept for the assertion after the edits.
      if (current.version !== document.version - 1) staleWhenShown.push(current.runId);
    });
    const staleWhenShown: number[] = [];
    try {
      const pause = Date.now() + LIVE_RERUN_DELAY_MS + 20;
      await until(() => Date.now() > pause, noStaleRun);
      await editor.edit((edit) => edit.insert(at, 'Y'));
      await until(() => inspector.lastInspection()!.version === document.version, noStaleRun);
    } finally {
      beforeEdit.dispose();
    }
    assert.deepEqual(staleWhenShown, [], 'every run shown before an edit was of the text before it');
    const last = inspector.lastInspection()!;
    const text = document.getText(last.range);
    assert.ok(text.startsWith('numbers.append(numbersYX[-1]') && text.endsWith('numbers[-2])'), `the edited range ran: ${text}`);
    assert.equal(last.result.tokens.at(-1)!.end, text.length, 'its tokens cover the edited text');
  });
});
