// Two models with different tokenizers cut the same text into different tokens; a locked query
// token is carried from one run to the other by its place in the text.

import type { TokenInfo } from '../../shared/inspection';

/** The token of `to` that covers the last character of token `index` of `from` (BOS stays BOS;
 *  past the end of `to`, its last token). Both token lists index the same text. */
export function alignToken(from: readonly TokenInfo[], index: number, to: readonly TokenInfo[]): number {
  if (index <= 0 || to.length <= 1) return 0;
  const lastChar = from[Math.min(index, from.length - 1)].end - 1;
  for (let t = 1; t < to.length; t++) if (to[t].end > lastChar) return t;
  return to.length - 1;
}
