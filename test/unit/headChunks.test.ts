// The LM head over chunks of the vocabulary (extension/core/import/predictionHead.ts). Tiny
// checkpoints, 16-bit and float32 (python -m model hf-checkpoint), are imported with so few vocabulary rows per chunk
// that their vocabulary spans several chunks, the last one shorter: the graph must still give the
// PyTorch reference's top_ids, top_probs, token_logprob and last_logits, over several blocks of
// rows too, and the logit lens the same predictions as the head in one chunk.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { importModel } from '../../extension/core/import/importModel';
import { headChunkRows, lensChunkRows } from '../../extension/core/import/predictionHead';
import { loadModelPackage, type ModelPackage } from '../../extension/core/modelPackage';
import { createSession, openWeightsGraph, runModel, runNextTokenLogits, type RunOutputs } from '../../extension/core/runtime';
import blockSizing from '../../shared/attention.json';
import { assertClose } from '../support/tolerance';

const REPO = path.resolve(__dirname, '..', '..', '..');
const run = promisify(execFile);

let work: string;
before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'head-chunks-test-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Expected {
  ids: number[];
  outputs: Record<string, { data: number[] }>;
}

async function writeCheckpoint(format: string, dtype: string, folder: string): Promise<string> {
  const out = path.join(work, folder);
  await run(path.join(REPO, 'scripts', 'python.sh'), ['-m', 'model', 'hf-checkpoint', '--format', format, '--dtype', dtype, '--out', out], { cwd: REPO });
  return out;
}

/** The checkpoint imported with `chunkRows` vocabulary rows per chunk (undefined: the importer's own choice). */
async function imported(source: string, name: string, chunkRows?: number): Promise<ModelPackage> {
  const destination = path.join(work, name);
  await importModel({ source, destination, ...(chunkRows && { headChunkRows: chunkRows }) });
  return loadModelPackage(destination);
}

/** The run's prediction outputs and last_logits. */
async function predictions(pkg: ModelPackage, ids: number[]): Promise<RunOutputs & { lastLogits: Float32Array }> {
  const { session } = await createSession(pkg, 'cpu');
  try {
    return { ...(await runModel(session, ids, pkg.config)), lastLogits: await runNextTokenLogits(session, ids, pkg.config) };
  } finally {
    await session.release();
  }
}

/** The logit lens on every layer's hidden state at `token` of a run. */
async function lens(pkg: ModelPackage, outputs: RunOutputs, token: number): Promise<{ ids: number[]; probs: Float32Array }> {
  const { n_layer: L, n_embd: E } = pkg.config;
  const hidden = new Float32Array(L * E);
  for (let layer = 0; layer < L; layer++) hidden.set(outputs.hidden[layer].subarray(token * E, (token + 1) * E), layer * E);
  const session = await openWeightsGraph(pkg.lensPath!, pkg.config);
  try {
    const result = await session.run({ hidden: new ort.Tensor('float32', hidden, [L, E]) });
    return { ids: Array.from(result.lens_top_ids.data as BigInt64Array, Number), probs: result.lens_top_probs.data as Float32Array };
  } finally {
    await session.release();
  }
}

/** Chunks of `rows` over the vocabulary: at least three, the last one shorter. */
function assertSeveralChunks(vocab: number, rows: number): void {
  assert.ok(Math.ceil(vocab / rows) >= 3 && vocab % rows !== 0, `${vocab} tokens in chunks of ${rows}: three or more, the last shorter`);
}

// diffllama's own lm_head, bfloat16; diff-v1's head is its embedding (tied), float16, in chunks of
// fewer rows than the top-K the graph keeps; a float32 head, whose chunks are copied, not widened.
const CASES: Array<[string, string, number]> = [
  ['diffllama', 'bfloat16', 150],
  ['diff-v1', 'float16', 7],
  ['diff-v2', 'float32', 150],
];

