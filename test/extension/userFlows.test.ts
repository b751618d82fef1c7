// Flows a user trips on, inside the extension host against the real vscode API and the bundled
// models: the Needle Test run from a maximised panel, Inspect File's query at the cursor, the test
// fixtures in Select Model's list, Open Sample from the walkthrough.
/// <reference types="mocha" />
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { api, EXTENSION_ID, openSample } from './helpers';

/** Waits (checking every 50 ms, at most 30 s) until `found()` gives something, and returns it. */
async function until<T>(found: () => T | undefined, what: string): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (let value = found(); ; value = found()) {
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The editor groups that hold no editor. */
const emptyGroups = () => vscode.window.tabGroups.all.filter((group) => group.tabs.length === 0);

suite('flows a user trips on', () => {
  teardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  test('the Needle Test from a maximised panel opens its scratch copy and leaves no empty editor group', async () => {
    const inspector = await api();
    const editor = await openSample('sample.py');
    editor.selection = new vscode.Selection(0, 0, 0, 0);
    await vscode.commands.executeCommand('difftransformer.showPanel');
    await vscode.commands.executeCommand('workbench.action.toggleMaximizedPanel');
    const previous = inspector.lastNeedleTest();
    await vscode.commands.executeCommand('difftransformer.needleTest', { needles: 1, queries: 1, trials: 1 });
    const run = inspector.lastNeedleTest();
    assert.ok(run && run !== previous, 'the Needle Test ran');
    const scratchTabs = vscode.window.tabGroups.all.flatMap((group) => group.tabs).filter((tab) => tab.input instanceof vscode.TabInputText && tab.input.uri.toString() === run.scratch.uri.toString());
    assert.equal(scratchTabs.length, 1, 'the scratch copy is open');
    assert.deepEqual(emptyGroups().map((group) => group.viewColumn), [], 'no editor group is left empty');
  });

  test("Inspect File locks the query at the cursor, past whitespace: on the trailing newline's line, the last token", async () => {
    const inspector = await api();
    const editor = await openSample('sample.py');
    const text = editor.document.getText();
    assert.ok(text.endsWith('\n'), 'the sample ends with a newline');
    const queryEnd = async (cursor: number) => {
      editor.selection = new vscode.Selection(editor.document.positionAt(cursor), editor.document.positionAt(cursor));
      const before = inspector.lastInspection()?.runId;
      await vscode.commands.executeCommand('difftransformer.inspectFile');
      const inspection = inspector.lastInspection();
      assert.ok(inspection && inspection.runId !== before && inspection.baseOffset === 0, 'Inspect File ran the whole document');
      return inspection.result.tokens[inspection.result.query].end;
    };
    assert.equal(await queryEnd(text.length), text.trimEnd().length, 'the cursor after the trailing newline: the last token before it');
    assert.equal(await queryEnd(0), text.trimEnd().length, 'the cursor at the start (as a file opens): the last token');
    const afterName = text.indexOf('def fibonacci') + 'def fibonacci'.length;
    assert.equal(await queryEnd(afterName), afterName, 'the cursor after a name: the token before it');
    const afterDef = text.indexOf('def fibonacci') + 'def'.length;
    assert.equal(await queryEnd(afterDef + 1), afterDef, 'the cursor after a space: the token before the space');
  });

  test('Select Model lists the random-weight test fixtures apart from the trained models, labelled so', async () => {
    const choices = await (await api()).modelChoices();
    const labels = choices.map((choice) => choice.label);
    const fixtures = labels.indexOf('test fixtures (untrained)');
    assert.ok(fixtures > 0, `a separator heads the test fixtures: ${labels.join(', ')}`);
    for (const name of ['tiny-diff', 'tiny-baseline']) {
      const at = labels.indexOf(name);
      assert.ok(at > fixtures, `${name} is under the test fixtures' separator: ${labels.join(', ')}`);
      assert.match(String(choices[at].description), /test fixture: untrained, random weights/);
    }
    for (const name of ['code-diff', 'code-baseline']) {
      const at = labels.indexOf(name);
      assert.ok(at >= 0 && at < fixtures, `the trained ${name} comes first: ${labels.join(', ')}`);
      assert.doesNotMatch(String(choices[at].description), /untrained/);
    }
  });

  test('Open Sample from the walkthrough opens the sample beside it and leaves the walkthrough open', async () => {
    await vscode.commands.executeCommand('workbench.action.openWalkthrough', `${EXTENSION_ID}#gettingStarted`, false);
    const walkthrough = () => vscode.window.tabGroups.all.flatMap((group) => group.tabs).find((tab) => !(tab.input instanceof vscode.TabInputText) && tab.label.length > 0);
    const tab = await until(() => (vscode.window.tabGroups.activeTabGroup.activeTab === walkthrough() ? walkthrough() : undefined), 'the walkthrough to be the active tab');
    await vscode.commands.executeCommand('difftransformer.openSample');
    assert.equal(path.basename(vscode.window.activeTextEditor?.document.uri.fsPath ?? ''), 'sample.py', 'the sample is the active editor');
    assert.ok(walkthrough(), `the walkthrough (${tab.label}) is still open`);
  });
});
