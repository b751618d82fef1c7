// Runs inside the extension host against the real vscode API, the real engine process and the
// bundled fixture models.
/// <reference types="mocha" />
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Engine } from '../../extension/core/engine';
import { DEFAULT_BASELINE, DEFAULT_MODEL } from '../../extension/core/modelPath';
import type { ActiveInspection } from '../../extension/vscode/activeInspection';
import { SCRATCH_SCHEME } from '../../extension/vscode/scratchDocuments';
import { assertClose, FLOAT32 } from '../support/tolerance';
import { api, EXTENSION_ID, inspectAfresh, inspectSelection, openSample, panelCaughtUp, select } from './helpers';

/** Opens a sample, selects `from` … `to` and runs Inspect Selection on it. */
async function inspectSample(name: string, from: string, to: string): Promise<{ editor: vscode.TextEditor; range: vscode.Range; inspection: ActiveInspection }> {
  const editor = await openSample(name);
  const range = select(editor, from, to);
  return { editor, range, inspection: await inspectSelection(editor) };
}

/** Runs Inspect File on a new untitled document of `content` and checks that nothing ran: the last
 *  inspection is still the one before. */
async function assertRefused(content: string, language: string, why: string): Promise<void> {
  const inspector = await api();
  const before = inspector.lastInspection()?.runId;
  await vscode.window.showTextDocument(await vscode.workspace.openTextDocument({ content, language }));
  await vscode.commands.executeCommand('difftransformer.inspectFile');
  assert.equal(inspector.lastInspection()?.runId, before, why);
}

async function configure(key: string, value: unknown, target = vscode.ConfigurationTarget.Global): Promise<void> {
  await vscode.workspace.getConfiguration('difftransformer').update(key, value, target);
}

