// λ as shared/lambda.ts gives it to the host, the importer and the panel: the paper's initial value
// per layer, a run's λ per layer (DIFF V1) or per query token and head (DIFF V2), and its wording.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lambdaAt, lambdaInit, lambdaRange, lambdaRanges, lambdaRow, lambdaText, type RunLambda } from '../../shared/lambda';
import { assertClose } from '../support/tolerance';

test('λ_init follows the paper’s depth schedule, 0.8 − 0.6·exp(−0.3·(l − 1)) for the 1-based layer l', () => {
  for (let l = 1; l <= 24; l++) assertClose(lambdaInit(l - 1), 0.8 - 0.6 * Math.exp(-0.3 * (l - 1)), `layer ${l}`);
  assertClose(lambdaInit(0), 0.2, 'the first layer starts at 0.2');
  assert.ok(lambdaInit(40) < 0.8 && lambdaInit(40) > 0.7999, 'deep layers approach 0.8');
});

/** A DIFF V2 run of L = 2 layers, T = 3 tokens and H = 2 heads whose λ is layer + token/10 − head/100. */
const V2: RunLambda = {
  lambda: [],
  lambdaByToken: Float32Array.from({ length: 2 * 3 * 2 }, (_, i) => Math.floor(i / 6) + (Math.floor(i / 2) % 3) / 10 - (i % 2) / 100),
  tokens: ['<bos>', 'a', 'b'],
};

test('a V2 run: each query token’s λ per head, its row and its range per layer and head', () => {
  assertClose(lambdaAt(V2, 2, 1, 1, 2)!, 1 + 0.2 - 0.01, 'layer 1, head 1, token 2');
  assertClose(lambdaRow(V2, 2, 0, 1)!, [-0.01, 0.09, 0.19], 'layer 0, head 1 over the tokens');
  const ranges = lambdaRanges(V2, 2);
  assert.equal(ranges.length, 2);
  assertClose(ranges[1].flat(), [1, 1.2, 0.99, 1.19], 'layer 1: [min, max] of heads 0 and 1');
});

test('a V1 run has one λ per layer, the same for every head and token; a baseline has none', () => {
  const v1: RunLambda = { lambda: [0.25, 0.5], lambdaByToken: null, tokens: ['<bos>', 'a'] };
  assert.equal(lambdaAt(v1, 4, 1, 3, 1), 0.5);
  assert.equal(lambdaRow(v1, 4, 1, 3), undefined);
  assert.deepEqual(lambdaRanges(v1, 2), [
    [[0.25, 0.25], [0.25, 0.25]],
    [[0.5, 0.5], [0.5, 0.5]],
  ]);
  const baseline: RunLambda = { lambda: [], lambdaByToken: null, tokens: ['<bos>'] };
  assert.deepEqual([lambdaRanges(baseline, 2), lambdaAt(baseline, 2, 0, 0, 0)], [[], undefined]);
});

test('λ in words: one value, or the range where it varies, with 3 decimals', () => {
  assert.equal(lambdaText([[0.35612, 0.35612]]), 'λ 0.356');
  assert.equal(lambdaText([[0.3, 0.5], [0.12, 0.4], [0.2, 0.87]]), 'λ 0.120–0.870');
  assert.deepEqual(lambdaRange([0.4, -0.1, 0.9, 0.2]), [-0.1, 0.9]);
});
