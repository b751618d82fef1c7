// The one tolerance of the TypeScript tests' numeric comparisons, read from shared/tolerance.json
// (the Python tests read it too): a value passes when |actual - expected| <= atol + rtol * |expected|,
// element by element (numpy.allclose's rule). A test of a method with a resolution of its own (a
// line boundary, a histogram bin) passes that resolution as `method`, added on top, so the two
// sources of error stay visible and separate.

import assert from 'node:assert/strict';
import tolerances from '../../shared/tolerance.json';

export interface Tolerance {
  rtol: number;
  atol: number;
}

function float32Tolerance(): Tolerance {
  const { rtol, atol } = tolerances.float32 ?? {};
  if (!(typeof rtol === 'number' && rtol >= 0 && typeof atol === 'number' && atol >= 0)) {
    throw new Error('shared/tolerance.json: float32 needs {"rtol": number >= 0, "atol": number >= 0}; fix that entry');
  }
  return { rtol, atol };
}

/** Float32 results across processors and runtimes (shared/tolerance.json's float32). */
export const FLOAT32 = float32Tolerance();

const NONE: Tolerance = { rtol: 0, atol: 0 };

/** Fails with the worst element, its error and its allowance when `actual` is not close to
 *  `expected` (numbers or arrays of the same length). */
export function assertClose(actual: number | ArrayLike<number>, expected: number | ArrayLike<number>, what: string, method: Partial<Tolerance> = NONE): void {
  const got = typeof actual === 'number' ? [actual] : actual;
  const want = typeof expected === 'number' ? [expected] : expected;
  assert.equal(got.length, want.length, `${what}: length`);
  let worst = -1;
  let worstExcess = 0;
  let failing = 0;
  for (let i = 0; i < want.length; i++) {
    const excess = Math.abs(got[i] - want[i]) - allowance(want[i], method);
    if (!(excess <= 0)) failing++; // NaN fails too
    if (!(excess <= worstExcess)) [worst, worstExcess] = [i, excess];
  }
  if (failing === 0) return;
  const at = typeof expected === 'number' ? '' : `[${worst}]`;
  assert.fail(
    `${what}${at}: ${got[worst]} vs ${want[worst]} differ by ${Math.abs(got[worst] - want[worst]).toPrecision(3)}, more than the ` +
      `${allowance(want[worst], method).toPrecision(3)} allowed (${failing} of ${want.length} elements); tolerance: shared/tolerance.json float32` +
      (method.rtol || method.atol ? ` plus the method's ${JSON.stringify(method)}` : ''),
  );
}

function allowance(expected: number, method: Partial<Tolerance>): number {
  return FLOAT32.atol + (method.atol ?? 0) + (FLOAT32.rtol + (method.rtol ?? 0)) * Math.abs(expected);
}
