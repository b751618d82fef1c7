// The bare forward an import writes for the benchmarks (importModel's bareForward: bare.onnx, the
// model's logits alone) must be the model the inspection graph runs, without the inspection: from
// its logits at every position, each row's top-k ids and probabilities and each token's
// log-probability must be the inspection graph's (which import.test.ts checks against PyTorch
// references). One checkpoint per way the graph lays out values and lambda.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { importModel } from '../../extension/core/import/importModel';
import { loadModelPackage } from '../../extension/core/modelPackage';
import { createSession, runModel } from '../../extension/core/runtime';
import { assertClose } from '../support/tolerance';

const REPO = path.resolve(__dirname, '..', '..', '..');

let work: string;
before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'bare-forward-test-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Log-softmax of one row of logits, in float64. */
function logSoftmax(row: Float32Array): Float64Array {
  let peak = -Infinity;
  for (const x of row) peak = Math.max(peak, x);
  let sum = 0;
  for (const x of row) sum += Math.exp(x - peak);
  const normaliser = peak + Math.log(sum);
  return Float64Array.from(row, (x) => x - normaliser);
}

const FORMATS: Array<[string, string[], string]> = [
  ['diffllama', [], "'halves' values, lambda per layer, a weightless head norm"],
  ['diff-v1', ['--dtype', 'float16'], "'wide' values, float16 weights widened where used"],
  ['diff-v2', [], 'lambda per token and head'],
  ['llama', [], "'plain' values, no lambda"],
];

for (const [format, options, about] of FORMATS) {
  test(`the bare forward of an imported ${format} checkpoint (${about}) predicts what its inspection graph does`, async () => {
    const source = path.join(work, `${format}-src`);
    await promisify(execFile)(path.join(REPO, 'scripts', 'python.sh'), ['-m', 'model', 'hf-checkpoint', '--format', format, '--out', source, ...options], { cwd: REPO });
    const ids: number[] = JSON.parse(await readFile(path.join(source, 'expected.json'), 'utf8')).ids;
    const destination = path.join(work, `${format}-pkg`);
    await importModel({ source, destination, bareForward: true });
    const pkg = await loadModelPackage(destination);
    const inspection = await createSession(pkg, 'cpu');
    const expected = await runModel(inspection.session, ids, pkg.config).finally(() => inspection.session.release());
    const { session } = await createSession({ modelPath: path.join(destination, 'bare.onnx'), config: pkg.config }, 'cpu');
    try {
      assert.deepEqual(session.inputNames, ['input_ids'], 'no intervention inputs');
      assert.deepEqual(session.outputNames, ['logits']);
      const T = ids.length;
      const V = pkg.config.vocab_size;
      const { logits } = await session.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, T]) });
      assert.deepEqual(logits.dims, [1, T, V]);
      const data = logits.data as Float32Array;
      const row = (t: number) => data.subarray(t * V, (t + 1) * V);

      const K = pkg.config.top_k;
      const topIds: number[] = [];
      const topProbs: number[] = [];
      const tokenLogprob = [0]; // position 0 has no prediction
      for (let t = 0; t < T; t++) {
        const logProbs = logSoftmax(row(t));
        const order = Array.from(logProbs.keys()).sort((a, b) => logProbs[b] - logProbs[a]).slice(0, K);
        topIds.push(...order);
        topProbs.push(...order.map((id) => Math.exp(logProbs[id])));
        if (t + 1 < T) tokenLogprob.push(logProbs[ids[t + 1]]);
      }
      assert.deepEqual(topIds, Array.from(expected.topIds), `${format}: every row's top ids`);
      assertClose(topProbs, expected.topProbs, `${format}: every row's top probabilities`);
      assertClose(tokenLogprob, expected.tokenLogprob, `${format}: every token's log-probability`);
    } finally {
      await session.release();
    }
  });
}
