import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alignToken } from '../../extension/core/alignTokens';
import type { TokenInfo } from '../../shared/inspection';

/** Tokens (after a BOS) that cut `text` at the given boundaries. */
function tokens(text: string, cuts: number[]): TokenInfo[] {
  const ends = [...cuts, text.length];
  return [{ text: '<bos>', start: 0, end: 0 }, ...ends.map((end, i) => ({ text: text.slice(i ? ends[i - 1] : 0, end), start: i ? ends[i - 1] : 0, end }))];
}

test('a query token is carried to the other run by its last character', () => {
  const text = 'return fib(n - 1)';
  const fine = tokens(text, [6, 7, 10, 11, 12, 13, 14, 15, 16]); // 'return',' ','fib','(','n',' ','-',' ','1',')'
  const coarse = tokens(text, [6, 11, 16]); // 'return',' fib(','n - 1',')'
  assert.equal(alignToken(fine, 3, coarse), 2, "'fib' ends inside ' fib('");
  assert.equal(alignToken(fine, 4, coarse), 2, "'(' ends ' fib('");
  assert.equal(alignToken(coarse, 2, fine), 4, "' fib(' ends with '('");
  assert.equal(alignToken(fine, fine.length - 1, coarse), coarse.length - 1, 'last to last');
  assert.equal(alignToken(fine, 0, coarse), 0, 'BOS to BOS');
  for (let t = 0; t < fine.length; t++) assert.equal(alignToken(fine, t, fine), t, 'the same tokens map to themselves');
});
