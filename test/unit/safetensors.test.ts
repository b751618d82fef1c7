import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { ImportError } from '../../extension/core/errors';
import { CheckpointWeights, type WeightDtype } from '../../extension/core/import/safetensors';
import { type TensorData, writeRawSafetensors, writeSafetensors, writeShardedCheckpoint } from '../support/safetensors';

const root = mkdtempSync(path.join(tmpdir(), 'safetensors-'));
after(() => rmSync(root, { recursive: true, force: true }));

let folderCount = 0;
function newFolder(): string {
  const folder = path.join(root, `model-${folderCount++}`);
  mkdirSync(folder);
  return folder;
}

/** The value of a binary floating-point bit pattern, from the IEEE 754 definition. */
function floatValue(bits: number, exponentBits: number, mantissaBits: number): number {
  const sign = (bits >>> (exponentBits + mantissaBits)) & 1 ? -1 : 1;
  const exponent = (bits >>> mantissaBits) & ((1 << exponentBits) - 1);
  const mantissa = bits & ((1 << mantissaBits) - 1);
  const bias = (1 << (exponentBits - 1)) - 1;
  if (exponent === (1 << exponentBits) - 1) return mantissa ? NaN : sign * Infinity;
  if (exponent === 0) return sign * mantissa * 2 ** (1 - bias - mantissaBits);
  return sign * (1 + mantissa / 2 ** mantissaBits) * 2 ** (exponent - bias);
}
const float16Value = (bits: number) => floatValue(bits, 5, 10);
const bfloat16Value = (bits: number) => floatValue(bits, 8, 7);

/** Same values bit for bit (so -0 and 0 differ, and NaN equals NaN). */
function assertSameValues(actual: Float32Array, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], Math.fround(expected[i]))) assert.fail(`${what}[${i}]: ${actual[i]}, expected ${expected[i]}`);
  }
}

function tensor(dtype: WeightDtype, shape: number[], values: ArrayLike<number>): TensorData {
  return { dtype, shape, data: Float32Array.from(values) };
}

/** A tensor holding every 16-bit pattern, index = pattern, written as the raw bytes of `dtype`. */
function writeAllPatterns(file: string, dtype: 'F16' | 'BF16', repeats = 1): void {
  const halves = new Uint16Array(65536 * repeats);
  for (let i = 0; i < halves.length; i++) halves[i] = i & 0xffff;
  writeRawSafetensors(file, { all: { dtype, shape: [halves.length], data_offsets: [0, halves.byteLength] } }, [new Uint8Array(halves.buffer)]);
}

test('F32 tensors read back bit for bit, and entries point at their bytes', async () => {
  const folder = newFolder();
  const values = [0, -0, 1, -1.5, Math.PI, 1e-45, -3.4028234663852886e38, Infinity, -Infinity, NaN, 123456.789];
  writeSafetensors(path.join(folder, 'model.safetensors'), {
    'model.norm.weight': tensor('F32', [values.length], values),
    'lm_head.weight': tensor('F32', [2, 3], [1, 2, 3, 4, 5, 6]),
  });
  const weights = await CheckpointWeights.open(folder);
  const file = path.join(folder, 'model.safetensors');
  assert.deepEqual(weights.files, [file]);
  assert.deepEqual(weights.names(), ['model.norm.weight', 'lm_head.weight']);
  assert.ok(weights.has('lm_head.weight') && !weights.has('__metadata__'));
  assertSameValues(await weights.read('model.norm.weight'), values, 'model.norm.weight');
  assertSameValues(await weights.read('lm_head.weight', [2, 3]), [1, 2, 3, 4, 5, 6], 'lm_head.weight');

  const entry = weights.entry('lm_head.weight');
  assert.deepEqual({ ...entry, start: undefined, end: undefined }, { name: 'lm_head.weight', dtype: 'F32', shape: [2, 3], file, start: undefined, end: undefined });
  const bytes = readFileSync(file).subarray(entry.start, entry.end);
  assertSameValues(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)), [1, 2, 3, 4, 5, 6], 'bytes at [start, end)');
});

