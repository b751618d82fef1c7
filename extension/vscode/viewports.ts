// The host's side of the panel's viewports (shared/inspection.ts MapViewport): a viewport carried
// between two runs of the same text, the one-row viewport of the locked query when the map's cells
// pool several queries, and λ per query pooled to the map's cell rows.

import { holdsQueryRow, viewportCells, type MapViewport, type TokenInfo } from '../../shared/inspection';
import { alignToken } from '../core/alignTokens';

/** Whether a viewport lies inside a T x T map. */
export function fitsMap(viewport: MapViewport, T: number): boolean {
  return viewport.endRow <= T && viewport.endKey <= T;
}

/** A viewport of run `from`'s map as the same stretch of text in run `to`'s (another tokenizer cuts
 *  it into other tokens: each bound is carried by its place in the text). */
export function alignViewport(viewport: MapViewport, from: readonly TokenInfo[], to: readonly TokenInfo[]): MapViewport {
  if (from === to) return viewport;
  const carry = (first: number, end: number) => {
    const carriedFirst = alignToken(from, first, to);
    return [carriedFirst, Math.max(carriedFirst, alignToken(from, end - 1, to)) + 1];
  };
  const [firstRow, endRow] = carry(viewport.firstRow, viewport.endRow);
  const [firstKey, endKey] = carry(viewport.firstKey, viewport.endKey);
  return { ...viewport, firstRow, endRow, firstKey, endKey };
}

/** The viewport of query `query`'s row over the map's keys and cells, when the map does not hold
 *  that row on its own (its cell rows pool several queries, or the query is outside them);
 *  undefined when the map's cell row is the query's row. */
export function queryRowViewport(viewport: MapViewport, query: number): MapViewport | undefined {
  return holdsQueryRow(viewport, query) ? undefined : { ...viewport, firstRow: query, endRow: query + 1, rows: 1 };
}

/** Per-query values (λ of each query token) averaged over the queries of each cell row. */
export function poolRows(values: Float32Array, viewport: MapViewport): Float32Array {
  const { rows, cellOfRow } = viewportCells(viewport);
  const sums = new Float32Array(rows);
  const counts = new Uint32Array(rows);
  for (let query = viewport.firstRow; query < viewport.endRow; query++) {
    sums[cellOfRow(query)] += values[query];
    counts[cellOfRow(query)]++;
  }
  return sums.map((sum, row) => sum / counts[row]);
}
