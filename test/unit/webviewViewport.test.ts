// A map's viewport without a browser: the host puts token pairs into cells (shared/inspection.ts
// viewportCells) and the panel names the tokens of each cell, zooms, pans and finds the locked
// query's row (webview/viewport.ts). The two sides must agree on every cell's tokens, or the
// readout names the wrong tokens for the value it shows.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { holdsQueryRow, viewportCells, wholeMap, type MapViewport } from '../../shared/inspection';
import type { ShownMap } from '../../webview/types';
import { cellAt, isPooled, keysOfColumn, lockedRow, panned, queriesOfRow, sameViewport, showing, targetViewport, tokensPerCell, zoomed } from '../../webview/viewport';

/** Pooled (37 rows into 8 cells, 50 keys into 9), exact (5 x 7 tokens, room for 8), and in between. */
const VIEWPORTS: MapViewport[] = [
  { firstRow: 3, endRow: 40, firstKey: 0, endKey: 50, rows: 8, cols: 9, pooling: 'max' },
  { firstRow: 10, endRow: 15, firstKey: 2, endKey: 9, rows: 8, cols: 8, pooling: 'mean' },
  { firstRow: 0, endRow: 64, firstKey: 0, endKey: 64, rows: 63, cols: 32, pooling: 'mean' },
];

/** Value of token pair (query, key) in the test's T x T map: distinct, signed, no pattern. */
const entry = (query: number, key: number) => Math.sin(query * 7.3 + key * 1.9) * (query + 1);

test('every token pair lies in the cell the host puts it in, and the panel names exactly that cell’s tokens', () => {
  for (const viewport of VIEWPORTS) {
    const { rows, cols, cellOfRow, cellOfKey } = viewportCells(viewport);
    // The panel's ranges tile each axis: cell r's queries end where cell r + 1's begin.
    assert.deepEqual([queriesOfRow(viewport, 0).first, queriesOfRow(viewport, rows - 1).end], [viewport.firstRow, viewport.endRow]);
    assert.deepEqual([keysOfColumn(viewport, 0).first, keysOfColumn(viewport, cols - 1).end], [viewport.firstKey, viewport.endKey]);
    for (let r = 1; r < rows; r++) assert.equal(queriesOfRow(viewport, r).first, queriesOfRow(viewport, r - 1).end);
    for (let c = 1; c < cols; c++) assert.equal(keysOfColumn(viewport, c).first, keysOfColumn(viewport, c - 1).end);
    for (let query = viewport.firstRow; query < viewport.endRow; query++) {
      for (let key = viewport.firstKey; key < viewport.endKey; key++) {
        const cell = cellAt(viewport, query, key)!;
        assert.deepEqual([cell.row, cell.col], [cellOfRow(query), cellOfKey(key)], `(${query}, ${key})`);
        assert.ok(cell.queries.first <= query && query < cell.queries.end && cell.keys.first <= key && key < cell.keys.end);
      }
    }
    assert.equal(cellAt(viewport, viewport.endRow, viewport.firstKey), undefined, 'outside the viewport');
  }
});

test('a max-pooled cell’s value is the signed largest entry of the tokens the panel says it covers', () => {
  const viewport = VIEWPORTS[0];
  const { rows, cols, cellOfRow, cellOfKey } = viewportCells(viewport);
  // The host's pooling: each visible (causal) entry goes to its cell; the largest magnitude wins.
  const pooled = new Float32Array(rows * cols);
  for (let query = viewport.firstRow; query < viewport.endRow; query++) {
    for (let key = viewport.firstKey; key < Math.min(viewport.endKey, query + 1); key++) {
      const at = cellOfRow(query) * cols + cellOfKey(key);
      if (Math.abs(entry(query, key)) > Math.abs(pooled[at])) pooled[at] = entry(query, key);
    }
  }
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < cols; col++) {
      const [queries, keys] = [queriesOfRow(viewport, row), keysOfColumn(viewport, col)];
      let largest = 0;
      for (let query = queries.first; query < queries.end; query++) {
        for (let key = keys.first; key < Math.min(keys.end, query + 1); key++) if (Math.abs(entry(query, key)) > Math.abs(largest)) largest = entry(query, key);
      }
      assert.equal(pooled[row * cols + col], Math.fround(largest), `cell (${row}, ${col}): queries ${queries.first}–${queries.end - 1}, keys ${keys.first}–${keys.end - 1}`);
    }
  }
});

