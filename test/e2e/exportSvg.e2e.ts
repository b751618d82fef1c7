// End to end: Export View as SVG from the palette's save dialog. The file's embedded image is the
// heatmap canvas itself (the same PNG the browser makes of it), the browser's own XML parser reads
// the document without error, and the inspected comment's `<script>` markup is in its labels as
// text, never as an element.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { exportAs } from './exportDialog';
import { drawnMap, ofRun, panelFixture } from './harness';

const MARKUP = '# A comment with markup and an emoji: <script>alert(1)</script>';
const panel = panelFixture('export-svg', { inspect: { file: 'sample.py', text: MARKUP, command: 'DiffTransformer: Inspect Selection' } });

test('Export View as SVG: its image is the heatmap canvas, and markup stays text', async () => {
  const { frame } = panel;
  await drawnMap(panel.page, '#heatmap', panel.runId);
  const target = path.join(panel.runDir, 'workspace', 'difftransformer-view.svg');
  const svg = await exportAs(panel.page, target);
  const canvasPng = await frame.locator(ofRun('#heatmap', panel.runId)).evaluate((canvas) => (canvas as unknown as { toDataURL(type: string): string }).toDataURL('image/png'));
  const read = await frame.locator('body').evaluate((_body, text) => {
    // The page's DOM types (these tests compile without the DOM library).
    type Element = { textContent: string | null; getAttribute(name: string): string | null };
    type XmlDocument = { documentElement: { localName: string }; getElementsByTagName(name: string): ArrayLike<Element> };
    const { DOMParser } = globalThis as unknown as { DOMParser: new () => { parseFromString(text: string, type: string): XmlDocument } };
    const document = new DOMParser().parseFromString(text, 'image/svg+xml');
    return {
      errors: document.getElementsByTagName('parsererror').length,
      root: document.documentElement.localName,
      scripts: document.getElementsByTagName('script').length,
      images: Array.from(document.getElementsByTagName('image'), (image) => image.getAttribute('href')),
      texts: Array.from(document.getElementsByTagName('text'), (node) => node.textContent ?? ''),
    };
  }, svg);
  assert.deepEqual([read.errors, read.root, read.scripts], [0, 'svg', 0], 'a well-formed SVG without a script element');
  assert.deepEqual(read.images, [canvasPng], 'the embedded image is the heatmap canvas');
  assert.ok(read.texts.some((text) => text.includes('<') || text.includes('script')), `the markup's tokens are labels: ${read.texts.slice(0, 20).join(' | ')}`);
  const record = JSON.parse(fs.readFileSync(target.replace(/\.svg$/, '.json'), 'utf8'));
  assert.ok(record.tokens.join('').includes('<script>alert(1)</script>'), 'the JSON beside it is of the same run');
});
