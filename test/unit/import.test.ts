// Import Model against independent PyTorch references: small random-weight checkpoints in every
// supported format are written by `python -m model hf-checkpoint` (with the reference's outputs in
// expected.json), imported by the TypeScript importer, and run with ONNX Runtime. The project's own
// code-diff weights, imported, must reproduce models/code-diff. Every kind of broken folder must
// give an ImportError that names the file and the field or tensor, and leave nothing behind.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { rowsPerBlock } from '../../extension/core/analysisGraphs';
import { Engine } from '../../extension/core/engine';
import { loadTokenizer } from '../../extension/core/tokenizer';
import { CheckpointWeights } from '../../extension/core/import/safetensors';
import { ImportCancelledError, ImportError } from '../../extension/core/errors';
import { importModel } from '../../extension/core/import/importModel';
import { partialFolderFor, removePartialImport } from '../../extension/core/import/partialFolder';
import { loadModelPackage } from '../../extension/core/modelPackage';
import { createSession, joinLayers, LAYER_FIELDS, OUTPUT_FIELDS, runModel, weightsSessionSettings, type RunOutputs } from '../../extension/core/runtime';
import { hasOutput, LAYER_OUTPUTS, layerOutputName, MAP_VIEWS, type LayerOutput, type OutputName } from '../../shared/model';
import { assertClose } from '../support/tolerance';
import { writeRawSafetensors, writeSafetensors, type TensorData } from '../support/safetensors';
import { llama2Json } from '../support/sentencePiece';

const REPO = path.resolve(__dirname, '..', '..', '..');
const run = promisify(execFile);

interface Expected {
  ids: number[];
  outputs: Record<string, { dims: number[]; data: number[] }>;
}


let work: string;
before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'import-test-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

async function writeCheckpoint(format: string, folder: string, ...options: string[]): Promise<string> {
  const out = path.join(work, folder);
  await run(path.join(REPO, 'scripts', 'python.sh'), ['-m', 'model', 'hf-checkpoint', '--format', format, '--out', out, ...options], { cwd: REPO });
  return out;
}

async function runPackage(dir: string, ids: number[]): Promise<RunOutputs> {
  const pkg = await loadModelPackage(dir);
  const { session } = await createSession(pkg, 'cpu');
  try {
    return await runModel(session, ids, pkg.config);
  } finally {
    await session.release();
  }
}

/** scaleTolerance: an allowance of this fraction of each tensor's largest value on top of the shared
 *  float32 tolerance, for deep models where differently ordered float32 sums drift layer by layer. */
/** The most 16-bit matrices widened to float32 and not yet multiplied at any point of a run, in the
 *  order ONNX Runtime ran the graph's nodes (its profile): each linear layer's Cast makes one, its
 *  Gemm takes one; and the largest of them, in float32 elements. Up to the last Gemm: the prediction
 *  head widens its chunks of rows in a Loop. */
async function widenedAtOnce(dir: string, ids: number[]): Promise<{ most: number; largest: number }> {
  const pkg = await loadModelPackage(dir);
  const profileFilePrefix = path.join(work, 'profile');
  const session = await ort.InferenceSession.create(pkg.modelPath, { ...weightsSessionSettings(pkg.config), enableProfiling: true, profileFilePrefix });
  await runModel(session, ids, pkg.config);
  session.endProfiling();
  const [file] = (await readdir(work)).filter((name) => name.startsWith('profile'));
  const events = JSON.parse(await readFile(path.join(work, file), 'utf8')) as { cat: string; name: string; args: { op_name: string; output_type_shape: Record<string, number[]>[] } }[];
  await rm(path.join(work, file));
  const nodes = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time')).map((e) => e.args);
  const lastGemm = nodes.map((n) => n.op_name).lastIndexOf('Gemm');
  assert.ok(lastGemm > 0, 'the profile lists the Gemm nodes');
  let pending = 0;
  let most = 0;
  let largest = 0;
  for (const { op_name, output_type_shape } of nodes.slice(0, lastGemm + 1)) {
    const dims = Object.values(output_type_shape[0])[0];
    if (op_name === 'Cast' && dims.length === 2) {
      pending++;
      largest = Math.max(largest, dims[0] * dims[1]);
    }
    if (op_name === 'Gemm') pending--;
    most = Math.max(most, pending);
  }
  return { most, largest };
}