test('F16 tensors: float32 is rounded to nearest, ties to even, and read back as that half exactly', async () => {
  const roundings: [number, number][] = [
    [1, 1], [-2, -2], [0.5, 0.5], [-0, -0], [Infinity, Infinity], [-Infinity, -Infinity], [NaN, NaN],
    [65504, 65504], [65519, 65504], [65520, Infinity], [1e5, Infinity],
    [2 ** -14, 2 ** -14], [2 ** -24, 2 ** -24], [2 ** -25, 0], [3 * 2 ** -25, 2 ** -23], [1e-10, 0],
    [1 + 2 ** -11, 1], [1 + 3 * 2 ** -11, 1 + 2 ** -9], [1 / 3, 0.333251953125],
  ];
  const folder = newFolder();
  writeSafetensors(path.join(folder, 'model.safetensors'), { w: tensor('F16', [roundings.length], roundings.map(([input]) => input)) });
  const weights = await CheckpointWeights.open(folder);
  assertSameValues(await weights.read('w'), roundings.map(([, rounded]) => rounded), 'w');
});

test('BF16 tensors: float32 is rounded to nearest, ties to even, and read back as that bfloat16 exactly', async () => {
  const roundings: [number, number][] = [
    [1, 1], [-2, -2], [0.5, 0.5], [-0, -0], [Infinity, Infinity], [-Infinity, -Infinity], [NaN, NaN],
    [1 + 2 ** -8, 1], [1 + 3 * 2 ** -8, 1 + 2 ** -6], [1 / 3, 0.333984375], [2 ** -133, 2 ** -133],
    [3.3895313892515355e38, 3.3895313892515355e38], [3.4028234663852886e38, Infinity],
  ];
  const folder = newFolder();
  writeSafetensors(path.join(folder, 'model.safetensors'), { w: tensor('BF16', [roundings.length], roundings.map(([input]) => input)) });
  const weights = await CheckpointWeights.open(folder);
  assertSameValues(await weights.read('w'), roundings.map(([, rounded]) => rounded), 'w');
});

test('every F16 and BF16 bit pattern converts to its exact float32 value', async () => {
  for (const [dtype, valueOf] of [['F16', float16Value], ['BF16', bfloat16Value]] as const) {
    const folder = newFolder();
    writeAllPatterns(path.join(folder, 'model.safetensors'), dtype);
    const values = await (await CheckpointWeights.open(folder)).read('all');
    assertSameValues(values, Array.from({ length: 65536 }, (_, bits) => valueOf(bits)), dtype);
    if (dtype === 'F16') {
      assert.equal(values[0x3c00], 1);
      assert.equal(values[0x0001], 2 ** -24);
      assert.equal(values[0x7c00], Infinity);
      assert.equal(values[0xfbff], -65504);
      assert.ok(Number.isNaN(values[0x7e00]));
    }
  }
});

