// End to end, with the keyboard and as a screen reader sees it: the heatmap is a grid the keys walk
// (each cell it reaches is said in a live region, checked against the model's own map), the
// overview is one tab stop with roving focus, the controls have names in the accessibility tree,
// "View as table" lists the row's strongest keys, and the panel is drawn in a high-contrast, a dark
// and a light theme (screenshots of the maximised panel in test-results/e2e/accessibility/).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { DEFAULT_MODEL } from '../../extension/core/modelPath';
import type { MapView } from '../../shared/model';
import { assertClose } from '../support/tolerance';
import { drawnMap, ofRun, packageShape, PANEL_IFRAME, panelFixture, runCommand } from './harness';

const SELECTED = 'numbers.append(numbers[-1] + numbers[-2])';
/** The view names the panel shows (webview/format.ts). */
const VIEW_NAMES: Record<MapView, string> = { a1: 'A1', a2: 'A2', lambdaA2: 'λ·A2', diff: 'A1−λ·A2' };
/** Values are shown with 4 significant digits. */
const SHOWN_DIGITS = { rtol: 5e-4, atol: 5e-7 };

// The browser's globals and elements as the page functions below use them (this project's Node
// tsconfig has no DOM types; the functions run in the webview).
interface PageElement {
  readonly width: number;
  readonly parentElement: PageElement;
  getBoundingClientRect(): { left: number; top: number; width: number };
  querySelector(selector: string): PageElement;
  querySelectorAll(selector: string): Iterable<PageElement>;
  readonly textContent: string;
  getContext(kind: '2d'): { fillStyle: string; getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } };
}
declare const document: { documentElement: PageElement; createElement(tag: 'canvas'): PageElement };
declare function getComputedStyle(element: PageElement): { visibility: string; getPropertyValue(name: string): string };
declare function requestAnimationFrame(callback: () => void): number;

const panel = panelFixture('accessibility', { inspect: { file: 'sample.py', text: SELECTED, command: 'DiffTransformer: Inspect Selection' }, engine: DEFAULT_MODEL });

test('the keyboard walks the heatmap and the live region says each cell, as the model computes it', async () => {
  const { page, frame } = panel;
  const { view, layer, head, query: locked } = await drawnMap(page, '#heatmap', panel.runId);
  const T = panel.inspected.tokens.length;
  assert.equal(locked, T - 1, 'the selection’s last token is the locked query');
  assert.ok(T >= 12, `a text long enough for PageUp and PageDown (${T} tokens)`);
  assert.ok(panel.inspected.tokens.every((token) => /\S/.test(token.text) && !/[\n\r\t]/.test(token.text)), 'tokens shown as they are');
  const map = await panel.engine.map(layer, head, view as MapView);
  const canvas = frame.locator('#heatmap');
  const status = frame.locator('#heatmap-status[aria-live="polite"]');

  /** Waits until the live region names cell (query, key) and checks its tokens and value. */
  const expectCell = async (query: number, key: number, what: string) => {
    const announced = status.filter({ hasText: new RegExp(`^query ${query} .* → key ${key} `) });
    await announced.waitFor({ state: 'attached' });
    const text = (await announced.textContent())!;
    const token = (index: number) => `«${panel.inspected.tokens[index].text}»`;
    assert.ok(text.startsWith(`query ${query} ${token(query)} → key ${key} ${token(key)} · ${VIEW_NAMES[view as MapView]} = `), `${what}: ${text}`);
    assertClose(Number(text.split(' = ')[1].replace('−', '-')), map[query * T + key], `${what}: the announced value`, SHOWN_DIGITS);
    assert.equal(await frame.locator('#readout').textContent(), text, `${what}: the readout shows the focused cell`);
    // The focus mark is drawn over that cell.
    const mark = await canvas.evaluate((element, size) => {
      const map = element as unknown as PageElement;
      const box = map.getBoundingClientRect();
      const cell = map.parentElement.querySelector('.focus-cell');
      const at = cell.getBoundingClientRect();
      const cellPx = box.width / size;
      return { column: (at.left - box.left) / cellPx, row: (at.top - box.top) / cellPx, visible: getComputedStyle(cell).visibility === 'visible' };
    }, T);
    assert.deepEqual({ column: Math.round(mark.column), row: Math.round(mark.row), visible: mark.visible }, { column: key, row: query, visible: true }, `${what}: the focus mark`);
  };
  /** Presses a key and, when it locks another row, waits for the host's map and spans of that row. */
  const press = async (key: string, query: number, column: number, lockedBefore: number) => {
    await page.keyboard.press(key);
    await expectCell(query, column, key);
    if (query !== lockedBefore) {
      await frame.locator(`${ofRun('#heatmap', panel.runId)}[data-query="${query}"]`).waitFor({ state: 'attached' });
      await frame.locator(`${ofRun('#spans', panel.runId)}[data-query="${query}"]`).waitFor({ state: 'attached' });
    }
  };

  await canvas.focus();
  await expectCell(T - 1, 0, 'focus enters on the locked row');
  await press('End', T - 1, T - 1, T - 1);
  await press('ArrowLeft', T - 1, T - 2, T - 1);
  await press('PageUp', T - 11, T - 11, T - 1);
  await press('ArrowDown', T - 10, T - 11, T - 11);
  await press('Home', T - 10, 0, T - 10);
  await press('ArrowRight', T - 10, 1, T - 10);
  await press('PageDown', T - 1, 1, T - 10);
  await press('Control+Home', 0, 0, T - 1);
  await press('Control+End', T - 1, T - 1, 0);
  await panel.screenshot('keyboard-focused-cell');
});