function assertOutputsClose(actual: RunOutputs, expected: (name: string) => ArrayLike<number> | undefined, what: string, scaleTolerance = 0): void {
  for (const name of [...Object.keys(OUTPUT_FIELDS), ...Object.keys(LAYER_FIELDS)]) {
    const want = expected(name);
    if (want === undefined) continue;
    let largest = 0;
    for (let i = 0; i < want.length; i++) largest = Math.max(largest, Math.abs(want[i]));
    assertClose(outputNamed(actual, name)!, want, `${what}: ${name}`, { atol: scaleTolerance * largest });
  }
}

/** A run's float output by its name in the graph, as the reference holds it: every layer joined. */
function outputNamed(outputs: RunOutputs, name: string): Float32Array | undefined {
  const layers = LAYER_FIELDS[name as LayerOutput];
  return layers ? joinLayers(outputs[layers]) : outputs[OUTPUT_FIELDS[name as OutputName]!];
}

const FORMATS: Array<[string, string[], string]> = [
  ['diffllama', ['--shards', '3'], 'sharded float32, halves pairing'],
  ['llama', ['--dtype', 'bfloat16'], 'bfloat16, llama3 rope scaling'],
  ['mistral', [], 'a Llama with a sliding window, which caps the context'],
  ['diff-v1', ['--dtype', 'float16'], 'float16, the official V1 module'],
  ['diff-v2', [], 'V2: lambda per token and head'],
];

for (const [format, options, about] of FORMATS) {
  test(`a ${format} checkpoint (${about}) imports and runs as its PyTorch reference does`, async () => {
    const source = await writeCheckpoint(format, `${format}-src`, ...options);
    const expected: Expected = JSON.parse(await readFile(path.join(source, 'expected.json'), 'utf8'));
    const destination = path.join(work, `${format}-pkg`);
    const result = await importModel({ source, destination });
    const pkg = await loadModelPackage(destination);
    const standard = format === 'llama' || format === 'mistral';
    assert.equal(result.kind, standard ? 'baseline' : 'diff');
    assert.equal(pkg.config.pairing, standard ? null : format === 'diffllama' ? 'halves' : 'adjacent');
    const config = JSON.parse(await readFile(path.join(source, 'config.json'), 'utf8'));
    const window = format === 'mistral' ? config.sliding_window : Infinity;
    assert.equal(pkg.config.max_seq_len, Math.min(config.max_position_embeddings, window), 'the context: Mistral\'s sliding window where smaller');
    // A 16-bit checkpoint's matrices stay 16-bit; the graph widens them exactly where used.
    const dtype = options.includes('bfloat16') ? 'bfloat16' : options.includes('float16') ? 'float16' : 'float32';
    assert.equal(pkg.config.weights_dtype, dtype, `${format}: config.json's weights_dtype`);
    // Per layer, so that ONNX Runtime holds no joined copy of every layer; a package missing a layer's part lacks the output.
    const { outputs: names, n_layer: L } = pkg.config;
    assert.ok(LAYER_OUTPUTS.every((name) => hasOutput(names, name, L) && !names.includes(name)), `${format}: hidden states, q and k one per layer`);
    assert.ok(!hasOutput(names.filter((name) => name !== layerOutputName('k', L - 1)), 'k', L), `${format}: without its last layer's k.${L - 1}, no k`);
    const outputs = await runPackage(destination, expected.ids);
    assertOutputsClose(outputs, (name) => expected.outputs[name]?.data, format);
    assert.deepEqual(Array.from(outputs.topIds), expected.outputs.top_ids.data, `${format}: top_ids`);
  });
}

