// The editor side of an inspection, inside the extension host against the real vscode API and the
// bundled model: revealing a span reuses the editor that shows the document, and highlights and
// reveals cover what the user sees as characters.
/// <reference types="mocha" />
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { api, inspectSelection } from './helpers';

const workspaceFolder = () => vscode.workspace.workspaceFolders![0].uri;

/** The tabs, in every group, of the file at `uri`. */
function tabsOf(uri: vscode.Uri): vscode.Tab[] {
  return vscode.window.tabGroups.all.flatMap((group) => group.tabs).filter((tab) => tab.input instanceof vscode.TabInputText && tab.input.uri.fsPath === uri.fsPath);
}

/** The document offsets [start, end) of a range. */
function offsetsOf(document: vscode.TextDocument, range: vscode.Range): [number, number] {
  return [document.offsetAt(range.start), document.offsetAt(range.end)];
}

suite('the editor side of an inspection', () => {
  test('revealing a span of a file opened by a link (npm start’s) opens no second tab and keeps the highlights', async () => {
    const inspector = await api();
    const file = vscode.Uri.joinPath(workspaceFolder(), 'settings_loader.py');
    // npm start opens its sample by a link whose authority is not the window's.
    const linked = vscode.env.remoteName ? file.with({ scheme: 'vscode-remote', authority: 'remote' }) : file;
    await vscode.commands.executeCommand('vscode.open', linked);
    const editor = vscode.window.activeTextEditor!;
    assert.equal(editor.document.uri.fsPath, file.fsPath, 'the linked file is open');
    editor.selection = new vscode.Selection(0, 0, 0, 0);
    const inspection = await inspectSelection(editor, 'inspectFile');
    assert.equal(tabsOf(file).length, 1, 'one tab before');

    await vscode.commands.executeCommand('difftransformer.revealTokens', inspection.runId, 3, 6);
    assert.equal(tabsOf(file).length, 1, 'revealing opened no second tab');
    const shown = vscode.window.visibleTextEditors.filter((e) => e.document.uri.fsPath === file.fsPath);
    assert.equal(shown.length, 1, 'one editor shows the file');
    const { tokens } = inspection.result;
    assert.deepEqual(offsetsOf(shown[0].document, shown[0].selection), [tokens[3].start, tokens[5].end], 'the tokens are selected in that editor');
    assert.ok(inspector.highlights(shown[0].document.uri)!.ranges.length > 0, 'its highlights are still there');
  });

  test('highlights and reveals cover whole graphemes, and a lone "\\r" token its line break', async () => {
    const inspector = await api();
    // A combining accent after "fe", emoji joined by U+200D, a tab, CRLF line ends.
    const text = '# caf\u00e9 vs cafe\u0301\r\nname = "cafe\u0301"  # \u{1F469}\u200D\u{1F4BB} \u{1F468}\u200D\u{1F469}\u200D\u{1F467}\r\n\tprint(name)\r\n';
    const file = vscode.Uri.joinPath(workspaceFolder(), 'graphemes.py');
    fs.writeFileSync(file.fsPath, text);
    const editor = await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(file));
    assert.equal(editor.document.getText(), text, 'CRLF kept');
    editor.selection = new vscode.Selection(0, 0, 0, 0);
    const inspection = await inspectSelection(editor, 'inspectFile');
    const { document } = editor;
    const segments = [...new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(text)];
    const boundaries = new Set([0, ...segments.map((s) => s.index + s.segment.length)]);
    const wholeGraphemes = (range: vscode.Range, what: string) => {
      const [from, to] = offsetsOf(document, range);
      assert.ok(from < to, `${what} is not empty`);
      assert.ok(boundaries.has(from) && boundaries.has(to), `${what} ${JSON.stringify(text.slice(from, to))} starts and ends between graphemes`);
      return text.slice(from, to);
    };

    const { tokens } = inspection.result;
    const revealed: string[] = [];
    for (let t = 1; t < tokens.length; t++) {
      await vscode.commands.executeCommand('difftransformer.revealTokens', inspection.runId, t, t + 1);
      const shown = wholeGraphemes(editor.selection, `token ${t}'s reveal`);
      const [from, to] = offsetsOf(document, editor.selection);
      assert.ok(from <= tokens[t].start && tokens[t].end <= to, `token ${t}'s reveal holds its characters`);
      revealed.push(shown);
    }
    const tokenText = tokens.map((t) => text.slice(t.start, t.end));
    assert.ok(tokenText.includes('fe') && revealed.includes('fe\u0301'), 'the token "fe" before a combining accent reveals "fé"');
    assert.ok(tokenText.includes('\r') && revealed.includes('\r\n'), 'a lone "\\r" token reveals its line break');

    const highlights = inspector.highlights(document.uri)!;
    assert.ok(highlights.ranges.length > 0, 'spans are highlighted');
    highlights.ranges.forEach((range, i) => wholeGraphemes(range, `highlight ${i}`));
    wholeGraphemes(highlights.query!, 'the query outline');
  });
});
