// Runs inside the extension host against the real vscode API.
/// <reference types="mocha" />
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

const extensionId = 'difftransformer-inspector.difftransformer-inspector';
const commandIds = [
  'difftransformer.inspectSelection',
  'difftransformer.inspectFile',
  'difftransformer.selectModel',
  'difftransformer.importModel',
  'difftransformer.showPanel',
  'difftransformer.clearHighlights',
  'difftransformer.exportView',
];

suite('extension smoke', () => {
  test('is present and activates', async () => {
    const extension = vscode.extensions.getExtension(extensionId);
    assert.ok(extension, `${extensionId} is not loaded`);
    await extension.activate();
    assert.equal(extension.isActive, true);
  });

  test('registers every command', async () => {
    await vscode.extensions.getExtension(extensionId)?.activate();
    const registered = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual(commandIds.filter((id) => !registered.has(id)), [], 'commands not registered');
  });
});
