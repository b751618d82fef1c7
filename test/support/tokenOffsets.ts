// The check both tokenizer families' offset tests share: counted in bytes of the normalized text,
// each token must end at the end of the first piece of the text (a character, or a run NFC rewrites
// as a whole) by which the normalized text holds all the token bytes so far.
import assert from 'node:assert/strict';
import type { TextTokenizer } from '../../extension/core/tokenizer';

/**
 * Checks the offsets of `text` tile it and are exact. `tokenBytes` is each token's length in the
 * normalized text; `pieceEnds[i]` is where a token may end, with `bytesTo[i]` normalized bytes
 * before it. The tokens must spell the normalized text up to its last piece.
 */
export function assertTokensEndAtTheirLastByte(
  tok: TextTokenizer,
  text: string,
  tokenBytes: (id: number) => number,
  pieceEnds: readonly number[],
  bytesTo: readonly number[],
): void {
  const { ids, offsets } = tok.encode(text);
  assert.equal(offsets.length, ids.length);
  let [position, bytes] = [0, 0];
  ids.forEach((id, t) => {
    const [start, end] = offsets[t];
    assert.equal(start, position, 'offsets must be contiguous');
    bytes += tokenBytes(id);
    assert.equal(end, pieceEnds[bytesTo.findIndex((before) => before >= bytes)], `token ${t} (${JSON.stringify(tok.tokenText(id))}) ends at the piece holding its last byte`);
    position = end;
  });
  assert.equal(position, text.length, 'offsets must cover the text');
  assert.equal(bytes, bytesTo.at(-1), 'the tokens spell the normalized text');
}

/** The end of each code point of `text` (never inside a surrogate pair). */
export function codePointEnds(text: string): number[] {
  const ends: number[] = [];
  for (let i = 0; i < text.length; ) {
    i += text.codePointAt(i)! > 0xffff ? 2 : 1;
    ends.push(i);
  }
  return ends;
}
