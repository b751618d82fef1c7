// The panel's side of a map's viewport (shared/inspection.ts MapViewport): zooming and panning the
// rectangle of query rows and keys a heatmap shows, which tokens a cell of a pooled map covers, and
// the locked query's row at full resolution.

import { holdsQueryRow, viewportCells, type MapViewport } from '../shared/inspection';
import type { ShownMap, ViewportRequest } from './types';

/** A half-open range of token indices [first, end). */
export interface TokenRange {
  first: number;
  end: number;
}

/** Whether some cell of the viewport covers more than one token pair. */
export function isPooled(viewport: MapViewport): boolean {
  const { rows, cols } = viewportCells(viewport);
  return rows < viewport.endRow - viewport.firstRow || cols < viewport.endKey - viewport.firstKey;
}

/** The tokens of cell `cell` along an axis of `count` cells over [first, end): the inverse of
 *  viewportCells' floor((i - first) * count / length). */
function cellTokens(first: number, end: number, count: number, cell: number): TokenRange {
  const length = end - first;
  return { first: first + Math.ceil((cell * length) / count), end: first + Math.ceil(((cell + 1) * length) / count) };
}

/** A cell of a viewport: its place in the cells and the query rows and keys it pools. */
export interface ViewportCell {
  row: number;
  col: number;
  queries: TokenRange;
  keys: TokenRange;
}

/** The cell that holds token pair (query, key), or undefined outside the viewport. */
export function cellAt(viewport: MapViewport, query: number, key: number): ViewportCell | undefined {
  if (query < viewport.firstRow || query >= viewport.endRow || key < viewport.firstKey || key >= viewport.endKey) return undefined;
  const { rows, cols, cellOfRow, cellOfKey } = viewportCells(viewport);
  const [row, col] = [cellOfRow(query), cellOfKey(key)];
  return { row, col, queries: cellTokens(viewport.firstRow, viewport.endRow, rows, row), keys: cellTokens(viewport.firstKey, viewport.endKey, cols, col) };
}

/** The keys of column `col` of a viewport. */
export function keysOfColumn(viewport: MapViewport, col: number): TokenRange {
  return cellTokens(viewport.firstKey, viewport.endKey, viewportCells(viewport).cols, col);
}

/** The queries of row `row` of a viewport. */
export function queriesOfRow(viewport: MapViewport, row: number): TokenRange {
  return cellTokens(viewport.firstRow, viewport.endRow, viewportCells(viewport).rows, row);
}

/** Tokens a cell covers along each axis (at least 1): the keyboard steps by one cell. */
export function tokensPerCell(viewport: MapViewport): { rows: number; keys: number } {
  const { rows, cols } = viewportCells(viewport);
  return { rows: Math.ceil((viewport.endRow - viewport.firstRow) / rows), keys: Math.ceil((viewport.endKey - viewport.firstKey) / cols) };
}

/** A range of `length` tokens (at most T) starting near `first`, kept inside [0, T). */
function clampRange(first: number, length: number, T: number): TokenRange {
  const clampedLength = Math.max(1, Math.min(T, length));
  const clampedFirst = Math.max(0, Math.min(T - clampedLength, Math.round(first)));
  return { first: clampedFirst, end: clampedFirst + clampedLength };
}

/** The viewport with its rows and keys set, and its cells. */
function withRanges(viewport: MapViewport, rows: TokenRange, keys: TokenRange, cellRows: number, cellCols: number): MapViewport {
  return { ...viewport, firstRow: rows.first, endRow: rows.end, firstKey: keys.first, endKey: keys.end, rows: cellRows, cols: cellCols };
}

/** The viewport scaled by `factor` (< 1 zooms in) around the token pair (anchorRow, anchorKey),
 *  which stays where it is on screen; at least `minSpan` tokens a side, at most the whole map. */
export function zoomed(viewport: MapViewport, T: number, factor: number, anchorRow: number, anchorKey: number, minSpan: number, cells: number): MapViewport {
  const scale = (first: number, end: number, anchor: number) => {
    const span = end - first;
    // At least one token more or less, so that a small step still moves a short span.
    const scaled = factor > 1 ? Math.max(span + 1, Math.round(span * factor)) : Math.min(span - 1, Math.round(span * factor));
    const length = Math.max(Math.min(minSpan, T), scaled);
    return clampRange(anchor - ((anchor - first) * length) / span, length, T);
  };
  return withRanges(viewport, scale(viewport.firstRow, viewport.endRow, anchorRow), scale(viewport.firstKey, viewport.endKey, anchorKey), cells, cells);
}

/** The viewport moved by `rows` query rows and `keys` keys, kept inside the map (same cells). */
export function panned(viewport: MapViewport, T: number, rows: number, keys: number): MapViewport {
  const rowRange = clampRange(viewport.firstRow + rows, viewport.endRow - viewport.firstRow, T);
  const keyRange = clampRange(viewport.firstKey + keys, viewport.endKey - viewport.firstKey, T);
  return withRanges(viewport, rowRange, keyRange, viewport.rows, viewport.cols);
}

/** The viewport moved the least that brings token pair (query, key) into it (itself when it is in). */
export function showing(viewport: MapViewport, T: number, query: number, key: number): MapViewport {
  const shift = (first: number, end: number, index: number) => (index < first ? index - first : index >= end ? index - end + 1 : 0);
  const [rows, keys] = [shift(viewport.firstRow, viewport.endRow, query), shift(viewport.firstKey, viewport.endKey, key)];
  return rows === 0 && keys === 0 ? viewport : panned(viewport, T, rows, keys);
}

export function sameViewport(a: MapViewport, b: MapViewport): boolean {
  return (
    a.firstRow === b.firstRow && a.endRow === b.endRow && a.firstKey === b.firstKey && a.endKey === b.endKey && a.rows === b.rows && a.cols === b.cols && a.pooling === b.pooling
  );
}

/** The locked query's row over the map's key cells: the host's full-resolution row where the map
 *  lacks it, else the map's own row; undefined until the host's row arrives. */
export function lockedRow(map: ShownMap, query: number): Float32Array | undefined {
  if (map.queryRow?.query === query) return map.queryRow.data;
  const { viewport } = map;
  if (!holdsQueryRow(viewport, query)) return undefined;
  const { cols, cellOfRow } = viewportCells(viewport);
  const row = cellOfRow(query);
  return map.data.subarray(row * cols, (row + 1) * cols);
}

/** What a heatmap shows: the viewport the panel asked for last while the maps for it are on their
 *  way (the map's image scaled meanwhile), else the map's own. */
export function targetViewport(map: ShownMap | undefined, request: ViewportRequest | undefined): MapViewport | undefined {
  return map && request && request.requestId > map.requestId ? request.viewport : map?.viewport;
}
