// Writes safetensors checkpoints for tests, as Hugging Face's safetensors library lays them out: the
// 8-byte little-endian header length, the JSON header padded with spaces to a multiple of 8 bytes, then
// the tensors' data in header order. float32 data is rounded to F16 or BF16 (to nearest, ties to even)
// when a tensor asks for it. And NaN or Inf planted into a checkpoint's tensor.

import { mkdirSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import * as path from 'node:path';
import { CheckpointWeights, elementCount, type WeightDtype } from '../../extension/core/import/safetensors';

export interface TensorData {
  dtype: WeightDtype;
  shape: number[];
  data: Float32Array;
}

export interface WriteOptions {
  /** The header's `__metadata__`; torch's save_file writes {"format": "pt"}. */
  metadata?: Record<string, string>;
}

export function writeSafetensors(file: string, tensors: Record<string, TensorData>, options: WriteOptions = {}): void {
  const header: Record<string, unknown> = { __metadata__: options.metadata ?? { format: 'pt' } };
  const data: Uint8Array[] = [];
  let offset = 0;
  for (const [name, { dtype, shape, data: values }] of Object.entries(tensors)) {
    const count = elementCount(shape);
    if (values.length !== count) throw new Error(`writeSafetensors: tensor '${name}' has ${values.length} values for shape [${shape}] (${count})`);
    const bytes = encode(dtype, values);
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes.length] };
    data.push(bytes);
    offset += bytes.length;
  }
  writeRawSafetensors(file, header, data);
}

/** Writes `header` as given (an object to serialise, or the header text itself) and the data after it,
 *  for files that a reader must refuse as well as valid ones. */
export function writeRawSafetensors(file: string, header: object | string, data: Uint8Array[] = []): void {
  let text = typeof header === 'string' ? header : JSON.stringify(header);
  text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const headerBytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.length));
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, Buffer.concat([length, headerBytes, ...data]));
}

/** Splits the tensors, in order, over `shardCount` files named as transformers names them
 *  (model-00001-of-00002.safetensors, ...) and writes model.safetensors.index.json. Returns the shard names. */
export function writeShardedCheckpoint(folder: string, tensors: Record<string, TensorData>, shardCount: number): string[] {
  const names = Object.keys(tensors);
  if (!(shardCount >= 1 && shardCount <= names.length)) throw new Error(`writeShardedCheckpoint: ${shardCount} shards for ${names.length} tensors`);
  const shardNames: string[] = [];
  const weightMap: Record<string, string> = {};
  const perShard = Math.ceil(names.length / shardCount);
  for (let shard = 0; shard < shardCount; shard++) {
    const shardName = `model-${String(shard + 1).padStart(5, '0')}-of-${String(shardCount).padStart(5, '0')}.safetensors`;
    const inShard = names.slice(shard * perShard, (shard + 1) * perShard);
    writeSafetensors(path.join(folder, shardName), Object.fromEntries(inShard.map((name) => [name, tensors[name]])));
    for (const name of inShard) weightMap[name] = shardName;
    shardNames.push(shardName);
  }
  const totalSize = Object.values(tensors).reduce((sum, { dtype, data }) => sum + data.length * (dtype === 'F32' ? 4 : 2), 0);
  writeFileSync(path.join(folder, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2));
  return shardNames;
}

function encode(dtype: WeightDtype, values: Float32Array): Uint8Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  if (dtype === 'F32') return new Uint8Array(bits.slice().buffer);
  const halves = new Uint16Array(values.length);
  const round = dtype === 'F16' ? float32BitsToFloat16Bits : float32BitsToBfloat16Bits;
  for (let i = 0; i < bits.length; i++) halves[i] = round(bits[i]);
  return new Uint8Array(halves.buffer);
}

/** The nearest bfloat16 (ties to even); NaN stays NaN. */
export function float32BitsToBfloat16Bits(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The nearest IEEE half (ties to even): too large becomes Inf, too small 0 or a subnormal; NaN stays NaN. */
export function float32BitsToFloat16Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  if (exponent > 112) {
    // A normal half (or Inf when rounding or the exponent overflows): keep 10 of the 23 mantissa bits.
    const magnitude = Math.min(((exponent - 112) << 10) | (mantissa >>> 13), 0x7c00);
    return sign | (magnitude === 0x7c00 ? magnitude : roundDropped(magnitude, mantissa, 13));
  }
  // A subnormal half counts units of 2^-24; the value is (1.mantissa) * 2^(exponent - 127).
  const shift = 126 - exponent;
  if (shift > 24) return sign;
  return sign | roundDropped((mantissa | 0x800000) >>> shift, mantissa | 0x800000, shift);
}

/** `kept` (= `full` >>> `dropped`) rounded to nearest, ties to even, by the bits that were dropped. */
function roundDropped(kept: number, full: number, dropped: number): number {
  const rest = full & ((1 << dropped) - 1);
  const half = 1 << (dropped - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

/** Overwrites values of a tensor in place: NaN at `nanAt`, +Inf at `infAt` (indices into the tensor). */
export async function plantNonFinite(folder: string, tensor: string, nanAt: number[], infAt: number[]): Promise<void> {
  const entry = (await CheckpointWeights.open(folder)).entry(tensor);
  const width = entry.dtype === 'F32' ? 4 : 2;
  const bits = (value: number) => {
    const buffer = Buffer.alloc(4);
    buffer.writeFloatLE(value);
    // bfloat16 is the top half of a float32.
    return width === 4 ? buffer : buffer.subarray(2);
  };
  const handle = await open(entry.file, 'r+');
  try {
    for (const index of nanAt) await handle.write(bits(NaN), 0, width, entry.start + index * width);
    for (const index of infAt) await handle.write(bits(Infinity), 0, width, entry.start + index * width);
  } finally {
    await handle.close();
  }
}
