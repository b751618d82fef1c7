// End to end: Export View as SVG from the palette's save dialog. The file's embedded image is the
// heatmap canvas itself (the same PNG the browser makes of it), the browser's own XML parser reads
// the document without error, and the inspected comment's `<script>` markup is in its labels as
// text, never as an element.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { drawnMap, ofRun, panelFixture } from './harness';

const MARKUP = '# A comment with markup and an emoji: <script>alert(1)</script>';
const panel = panelFixture('export-svg', { inspect: { file: 'sample.py', text: MARKUP, command: 'DiffTransformer: Inspect Selection' } });

/** Runs Export View and saves as `target` (an .svg): the dialog is a quick input holding a path,
 *  which code-server fills in with the command's default and, under load, may fill in again after
 *  the test typed; so the test types the path and presses Enter until the file exists, and runs the
 *  command again if the dialog closed on another name. */
async function exportAs(target: string): Promise<string> {
  const { page } = panel;
  const commandInput = page.locator('.quick-input-widget input');
  const pathInput = page.locator('.quick-input-widget input:not([aria-label^="Type the name of a command"])');
  for (let attempt = 0; attempt < 3 && !fs.existsSync(target); attempt++) {
    await page.keyboard.press('F1');
    await commandInput.fill('>DiffTransformer: Export View');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'DiffTransformer: Export View' }).first().click();
    await pathInput.waitFor({ state: 'visible' });
    await page.waitForFunction((el) => (el as unknown as { value: string }).value.endsWith('.png'), await pathInput.elementHandle());
    for (let waited = 0; !fs.existsSync(target) && waited < 30_000 && (await pathInput.isVisible()); waited += 500) {
      if ((await pathInput.inputValue()) !== target) await pathInput.fill(target);
      await page.keyboard.press('Enter');
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    for (let waited = 0; !fs.existsSync(target) && waited < 10_000; waited += 500) await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return fs.readFileSync(target, 'utf8');
}

test('Export View as SVG: its image is the heatmap canvas, and markup stays text', async () => {
  const { frame } = panel;
  await drawnMap(panel.page, '#heatmap', panel.runId);
  const target = path.join(panel.runDir, 'workspace', 'difftransformer-view.svg');
  const svg = await exportAs(target);
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
