// End to end, the heatmap of a text longer than the map has pixels: the host sends the whole map
// pooled to the canvas, the pooling switch turns its cells from means into signed maxima, the
// +/− buttons, the keyboard and the wheel zoom down to one cell per token, dragging and
// Shift+arrows pan, and each time the host answers with the viewport the panel asked for (the
// canvas's data-request-id and data-first-row… against the body's data-viewport-requested), with
// the values the model computes for it. Hovering a cell names its tokens (their ranges where a cell
// pools several) and its value; locking a query of a pooled map brings its own row in full.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { DEFAULT_MODEL } from '../../extension/core/modelPath';
import { viewportCells, type MapViewport } from '../../shared/inspection';
import type { MapView } from '../../shared/model';
import { assertClose } from '../support/tolerance';
import { ofRun, panelFixture } from './harness';

/** About 900 tokens of code: more tokens than the heatmap has pixels a side. */
const LONG_TEXT = Array.from({ length: 50 }, (_, i) => `def scale_${i}(value):\n    return value * ${i + 2} + offset_${i % 7}\n`).join('\n');
const FILE = 'long_module.py';
/** Values are shown with 4 significant digits. */
const SHOWN_DIGITS = { rtol: 5e-4, atol: 5e-7 };

const panel = panelFixture('zoom', { files: () => ({ [FILE]: LONG_TEXT }), inspect: { file: FILE, command: 'DiffTransformer: Inspect File' }, engine: DEFAULT_MODEL });

/** What the main heatmap shows, from its data-* attributes. */
interface DrawnViewport {
  layer: number;
  head: number;
  view: MapView;
  query: number;
  requestId: number;
  viewport: MapViewport;
}

/** The main heatmap once it shows the host's answer to the panel's last viewport request (or, with
 *  none yet, its first map of the run). */
async function answered(): Promise<DrawnViewport> {
  const requested = await panel.frame.locator('body').getAttribute('data-viewport-requested');
  const request = requested === null ? '' : `[data-request-id="${requested}"]`;
  const canvas = panel.frame.locator(`${ofRun('#heatmap', panel.runId)}${request}[data-pending="false"]`);
  await canvas.waitFor({ state: 'attached' });
  const read = async (name: string) => (await canvas.getAttribute(`data-${name}`))!;
  const number = async (name: string) => Number(await read(name));
  return {
    layer: await number('layer'),
    head: await number('head'),
    view: (await read('view')) as MapView,
    query: await number('query'),
    requestId: await number('request-id'),
    viewport: {
      firstRow: await number('first-row'),
      endRow: await number('end-row'),
      firstKey: await number('first-key'),
      endKey: await number('end-key'),
      rows: await number('rows'),
      cols: await number('cols'),
      pooling: (await read('pooling')) as MapViewport['pooling'],
    },
  };
}

/** Does `act` in the panel and waits for the host's answer to the viewport request it made. */
async function afterRequest(act: () => Promise<void>): Promise<DrawnViewport> {
  const before = await panel.frame.locator('body').getAttribute('data-viewport-requested');
  await act();
  const changed = before === null ? 'body[data-viewport-requested]' : `body[data-viewport-requested]:not([data-viewport-requested="${before}"])`;
  await panel.frame.locator(changed).waitFor({ state: 'attached' });
  return answered();
}

/** Client coordinates of the middle of cell (row, col) of the heatmap's cells. */
async function cellCentre(canvas: Locator, drawn: DrawnViewport, row: number, col: number): Promise<{ x: number; y: number }> {
  const box = (await canvas.boundingBox())!;
  const { rows, cols } = viewportCells(drawn.viewport);
  return { x: box.x + ((col + 0.5) * box.width) / cols, y: box.y + ((row + 0.5) * box.height) / rows };
}

/** A cell the readout names: the first query and key of its ranges, the cell they are in, and the
 *  value shown. */
interface NamedCell {
  text: string;
  query: number;
  key: number;
  row: number;
  col: number;
  value: number;
}

/** Hovers the middle of cell (row, col) and returns the cell the readout then names, which must be
 *  that one or a neighbour: a pooled map's cells are a device pixel, finer than the pointer's
 *  position is rounded. */
