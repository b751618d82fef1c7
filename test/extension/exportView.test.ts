// Export View as SVG in a real VS Code: the file is a well-formed SVG whose embedded image is the
// panel's map (one pixel per cell, coloured by value, as the JSON beside it records the cells), and
// whose labels keep a text's markup as text; on the Explain tab, the SVG's bars are the engine's
// parts of the explanation and of the open head's source tokens, and the JSON records it.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Engine } from '../../extension/core/engine';
import type { Explanation } from '../../shared/explain';
import { rankSources } from '../../shared/sourceRanking';
import { visibleText } from '../../shared/tokenText';
import { axisScale, largestParts, partLabel, SHOWN_ROWS } from '../../webview/explainLayout';
import { measuredRows, splitLists } from '../support/explainSvgBars';
import { decodePng } from '../support/png';
import { assertClose } from '../support/tolerance';
import { embeddedPng, parseXml } from '../support/xml';
import { api, EXTENSION_ID, inspectSelection, openSample, select } from './helpers';

/** A bundled package with the contributions graph that explanations run. */
const EXPLAINED_MODEL = 'tiny-diff';

async function exportSvg(): Promise<{ svg: string; record: { tokens: string[]; map: { rows: number; cols: number; values: number[] }; explanation?: Explanation } }> {
  const target = vscode.Uri.file(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'export-svg-')), 'view.svg'));
  const written = await vscode.commands.executeCommand<vscode.Uri>('difftransformer.exportView', target);
  assert.equal(written?.fsPath, target.fsPath);
  return { svg: fs.readFileSync(target.fsPath, 'utf8'), record: JSON.parse(fs.readFileSync(target.fsPath.replace(/\.svg$/, '.json'), 'utf8')) };
}

suite('Export View as SVG', () => {
  test('the SVG embeds the map’s cells as its image, one pixel a cell, coloured by value', async () => {
    const editor = await openSample('sample.py');
    select(editor, 'def fibonacci', 'return numbers[:n]');
    await inspectSelection(editor);
    const { svg, record } = await exportSvg();
    const { elements, texts } = parseXml(svg);
    const { rows, cols, values } = record.map;
    const { width, height, rgba } = decodePng(embeddedPng(elements));
    assert.deepEqual([width, height], [cols, rows], 'one image pixel per cell');
    const colour = (cell: number) => Array.from(rgba.subarray(cell * 4, cell * 4 + 3));
    // The cells past each query (the causal mask's zeros) all have the colour of 0; the largest
    // value's cell is the one farthest from it.
    assert.equal(rows, cols, 'a short text: one cell per token pair');
    const zero = colour(1);
    for (let i = 0; i < rows; i++) for (let j = i + 1; j < cols; j++) assert.deepEqual(colour(i * cols + j), zero, `cell (${i}, ${j}) after the query`);
    const distance = (cell: number) => colour(cell).reduce((sum, c, n) => sum + (c - zero[n]) ** 2, 0);
    const magnitudes = values.map(Math.abs);
    const largest = magnitudes.indexOf(Math.max(...magnitudes));
    assert.ok(values.every((_, cell) => distance(cell) <= distance(largest)), 'the largest |value| is drawn farthest from 0');
    assert.ok(texts[0].startsWith('sample.py'), `the title names the file: ${texts[0]}`);
    // At most 64 tick labels an axis (shared/svgChart.ts's writer takes what heatmapSvg picks): each
    // is a token's visible text and its index, along both axes.
    const every = Math.ceil(rows / 64);
    for (let token = 0; token < rows; token += every) {
      const label = `${visibleText(record.tokens[token])} ${token}`;
      assert.equal(texts.filter((t) => t === label).length, 2, `token ${token} labels a row and a column: ${label}`);
    }
  });

  test('markup in the text stays text in the SVG', async () => {
    const document = await vscode.workspace.openTextDocument({ content: 'x = "</svg><script>alert(1)</script>"\n', language: 'python' });
    const editor = await vscode.window.showTextDocument(document);
    editor.selection = new vscode.Selection(0, 0, 0, document.lineAt(0).text.length);
    await inspectSelection(editor);
    const { svg, record } = await exportSvg();
    const { elements, texts } = parseXml(svg);
    assert.ok(record.tokens.join('').includes('</svg><script>'), 'the export is of this text');
    assert.deepEqual(elements.filter((e) => e.name === 'script' || e.name === 'svg').map((e) => e.name), ['svg'], 'one svg element and no script');
    assert.ok(texts.join('').includes('script'), 'the markup’s tokens are tick labels, as text');
  });
});

