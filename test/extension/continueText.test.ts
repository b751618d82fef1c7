// Continue Text in the extension host: the real command, engine process and bundled model.
/// <reference types="mocha" />
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { Engine } from '../../extension/core/engine';
import { GENERATED_SCHEME } from '../../extension/vscode/generatedTexts';
import { assertClose } from '../support/tolerance';
import { api, openSample, select } from './helpers';

suite('Continue Text', () => {
  test('generates N tokens after the selection into a read-only document, inspects it with the generated tokens marked, and stepping moves the query', async () => {
    const inspector = await api();
    const editor = await openSample('sample.py');
    const prompt = editor.document.getText(select(editor, 'def fibonacci', '-> list[int]:'));
    const tokens = 6;
    await vscode.commands.executeCommand('difftransformer.continueText', { tokens, mode: 'greedy' });

    const run = inspector.lastGeneration();
    assert.ok(run, 'Continue Text made a generation');
    const { document, generation } = run;
    assert.equal(document.uri.scheme, GENERATED_SCHEME, 'a read-only virtual document of its own');
    assert.equal(generation.tokens.length, tokens);
    assert.equal(document.getText(), generation.text);
    assert.ok(document.getText().startsWith(prompt), 'the prompt, then the generation');
    const offsets = (range: vscode.Range) => [document.offsetAt(range.start), document.offsetAt(range.end)];
    const marked = generation.tokens.filter((t) => t.end > t.start).map((t) => [t.start, t.end]);
    assert.deepEqual(inspector.generatedMarks(document.uri)?.map(offsets), marked, 'the editor marks each generated token');

    const inspection = inspector.lastInspection();
    assert.ok(inspection && inspection.uri.toString() === document.uri.toString(), 'the generated document was inspected');
    assert.ok(inspection.generated.length >= 2, 'the inspection knows the generated tokens');
    assert.equal(inspection.generated[0].step, 0);
    assert.match(inspection.generated[0].note, new RegExp(`^generated, step 1 of ${tokens}: chosen greedily with p = 0\\.\\d{3}; runner-up «.*», p = 0\\.\\d{3}$`));
    const firstGenerated = inspection.result.tokens[inspection.generated[0].token];
    assert.equal(firstGenerated.start, prompt.length, 'the first generated token starts after the prompt');

    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', document.uri, document.positionAt(firstGenerated.start));
    const hoverText = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : (c as vscode.MarkdownString).value))).join('\n');
    assert.ok(hoverText.includes(`generated, step 1 of ${tokens}: chosen greedily with p = `), 'the hover says why the token was chosen');

    // The query is locked on the first generated token, then steps through them.
    const queryAt = () => {
      const query = inspector.highlights(document.uri)?.query;
      assert.ok(query, 'the locked query is outlined in the generated document');
      return offsets(query);
    };
    const tokenOffsets = (index: number) => {
      const token = inspection.result.tokens[inspection.generated[index].token];
      return [token.start, token.end];
    };
    assert.deepEqual(queryAt(), tokenOffsets(0), 'the query starts on the first generated token');
    await vscode.commands.executeCommand('difftransformer.nextGeneratedToken');
    assert.deepEqual(queryAt(), tokenOffsets(1), 'Next Generated Token moves it to the second');
    await vscode.commands.executeCommand('difftransformer.previousGeneratedToken');
    assert.deepEqual(queryAt(), tokenOffsets(0), 'Previous Generated Token moves it back');
  });

  test('a generated token’s note links to Explain of the row that chose it, whose target is that token with the engine’s logit', async () => {
    const inspector = await api();
    const editor = await openSample('sample.py');
    select(editor, 'def fibonacci', '-> list[int]:');
    await vscode.commands.executeCommand('difftransformer.continueText', { tokens: 3, mode: 'greedy' });
    const { document, generation } = inspector.lastGeneration()!;
    const inspection = inspector.lastInspection()!;
    const note = inspection.generated[0];
    assert.equal(note.id, generation.tokens[0].id, 'the note knows the id chosen at its step');
    const token = inspection.result.tokens[note.token];

    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', document.uri, document.positionAt(inspection.baseOffset + token.start));
    const hoverText = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : (c as vscode.MarkdownString).value))).join('\n');
    const args = [inspection.runId, note.token - 1, note.id];
    assert.ok(hoverText.includes(`[Why it was chosen](command:difftransformer.explainPrediction?${encodeURIComponent(JSON.stringify(args))}`), 'the note links to Explain of the token before it, target the chosen id');

    await vscode.commands.executeCommand('difftransformer.explainPrediction', ...args);
    const shown = inspector.lastExplanation();
    assert.ok(shown && shown.runId === inspection.runId, 'the link explained this run');
    assert.equal(shown.explanation.query, note.token - 1, 'the row that chose the token');
    assert.equal(shown.explanation.target.id, generation.tokens[0].id, 'the target is the generated token');

    const reference = await Engine.load(inspection.model.dir, 'cpu');
    const text = document.getText(inspection.range);
    const result = await reference.inspect(text, inspection.result.tokens[inspection.result.query].end);
    assert.deepEqual(result.tokens.map((t) => t.text), inspection.result.tokens.map((t) => t.text), 'the reference runs the same tokens');
    const expected = await reference.explain(note.token - 1, { target: note.id });
    assertClose(shown.explanation.logit, expected.logit, 'the generated token’s logit');
    assert.equal((await reference.explain(note.token - 1)).target.id, note.id, 'chosen greedily: the top prediction there');

    // The key spans' heading asks the same of the host for the note of the locked query.
    const second = inspection.generated[1];
    await inspector.panelMessage({ type: 'explain', runId: inspection.runId, target: `#${second.id}`, query: second.token - 1 });
    const fromPanel = inspector.lastExplanation()!.explanation;
    assert.deepEqual([fromPanel.query, fromPanel.target.id], [second.token - 1, generation.tokens[second.step].id], 'the panel’s link explains the row before its token');
    assertClose(fromPanel.logit, (await reference.explain(second.token - 1, { target: second.id })).logit, 'its logit');
  });
});
