// The tests' one numeric tolerance (test/support/tolerance.ts, from shared/tolerance.json): wide
// enough for float32 differences between processors, narrow enough that a wrong convention fails.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertClose, FLOAT32 } from '../support/tolerance';

const VALUES = [0, 1e-7, 0.4, 1, 15, -3.5];

test('float32 rounding and summation-order differences pass', () => {
  assertClose(VALUES.map((v) => Math.fround(v) * (1 + 8 * 2 ** -24)), VALUES, 'a few float32 ulps');
  assertClose(0.4 + 8e-6, 0.4, 'a difference seen between processors on the fixtures');
  assertClose(0.4 + 0.01, 0.4, 'a known method resolution on top', { atol: 0.01 });
});

test('a wrong convention fails, naming the worst element', () => {
  // e.g. a scale off by 1/sqrt(d) or a lambda off by a few percent
  assert.throws(() => assertClose(VALUES.map((v) => v * 1.001), VALUES, 'maps'), /maps\[4\]: .* more than the .* allowed \(4 of 6 elements\)/);
  assert.throws(() => assertClose(FLOAT32.atol * 3, 0, 'a value that should be 0'), /tolerance: shared\/tolerance\.json float32/);
});