test('a sharded checkpoint reads each tensor from the shard the index names', async () => {
  const folder = newFolder();
  const tensors = {
    'model.embed_tokens.weight': tensor('BF16', [4, 2], [1, 2, 3, 4, 5, 6, 7, 8]),
    'model.layers.0.input_layernorm.weight': tensor('F32', [2], [0.25, -0.75]),
    'model.layers.0.mlp.up_proj.weight': tensor('F16', [3, 2], [0.5, 1, 1.5, 2, 2.5, 3]),
    'model.norm.weight': tensor('F32', [2], [1, 1]),
    'lm_head.weight': tensor('BF16', [4, 2], [-1, -2, -3, -4, -5, -6, -7, -8]),
  };
  const shards = writeShardedCheckpoint(folder, tensors, 3);
  assert.deepEqual(shards, ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']);
  const weights = await CheckpointWeights.open(folder);
  assert.deepEqual(weights.files, shards.map((shard) => path.join(folder, shard)));
  assert.deepEqual(weights.names().sort(), Object.keys(tensors).sort());
  assert.equal(weights.entry('model.layers.0.mlp.up_proj.weight').file, path.join(folder, shards[1]));
  assert.equal(weights.entry('lm_head.weight').file, path.join(folder, shards[2]));
  for (const [name, { shape, data }] of Object.entries(tensors)) assertSameValues(await weights.read(name, shape), data, name);
  assert.throws(
    () => weights.entry('model.layers.1.input_layernorm.weight'),
    (err: Error) => err instanceof ImportError && ["'model.layers.1.input_layernorm.weight'", 'model.safetensors.index.json', ...shards].every((part) => err.message.includes(part)),
  );
});

test('an absent tensor or a shape that does not match names the tensor, the files and both shapes', async () => {
  const folder = newFolder();
  writeSafetensors(path.join(folder, 'model.safetensors'), { 'model.norm.weight': tensor('F32', [2, 3], [1, 2, 3, 4, 5, 6]) });
  const weights = await CheckpointWeights.open(folder);
  assert.throws(() => weights.entry('lm_head.weight'), (err: Error) => err instanceof ImportError && /model\.safetensors: .*'lm_head\.weight'/.test(err.message));
  await assert.rejects(weights.read('model.norm.weight', [4]), (err: Error) => {
    assert.ok(err instanceof ImportError);
    for (const part of ['model.safetensors', "'model.norm.weight'", '[2, 3]', '[4]']) assert.ok(err.message.includes(part), err.message);
    return true;
  });
  // Only the element count is checked: the graph builder reshapes.
  assert.equal((await weights.read('model.norm.weight', [3, 2])).length, 6);
});

test('a file truncated after it was opened is reported when its tensor is read', async () => {
  const folder = newFolder();
  const file = path.join(folder, 'model.safetensors');
  writeSafetensors(file, { w: tensor('F32', [4], [1, 2, 3, 4]) });
  const weights = await CheckpointWeights.open(folder);
  truncateSync(file, statSync(file).size - 4);
  await assert.rejects(weights.read('w'), (err: Error) => err instanceof ImportError && err.message.includes('model.safetensors') && err.message.includes('truncated'));
});

/** Writes a folder with `write` and checks that opening it fails with an ImportError mentioning each of `mentions`. */
async function assertRefused(write: (folder: string) => void, mentions: string[]): Promise<void> {
  const folder = newFolder();
  write(folder);
  await assert.rejects(CheckpointWeights.open(folder), (err: Error) => {
    assert.ok(err instanceof ImportError, `expected an ImportError, got ${err}`);
    for (const part of mentions) assert.ok(err.message.includes(part), `"${err.message}" should mention ${part}`);
    return true;
  });
}

const single = (folder: string) => path.join(folder, 'model.safetensors');
const index = (folder: string) => path.join(folder, 'model.safetensors.index.json');
/** A model.safetensors whose only tensor 'w' has the given header entry, and 16 bytes of data. */
const withEntry = (entry: unknown) => (folder: string) => writeRawSafetensors(single(folder), { w: entry }, [new Uint8Array(16)]);
const withLength = (length: bigint, totalBytes: number) => (folder: string) => {
  const bytes = Buffer.alloc(totalBytes);
  bytes.writeBigUInt64LE(length);
  writeFileSync(single(folder), bytes);
};
const twoShards = (folder: string) =>
  writeShardedCheckpoint(folder, { a: tensor('F32', [2], [1, 2]), b: tensor('F16', [2], [3, 4]) }, 2);

const refusals: [string, (folder: string) => void, string[]][] = [
  ['a folder without weights', () => {}, ['model.safetensors', 'model.safetensors.index.json', 'neither']],
  ['an index that is not JSON', (folder) => writeFileSync(index(folder), '{"weight_map": '), ['model.safetensors.index.json', 'not valid JSON']],
  ['an index without weight_map', (folder) => writeFileSync(index(folder), '{"metadata": {}}'), ['model.safetensors.index.json', "'weight_map'", 'missing']],
  ['an index whose weight_map is not an object', (folder) => writeFileSync(index(folder), '{"weight_map": []}'), ['model.safetensors.index.json', "'weight_map'"]],
  ['a weight_map entry that is not a file name', (folder) => writeFileSync(index(folder), '{"weight_map": {"a": 3}}'), ['model.safetensors.index.json', "'a'", '3']],
  ['a weight_map entry outside the folder', (folder) => writeFileSync(index(folder), '{"weight_map": {"a": "../x.safetensors"}}'), ['model.safetensors.index.json', "'a'", '../x.safetensors']],
  ['a missing shard', (folder) => unlinkSync(path.join(folder, twoShards(folder)[1])), ['model.safetensors.index.json', "'b'", 'model-00002-of-00002.safetensors']],
  [
    'a weight_map tensor absent from its shard',
    (folder) => {
      const shards = twoShards(folder);
      writeFileSync(index(folder), JSON.stringify({ weight_map: { a: shards[0], b: shards[1], c: shards[1] } }));
    },
    ['model.safetensors.index.json', "'c'", 'model-00002-of-00002.safetensors', 'no such tensor'],
  ],
  ['a truncated shard', (folder) => truncateSync(path.join(folder, twoShards(folder)[0]), 20), ['model-00001-of-00002.safetensors', 'truncated']],
  ['a file shorter than 8 bytes', (folder) => writeFileSync(single(folder), Buffer.from([1, 2, 3])), ['model.safetensors', '3 bytes', 'truncated']],
  ['a header length beyond the end of the file', withLength(1000n, 100), ['model.safetensors', 'header length is 1000', '92 bytes', 'truncated']],
  ['an absurd header length', withLength(1n << 62n, 100), ['model.safetensors', 'header length', '100000000']],
  ['a header that is not JSON', (folder) => writeRawSafetensors(single(folder), '{"w": {'), ['model.safetensors', 'header is not valid JSON']],
  ['a header that is an array', (folder) => writeRawSafetensors(single(folder), '[1, 2]'), ['model.safetensors', 'header is [1,2]']],
  ['a header that is null', (folder) => writeRawSafetensors(single(folder), 'null'), ['model.safetensors', 'header is null']],
  ['an entry that is not an object', withEntry(5), ['model.safetensors', "'w'", 'is 5']],
  ['an entry without dtype', withEntry({ shape: [4], data_offsets: [0, 16] }), ['model.safetensors', "'w'", "'dtype' is missing"]],
  ['a dtype that is not a string', withEntry({ dtype: 4, shape: [4], data_offsets: [0, 16] }), ['model.safetensors', "'w'", "'dtype' is 4"]],
  ['an F64 tensor', withEntry({ dtype: 'F64', shape: [2], data_offsets: [0, 16] }), ['model.safetensors', "'w'", 'F64 is not supported', 'F32, F16, BF16']],
  ['an I64 tensor', withEntry({ dtype: 'I64', shape: [2], data_offsets: [0, 16] }), ['model.safetensors', "'w'", 'I64 is not supported', 'F32, F16, BF16']],
  ['an entry without shape', withEntry({ dtype: 'F32', data_offsets: [0, 16] }), ['model.safetensors', "'w'", "'shape' is missing"]],
  ['a negative dimension', withEntry({ dtype: 'F32', shape: [-4], data_offsets: [0, 16] }), ['model.safetensors', "'w'", "'shape' is [-4]"]],
  ['a fractional dimension', withEntry({ dtype: 'F32', shape: [1.5], data_offsets: [0, 16] }), ['model.safetensors', "'w'", "'shape' is [1.5]"]],
  ['a shape that is not an array', withEntry({ dtype: 'F32', shape: '4', data_offsets: [0, 16] }), ['model.safetensors', "'w'", `'shape' is "4"`]],
  ['an entry without data_offsets', withEntry({ dtype: 'F32', shape: [4] }), ['model.safetensors', "'w'", "'data_offsets' is missing"]],
  ['one data offset', withEntry({ dtype: 'F32', shape: [4], data_offsets: [16] }), ['model.safetensors', "'w'", "'data_offsets' is [16]", '0 <= begin <= end']],
  ['data offsets begin > end', withEntry({ dtype: 'F32', shape: [4], data_offsets: [16, 0] }), ['model.safetensors', "'w'", "'data_offsets' is [16,0]"]],
  ['a negative data offset', withEntry({ dtype: 'F32', shape: [4], data_offsets: [-1, 15] }), ['model.safetensors', "'w'", "'data_offsets' is [-1,15]"]],
  ['data offsets that are strings', withEntry({ dtype: 'F32', shape: [4], data_offsets: ['0', '16'] }), ['model.safetensors', "'w'", `'data_offsets' is ["0","16"]`]],
  [
    'a byte count that does not match the shape',
    withEntry({ dtype: 'F16', shape: [3], data_offsets: [0, 8] }),
    ['model.safetensors', "'w'", 'header says 8 bytes', 'shape [3] of F16 = 6 bytes'],
  ],
  [
    'data beyond the end of the file',
    (folder) => writeRawSafetensors(single(folder), { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [4], data_offsets: [8, 24] } }, [new Uint8Array(20)]),
    ['model.safetensors', 'truncated', "'b'", 'found'],
  ],
  [
    'overlapping tensors',
    (folder) => writeRawSafetensors(single(folder), { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, [new Uint8Array(12)]),
    ['model.safetensors', "'a'", "'b'", 'overlap'],
  ],
];

test('folders and files the reader cannot use are refused with an ImportError naming the file and the tensor or field', async (t) => {
  for (const [what, write, mentions] of refusals) await t.test(what, () => assertRefused(write, mentions));
});

test('the truncation message says how many bytes were expected and found', async () => {
  await assertRefused(
    (folder) => writeRawSafetensors(single(folder), { w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, [new Uint8Array(10)]),
    // The header pads to 56 bytes: data starts at 64, so 'w' ends at 80 and the file has 74.
    ['expected at least 80 bytes, found 74', 're-download'],
  );
});

test('a 64 MB F16 tensor and 12 MB F32 and BF16 tensors convert across read chunks', async () => {
  const folder = newFolder();
  const bigFile = path.join(folder, 'big', 'model.safetensors');
  writeAllPatterns(bigFile, 'F16', 512);
  const big = await (await CheckpointWeights.open(path.dirname(bigFile))).read('all');
  assert.equal(big.length, 32 * 2 ** 20);
  const chunkValues = 2 * 2 ** 20; // a 4 MB chunk of F16
  const spots = [0, 1, chunkValues - 1, chunkValues, chunkValues + 1, 5 * chunkValues + 12345, big.length - 1];
  for (let i = 0; i < 1000; i++) spots.push(Math.floor((i / 1000) * big.length) + (i % 7));
  for (const i of spots) assert.ok(Object.is(big[i], Math.fround(float16Value(i & 0xffff))), `values[${i}] = ${big[i]}`);

  const count = 3 * 2 ** 20;
  const ramp = new Float32Array(count).map((_, i) => i);
  const smallBytes = new Float32Array(2 * count).map((_, i) => (i % 256) - 128);
  writeSafetensors(single(folder), { ramp: { dtype: 'F32', shape: [count], data: ramp }, bytes: { dtype: 'BF16', shape: [2 * count], data: smallBytes } });
  const weights = await CheckpointWeights.open(folder);
  assertSameValues(await weights.read('ramp'), ramp, 'ramp');
  assertSameValues(await weights.read('bytes'), smallBytes, 'bytes');
});