for (const [format, dtype, chunkRows] of CASES) {
  test(`a ${dtype} ${format} head in chunks of ${chunkRows} vocabulary rows predicts as its PyTorch reference, and its lens as the head in one chunk`, async () => {
    const source = await writeCheckpoint(format, dtype, `${format}-src`);
    const expected: Expected = JSON.parse(await readFile(path.join(source, 'expected.json'), 'utf8'));
    const chunked = await imported(source, `${format}-chunked`, chunkRows);
    const whole = await imported(source, `${format}-whole`);
    assertSeveralChunks(chunked.config.vocab_size, chunkRows);
    assert.equal(headChunkRows({ vocabSize: whole.config.vocab_size, hidden: whole.config.n_embd }), whole.config.vocab_size, 'a tiny vocabulary is one chunk by default');
    assert.notDeepEqual(await readFile(chunked.modelPath), await readFile(whole.modelPath), 'the chunked graph is another graph');

    const outputs = await predictions(chunked, expected.ids);
    assertClose(outputs.topProbs, expected.outputs.top_probs.data, `${format}: top_probs`);
    assertClose(outputs.tokenLogprob, expected.outputs.token_logprob.data, `${format}: token_logprob`);
    assertClose(outputs.lastLogits, expected.outputs.last_logits.data, `${format}: last_logits`);
    assert.deepEqual(Array.from(outputs.topIds), expected.outputs.top_ids.data, `${format}: top_ids`);

    const K = chunked.config.top_k;
    const T = expected.ids.length;
    for (const token of [0, T >> 1, T - 1]) {
      const [inChunks, inOne] = [await lens(chunked, outputs, token), await lens(whole, outputs, token)];
      assert.deepEqual(inChunks.ids, inOne.ids, `token ${token}: the lens's top ids`);
      assertClose(inChunks.probs, inOne.probs, `token ${token}: the lens's top probabilities`);
      // The last layer's lens is the model's own prediction at the token.
      const L = chunked.config.n_layer;
      assert.deepEqual(inChunks.ids.slice((L - 1) * K), Array.from(outputs.topIds.subarray(token * K, (token + 1) * K)), `token ${token}: the last layer's lens`);
      assertClose(inChunks.probs.subarray((L - 1) * K), outputs.topProbs.subarray(token * K, (token + 1) * K), `token ${token}: the last layer's lens probabilities`);
    }
  });
}

test('a chunked head over several blocks of rows, the last one cut short, predicts as the head in one chunk', async () => {
  const T = blockSizing.max_rows + 44; // a chunk of 150 rows takes blocks of max_rows rows of the text
  const source = await writeCheckpoint('diffllama', 'bfloat16', 'long-src');
  const configFile = path.join(source, 'config.json');
  const config = JSON.parse(await readFile(configFile, 'utf8'));
  await writeFile(configFile, JSON.stringify({ ...config, max_position_embeddings: T }));
  const chunked = await imported(source, 'long-chunked', 150);
  const whole = await imported(source, 'long-whole');
  assertSeveralChunks(chunked.config.vocab_size, 150);
  const ids = [config.bos_token_id, ...Array.from({ length: T - 1 }, (_, i) => (7919 * i + 13) % config.vocab_size)];
  const [inChunks, inOne] = [await predictions(chunked, ids), await predictions(whole, ids)];
  assertClose(inChunks.topProbs, inOne.topProbs, 'top_probs');
  assertClose(inChunks.tokenLogprob, inOne.tokenLogprob, 'token_logprob');
  assertClose(inChunks.lastLogits, inOne.lastLogits, 'last_logits');
  assert.deepEqual(inChunks.topIds, inOne.topIds, 'top_ids');
});

test("a chunk of the head holds near head_chunk_elements floats at a large vocabulary; a float32 head is one chunk in the lens", () => {
  const large = { vocabSize: 128256, hidden: 2048 };
  const rows = headChunkRows(large);
  assert.ok(rows * large.hidden <= blockSizing.head_chunk_elements && (rows + 1) * large.hidden > blockSizing.head_chunk_elements, `${rows} rows of ${large.hidden}`);
  for (const dtype of ['bfloat16', 'float16']) assert.equal(lensChunkRows(large, dtype), rows, `${dtype}: the lens's chunks`);
  assert.equal(lensChunkRows(large, 'float32'), large.vocabSize);
});