async function hoverCell(page: Page, drawn: DrawnViewport, row: number, col: number): Promise<NamedCell> {
  const { x, y } = await cellCentre(panel.frame.locator('#heatmap'), drawn, row, col);
  await page.mouse.move(x, y);
  const readout = panel.frame.locator('#readout', { hasText: /^quer(y|ies) \d+.* → keys? \d+/ });
  await readout.waitFor({ state: 'attached' });
  const text = (await readout.textContent())!;
  const [, query, key] = text.match(/^quer(?:y|ies) (\d+).* → keys? (\d+)/)!.map(Number);
  const { cellOfRow, cellOfKey } = viewportCells(drawn.viewport);
  const named = { text, query, key, row: cellOfRow(query), col: cellOfKey(key), value: Number(text.split(' = ')[1].split(' ')[0].replace('−', '-')) };
  assert.ok(Math.abs(named.row - row) <= 1 && Math.abs(named.col - col) <= 1, `the hovered cell (${named.row}, ${named.col}) is at (${row}, ${col}): ${text}`);
  return named;
}

/** Whether the panel shows a token's text as it is (no line breaks or tabs, not only spaces). */
function asIs(token: number): boolean {
  return /^[^\n\r\t]*\S[^\n\r\t]*$/.test(panel.inspected.tokens[token]?.text ?? '');
}

/** The model's cells for a viewport. */
function modelCells(drawn: DrawnViewport): Promise<Float32Array> {
  return panel.engine.map(drawn.layer, drawn.head, drawn.view, drawn.viewport);
}


test('the first map is the whole text pooled to the canvas; hovering a cell names its token ranges and value', async () => {
  const T = panel.inspected.tokens.length;
  const first = await answered();
  const { rows, cols } = viewportCells(first.viewport);
  assert.deepEqual([first.viewport.firstRow, first.viewport.endRow, first.viewport.firstKey, first.viewport.endKey], [0, T, 0, T], 'the whole map');
  assert.ok(rows < T && cols < T, `a ${T}-token text is pooled to the canvas's ${rows} x ${cols} cells`);
  assert.equal(first.viewport.pooling, 'mean');
  assert.ok(await panel.frame.locator('#pooling-switch').isVisible(), 'the pooling switch is shown while cells pool tokens');

  const hovered = await hoverCell(panel.page, first, Math.floor(rows * 0.8), Math.floor(cols * 0.3));
  const { cellOfRow, cellOfKey } = viewportCells(first.viewport);
  const queries = Array.from({ length: T }, (_, i) => i).filter((i) => cellOfRow(i) === hovered.row);
  const keys = Array.from({ length: T }, (_, j) => j).filter((j) => cellOfKey(j) === hovered.col);
  assert.ok(queries.length > 1 && keys.length > 1, 'a cell pools several queries and keys');
  // The first token of each range, where the panel shows it as it is.
  const range = (name: string, indices: number[]) => `${name} ${indices[0]}–${indices.at(-1)} «${asIs(indices[0]) ? `${panel.inspected.tokens[indices[0]].text}»…` : ''}`;
  const { text } = hovered;
  assert.ok(text.startsWith(range('queries', queries)), `the cell's queries: ${text}`);
  assert.ok(text.includes(` → ${range('keys', keys)}`), `the cell's keys: ${text}`);
  assert.ok(text.includes(`(mean of ${queries.length}×${keys.length}) = `), `the pooling and the cell's size: ${text}`);
  assertClose([hovered.value], [(await modelCells(first))[hovered.row * cols + hovered.col]], 'the hovered cell is the model’s mean', SHOWN_DIGITS);
});

test('the pooling switch asks for signed maxima, and locking a query of the pooled map shows its own row', async () => {
  const { page } = panel;
  const max = await afterRequest(() => panel.frame.locator('#pooling-switch vscode-radio[data-pooling="max"]').click());
  assert.equal(max.viewport.pooling, 'max', 'the host answered with max-pooled cells');
  const { rows, cols } = viewportCells(max.viewport);
  const [row, col] = [Math.floor(rows * 0.8), Math.floor(cols * 0.3)];
  const hovered = await hoverCell(page, max, row, col);
  assert.ok(hovered.text.includes('(max of '), `the readout says the cell is a maximum: ${hovered.text}`);
  const cells = await modelCells(max);
  assertClose([hovered.value], [cells[hovered.row * cols + hovered.col]], 'the hovered cell is the model’s signed maximum', SHOWN_DIGITS);

  // A click locks the token under the pointer; the map's rows pool several, so the host sends the
  // query's own row for the strip under the map.
  const clicked = await cellCentre(panel.frame.locator('#heatmap'), max, row, col);
  await page.mouse.click(clicked.x, clicked.y);
  const query = Number(await panel.frame.locator(`${ofRun('#heatmap', panel.runId)}:not([data-query="${max.query}"])`).getAttribute('data-query'));
  assert.ok(Math.abs(viewportCells(max.viewport).cellOfRow(query) - row) <= 1, `the locked query ${query} is in the clicked row ${row}`);
  await panel.frame.locator(`${ofRun('#query-strip', panel.runId)}[data-query="${query}"]`).waitFor({ state: 'attached' });
  const mean = await afterRequest(() => panel.frame.locator('#pooling-switch vscode-radio[data-pooling="mean"]').click());
  assert.equal(mean.viewport.pooling, 'mean', 'back to means');
});

