// Continue Text in the extension host: the real command, engine process and bundled model.
/// <reference types="mocha" />
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { GENERATED_SCHEME } from '../../extension/vscode/generatedTexts';
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
});
