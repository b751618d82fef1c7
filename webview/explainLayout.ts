// The Explain tab's arithmetic, apart from the DOM so the unit tests run it under Node: which
// components a bar list shows (largest |total| first) and their names in words, where each bar's A1 and −λ·A2 segments
// lie on a signed axis, and whether the parts add up to the logit.

import type { ExplainPart } from '../shared/explain';

/** Components (or source tokens) a bar list shows until the user asks for all. */
export const SHOWN_ROWS = 12;

/** Parts by |total|, largest first (ties in the engine's order), the first `count` (all: Infinity). */
export function largestParts(parts: readonly ExplainPart[], count: number): ExplainPart[] {
  return parts
    .map((part, order) => ({ part, order }))
    .sort((x, y) => Math.abs(y.part.total) - Math.abs(x.part.total) || x.order - y.order)
    .slice(0, count)
    .map(({ part }) => part);
}

/** A component in words. */
export function partLabel({ kind, layer, head, component }: ExplainPart): string {
  if (kind === 'head') return `Layer ${layer} head ${head}`;
  if (kind === 'mlp') return `Layer ${layer} MLP`;
  if (kind === 'embed') return 'Embedding';
  return component === 'constant' ? 'Biases (constant)' : component;
}

/** A bar on a signed axis, as fractions of the axis's half-width: `from` and `to` in [-1, 1]. */
export interface BarSegment {
  kind: 'a1' | 'a2' | 'total';
  from: number;
  to: number;
}

/** What a row's bar shows: the A1 part from 0, then the −λ·A2 part from where A1 ended (so the
 *  bar ends at the net, where the mark goes), or, for a part without the split, its total from 0.
 *  `scale` is the largest magnitude on the list's axis (see axisScale). */
export function barSegments({ a1, a2, total }: { a1?: number; a2?: number; total: number }, scale: number): { segments: BarSegment[]; net: number } {
  const at = (value: number) => (scale > 0 ? value / scale : 0);
  if (a1 === undefined || a2 === undefined) return { segments: [{ kind: 'total', from: 0, to: at(total) }], net: at(total) };
  return {
    segments: [
      { kind: 'a1', from: 0, to: at(a1) },
      { kind: 'a2', from: at(a1), to: at(a1 + a2) },
    ],
    net: at(a1 + a2),
  };
}

/** The largest magnitude a list's bars reach (the A1 part can reach past the net). */
export function axisScale(rows: readonly { a1?: number; total: number }[]): number {
  return Math.max(0, ...rows.map((row) => Math.max(Math.abs(row.total), Math.abs(row.a1 ?? 0))));
}

/** How far the parts' sum may stray from the logit, relative to the largest part: float32 sums of
 *  a few dozen terms in another order than the engine's differ by about this much at most. */
const SUM_RTOL = 1e-3;

/** Σ of the parts' totals, and whether it is the logit (within SUM_RTOL of the largest part). */
export function sumCheck(parts: readonly ExplainPart[], logit: number): { sum: number; agrees: boolean } {
  const sum = parts.reduce((total, part) => total + part.total, 0);
  const largest = Math.max(Math.abs(logit), ...parts.map((part) => Math.abs(part.total)));
  return { sum, agrees: Math.abs(sum - logit) <= SUM_RTOL * Math.max(1, largest) };
}
