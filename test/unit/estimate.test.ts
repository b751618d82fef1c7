// What the host says before a run: the tokens it will run and, once a run has been timed, about
// how long it will take; and how big the model is.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { test } from 'node:test';
import { Engine, runFlops } from '../../extension/core/engine';

const REPO = path.resolve(__dirname, '..', '..', '..');
const PACKAGE = path.join(REPO, 'models', 'code-diff');

test('an estimate counts the tokens a run takes and scales the last timed run', async () => {
  const engine = await Engine.load(PACKAGE, 'cpu');
  const config = JSON.parse(await readFile(path.join(PACKAGE, 'config.json'), 'utf8'));
  assert.equal(engine.info.parameters, config.parameters);
  assert.ok(engine.info.weightBytes! > 4 * config.parameters * 0.9, 'float32 weights: about 4 bytes a parameter');

  const sample = await readFile(path.join(REPO, 'test', 'fixtures', 'tokenizer-sample.txt'), 'utf8');
  const before = engine.estimate(sample);
  assert.equal(before.seconds, undefined, 'no run timed yet: no time to promise');
  const result = await engine.inspect(sample);
  assert.equal(before.tokens, result.tokens.length, 'the estimate counts the tokens the run took, BOS included');

  const again = engine.estimate(sample);
  // The same length at the same speed: the time the run took.
  assert.ok(Math.abs(again.seconds! * 1000 - result.latencyMs) < 1e-6 * result.latencyMs);
  const longer = engine.estimate(sample.repeat(8));
  assert.equal(longer.tokens, config.max_seq_len, 'a longer text runs the whole context');
  assert.ok(longer.seconds! / again.seconds! > runFlops(config, longer.tokens) / runFlops(config, again.tokens) - 1e-9);
});