// The reference's outputs for ids longer than a tiny checkpoint's 128-token context (which
// hf-checkpoint refuses): model.checkpoints' reference run on the checkpoint read back. It reads the
// ids from the file it then overwrites with expected.json's layout.
const LONG_REFERENCE = `
import json, sys
from pathlib import Path
from model.checkpoints import expected_outputs
from model.safetensors_files import read_weights
folder, fmt, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
config = json.loads((folder / "config.json").read_text())
ids = json.loads(out.read_text())
outputs = expected_outputs(fmt, config, read_weights(folder), ids)
out.write_text(json.dumps({"ids": ids, "outputs": {name: {"dims": list(a.shape), "data": a.reshape(-1).tolist()} for name, a in outputs.items()}}))
`;

/** Rows per block of T tokens when `perRow` floats each (shared/attention.json's rule): S * T for
 *  attention's query rows over S sub-heads, V for the prediction head's rows of logits. */
function blockRows(perRow: number, T: number): number {
  return Math.min(rowsPerBlock(perRow), T);
}

// Texts longer than a block of query rows and a block of the prediction head's rows: the graph's
// attention and head loops run several blocks, the last one full (512) or cut short, and must agree
// with a reference that holds the whole T x T maps and T x V logits.
const LONG_INPUTS: Array<[string, number, string]> = [
  ['diffllama', 600, "'halves' values"],
  ['llama', 512, "'plain' values, grouped-query"],
  ['diff-v1', 300, "'wide' values"],
  ['diff-v2', 600, 'lambda per token'],
];

for (const [format, T, about] of LONG_INPUTS) {
  test(`a ${format} checkpoint (${about}) runs ${T} tokens over blocks of query rows as its reference does`, async () => {
    const source = await writeCheckpoint(format, `${format}-long-src`);
    await editConfig(source, (config) => (config.max_position_embeddings = T));
    const config = JSON.parse(await readFile(path.join(source, 'config.json'), 'utf8'));
    const ids = [config.bos_token_id, ...Array.from({ length: T - 1 }, (_, i) => (7919 * i + 13) % config.vocab_size)];
    const expectedFile = path.join(work, `${format}-long-expected.json`);
    await writeFile(expectedFile, JSON.stringify(ids));
    await run(path.join(REPO, 'scripts', 'python.sh'), ['-c', LONG_REFERENCE, source, format, expectedFile], { cwd: REPO });
    const expected: Expected = JSON.parse(await readFile(expectedFile, 'utf8'));

    const destination = path.join(work, `${format}-long-pkg`);
    await importModel({ source, destination });
    const pkg = await loadModelPackage(destination);
    assert.equal(pkg.config.attention, 'blocked');
    const rows = blockRows(pkg.config.n_softmax_heads * T, T);
    assert.ok(Math.ceil(T / rows) >= 2, `${T} tokens in blocks of ${rows} query rows: more than one block`);
    const headRows = blockRows(config.vocab_size, T);
    assert.ok(Math.ceil(T / headRows) >= 2, `${T} tokens in blocks of ${headRows} rows of logits: more than one block`);
    const outputs = await runPackage(destination, ids);
    // Hundreds of positions (llama3's RoPE among them) and float32 sums this long drift from the
    // reference by up to 2e-5 of each tensor's largest value (measured: llama's hidden_states 1.3e-4
    // on values up to 6.7), as the whole-map graph this replaced did to the bit; a block whose mask
    // or keys are misplaced moves them by percents.
    assertOutputsClose(outputs, (name) => expected.outputs[name]?.data, `${format}, ${T} tokens`, 5e-5);
    assert.deepEqual(Array.from(outputs.topIds), expected.outputs.top_ids.data, `${format}: top_ids`);
  });
}

