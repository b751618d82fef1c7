// Flows a user trips on, inside the extension host against the real vscode API and the bundled
// models: the Needle Test run from a maximised panel, Inspect File's query at the cursor, the test
// fixtures in Select Model's list, Open Sample from the walkthrough, CJK tokens split into bytes.
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

  test('tokens that start mid-character (a CJK character split into bytes) reveal that character, as its hover shows it', async () => {
    const inspector = await api();
    const document = await vscode.workspace.openTextDocument({ content: '# 中文注释\nx = 1\n', language: 'python' });
    const editor = await vscode.window.showTextDocument(document);
    editor.selection = new vscode.Selection(0, 0, 0, 0);
    const before = inspector.lastInspection()?.runId;
    await vscode.commands.executeCommand('difftransformer.inspectFile');
    const inspection = inspector.lastInspection()!;
    assert.notEqual(inspection.runId, before, 'Inspect File ran');
    const { tokens } = inspection.result;
    // The first byte fragment: an empty offset range right after the token holding its character.
    const fragment = tokens.findIndex((token, index) => index > 1 && token.start === token.end);
    assert.ok(fragment > 1 && /^\\x[0-9A-F]{2}$/.test(tokens[fragment].text), `the text has a byte fragment: ${JSON.stringify(tokens.map((t) => t.text))}`);
    const character = tokens[fragment].start - 1;
    assert.equal(document.getText().slice(character, character + 1), '中');
    const spanEnd = tokens.findIndex((token, index) => index > fragment && token.end > token.start) + 1;

    await vscode.commands.executeCommand('difftransformer.revealTokens', inspection.runId, fragment, spanEnd);
    const revealed = [document.offsetAt(editor.selection.start), document.offsetAt(editor.selection.end)];
    assert.deepEqual(revealed, [character, tokens[spanEnd - 1].end], 'the span starts at the character its first bytes belong to');
    const [hover] = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', document.uri, document.positionAt(character));
    assert.ok(hover?.range, 'the character has a hover');
    assert.equal(document.offsetAt(hover.range.start), revealed[0], 'the hover and the revealed span start at the same character');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });
});
