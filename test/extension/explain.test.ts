// Explain Prediction in a real VS Code: the command explains the token before the cursor with the
// engine's numbers, a head's source tokens are marked in the editor where the engine's parts rank
// them highest (added through A1, cancelled by A2), a typed target and versus explain their logits,
// the marks go when the panel shows another tab, and the hover links to the command.
/// <reference types="mocha" />
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Engine } from '../../extension/core/engine';
import type { ActiveInspection } from '../../extension/vscode/activeInspection';
import type { InspectorApi } from '../../extension/vscode/extension';
import { assertClose } from '../support/tolerance';
import { api, EXTENSION_ID, openSample } from './helpers';

/** A bundled package with the contributions graph (contributions.onnx) that explanations run. */
const EXPLAINED_MODEL = 'tiny-diff';

/** Where the cursor goes: after "numbers.append(" in the loop, whose next token the model predicts. */
const BEFORE_CURSOR = 'numbers.append(';
/** Marks of each kind the editor shows (the difftransformer.topSpans default). */
const MARKS = 5;

suite('Explain Prediction', () => {
  let inspector: InspectorApi;
  let editor: vscode.TextEditor;
  let inspection: ActiveInspection;
  let reference: Engine;

  suiteSetup(async () => {
    inspector = await api();
    const extensionPath = vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath;
    await settings().update('modelPath', path.join(extensionPath, 'models', EXPLAINED_MODEL), vscode.ConfigurationTarget.Global);
    editor = await openSample('sample.py');
    const cursor = editor.document.positionAt(editor.document.getText().indexOf(BEFORE_CURSOR) + BEFORE_CURSOR.length);
    editor.selection = new vscode.Selection(cursor, cursor);
    await vscode.commands.executeCommand('difftransformer.explainPrediction');
    inspection = inspector.lastInspection()!;
    reference = await Engine.load(inspection.model.dir, 'cpu');
    // The same run as the command's: the text up to the cursor (tiny-diff's context holds less
    // than the whole file, so the window ends at the query).
    await reference.inspect(editor.document.getText(), editor.document.offsetAt(cursor));
  });

  suiteTeardown(async () => {
    await settings().update('modelPath', undefined, vscode.ConfigurationTarget.Global);
  });

  test('explains the token before the cursor with the engine’s numbers', async () => {
    const shown = inspector.lastExplanation();
    assert.equal(inspection.model.name, EXPLAINED_MODEL);
    assert.ok(shown && shown.runId === inspection.runId, 'the command inspected the file and explained its run');
    const { query } = shown.explanation;
    const cursor = editor.document.offsetAt(editor.selection.active);
    assert.equal(inspection.baseOffset + inspection.result.tokens[query].end, cursor, 'the query is the token that ends at the cursor');
    const expected = await reference.explain(query);
    assert.deepEqual([shown.explanation.target, shown.explanation.versus], [expected.target, null], 'the top prediction');
    assertClose(shown.explanation.logit, expected.logit, 'logit');
    assertClose(shown.explanation.parts.map((part) => part.total), expected.parts.map((part) => part.total), 'each part');
    assertClose(shown.explanation.parts.reduce((sum, part) => sum + part.total, 0), expected.logit, 'the parts add up to the logit', { atol: 1e-3 });
  });

  test('a clicked head’s source tokens are marked where the engine’s parts rank them highest', async () => {
    const { explanation } = inspector.lastExplanation()!;
    const heads = explanation.parts.filter((part) => part.kind === 'head');
    const strongest = heads.reduce((best, part) => (Math.abs(part.total) > Math.abs(best.total) ? part : best));
    const [layer, head] = [strongest.layer!, strongest.head!];
    await inspector.panelMessage({ type: 'explainSources', runId: inspection.runId, layer, head });
    const sources = await reference.explainSources(explanation.query, {}, layer, head);
    /** Tokens after BOS whose `value` is positive, largest first, the first MARKS of them. */
    const highest = (value: (token: number) => number) =>
      Array.from(sources.a1.keys())
        .filter((token) => token > 0 && value(token) > 0)
        .sort((x, y) => value(y) - value(x))
        .slice(0, MARKS);
    const marks = inspector.sourceHighlights(editor.document.uri);
    assert.ok(marks, 'the head’s source tokens are marked');
    const tokensUnder = (ranges: vscode.Range[]) =>
      ranges.map((range) => inspection.result.tokens.findIndex((token, i) => i > 0 && inspection.baseOffset + token.start === editor.document.offsetAt(range.start)));
    const added = highest((token) => sources.a1[token]);
    const cancelled = highest((token) => -sources.a2[token]);
    assert.ok(added.length > 0 && cancelled.length > 0, 'the head adds through A1 and cancels through A2 somewhere');
    assert.deepEqual(tokensUnder(marks.added), added, 'added through A1: the largest positive A1 parts');
    assert.deepEqual(tokensUnder(marks.cancelled), cancelled, 'cancelled by A2: the most negative A2 parts');
  });

  test('a typed target and versus token explain their logits', async () => {
    const { explanation } = inspector.lastExplanation()!;
    const versusText = ')';
    await inspector.panelMessage({ type: 'explain', runId: inspection.runId, target: `#${explanation.target.id}`, versus: versusText });
    const shown = inspector.lastExplanation()!.explanation;
    const versus = reference.tokenId(versusText);
    assert.deepEqual([shown.target.id, shown.versus?.id], [explanation.target.id, versus], '#ID is an id; other text is its one token');
    assertClose(shown.logit, (await reference.explain(explanation.query, { target: explanation.target.id, versus })).logit, 'logit difference');
  });

  test('the marks go when the panel shows another tab', async () => {
    await inspector.panelMessage({ type: 'viewShown', runId: inspection.runId, tab: 'maps' });
    assert.equal(inspector.sourceHighlights(editor.document.uri), undefined);
  });

  test('the hover links to Explain Prediction for its token', async () => {
    const { query } = inspector.lastExplanation()!.explanation;
    const position = editor.document.positionAt(inspection.baseOffset + inspection.result.tokens[query].start);
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', editor.document.uri, position);
    const text = hovers.flatMap((hover) => hover.contents.map((c) => (typeof c === 'string' ? c : (c as vscode.MarkdownString).value))).join('\n');
    const args = encodeURIComponent(JSON.stringify([inspection.runId, query]));
    assert.ok(text.includes(`[Explain this prediction](command:difftransformer.explainPrediction?${args}`), 'the link names the run and the token');
  });
});

function settings(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('difftransformer');
}