test('View as table lists the locked row’s strongest keys with the model’s values', async () => {
  const { page, frame } = panel;
  const { view, layer, head, query } = await drawnMap(page, '#heatmap', panel.runId);
  const toggle = frame.locator('#map-table-toggle');
  await toggle.click();
  assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
  const table = frame.locator(`${ofRun('#map-table', panel.runId)}[data-layer="${layer}"][data-head="${head}"][data-view="${view}"][data-query="${query}"]`);
  await table.waitFor({ state: 'visible' });
  const T = panel.inspected.tokens.length;
  const row = (await panel.engine.map(layer, head, view as MapView)).slice(query * T, query * T + query + 1);
  const strongest = Array.from(row.keys()).sort((a, b) => row[b] - row[a]).slice(0, 10);
  const shown = await table.locator('tbody tr').evaluateAll((rows) => rows.map((tr) => Array.from((tr as unknown as PageElement).querySelectorAll('td'), (td) => td.textContent)));
  assert.deepEqual(shown.map(([rank]) => Number(rank)), strongest.map((_, rank) => rank + 1), 'ranks');
  assert.deepEqual(shown.map(([, key]) => Number(key)), strongest, 'the engine’s strongest keys, strongest first');
  assert.deepEqual(shown.map(([, , token]) => token), strongest.map((key) => panel.inspected.tokens[key].text), 'their tokens');
  assertClose(shown.map(([, , , value]) => Number(value.replace('−', '-'))), strongest.map((key) => row[key]), 'their values', SHOWN_DIGITS);
  await panel.screenshot('map-table');
});

test('the overview is one tab stop; the arrows move within it and Enter opens a head', async () => {
  const { page, frame } = panel;
  const { layers, heads } = packageShape(DEFAULT_MODEL);
  const { layer, head } = await drawnMap(page, '#heatmap', panel.runId);
  const thumbnails = frame.locator('#overview canvas');
  assert.equal(await frame.locator('#overview canvas[tabindex="0"]').count(), 1, 'one thumbnail in the tab order');
  // The focused element; a toolkit control (the Sinks button before the grid) matches twice, as the
  // host element and the button in its shadow root: the host comes first.
  const focused = () => frame.locator(':focus').first().evaluate((element) => `${element.getAttribute('role')} ${element.getAttribute('aria-label')}`);
  const selected = frame.locator(`#overview canvas[data-layer="${layer}"][data-head="${head}"]`);
  assert.equal(await selected.getAttribute('aria-selected'), 'true');
  assert.equal(await selected.getAttribute('tabindex'), '0', 'the tab stop is the open head');

  // In from either side lands on that thumbnail; one Tab leaves the grid.
  await selected.focus();
  await page.keyboard.press('Tab');
  assert.doesNotMatch(await focused(), /^option/, 'Tab leaves the overview');
  await page.keyboard.press('Shift+Tab');
  assert.match(await focused(), new RegExp(`^option layer ${layer} head ${head}, λ `), 'Shift+Tab comes back to the open head');
  await page.keyboard.press('Shift+Tab');
  assert.doesNotMatch(await focused(), /^option/, 'Shift+Tab leaves the overview');

  // The arrows move to a neighbour (away from the grid's edges); Enter opens it.
  const [right, down] = [head + 1 < heads ? 'ArrowRight' : 'ArrowLeft', layer + 1 < layers ? 'ArrowDown' : 'ArrowUp'];
  const target = { layer: layer + (down === 'ArrowDown' ? 1 : -1), head: head + (right === 'ArrowRight' ? 1 : -1) };
  await selected.focus();
  await page.keyboard.press(right);
  await page.keyboard.press(down);
  assert.match(await focused(), new RegExp(`^option layer ${target.layer} head ${target.head}, λ `));
  await page.keyboard.press('Enter');
  await frame.locator(`${ofRun('#heatmap', panel.runId)}[data-layer="${target.layer}"][data-head="${target.head}"]`).waitFor({ state: 'attached' });
  const tabStop = thumbnails.and(frame.locator('[tabindex="0"]'));
  assert.deepEqual(await tabStop.evaluate((element) => [element.getAttribute('data-layer'), element.getAttribute('data-head')]), [String(target.layer), String(target.head)], 'the tab stop moved with the focus');
});