test('zoom to one cell per token, pan by keys and by dragging; the host answers each viewport', async () => {
  const { page } = panel;
  const T = panel.inspected.tokens.length;
  const canvas = panel.frame.locator('#heatmap');
  let drawn = await answered();
  const span = (shown: DrawnViewport) => shown.viewport.endRow - shown.viewport.firstRow;

  const byButton = await afterRequest(() => panel.frame.locator('#zoom-in').click());
  assert.ok(Math.abs(span(byButton) - T / 2) <= 1, `the + button halves the span: ${span(byButton)} of ${T}`);
  const middle = (T - 1) / 2;
  assert.ok(byButton.viewport.firstRow <= middle && middle < byButton.viewport.endRow, 'around the middle of the view');

  const box = (await canvas.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.25, box.y + box.height * 0.75);
  const byWheel = await afterRequest(() => page.mouse.wheel(0, -200));
  assert.ok(span(byWheel) < span(byButton), `the wheel zooms in: ${span(byWheel)} < ${span(byButton)}`);

  // The keyboard zooms on until a cell is one token.
  drawn = byWheel;
  await canvas.focus();
  while (viewportCells(drawn.viewport).rows < span(drawn)) {
    const before = span(drawn);
    drawn = await afterRequest(() => page.keyboard.press('+'));
    assert.ok(span(drawn) < before, `+ zooms in: ${span(drawn)} < ${before}`);
  }
  const exact = drawn.viewport;
  assert.equal(viewportCells(exact).cols, exact.endKey - exact.firstKey, 'one cell per key');

  // Shift+→ pans a quarter of the view to the right (if there is room), a drag to the right back.
  const panned = await afterRequest(() => page.keyboard.press(exact.endKey < T ? 'Shift+ArrowRight' : 'Shift+ArrowLeft'));
  assert.equal(span(panned), span(drawn), 'panning keeps the zoom');
  assert.notEqual(panned.viewport.firstKey, exact.firstKey, 'Shift+arrow pans along the keys');
  const tokenPx = box.width / span(panned);
  const start = await cellCentre(canvas, panned, 2, 2);
  const dragged = await afterRequest(async () => {
    await page.mouse.move(start.x, start.y);
    await page.mouse.down();
    await page.mouse.move(start.x + 3 * tokenPx + 2, start.y + 2 * tokenPx + 1, { steps: 5 });
    await page.mouse.up();
  });
  const moved = { rows: dragged.viewport.firstRow - panned.viewport.firstRow, keys: dragged.viewport.firstKey - panned.viewport.firstKey };
  assert.ok(moved.keys < 0 || panned.viewport.firstKey === 0, `dragging right shows earlier keys: ${JSON.stringify(moved)}`);
  assert.ok(moved.rows < 0 || panned.viewport.firstRow === 0, `dragging down shows earlier queries: ${JSON.stringify(moved)}`);
  assert.equal(await canvas.getAttribute('data-query'), String(panned.query), 'a drag locks no query');

  // One token per cell: the hover names a query token and a key token, with the model's value.
  // Aimed at a token whose neighbours too the panel shows as they are, whichever of them the
  // pointer lands on.
  const { rows, cols } = viewportCells(dragged.viewport);
  const aim = (first: number, count: number) => Array.from({ length: count - 2 }, (_, i) => i + 1).find((i) => [-1, 0, 1].every((d) => asIs(first + i + d)))!;
  const [row, col] = [aim(dragged.viewport.firstRow, rows), aim(dragged.viewport.firstKey, cols)];
  assert.ok(row !== undefined && col !== undefined, 'the view has tokens shown as they are');
  const hovered = await hoverCell(page, dragged, row, col);
  const { query, key } = hovered;
  const expected = `query ${query} «${panel.inspected.tokens[query].text}» → key ${key} «${panel.inspected.tokens[key].text}» · A1−λ·A2 = `;
  assert.ok(hovered.text.startsWith(expected), `the readout names the tokens: ${hovered.text}, not ${expected}`);
  assertClose([hovered.value], [(await modelCells(dragged))[hovered.row * cols + hovered.col]], 'the hovered cell is the model’s value', SHOWN_DIGITS);
  await panel.screenshot('zoomed');

  const whole = await afterRequest(() => panel.frame.locator('#zoom-whole').click());
  assert.deepEqual([whole.viewport.firstRow, whole.viewport.endRow], [0, T], 'Whole map shows every token again');
});
