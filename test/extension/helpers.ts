// What the extension-host suites share: the extension's API, the sample workspace, selecting text
// and running an inspection command.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ActiveInspection } from '../../extension/vscode/activeInspection';
import type { InspectorApi } from '../../extension/vscode/extension';

export const EXTENSION_ID = 'difftransformer-inspector.difftransformer-inspector';

export async function api(): Promise<InspectorApi> {
  return (await vscode.extensions.getExtension(EXTENSION_ID)!.activate()) as InspectorApi;
}

export async function openSample(name: string): Promise<vscode.TextEditor> {
  const folder = vscode.workspace.workspaceFolders![0].uri;
  const document = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder, name));
  return vscode.window.showTextDocument(document);
}

export function select(editor: vscode.TextEditor, from: string, to: string): vscode.Range {
  const text = editor.document.getText();
  const start = text.indexOf(from);
  const end = text.indexOf(to, start) + to.length;
  assert.ok(start >= 0 && end > start, `sample text has ${from} … ${to}`);
  editor.selection = new vscode.Selection(editor.document.positionAt(start), editor.document.positionAt(end));
  return editor.selection;
}

/** Runs an inspection command on the active editor's selection and returns the run it made: a new
 *  run id, on exactly that selection. The command resolves once the run's maps and spans are shown
 *  and its spans highlighted. */
export async function inspectSelection(editor: vscode.TextEditor, command = 'inspectSelection'): Promise<ActiveInspection> {
  const inspector = await api();
  const before = inspector.lastInspection()?.runId;
  await vscode.commands.executeCommand(`difftransformer.${command}`);
  const inspection = inspector.lastInspection();
  assert.ok(inspection && inspection.runId !== before, `${command} made a new run`);
  assert.equal(inspection.baseOffset, editor.document.offsetAt(editor.selection.start), `${command} ran the selection`);
  return inspection;
}

/** The sample's function selected and inspected, from a fresh run: whatever on-demand analyses an
 *  earlier test left running end with the run they were for (the host asks nothing more for a
 *  replaced run), so the engine requests counted after it are the caller's alone. */
export async function inspectAfresh(): Promise<vscode.TextEditor> {
  const editor = await openSample('sample.py');
  select(editor, 'def fibonacci', 'list[int]:');
  await inspectSelection(editor);
  await panelCaughtUp('settle');
  return editor;
}

/** Waits until the panel's messages about the run have reached the host: it answers Export View
 *  (a throwaway PNG, `name`) after every message posted before. */
export async function panelCaughtUp(name: string): Promise<void> {
  exportFolder ??= fs.mkdtempSync(path.join(os.tmpdir(), 'export-'));
  await vscode.commands.executeCommand('difftransformer.exportView', vscode.Uri.file(path.join(exportFolder, `${name}.png`)));
}
let exportFolder: string | undefined;