test('the accessibility tree names the map, the controls, the overview, the logit lens and the live region', async () => {
  const { page, frame } = panel;
  const { layer, head, view } = await drawnMap(page, '#heatmap', panel.runId);
  const snapshot = await frame.locator('body').ariaSnapshot();
  fs.writeFileSync(path.join(panel.runDir, 'aria-snapshot.yaml'), snapshot);
  const T = panel.inspected.tokens.length;
  const expected = [
    `application "Attention map, layer ${layer} head ${head}, ${VIEW_NAMES[view as MapView]}, ${T} tokens"`,
    'combobox "Layer"',
    'combobox "Head"',
    'radiogroup "Map view"',
    'listbox "Overview: every layer and head"',
    `option "layer ${layer} head ${head}`,
    'button "View as table"',
    'status: query ',
    'table "Logit lens at query ',
  ];
  for (const entry of expected) assert.ok(snapshot.includes(entry), `the accessibility tree has ${entry}:\n${snapshot}`);
});

test('the panel in a high-contrast, a dark and a light theme', async () => {
  const { page, frame } = panel;
  await runCommand(page, 'View: Toggle Maximized Panel');
  for (const [theme, bodyClass] of [
    ['Dark High Contrast', 'vscode-high-contrast'],
    ['Dark Modern', 'vscode-dark'],
    ['Light Modern', 'vscode-light'],
  ]) {
    await chooseColorTheme(page, theme);
    await frame.locator(`body.${bodyClass}`).waitFor({ state: 'attached' });
    await frame.locator('#heatmap').focus();
    await repaintedInTheme(frame.locator('#heatmap'));
    await page.locator(PANEL_IFRAME).screenshot({ path: path.join(panel.runDir, `theme-${bodyClass}.png`) });
  }
  await runCommand(page, 'View: Toggle Maximized Panel');
});

/** Picks a colour theme as a user does: Preferences: Color Theme, then the theme's name. */
async function chooseColorTheme(page: Page, theme: string): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  await page.keyboard.press('F1');
  await input.fill('>Preferences: Color Theme');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Preferences: Color Theme' }).first().click();
  // The palette turns into the theme picker, which may clear what was typed before it opened.
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: theme }).first();
  for (const deadline = Date.now() + 30_000; ; ) {
    await input.fill(theme);
    if (await row.waitFor({ state: 'visible', timeout: 2000 }).then(() => true, () => false)) break;
    if (Date.now() > deadline) throw new Error(`the colour theme picker offers no "${theme}"`);
  }
  await row.click();
  await input.waitFor({ state: 'hidden' });
}

/** Waits until the heatmap is painted in the page's theme: its top-right cell (a key after the
 *  query, value 0) has the theme's editor background. */
async function repaintedInTheme(canvas: Locator): Promise<void> {
  await canvas.evaluate(
    (element, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const map = element as unknown as PageElement;
        const deadline = Date.now() + timeoutMs;
        // A canvas's fillStyle turns any CSS colour into #rrggbb.
        const scratch = document.createElement('canvas').getContext('2d');
        const check = () => {
          scratch.fillStyle = getComputedStyle(document.documentElement).getPropertyValue('--vscode-editor-background').trim();
          const [r, g, b] = Array.from(map.getContext('2d').getImageData(map.width - 1, 0, 1, 1).data);
          const pixel = `#${[r, g, b].map((channel) => channel.toString(16).padStart(2, '0')).join('')}`;
          if (pixel === scratch.fillStyle) resolve();
          else if (Date.now() > deadline) reject(new Error(`the map's empty cell is ${pixel}, the theme's background ${scratch.fillStyle}`));
          else requestAnimationFrame(check);
        };
        check();
      }),
    60_000,
  );
}
