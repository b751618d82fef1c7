// End to end, how the extension behaves around the person typing: the commands that run the model
// leave the keyboard in the editor, a new inspection shows Maps & spans, the panel names the lines
// that were selected and says when the file was edited since its run, and the hover shows a
// whitespace token by the panel's signs.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { DEFAULT_MODEL } from '../../extension/core/modelPath';
import { visibleText } from '../../shared/tokenText';
import { goToPosition, hoverText, inspectText, inspectWith, openFile, panelFixture, runCommand, selectLines, webviewFrame, workspaceFolder } from './harness';

const panel = panelFixture('editor', { engine: DEFAULT_MODEL });

/** Whether the workbench's keyboard focus is in the text editor (not the panel's webview). */
function editorHasFocus(page: Page): Promise<boolean> {
  return page.evaluate(`Boolean(document.activeElement?.closest('.editor-instance .monaco-editor'))`);
}

/** The tab the panel shows (its tab strip's active tab, `tab-<id>`). */
function shownTab(page: Page): Promise<string | null> {
  return webviewFrame(page).locator('#tabs').getAttribute('activeid');
}

test('Inspect and Compare keep the keyboard in the editor: Ctrl+A then selects the editor’s text', async () => {
  const { page } = panel;
  await inspectText(page, 'sample.py', 'def fibonacci', 'DiffTransformer: Compare with Baseline', DEFAULT_MODEL);
  assert.equal(await editorHasFocus(page), true, 'the editor has the focus after Compare with Baseline');
  await inspectWith(page, 'DiffTransformer: Inspect File', DEFAULT_MODEL);
  assert.equal(await editorHasFocus(page), true, 'the editor has the focus after Inspect File');
  await page.keyboard.press('Control+A');
  // The editor's status bar entry counts the characters selected in the editor, and only there.
  await page.locator('#status\\.editor\\.selection', { hasText: /\(\d+ selected\)/ }).waitFor({ state: 'visible' });
});

test('a refused inspection keeps the keyboard in the editor', async () => {
  const { page } = panel;
  await runCommand(page, 'File: New Untitled Text File');
  await page.locator('.tab.active', { hasText: 'Untitled' }).waitFor({ state: 'visible' });
  await runCommand(page, 'DiffTransformer: Inspect File'); // an empty document: nothing to inspect
  await webviewFrame(page).getByText('there is no text to inspect').first().waitFor({ state: 'visible' });
  assert.equal(await editorHasFocus(page), true, 'the editor has the focus after a refused inspection');
});

test('after Compare, a new inspection switches the panel to Maps & spans', async () => {
  const { page } = panel;
  await inspectText(page, 'sample.py', 'def fibonacci', 'DiffTransformer: Compare with Baseline', DEFAULT_MODEL);
  assert.equal(await shownTab(page), 'tab-compare', 'a comparison opens Compare');
  await inspectWith(page, 'DiffTransformer: Inspect File', DEFAULT_MODEL);
  assert.equal(await shownTab(page), 'tab-maps', 'Inspect File shows Maps & spans');
});

test('whole lines selected with Shift+Down are named by their own first and last line', async () => {
  const { page } = panel;
  await openFile(page, 'sample.py');
  await selectLines(page, 5, 10); // ends at column 1 of line 11
  const runId = await inspectWith(page, 'DiffTransformer: Inspect Selection', DEFAULT_MODEL);
  const header = webviewFrame(page).locator(`body[data-run-id="${runId}"]`).getByText(/sample\.py:\d+–\d+/);
  assert.match(await header.innerText(), /sample\.py:5–10 /);
});

test('an edit of the inspected file marks the run shown as stale until it is inspected again', async () => {
  const { page } = panel;
  const runId = await inspectText(page, 'sample.py', 'def fibonacci', 'DiffTransformer: Inspect Selection', DEFAULT_MODEL);
  const frame = webviewFrame(page);
  const stale = frame.locator('#status[data-kind="stale"]', { hasText: 'The file changed since this run' });
  assert.equal(await stale.count(), 0, 'a fresh run is not stale');
  await goToPosition(page, 1, 1);
  await page.keyboard.type('# edited\n');
  await stale.waitFor();
  assert.equal(await frame.locator(`body.edited[data-run-id="${runId}"]`).count(), 1, 'the run shown is marked as edited since (its maps faded)');
  await inspectWith(page, 'DiffTransformer: Inspect Selection', DEFAULT_MODEL);
  assert.equal(await stale.count(), 0, 'a new run is not stale');
  await page.keyboard.press('Control+Z');
});

test("the hover shows a whitespace token by the panel's signs", async () => {
  const { page } = panel;
  await openFile(page, 'sample.py');
  await inspectWith(page, 'DiffTransformer: Inspect File', DEFAULT_MODEL);
  // Line 4 is empty: its line break is (part of) a whitespace-only token.
  const text = fs.readFileSync(path.join(workspaceFolder, 'sample.py'), 'utf8');
  const lineFour = text.split('\n').slice(0, 3).join('\n').length + 1;
  const { tokens } = await panel.engine.inspect(text);
  const token = tokens.find((candidate, index) => index > 0 && candidate.start <= lineFour && lineFour < candidate.end)!;
  assert.match(token.text, /^\s+$/, `the token at line 4 is whitespace: ${JSON.stringify(token.text)}`);
  const hover = await hoverText(page, 4, 1, 'Surprisal');
  const signs = visibleText(token.text);
  assert.ok(hover.includes(signs), `the hover shows ${JSON.stringify(token.text)} as ${signs}, as the panel does: ${hover}`);
  assert.match(hover, /Surprisal: \d+\.\d\d bits/, 'surprisal in bits, as the What-if strip gives it');
  await page.keyboard.press('Escape');
});
