// Which source tokens a head's contribution to a prediction came through (shared/explain.ts
// SourceParts): the panel lists them by how much they moved the logit either way, and the editor
// marks those whose A1 pushed the target up most and those whose push A2 cancelled most. One home
// for both rankings, so the list and the editor highlights never disagree.

import type { SourceParts } from './explain';

export interface SourceRow {
  token: number;
  /** The token's A1·V part of the head's contribution to the target's logit. */
  a1: number;
  /** Its signed −λ·A2·V part: negative where A2 cancelled what A1 added. */
  a2: number;
  net: number;
}

/** Source tokens by |a1| + |a2|, largest first: a token whose push A2 cancelled ranks high even
 *  where little of it is left. Ties keep the text's order. */
export function rankSources({ a1, a2 }: Pick<SourceParts, 'a1' | 'a2'>): SourceRow[] {
  const rows = Array.from(a1, (value, token) => ({ token, a1: value, a2: a2[token], net: value + a2[token] }));
  return rows.sort((x, y) => Math.abs(y.a1) + Math.abs(y.a2) - (Math.abs(x.a1) + Math.abs(x.a2)) || x.token - y.token);
}

/** The tokens the editor marks, at most `count` of each: "added", where A1 pushed the target up
 *  most (a1 > 0, largest first), and "cancelled", where A2 took back most (a2 < 0, most negative
 *  first). BOS is left out: it has no text in the editor. */
export function highlightedSources(parts: Pick<SourceParts, 'a1' | 'a2'>, count: number): { added: number[]; cancelled: number[] } {
  const tokens = Array.from(parts.a1, (_, token) => token).filter((token) => token > 0);
  const strongest = (value: (token: number) => number) =>
    tokens
      .filter((token) => value(token) > 0)
      .sort((x, y) => value(y) - value(x) || x - y)
      .slice(0, count);
  return { added: strongest((token) => parts.a1[token]), cancelled: strongest((token) => -parts.a2[token]) };
}