test("the import of the project's own code-diff weights reproduces models/code-diff", async () => {
  const source = await writeCheckpoint('diff-v1', 'code-diff-src', '--from-package', path.join(REPO, 'models', 'code-diff'));
  const destination = path.join(work, 'code-diff-pkg');
  await importModel({ source, destination });
  const ids = JSON.parse(await readFile(path.join(source, 'expected.json'), 'utf8')).ids as number[];
  const exported = await runPackage(path.join(REPO, 'models', 'code-diff'), ids);
  const imported = await runPackage(destination, ids);
  assertOutputsClose(imported, (name) => outputNamed(exported, name), 'code-diff');
  assert.deepEqual(imported.topIds, exported.topIds);
});

test('a Llama folder with a SentencePiece tokenizer (Llama 2 layout) imports, and each token holds the text it spells', async () => {
  const sample = await readFile(path.join(REPO, 'test', 'fixtures', 'tokenizer-sample.txt'), 'utf8');
  const tokenizerJson = llama2Json(sample);
  const tokenizer = loadTokenizer(tokenizerJson);
  const source = await writeCheckpoint('llama', 'llama-sentencepiece-src', '--vocab-size', String(tokenizer.vocabSize));
  await writeFile(path.join(source, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  await editConfig(source, (config) => (config.bos_token_id = 1));
  const { dir } = await importModel({ source, destination: path.join(work, 'llama-sentencepiece-pkg') });

  const engine = await Engine.load(dir, 'cpu');
  const text = 'def f(x):\n    return λ  # two spaces';
  const { tokens } = await engine.inspect(text);
  assert.equal(tokens[0].text, '<s>', 'the model\'s bos_token_id first');
  const { ids, offsets } = tokenizer.encode(text);
  assert.equal(tokens.length, 1 + ids.length);
  assert.deepEqual(tokens.slice(1).map(({ start, end }) => [start, end]), offsets);
  assert.equal(tokens.slice(1).map(({ start, end }) => text.slice(start, end)).join(''), text);
  assert.ok(tokenizer.tokenText(ids[0]).startsWith(' '), 'the first token spells the ▁ put first');
  const lambda = tokens.findIndex((token) => token.text === 'λ');
  const after = text.indexOf('λ') + 1;
  assert.deepEqual(tokens[lambda + 1], { text: '\\xBB', start: after, end: after }, 'λ in two byte tokens: the first holds it');
});

/** A copy of a good tiny checkpoint that a test then breaks. */
async function brokenCopy(name: string, breakIt: (folder: string) => Promise<void>): Promise<string> {
  const good = path.join(work, 'good-src');
  if (!(await readdir(work)).includes('good-src')) await writeCheckpoint('diffllama', 'good-src');
  const folder = path.join(work, name);
  await cp(good, folder, { recursive: true });
  await breakIt(folder);
  return folder;
}

async function editConfig(folder: string, edit: (config: Record<string, unknown>) => void): Promise<void> {
  const file = path.join(folder, 'config.json');
  const config = JSON.parse(await readFile(file, 'utf8'));
  edit(config);
  await writeFile(file, JSON.stringify(config));
}

/** Every tensor of a single-file checkpoint, as float32. */
async function readAll(folder: string): Promise<Record<string, TensorData>> {
  const weights = await CheckpointWeights.open(folder);
  const tensors: Record<string, TensorData> = {};
  for (const name of weights.names()) tensors[name] = { dtype: 'F32', shape: weights.entry(name).shape, data: await weights.read(name) };
  return tensors;
}

const SAFETENSORS = 'model.safetensors';
const BROKEN: Array<[string, (folder: string) => Promise<void>, RegExp[]]> = [
  ['no model_type', (f) => editConfig(f, (c) => delete c.model_type), [/config\.json/, /model_type/]],
  ['an unsupported model_type', (f) => editConfig(f, (c) => (c.model_type = 'qwen2')), [/config\.json/, /model_type/, /"qwen2"/]],
  [
    'a missing tensor',
    async (f) => {
      const tensors = await readAll(f);
      delete tensors['model.layers.1.self_attn.lambda_k2'];
      writeSafetensors(path.join(f, SAFETENSORS), tensors);
    },
    [/model\.safetensors/, /model\.layers\.1\.self_attn\.lambda_k2/],
  ],
  ['a wrong shape', (f) => editConfig(f, (c) => (c.intermediate_size = 80)), [/model\.safetensors/, /mlp\.\w+_proj\.weight/, /\[96, 64\]|\[64, 96\]/, /80/]],
  [
    'tokenizer.model instead of tokenizer.json',
    async (f) => {
      await rm(path.join(f, 'tokenizer.json'));
      await writeFile(path.join(f, 'tokenizer.model'), 'a SentencePiece model');
    },
    [/tokenizer\.json: missing/, /tokenizer\.model/, /save_pretrained/],
  ],
  ['a tokenizer that does not match the vocabulary', (f) => editConfig(f, (c) => (c.vocab_size = 300)), [/tokenizer\.json/, /vocab_size/, /300/]],
  [
    'a truncated safetensors file',
    async (f) => {
      const file = path.join(f, SAFETENSORS);
      await truncate(file, (await stat(file)).size - 1000);
    },
    [/model\.safetensors/, /truncated/],
  ],
  [
    'a header that lies about offsets',
    async (f) => {
      const header = { 'model.norm.weight': { dtype: 'F32', shape: [64], data_offsets: [0, 256] }, 'model.embed_tokens.weight': { dtype: 'F32', shape: [416, 64], data_offsets: [128, 128 + 416 * 64 * 4] } };
      writeRawSafetensors(path.join(f, SAFETENSORS), header, [new Uint8Array(128 + 416 * 64 * 4)]);
    },
    [/model\.safetensors/, /model\.(norm|embed_tokens)\.weight/],
  ],
];

for (const [what, breakIt, mentions] of BROKEN) {
  test(`a folder with ${what} gives an ImportError naming the file and field, and leaves nothing`, async () => {
    const source = await brokenCopy(what.replace(/\W+/g, '-'), breakIt);
    const destination = path.join(work, `out-${path.basename(source)}`);
    await assert.rejects(importModel({ source, destination }), (err: Error) => {
      assert.ok(err instanceof ImportError, `${what}: ${err.name}: ${err.message}`);
      for (const mention of mentions) assert.match(err.message, mention, `${what}: the message names ${mention}`);
      return true;
    });
    assert.deepEqual((await readdir(work)).filter((f) => f.startsWith(path.basename(destination))), [], `${what}: nothing written`);
  });
}

test("what a dead import thread left is removed, and nothing else", async () => {
  const parent = path.join(work, 'leftovers');
  const destination = path.join(parent, 'model');
  const partial = partialFolderFor(destination);
  for (const folder of [partial, `${destination}.partial-1-2`, `${destination}-2`, destination]) await mkdir(folder, { recursive: true });
  await writeFile(path.join(partial, 'weights.bin'), 'half-written');
  await removePartialImport(destination);
  assert.deepEqual((await readdir(parent)).sort(), ['model', 'model-2']);
});

test('a cancelled import stops and leaves nothing behind', async () => {
  const source = await brokenCopy('cancel', async () => {});
  const destination = path.join(work, 'cancelled-pkg');
  const abort = new AbortController();
  const seen: string[] = [];
  const importing = importModel({
    source,
    destination,
    signal: abort.signal,
    onProgress: ({ message }) => {
      seen.push(message);
      if (message.startsWith('converting') && seen.length > 3) abort.abort();
    },
  });
  await assert.rejects(importing, ImportCancelledError);
  assert.deepEqual((await readdir(work)).filter((f) => f.startsWith('cancelled-pkg')), []);
});

test('a 100M-parameter bfloat16 checkpoint imports as bfloat16 without a second copy in memory and runs as its reference does', async () => {
  const source = await writeCheckpoint('diffllama', 'big-src', '--size', '100m', '--dtype', 'bfloat16');
  const destination = path.join(work, 'big-pkg');
  // The importer in a process of its own, so that its peak memory is the import's alone.
  const cache = path.join(work, 'big-cache');
  const { stdout } = await run('node', [path.join(REPO, 'out', 'extension', 'core', 'cli.js'), 'import', source, '--out', destination], { env: { ...process.env, XDG_CACHE_HOME: cache } });
  const { parameters, maxRssBytes } = JSON.parse(stdout) as { parameters: number; maxRssBytes: number };
  assert.ok(parameters >= 100e6, `${parameters} parameters`);
  const weightsBytes = (await stat(path.join(destination, 'weights.bin'))).size;
  // Two bytes a parameter: the matrices as bfloat16; the vectors (float32) and the 64 KiB alignment add little.
  assert.ok(weightsBytes >= 2 * parameters && weightsBytes < 2.1 * parameters, `weights.bin: ${weightsBytes} bytes for ${parameters} parameters`);
  const { weights_dtype, widening } = JSON.parse(await readFile(path.join(destination, 'config.json'), 'utf8'));
  assert.equal(weights_dtype, 'bfloat16');
  assert.equal(widening, 'per_layer');
  assert.equal(weightsSessionSettings({ weights_dtype, widening }).enableCpuMemArena, undefined, 'its sessions keep the arena');
  // A 16-bit package imported before widening waited for each layer: its early copies would pile up in an arena.
  assert.equal(weightsSessionSettings({ weights_dtype }).enableCpuMemArena, false);
  // The digest the import computed while writing is remembered, so the first load does not hash the weights again.
  const manifest = JSON.parse(await readFile(path.join(destination, 'manifest.json'), 'utf8'));
  const remembered = JSON.parse(await readFile(path.join(cache, 'difftransformer-inspector', 'sha256.json'), 'utf8'));
  assert.deepEqual(Object.values(remembered), [manifest.files['weights.bin'].sha256]);
  // One tensor at a time: Node itself plus the largest tensor, below one copy of the model.
  assert.ok(maxRssBytes < weightsBytes, `the import peaked at ${(maxRssBytes / 2 ** 20).toFixed(0)} MiB for ${(weightsBytes / 2 ** 20).toFixed(0)} MiB of weights`);
  const expected: Expected = JSON.parse(await readFile(path.join(source, 'expected.json'), 'utf8'));
  const outputs = await runPackage(destination, expected.ids);
  // Eight layers of 1,024- and 2,816-long float32 sums, ordered differently by ONNX Runtime and
  // PyTorch, drift by about 3e-5 per layer on values up to 9 (measured: 2.3e-4 after the last layer);
  // a wrong convention moves them by percents.
  assertOutputsClose(outputs, (name) => expected.outputs[name]?.data, '100M diffllama', 1e-4);
  // Each layer's float32 copies are made as the run reaches the layer, not every layer's at its start,
  // and the MLP's matrices (2,816 x 1,024: 11 MiB as float32) a block of rows at a time.
  const { most, largest } = await widenedAtOnce(destination, expected.ids);
  assert.ok(most <= 3, `${most} widened matrices waited for their product at once (a layer's q, k and v may)`);
  assert.ok(largest * 4 <= 8 * 2 ** 20, `a widened copy of ${largest} float32 values (at most 8 MiB of them: the rest waits for the next block)`);
  await rm(source, { recursive: true });
  await rm(destination, { recursive: true });
});

for (const format of ['diffllama', 'diff-v2']) {
  test(`an imported ${format} package works in every view of the engine`, async () => {
    const source = await writeCheckpoint(format, `${format}-engine-src`);
    const destination = path.join(work, `${format}-engine-pkg`);
    await importModel({ source, destination });
    const expected: Expected & { text: string } = JSON.parse(await readFile(path.join(source, 'expected.json'), 'utf8'));
    const engine = await Engine.load(destination, 'cpu');
    const { nLayer: L, nHead: H } = engine.info;
    const result = await engine.inspect(expected.text);
    const T = result.tokens.length;
    assert.equal(T, expected.ids.length);
    // The maps the engine computes for a head, pooled, are the reference's maps of the softmax heads
    // the checkpoint's convention pairs: (h, h + H) for DiffLlama, (2h, 2h + 1) for the official modules.
    const [S, P] = expected.outputs.attn_thumbnails.dims.slice(2, 4);
    const pairOf = (head: number): [number, number] => (format === 'diffllama' ? [head, head + H] : [2 * head, 2 * head + 1]);
    for (let head = 0; head < H; head++) {
      const maps = await Promise.all([engine.map(L - 1, head, 'a1'), engine.map(L - 1, head, 'a2')]);
      pairOf(head).forEach((subHead, second) => {
        const from = ((L - 1) * S + subHead) * P * P;
        assertClose(averagePool(maps[second], T, P), expected.outputs.attn_thumbnails.data.slice(from, from + P * P), `head ${head}: ${second ? 'A2' : 'A1'} is softmax head ${subHead}`);
      });
    }
    const lambdaOf = (query: number, head: number) =>
      result.lambdaByToken ? result.lambdaByToken[((L - 1) * T + query) * H + head] : result.lambda[L - 1];
    for (let head = 0; head < H; head++) {
      const [a1, a2, lambdaA2, diff] = await Promise.all(MAP_VIEWS.map((view) => engine.map(L - 1, head, view)));
      for (const query of [0, T >> 1, T - 1]) {
        const row = (map: Float32Array) => map.subarray(query * T, (query + 1) * T);
        const sum = (map: Float32Array) => row(map).reduce((a, b) => a + b, 0);
        assertClose(sum(a1), 1, `head ${head} query ${query}: A1 row sum`);
        assertClose(sum(a2), 1, `head ${head} query ${query}: A2 row sum`);
        assertClose(sum(lambdaA2), lambdaOf(query, head), `head ${head} query ${query}: lambda A2 row sum is the run's lambda`);
        assertClose(sum(diff), 1 - lambdaOf(query, head), `head ${head} query ${query}: differential row sum`);
      }
    }
    // The overview's thumbnails of every view are the engine's maps pooled, exactly (V2: the graph
    // pools lambda * A2 with each query row's own lambda; the text is longer than P tokens).
    assert.ok(T > P, `${T} tokens`);
    for (const view of MAP_VIEWS) {
      const from = ((L - 1) * H + H - 1) * P * P;
      const thumbnail = (result.thumbnails[view] as Float32Array).subarray(from, from + P * P);
      assertClose(thumbnail, averagePool(await engine.map(L - 1, H - 1, view), T, P), `thumbnail of ${view}`);
    }
    assert.equal((await engine.outliers()).length, L);
    assert.equal((await engine.quantisation()).length, L);
    const lens = await engine.lens(T - 1);
    assert.deepEqual(lens[L - 1].predictions.map((p) => p.text), engine.predictions(T - 1).map((p) => p.text), 'the last layer of the lens is the prediction');
    // lambda 0 in every head: the differential map is A1.
    await engine.whatIf({ lambda_scale: new Float32Array(L * H), lambda_shift: new Float32Array(L * H) });
    assertClose(await engine.map(L - 1, 0, 'diff', undefined, 'whatIf'), await engine.map(L - 1, 0, 'a1', undefined, 'whatIf'), 'lambda 0: A1 - 0 A2 = A1');
  });
}

/** A T x T map average-pooled to P x P: cell (y, x) is the mean of the cells (i, j) with
 *  i * P div T = y and j * P div T = x, 0 where none falls (docs/model-package.md). */
function averagePool(map: Float32Array, T: number, P: number): Float32Array {
  const sums = new Float32Array(P * P);
  const counts = new Float32Array(P * P);
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < T; j++) {
      const cell = Math.floor((i * P) / T) * P + Math.floor((j * P) / T);
      sums[cell] += map[i * T + j];
      counts[cell] += 1;
    }
  }
  return sums.map((sum, cell) => (counts[cell] ? sum / counts[cell] : 0));
}
