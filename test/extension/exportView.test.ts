// Export View as SVG in a real VS Code: the file is a well-formed SVG whose embedded image is the
// panel's map (one pixel per cell, coloured by value, as the JSON beside it records the cells), and
// whose labels keep a text's markup as text.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { visibleText } from '../../shared/tokenText';
import { decodePng } from '../support/png';
import { embeddedPng, parseXml } from '../support/xml';
import { inspectSelection, openSample, select } from './helpers';

async function exportSvg(): Promise<{ svg: string; record: { tokens: string[]; map: { rows: number; cols: number; values: number[] } } }> {
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