suite('Export View as SVG on the Explain tab', () => {
  suiteSetup(async () => {
    const extensionPath = vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath;
    await settings().update('modelPath', path.join(extensionPath, 'models', EXPLAINED_MODEL), vscode.ConfigurationTarget.Global);
  });

  suiteTeardown(async () => {
    await settings().update('modelPath', undefined, vscode.ConfigurationTarget.Global);
  });

  test('the SVG’s bars are the engine’s parts of the shown explanation and of the open head’s source tokens; the JSON records the explanation', async () => {
    const inspector = await api();
    const editor = await openSample('sample.py');
    const cursor = editor.document.positionAt(editor.document.getText().indexOf('numbers.append(') + 'numbers.append('.length);
    editor.selection = new vscode.Selection(cursor, cursor);
    await vscode.commands.executeCommand('difftransformer.explainPrediction');
    const inspection = inspector.lastInspection()!;
    const { explanation } = inspector.lastExplanation()!;
    const heads = explanation.parts.filter((part) => part.kind === 'head');
    const strongest = heads.reduce((best, part) => (Math.abs(part.total) > Math.abs(best.total) ? part : best));
    const [layer, head] = [strongest.layer!, strongest.head!];
    await inspector.panelMessage({ type: 'explainSources', runId: inspection.runId, layer, head });
    // What the panel says once it shows the explanation, said here so the host knows it before the export.
    await inspector.panelMessage({ type: 'viewShown', runId: inspection.runId, tab: 'explain' });

    const { svg, record } = await exportSvg();
    const { elements, texts } = parseXml(svg);
    assert.deepEqual(record.explanation, JSON.parse(JSON.stringify(explanation)), 'the JSON records the explanation shown');
    const lists = splitLists(elements);
    assert.equal(lists.length, 2, 'the components, then the open head’s source tokens');

    const shownParts = largestParts(explanation.parts, SHOWN_ROWS);
    const parts = measuredRows(lists[0], axisScale(explanation.parts));
    // The SVG rounds positions to 0.001 px of a 240 px half-axis: a resolution on top of float32's.
    const resolution = (scale: number) => ({ atol: (0.002 / 240) * scale });
    assertClose(parts.map((row) => row.total), shownParts.map((part) => part.total), 'each component’s net', resolution(axisScale(explanation.parts)));
    assertClose(parts.map((row) => row.a1 ?? 0), shownParts.map((part) => part.a1 ?? 0), 'each component’s A1 part', resolution(axisScale(explanation.parts)));
    for (const part of shownParts) assert.ok(texts.includes(partLabel(part)), `${part.component} is named`);
    assert.ok(texts.some((t) => t.includes(`→ ${visibleText(explanation.target.text)}`) && t.includes('logit')), 'the title names the target');

    const reference = await Engine.load(inspection.model.dir, 'cpu');
    await reference.inspect(editor.document.getText(), editor.document.offsetAt(cursor));
    const ranked = rankSources(await reference.explainSources(explanation.query, {}, layer, head)).slice(0, SHOWN_ROWS);
    const scale = axisScale(ranked.map((row) => ({ a1: row.a1, total: row.net })));
    const sources = measuredRows(lists[1], scale);
    assertClose(sources.flatMap((row) => [row.a1!, row.a2!]), ranked.flatMap((row) => [row.a1, row.a2]), 'the source tokens’ parts, as the engine ranks them', resolution(scale));
    assert.ok(texts.includes(`${visibleText(inspection.result.tokens[ranked[0].token].text)} #${ranked[0].token}`), 'the largest source token is named');
  });
});

function settings(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('difftransformer');
}