suite('inspection in the editor', () => {
  suiteTeardown(async () => {
    for (const key of ['modelPath', 'baselineModelPath', 'topSpans']) {
      await configure(key, undefined);
      await configure(key, undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  test('Inspect Selection runs the model on exactly the selected text', async () => {
    const { editor, range, inspection } = await inspectSample('sample.py', '# A comment', 'list[int]:');
    assert.equal(inspection.result.window, null, 'the selection fits the context');
    assert.equal(inspection.uri.toString(), editor.document.uri.toString());
    assert.equal(inspection.baseOffset, editor.document.offsetAt(range.start));
    const tokens = inspection.result.tokens.slice(1);
    const text = tokens.map((t) => editor.document.getText().slice(inspection.baseOffset + t.start, inspection.baseOffset + t.end)).join('');
    assert.equal(text, editor.document.getText(range), 'token offsets cover the selection exactly (CRLF included)');
    assert.equal(inspection.result.query, inspection.result.tokens.length - 1, 'the query is the selection’s last token');
    assert.equal(inspection.model.kind, 'diff');
  });

  test('a selection longer than the context runs the window that ends at the selection', async () => {
    const extensionPath = vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath;
    await configure('modelPath', path.join(extensionPath, 'models', 'tiny-diff')); // a 128-token context
    const { editor, range, inspection } = await inspectSample('sample.py', '# Sample', 'fibonacci(10))');
    await configure('modelPath', undefined);
    assert.equal(inspection.model.name, 'tiny-diff');
    assert.ok(inspection.result.window, 'the text was windowed');
    assert.equal(inspection.result.tokens.length, inspection.model.maxSeqLen);
    const last = inspection.result.tokens[inspection.result.tokens.length - 1];
    assert.equal(inspection.baseOffset + last.end, editor.document.offsetAt(range.end), 'the window ends at the selection end');
  });

  test('span highlights land on the characters of the retrieved tokens', async () => {
    const inspector = await api();
    const { editor, inspection } = await inspectSample('sample.py', 'def fibonacci', 'return numbers[:n]');
    const highlights = inspector.highlights(editor.document.uri)!;
    assert.ok(highlights && highlights.ranges.length > 0, 'spans are highlighted');
    const tokenTexts = new Set(inspection.result.tokens.map((t) => t.text));
    for (const range of highlights.ranges) {
      const shown = editor.document.getText(range);
      assert.ok(shown.length > 0);
      const start = editor.document.offsetAt(range.start) - inspection.baseOffset;
      const first = inspection.result.tokens.findIndex((t) => t.start === start);
      assert.ok(first > 0, `a highlight starts on a token boundary (${JSON.stringify(shown)})`);
      assert.ok(tokenTexts.has(inspection.result.tokens[first].text));
    }
    assert.ok(highlights.strengths.every((s) => s > 0 && s <= 1));
    assert.equal(Math.max(...highlights.strengths), 1, 'the strongest span has full strength');
    const last = inspection.result.tokens[inspection.result.query];
    assert.equal(editor.document.offsetAt(highlights.query!.start), inspection.baseOffset + last.start, 'the query token is outlined');
    await vscode.commands.executeCommand('difftransformer.clearHighlights');
    assert.equal(inspector.highlights(editor.document.uri), undefined);
  });

  test('hover shows the token’s top predictions, surprisal and attended spans', async () => {
    const { editor, range, inspection } = await inspectSample('sample.py', 'def fibonacci', 'return numbers[:n]');
    const offset = editor.document.getText().indexOf('numbers.append') - inspection.baseOffset;
    const t = inspection.result.tokens.findIndex((token, i) => i > 0 && token.start <= offset && offset < token.end);
    assert.ok(t > 0, 'a token covers "numbers.append"');
    const position = editor.document.positionAt(inspection.baseOffset + offset);
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', editor.document.uri, position);
    const text = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : (c as vscode.MarkdownString).value))).join('\n');
    assert.match(text, /DiffTransformer/);
    assert.match(text, /Surprisal: \*\*\d+\.\d\d bits\*\*/);
    const expectedBits = (-inspection.result.tokenLogprob[t] / Math.LN2).toFixed(2);
    assert.ok(text.includes(`${expectedBits} bits`), `surprisal ${expectedBits} bits shown`);
    // The engine computes predictions when a hover asks: the same model run here gives the same.
    const reference = await Engine.load(inspection.model.dir, 'cpu');
    await reference.inspect(editor.document.getText(range));
    for (const p of reference.predictions(t)) assert.ok(text.includes(`${(100 * p.prob).toFixed(1)}%`), `prediction ${p.text} shown`);
    assert.match(text, /command:difftransformer\.revealTokens\?/);
  });

  test('Compare with Baseline runs the matched baseline on exactly the same text', async () => {
    const inspector = await api();
    const editor = await openSample('sample.py');
    const range = select(editor, 'def fibonacci', 'list[int]:');
    const inspection = await inspectSelection(editor, 'compareWithBaseline');
    assert.equal(inspection.model.kind, 'diff');
    const comparison = inspection.comparison!;
    assert.ok(comparison, 'the baseline ran too');
    assert.equal(comparison.model.kind, 'baseline');
    assert.equal(comparison.model.dir, inspector.baselineDir());
    assert.equal(path.basename(comparison.model.dir), DEFAULT_BASELINE, "the bundled model's matched pair");
    const text = (tokens: { start: number; end: number }[]) => tokens.map((t) => editor.document.getText().slice(inspection.baseOffset + t.start, inspection.baseOffset + t.end)).join('');
    assert.equal(text(comparison.result.tokens), editor.document.getText(range), 'the baseline ran on exactly the selection');
    assert.equal(text(comparison.result.tokens), text(inspection.result.tokens));
    assert.equal(comparison.result.lambda.length, 0);

    assert.equal((await inspectSelection(editor)).comparison, undefined, 'a plain inspection drops the comparison');
  });

  test('Needle Test runs both models on scratch copies and never edits the document', async () => {
    const inspector = await api();
    const editor = await openSample('sample.py');
    editor.selection = new vscode.Selection(0, 0, 0, 0);
    const before = editor.document.getText();
    const previous = inspector.lastNeedleTest();
    await vscode.commands.executeCommand('difftransformer.needleTest', { needles: 1, queries: 1, trials: 3 });
    const run = inspector.lastNeedleTest()!;
    assert.ok(run && run !== previous, 'the Needle Test ran');
    assert.deepEqual([run.model.needles, run.model.queries, run.model.trials.length], [1, 1, 3], 'with the settings asked for');
    assert.deepEqual([run.model.kind, run.baseline.kind], ['diff', 'baseline']);
    assert.equal(run.model.form, 'code', 'a Python file gets code-form needles');
    assert.deepEqual(run.model.trials.map((t) => t.depth), [0, 0.5, 1]);
    assert.deepEqual(run.baseline.trials.map((t) => t.text), run.model.trials.map((t) => t.text), 'both models see the same documents');
    assert.equal(run.scratch.uri.scheme, SCRATCH_SCHEME, 'the needles live in a read-only virtual scratch document');
    assert.equal(run.scratch.languageId, 'python');
    assert.equal(run.scratch.getText(), run.model.trials[1].text, 'the scratch copy is the middle trial');
    const { valueSpan, value, key } = run.model.trials[1].queries[0];
    assert.equal(run.scratch.getText().slice(...valueSpan), value);
    assert.match(key, /^[A-Z]+_[A-Z]+_[a-z]+$/, 'a Python file gets upper-snake keys');
    assert.ok(run.scratch.getText().split('\n').includes(`${key} = ${value}`), `a Python file gets "${key} = ${value}" needles`);
    assert.equal(editor.document.getText(), before, 'the document is untouched');
    assert.equal(editor.document.isDirty, false);
    const highlights = inspector.highlights(run.scratch.uri)!;
    assert.deepEqual(highlights.ranges.map((r) => [run.scratch.offsetAt(r.start), run.scratch.offsetAt(r.end)]), [valueSpan], 'the needle value is highlighted');
    // Closing the scratch copy asks nothing (a save dialog would hold the close until the test times out).
    assert.equal(run.scratch.isDirty, false, 'the scratch copy has nothing to save');
    const scratchTabs = () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputText && t.input.uri.toString() === run.scratch.uri.toString());
    assert.equal(scratchTabs().length, 1, 'the scratch copy is open beside the document');
    assert.equal(await vscode.window.tabGroups.close(scratchTabs()), true, 'the scratch copy closed');
    assert.deepEqual(scratchTabs(), []);
  });

  test('Needle Test needles are written in the document’s language', async () => {
    const inspector = await api();
    const editor = await openSample('sample.ts');
    editor.selection = new vscode.Selection(0, 0, 0, 0);
    await vscode.commands.executeCommand('difftransformer.needleTest', { needles: 1, queries: 1, trials: 1 });
    const run = inspector.lastNeedleTest()!;
    const { key, value } = run.model.trials[0].queries[0];
    assert.ok(run.scratch.getText().split('\n').includes(`const ${key} = ${value};`), `a TypeScript file gets "const ${key} = ${value};" needles`);
    assert.equal(run.scratch.languageId, 'typescript');
  });

  test('the Needle Test without noise cancellation runs the DiffTransformer with lambda 0', async () => {
    const inspector = await api();
    const editor = await openSample('sample.py');
    editor.selection = new vscode.Selection(0, 0, 0, 0);
    await vscode.commands.executeCommand('difftransformer.needleTest', { needles: 1, queries: 1, trials: 1, lambdaZero: true });
    const run = inspector.lastNeedleTest()!;
    assert.match(run.model.model, / \(λ = 0\)$/, 'the DiffTransformer is labelled as run with lambda 0');
    assert.doesNotMatch(run.baseline.model, /λ/, 'the baseline has no lambda to change');
    const { answerShare, noiseShare, queryShare } = run.model.trials[0].queries[0];
    assert.ok(Math.abs(answerShare + noiseShare + queryShare - 1) < 1e-4, 'with lambda 0 each head is a softmax: its shares sum to 1');
  });

  test('settings are honoured: model path and number of spans', async () => {
    const inspector = await api();
    const extensionPath = vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath;
    await configure('modelPath', path.join(extensionPath, 'models', 'tiny-baseline'));
    await configure('topSpans', 2);
    const { editor, inspection } = await inspectSample('sample.ts', 'export', '}');
    assert.equal(inspection.model.name, 'tiny-baseline');
    assert.equal(inspection.model.kind, 'baseline');
    assert.equal(inspection.result.lambda.length, 0);
    const highlights = inspector.highlights(editor.document.uri)!;
    assert.ok(highlights.ranges.length >= 1 && highlights.ranges.length <= 2, `${highlights.ranges.length} spans for topSpans = 2`);
    await configure('modelPath', undefined);
    await configure('topSpans', undefined);
  });

  test('a corrupt model package gives a clear error and the extension keeps working', async () => {
    const inspector = await api();
    const extensionPath = vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath;
    const broken = fs.mkdtempSync(path.join(os.tmpdir(), 'broken-model-'));
    fs.cpSync(path.join(extensionPath, 'models', 'tiny-diff'), broken, { recursive: true });
    fs.appendFileSync(path.join(broken, 'model.onnx'), 'garbage');
    await configure('modelPath', broken);
    const editor = await openSample('sample.py');
    select(editor, 'def', 'numbers');
    const before = inspector.lastInspection()?.runId;
    await vscode.commands.executeCommand('difftransformer.inspectSelection');
    assert.equal(inspector.lastInspection()?.runId, before, 'no inspection from a broken package');
    await configure('modelPath', undefined);
    assert.equal((await inspectSelection(editor)).model.dir, inspector.modelDir(), 'the bundled model runs again');
    fs.rmSync(broken, { recursive: true, force: true });
  });

  test('Restricted Mode: model paths from workspace settings count only in a trusted workspace', async () => {
    const inspector = await api();
    const manifest = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON;
    assert.deepEqual(manifest.capabilities.untrustedWorkspaces.restrictedConfigurations, ['difftransformer.modelPath', 'difftransformer.baselineModelPath']);
    const workspaceModel = path.join(os.tmpdir(), 'workspace-model');
    await configure('modelPath', workspaceModel, vscode.ConfigurationTarget.Workspace);
    await configure('baselineModelPath', workspaceModel, vscode.ConfigurationTarget.Workspace);
    const bundled = path.join(vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath, 'models');
    assert.equal(inspector.modelDir(), vscode.workspace.isTrusted ? workspaceModel : path.join(bundled, DEFAULT_MODEL));
    assert.equal(inspector.baselineDir(), vscode.workspace.isTrusted ? workspaceModel : path.join(bundled, DEFAULT_BASELINE));
    await configure('modelPath', undefined, vscode.ConfigurationTarget.Workspace);
    await configure('baselineModelPath', undefined, vscode.ConfigurationTarget.Workspace);
  });

  test('a second inspection cancels the first; only the second is drawn', async () => {
    const inspector = await api();
    const editor = await openSample('sample.py');
    const before = inspector.lastInspection()?.runId;
    select(editor, '#', 'numbers');
    const first = vscode.commands.executeCommand('difftransformer.inspectSelection');
    const range = select(editor, 'if __name__', 'fibonacci(10))');
    const second = vscode.commands.executeCommand('difftransformer.inspectSelection');
    await Promise.all([first, second]);
    const inspection = inspector.lastInspection()!;
    assert.notEqual(inspection.runId, before, 'a new run');
    assert.equal(inspection.baseOffset, editor.document.offsetAt(range.start), 'the result is the second selection’s');
  });

  test('an empty document is refused without losing the last inspection', async () => {
    await assertRefused('   \n', 'plaintext', 'a blank text is not run');
  });

  test('binary and oversized texts are refused without running the model', async () => {
    await assertRefused('PK\u0003\u0004\u0000\u0000binary', 'plaintext', 'a text with NUL characters is not run');
    await configure('maxFileBytes', 1000);
    await assertRefused('x = 1\n'.repeat(400), 'python', 'a text over maxFileBytes is not run');
    await configure('maxFileBytes', undefined);
  });

  test('closing the panel mid-run loses nothing; showing it again redraws', async () => {
    const inspector = await api();
    const editor = await openSample('sample.ts');
    select(editor, 'export', '}');
    const run = inspectSelection(editor);
    await vscode.commands.executeCommand('workbench.action.closePanel');
    const inspection = await run;
    await vscode.commands.executeCommand('difftransformer.showPanel');
    assert.equal(inspector.lastInspection(), inspection, 'showing the panel runs nothing');
  });

  test('one inspection computes each pane’s map and key spans once, and the panel asks for nothing more', async () => {
    const inspector = await api();
    for (const [command, panes] of [['inspectSelection', 1], ['compareWithBaseline', 2]] as const) {
      const before = inspector.engineRequests();
      const editor = await openSample('sample.py');
      select(editor, 'def fibonacci', 'list[int]:');
      await inspectSelection(editor, command);
      // The panel answers Export View after every message posted before it, so by then any request
      // it made in answer to the inspection has reached the host.
      await panelCaughtUp(command);
      const after = inspector.engineRequests();
      const made = (model: 'model' | 'baseline') => ({ map: after[model].map - before[model].map, spans: after[model].spans - before[model].spans });
      assert.deepEqual(made('model'), { map: 1, spans: 1 }, `${command}: the model's map and spans`);
      assert.deepEqual(made('baseline'), panes === 2 ? { map: 1, spans: 1 } : { map: 0, spans: 0 }, `${command}: the baseline's map and spans`);
    }
  });

  test('the logit lens is computed once per query: a layer, head or view switch shows it again, another query computes its own', async () => {
    const inspector = await api();
    const count = () => inspector.engineRequests().model;
    const before = count();
    const { inspection } = await inspectSample('sample.py', 'def fibonacci', 'list[int]:');
    const { runId, model, result } = inspection;
    assert.equal(count().lens - before.lens, 1, 'the inspection computes the lens at its query');
    await inspector.panelMessage({ type: 'select', runId, layer: model.nLayer - 1, head: model.nHead - 1 });
    await inspector.panelMessage({ type: 'select', runId, view: 'a1' });
    assert.ok(count().spans - before.spans >= 3, 'each switch computed its key spans (and posted the lens after them)');
    assert.equal(count().lens - before.lens, 1, 'no switch computed the lens again');
    await inspector.panelMessage({ type: 'lockQuery', pane: 'main', runId, query: result.query - 1 });
    assert.equal(count().lens - before.lens, 2, 'another query computes its lens');
  });

  test('the outliers and the quantisation what-if are computed only for a tab that shows them, once per run and pane', async () => {
    const inspector = await api();
    const editor = await inspectAfresh();
    let before = inspector.engineRequests();
    const made = (model: 'model' | 'baseline') => {
      const after = inspector.engineRequests()[model];
      return { outliers: after.outliers - before[model].outliers, quantisation: after.quantisation - before[model].quantisation };
    };
    const none = { outliers: 0, quantisation: 0 };
    const once = { outliers: 1, quantisation: 1 };

    // A plain inspection: the panel is on Maps & spans (or on Compare, which without a comparison
    // shows no histograms), so nothing but the maps and spans is computed.
    const { runId } = await inspectSelection(editor);
    await panelCaughtUp('inspect');
    assert.deepEqual(made('model'), none, 'Inspect computes no statistics for Maps & spans');
    // The Outliers tab, shown twice: the model's histograms and what-if, once.
    for (let shown = 0; shown < 2; shown++) await inspector.panelMessage({ type: 'viewShown', runId, tab: 'outliers' });
    assert.deepEqual(made('model'), once, 'the Outliers tab: the model’s statistics, once');
    assert.deepEqual(made('baseline'), none, 'the Outliers tab: nothing of the baseline');

    // A comparison opens the Compare tab, whose columns show both models' statistics.
    before = inspector.engineRequests();
    const compared = await inspectSelection(editor, 'compareWithBaseline');
    await panelCaughtUp('compare');
    for (const tab of ['compare', 'outliers', 'compare'] as const) await inspector.panelMessage({ type: 'viewShown', runId: compared.runId, tab });
    assert.deepEqual([made('model'), made('baseline')], [once, once], 'the Compare tab: each model’s statistics, once');
  });

  test('the panel’s viewport: the maps, the locked query’s own row, the What-if and Export View follow it; an older request is ignored', async () => {
    const inspector = await api();
    const { editor, range, inspection } = await inspectSample('sample.py', 'def fibonacci', 'return numbers[:n]');
    // Closed, the panel cannot ask for viewports of its own (it asks again for a pooled map that
    // has fewer cells than its canvas has pixels) while this test plays its part.
    await vscode.commands.executeCommand('workbench.action.closePanel');
    const { runId } = inspection;
    const T = inspection.result.tokens.length;
    // Cells that pool several queries and keys, and signed maxima.
    const viewport = { firstRow: 8, endRow: T, firstKey: 0, endKey: T - 8, rows: 4, cols: 5, pooling: 'max' as const };
    const mapsBefore = inspector.engineRequests().model.map;
    await inspector.panelMessage({ type: 'mapViewport', pane: 'main', runId, requestId: 7, viewport });
    assert.equal(inspector.engineRequests().model.map - mapsBefore, 2, 'the map and, its rows pooling queries, the locked query’s own row');
    await inspector.panelMessage({ type: 'mapViewport', pane: 'main', runId, requestId: 6, viewport: { ...viewport, pooling: 'mean' } });
    assert.equal(inspector.engineRequests().model.map - mapsBefore, 2, 'an older request computes nothing');

    await inspector.panelMessage({ type: 'whatIf', runId, whatIfId: 1, spec: { kind: 'ablateHead', layer: 0, head: 0 } });
    const whatIf = inspector.lastWhatIf()!;
    assert.deepEqual([whatIf.requestId, whatIf.viewport, whatIf.main.map.length, whatIf.whatIf.map.length], [7, viewport, 20, 20], 'the What-if’s maps are of the viewport');
    assert.equal(whatIf.main.queryRow?.length, 5, 'with the locked query’s own row');
    const whole = { firstRow: 0, endRow: T, firstKey: 0, endKey: T, rows: T, cols: T, pooling: 'mean' as const };
    await inspector.panelMessage({ type: 'mapViewport', pane: 'main', runId, requestId: 8, viewport: whole });
    const followed = inspector.lastWhatIf()!;
    assert.deepEqual([followed.whatIfId, followed.requestId, followed.main.map.length, followed.main.queryRow], [1, 8, T * T, undefined], 'the What-if follows the new viewport');

    await inspector.panelMessage({ type: 'mapViewport', pane: 'main', runId, requestId: 9, viewport });
    const target = vscode.Uri.file(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'export-')), 'zoomed.png'));
    await vscode.commands.executeCommand('difftransformer.exportView', target);
    const record = JSON.parse(fs.readFileSync(target.fsPath.replace(/\.png$/, '.json'), 'utf8'));
    assert.deepEqual(record.map.viewport, viewport, 'the export is of the viewport shown');
    const { layer, head, view, query } = record.selection;
    const reference = await Engine.load(inspection.model.dir, 'cpu');
    await reference.inspect(editor.document.getText(range));
    assertClose(record.map.values, await reference.map(layer, head, view, viewport), 'the viewport’s cells', FLOAT32);
    const rowViewport = { ...viewport, firstRow: query, endRow: query + 1, rows: 1 };
    assert.deepEqual(record.queryRow.viewport, rowViewport, 'the locked query’s row over the viewport’s keys');
    assertClose(record.queryRow.values, await reference.map(layer, head, view, rowViewport), 'the locked query’s row', FLOAT32);
  });

  test('Export View writes a PNG and a JSON with the model hash and the range', async () => {
    const { inspection } = await inspectSample('sample.py', 'def fibonacci', 'return numbers[:n]');
    const target = vscode.Uri.file(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'export-')), 'view.png'));
    const written = await vscode.commands.executeCommand<vscode.Uri>('difftransformer.exportView', target);
    assert.equal(written?.fsPath, target.fsPath);
    const png = fs.readFileSync(target.fsPath);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
    const record = JSON.parse(fs.readFileSync(target.fsPath.replace(/\.png$/, '.json'), 'utf8'));
    assert.equal(record.model.sha256, inspection.model.sha256);
    assert.equal(record.source.range.start.line, inspection.range.start.line);
    const T = inspection.result.tokens.length;
    const { viewport, rows, cols, values } = record.map;
    assert.deepEqual([viewport.firstRow, viewport.endRow, viewport.firstKey, viewport.endKey], [0, T, 0, T], 'the whole map, as the panel shows it');
    assert.deepEqual([rows, cols, values.length], [T, T, T * T], 'a short text: one cell per token pair');
    assert.equal(record.selection.query, inspection.result.query, "the run's query token");
    assert.equal(record.settings.executionProvider, 'auto');
  });
});