test('whether cells pool tokens, hold the locked query’s own row, and how many tokens a keyboard step covers', () => {
  assert.equal(isPooled(wholeMap(100, 32, 'mean')), true);
  assert.deepEqual(tokensPerCell(wholeMap(100, 32, 'mean')), { rows: Math.ceil(100 / 32), keys: Math.ceil(100 / 32) });
  assert.equal(holdsQueryRow(wholeMap(100, 32, 'mean'), 50), false, 'a pooled cell row is several queries');
  const exact = wholeMap(20, 32, 'mean');
  assert.equal(isPooled(exact), false);
  assert.deepEqual(tokensPerCell(exact), { rows: 1, keys: 1 });
  assert.deepEqual([holdsQueryRow(exact, 0), holdsQueryRow(exact, 19), holdsQueryRow(exact, 20)], [true, true, false]);
  assert.equal(isPooled(VIEWPORTS[2]), true, 'exact rows, pooled keys');
});

test('the locked row: the map’s own where its cell rows are single queries, else the host’s row for that query', () => {
  const T = 12;
  const exact = wholeMap(T, T, 'mean');
  const data = Float32Array.from({ length: T * T }, (_, i) => entry(Math.floor(i / T), i % T));
  const map: ShownMap = { runId: 1, layer: 0, head: 0, view: 'diff', requestId: 0, viewport: exact, data };
  assert.deepEqual(Array.from(lockedRow(map, 5)!), Array.from({ length: T }, (_, key) => Math.fround(entry(5, key))));
  const pooled = { ...map, viewport: wholeMap(T, 4, 'mean'), data: new Float32Array(16) };
  assert.equal(lockedRow(pooled, 5), undefined, 'until the host sends the row');
  const row = new Float32Array([1, 2, 3, 4]);
  assert.equal(lockedRow({ ...pooled, queryRow: { query: 5, data: row } }, 5), row);
  assert.equal(lockedRow({ ...pooled, queryRow: { query: 6, data: row } }, 5), undefined, 'another query’s row');
});

test('zooming keeps the anchor where it is and stays inside the map; panning keeps the span; showing moves the least', () => {
  const T = 200;
  const whole = wholeMap(T, 64, 'mean');
  const inward = zoomed(whole, T, 0.5, 50, 150, 8, 64);
  assert.deepEqual([inward.endRow - inward.firstRow, inward.endKey - inward.firstKey], [100, 100], 'half the span');
  assert.equal((50 - inward.firstRow) / 100, 50 / 200, 'the anchor row keeps its place on screen');
  assert.equal((150 - inward.firstKey) / 100, 150 / 200, 'the anchor key too');
  const deep = zoomed(wholeMap(T, 64, 'mean'), T, 1 / 1000, 120, 0, 8, 64);
  assert.deepEqual([deep.endRow - deep.firstRow, deep.endKey - deep.firstKey], [8, 8], 'at least minSpan tokens a side');
  assert.ok(deep.firstRow <= 120 && 120 < deep.endRow && deep.firstKey === 0, `the anchor (120, 0) stays in view: ${JSON.stringify(deep)}`);
  assert.ok(sameViewport(zoomed(inward, T, 4, 100, 100, 8, 64), whole), 'zooming out stops at the whole map');

  const moved = panned(inward, T, 500, -7);
  assert.deepEqual([moved.firstRow, moved.endRow, moved.firstKey, moved.endKey], [100, 200, inward.firstKey - 7, inward.endKey - 7], 'clamped at the bottom edge');
  assert.equal(showing(inward, T, 60, 120), inward, 'a pair already in view');
  const shown = showing(inward, T, 140, 20);
  assert.deepEqual([shown.endRow, shown.firstKey], [141, 20], 'the least move that brings (140, 20) in');
});

test('a heatmap shows the viewport asked for last until its map arrives', () => {
  const viewport = wholeMap(10, 10, 'mean');
  const map: ShownMap = { runId: 1, layer: 0, head: 0, view: 'a1', requestId: 2, viewport, data: new Float32Array(100) };
  const asked = { ...viewport, endRow: 5, endKey: 5 };
  assert.equal(targetViewport(map, { pane: 'main', requestId: 3, viewport: asked }), asked);
  assert.equal(targetViewport(map, { pane: 'main', requestId: 2, viewport: asked }), viewport, 'the map answers it');
  assert.equal(targetViewport(undefined, { pane: 'main', requestId: 3, viewport: asked }), undefined);
});
