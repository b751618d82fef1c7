// Flows started with the panel in a state of its own, inside the extension host against the real
// vscode API and the bundled models: the Needle Test run from a maximised panel.
/// <reference types="mocha" />
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { api, openSample } from './helpers';

/** The editor groups that hold no editor. */
const emptyGroups = () => vscode.window.tabGroups.all.filter((group) => group.tabs.length === 0);

suite('flows from the panel', () => {
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
});
