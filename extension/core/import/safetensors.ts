// The importer's view of a Hugging Face checkpoint's weights: model.safetensors, or the shards that
// model.safetensors.index.json lists. Every header is validated when the folder is opened, so a damaged
// or unsupported folder fails before anything is written; tensor data is read later, one tensor at a
// time, from its own byte range, either as stored or converted to float32 in chunks.
//
// Format: an 8-byte little-endian header length N, N bytes of JSON header
// ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}), then the data section,
// which data_offsets index. The typed-array conversions assume a little-endian host, as every platform
// the extension ships for is.

import type { FileHandle } from 'node:fs/promises';
import { open, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { ImportError } from '../errors';

export type WeightDtype = 'F32' | 'F16' | 'BF16';

export interface TensorEntry {
  name: string;
  dtype: WeightDtype;
  shape: number[];
  /** The file holding it and the absolute byte range [start, end) of its data in that file. */
  file: string;
  start: number;
  end: number;
}

const SINGLE_FILE = 'model.safetensors';
const INDEX_FILE = 'model.safetensors.index.json';
/** The files that hold a checkpoint's weights, either of which makes a folder one to import. */
export const CHECKPOINT_WEIGHT_FILES = [SINGLE_FILE, INDEX_FILE] as const;
const BYTES_PER_VALUE: Record<WeightDtype, number> = { F32: 4, F16: 2, BF16: 2 };
const SUPPORTED_DTYPES = Object.keys(BYTES_PER_VALUE) as WeightDtype[];
const LENGTH_PREFIX_BYTES = 8;
/** Real headers are at most a few MB; a larger length means a file that is not safetensors. */
const MAX_HEADER_BYTES = 100_000_000;
/** Read and convert this much at a time, so a tensor costs its float32 result plus one chunk. */
const CHUNK_BYTES = 4 << 20;
const DAMAGED = 'the file is damaged or not a safetensors file: re-download it, or save the weights again with safetensors';

export class CheckpointWeights {
  private constructor(
    /** Absolute shard paths. */
    readonly files: string[],
    private readonly entries: Map<string, TensorEntry>,
    /** Where tensors are looked up, as the message for an absent one begins: "FILE: has no tensor". */
    private readonly hasNoTensor: string,
  ) {}

  /** Reads and validates every header of a folder: model.safetensors, or model.safetensors.index.json's
   *  weight_map and the shards it names. Reads only headers (never tensor data). */
  static async open(folder: string): Promise<CheckpointWeights> {
    const root = path.resolve(folder);
    const single = path.join(root, SINGLE_FILE);
    const index = path.join(root, INDEX_FILE);
    // model.safetensors wins when both are present, as in transformers.
    if (await isFile(single)) {
      const entries = await readHeader(single);
      return new CheckpointWeights([single], new Map(entries.map((entry) => [entry.name, entry])), `${single}: has no tensor`);
    }
    if (await isFile(index)) return CheckpointWeights.openSharded(root, index);
    throw new ImportError(
      `${root}: has neither ${SINGLE_FILE} nor ${INDEX_FILE}; expected the weights of a Hugging Face model folder in safetensors ` +
        `(save them with save_pretrained(..., safe_serialization=True), or download the model's .safetensors files)`,
    );
  }

  private static async openSharded(root: string, indexFile: string): Promise<CheckpointWeights> {
    const weightMap = await readWeightMap(indexFile);
    const shardNames = [...new Set(weightMap.values())].sort();
    const shardEntries = new Map<string, Map<string, TensorEntry>>();
    for (const shard of shardNames) {
      const file = path.join(root, shard);
      if (!(await isFile(file))) {
        const tensor = [...weightMap].find(([, inShard]) => inShard === shard)?.[0];
        throw new ImportError(`${indexFile}: weight_map puts tensor '${tensor}' in ${shard}, which is not in ${root}; download every shard the index lists`);
      }
      shardEntries.set(shard, new Map((await readHeader(file)).map((entry) => [entry.name, entry])));
    }
    // weight_map lists the checkpoint's tensors; a tensor a shard holds but the index does not name is left out.
    const entries = new Map<string, TensorEntry>();
    for (const [name, shard] of weightMap) {
      const entry = shardEntries.get(shard)?.get(name);
      if (!entry) {
        throw new ImportError(
          `${indexFile}: weight_map puts tensor '${name}' in ${shard}, but that shard's header has no such tensor; ` +
            `the index and the shards are from different downloads: download the folder again`,
        );
      }
      entries.set(name, entry);
    }
    const files = shardNames.map((shard) => path.join(root, shard));
    return new CheckpointWeights(files, entries, `${indexFile}: weight_map (shards ${shardNames.join(', ')}) has no tensor`);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Throws ImportError naming the tensor and the files searched when absent. */
  entry(name: string): TensorEntry {
    const entry = this.entries.get(name);
    if (!entry) {
      throw new ImportError(`${this.hasNoTensor} '${name}'; check that config.json and the weights are from the same model`);
    }
    return entry;
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  /** The tensor's values as float32 (F16/BF16 converted exactly), read from disk now; checks that the
   *  shape's element count matches expectedShape when given. */
  async read(name: string, expectedShape?: readonly number[]): Promise<Float32Array> {
    const entry = this.sizedEntry(name, expectedShape);
    const values = new Float32Array(elementCount(entry.shape));
    await readAsFloat32Bits(entry, new Uint32Array(values.buffer));
    return values;
  }

  /** The tensor's bytes as the checkpoint stores them (little-endian values of its dtype), read from
   *  disk now; the same check as `read`. */
  async readStored(name: string, expectedShape?: readonly number[]): Promise<Uint8Array> {
    const entry = this.sizedEntry(name, expectedShape);
    const bytes = new Uint8Array(entry.end - entry.start);
    const handle = await openFile(entry.file);
    try {
      await readFully(handle, entry.file, bytes, entry.start);
    } finally {
      await handle.close();
    }
    return bytes;
  }

  /** The entry, after checking that its element count matches expectedShape's when given. */
  private sizedEntry(name: string, expectedShape?: readonly number[]): TensorEntry {
    const entry = this.entry(name);
    const count = elementCount(entry.shape);
    if (expectedShape && elementCount(expectedShape) !== count) {
      throw new ImportError(
        `${entry.file}: tensor '${name}' has shape [${entry.shape.join(', ')}] (${count} values); expected shape ` +
          `[${expectedShape.join(', ')}] (${elementCount(expectedShape)} values) from config.json; the weights and config.json are from different models`,
      );
    }
    return entry;
  }
}

/** The index's weight_map: tensor name -> shard file name inside the folder. */
async function readWeightMap(indexFile: string): Promise<Map<string, string>> {
  let index: unknown;
  try {
    index = JSON.parse(await readFile(indexFile, 'utf8'));
  } catch (err) {
    throw new ImportError(`${indexFile}: not valid JSON (${(err as Error).message}); download the file again`);
  }
  const weightMap = isObject(index) ? index.weight_map : undefined;
  if (!isObject(weightMap) || Object.keys(weightMap).length === 0) {
    throw new ImportError(`${indexFile}: field 'weight_map' is ${describe(weightMap)}; expected an object {tensor name: shard file}; download the file again`);
  }
  const shardOf = new Map<string, string>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || shard === '' || shard !== path.basename(shard) || shard === '..') {
      throw new ImportError(`${indexFile}: field 'weight_map' maps tensor '${name}' to ${describe(shard)}; expected the name of a shard file in the same folder`);
    }
    shardOf.set(name, shard);
  }
  return shardOf;
}

/** Validates one file's header against the file's size and returns its tensors, in header order. */
async function readHeader(file: string): Promise<TensorEntry[]> {
  const handle = await openFile(file);
  try {
    const fileBytes = (await handle.stat()).size;
    if (fileBytes < LENGTH_PREFIX_BYTES) {
      throw new ImportError(`${file}: has ${fileBytes} bytes, fewer than the 8-byte header length a safetensors file starts with; the file is truncated: re-download it`);
    }
    const prefix = Buffer.alloc(LENGTH_PREFIX_BYTES);
    await readFully(handle, file, prefix, 0);
    const headerLength = prefix.readBigUInt64LE(0);
    if (headerLength > BigInt(MAX_HEADER_BYTES)) {
      throw new ImportError(`${file}: header length is ${headerLength} bytes; expected at most ${MAX_HEADER_BYTES}; ${DAMAGED}`);
    }
    const dataStart = LENGTH_PREFIX_BYTES + Number(headerLength);
    if (dataStart > fileBytes) {
      throw new ImportError(`${file}: header length is ${headerLength} bytes, but the file has only ${fileBytes - LENGTH_PREFIX_BYTES} bytes after the length; the file is truncated: re-download it`);
    }
    const headerBytes = Buffer.alloc(Number(headerLength));
    await readFully(handle, file, headerBytes, LENGTH_PREFIX_BYTES);
    const entries = parseHeader(file, headerBytes, dataStart);
    checkWithinFile(file, entries, fileBytes);
    checkNoOverlap(file, entries, dataStart);
    return entries;
  } finally {
    await handle.close();
  }
}

function parseHeader(file: string, headerBytes: Uint8Array, dataStart: number): TensorEntry[] {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (err) {
    throw new ImportError(`${file}: header is not valid JSON (${(err as Error).message}); ${DAMAGED}`);
  }
  if (!isObject(header)) throw new ImportError(`${file}: header is ${describe(header)}; expected a JSON object {tensor name: {dtype, shape, data_offsets}}; ${DAMAGED}`);
  return Object.entries(header)
    .filter(([name]) => name !== '__metadata__')
    .map(([name, value]) => parseEntry(file, name, value, dataStart));
}

function parseEntry(file: string, name: string, value: unknown, dataStart: number): TensorEntry {
  const where = `${file}: tensor '${name}'`;
  if (!isObject(value)) throw new ImportError(`${where} is ${describe(value)}; expected an object {dtype, shape, data_offsets}; ${DAMAGED}`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (typeof dtype !== 'string') throw new ImportError(`${where}: field 'dtype' is ${describe(dtype)}; expected a string such as "F32"; ${DAMAGED}`);
  if (!isSupported(dtype)) {
    throw new ImportError(
      `${where}: dtype ${dtype} is not supported; supported: ${SUPPORTED_DTYPES.join(', ')}; ` +
        `save the weights as float32, float16 or bfloat16 (for example model.to(torch.float32) before save_pretrained)`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw new ImportError(`${where}: field 'shape' is ${describe(shape)}; expected an array of non-negative integers; ${DAMAGED}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[0] > offsets[1]) {
    throw new ImportError(`${where}: field 'data_offsets' is ${describe(offsets)}; expected [begin, end] with 0 <= begin <= end; ${DAMAGED}`);
  }
  const [begin, end] = offsets as [number, number];
  const expectedBytes = elementCount(shape) * BYTES_PER_VALUE[dtype];
  if (end - begin !== expectedBytes) {
    throw new ImportError(
      `${where}: header says ${end - begin} bytes (data_offsets [${begin}, ${end}]) for shape [${shape.join(', ')}] of ${dtype} = ${expectedBytes} bytes; ${DAMAGED}`,
    );
  }
  return { name, dtype, shape: shape as number[], file, start: dataStart + begin, end: dataStart + end };
}

function checkWithinFile(file: string, entries: TensorEntry[], fileBytes: number): void {
  const last = entries.reduce<TensorEntry | undefined>((furthest, entry) => (furthest && furthest.end >= entry.end ? furthest : entry), undefined);
  if (last && last.end > fileBytes) {
    throw new ImportError(
      `${file}: the file is truncated: tensor '${last.name}' ends at byte ${last.end}, so expected at least ${last.end} bytes, found ${fileBytes}; re-download it`,
    );
  }
}

function checkNoOverlap(file: string, entries: TensorEntry[], dataStart: number): void {
  const byStart = entries.filter((entry) => entry.end > entry.start).sort((a, b) => a.start - b.start);
  for (let i = 1; i < byStart.length; i++) {
    const [before, after] = [byStart[i - 1], byStart[i]];
    if (after.start < before.end) {
      const offsets = (entry: TensorEntry) => `[${entry.start - dataStart}, ${entry.end - dataStart}]`;
      throw new ImportError(
        `${file}: tensors '${before.name}' (data_offsets ${offsets(before)}) and '${after.name}' (data_offsets ${offsets(after)}) overlap; ` +
          `expected each tensor in its own bytes; ${DAMAGED}`,
      );
    }
  }
}

/** Reads the entry's data one chunk at a time, converting each chunk into `out` as float32 bit patterns. */
async function readAsFloat32Bits(entry: TensorEntry, out: Uint32Array): Promise<void> {
  const valueBytes = BYTES_PER_VALUE[entry.dtype];
  const convert = TO_FLOAT32_BITS[entry.dtype];
  const chunk = new Uint8Array(Math.min(CHUNK_BYTES, entry.end - entry.start));
  const handle = await openFile(entry.file);
  try {
    for (let position = entry.start; position < entry.end; position += chunk.length) {
      const bytes = chunk.subarray(0, Math.min(chunk.length, entry.end - position));
      await readFully(handle, entry.file, bytes, position);
      convert(chunk.buffer, bytes.length / valueBytes, out.subarray((position - entry.start) / valueBytes));
    }
  } finally {
    await handle.close();
  }
}

async function readFully(handle: FileHandle, file: string, target: Uint8Array, position: number): Promise<void> {
  for (let filled = 0; filled < target.length; ) {
    const { bytesRead } = await handle.read(target, filled, target.length - filled, position + filled);
    if (bytesRead === 0) {
      throw new ImportError(
        `${file}: the file is truncated: it ends at byte ${position + filled}, expected at least ${position + target.length} bytes ` +
          `(it changed after its header was read); re-download it`,
      );
    }
    filled += bytesRead;
  }
}

/** Converters of `count` little-endian values at the start of a chunk into float32 bit patterns. */
const TO_FLOAT32_BITS: Record<WeightDtype, (chunk: ArrayBuffer, count: number, out: Uint32Array) => void> = {
  F32: (chunk, count, out) => out.set(new Uint32Array(chunk, 0, count)),
  // bfloat16 is the top half of a float32.
  BF16: (chunk, count, out) => {
    const halves = new Uint16Array(chunk, 0, count);
    for (let i = 0; i < count; i++) out[i] = halves[i] << 16;
  },
  F16: (chunk, count, out) => {
    const halves = new Uint16Array(chunk, 0, count);
    for (let i = 0; i < count; i++) out[i] = float16ToFloat32Bits(halves[i]);
  },
};

/** IEEE half -> single, exact: sign, 5-bit exponent (bias 15) and 10-bit mantissa become an 8-bit
 *  exponent (bias 127) and 23-bit mantissa; subnormal halves become normal singles; Inf and NaN (with
 *  its payload) stay what they are. */
function float16ToFloat32Bits(half: number): number {
  const sign = (half & 0x8000) << 16;
  const exponent = (half >>> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  if (exponent === 0x1f) return sign | 0x7f800000 | (mantissa << 13);
  if (exponent !== 0) return sign | ((exponent + 112) << 23) | (mantissa << 13);
  if (mantissa === 0) return sign;
  // mantissa * 2^-24: move its leading 1 into the implicit bit (bit 10) and lower the exponent to match.
  const shift = Math.clz32(mantissa) - 21;
  return sign | ((113 - shift) << 23) | (((mantissa << shift) & 0x3ff) << 13);
}

/** A NaN or Inf of each dtype has every exponent bit set; a NaN also has a mantissa bit. */
const NON_FINITE_BITS: Record<WeightDtype, { exponent: number; mantissa: number }> = {
  F32: { exponent: 0x7f800000, mantissa: 0x007fffff },
  F16: { exponent: 0x7c00, mantissa: 0x03ff },
  BF16: { exponent: 0x7f80, mantissa: 0x007f },
};

/** The NaN and infinite values among little-endian values of `dtype`. */
export function countNonFinite(bytes: Uint8Array, dtype: WeightDtype): { nan: number; inf: number } {
  const { exponent, mantissa } = NON_FINITE_BITS[dtype];
  const count = bytes.length / BYTES_PER_VALUE[dtype];
  const values = dtype === 'F32' ? new Uint32Array(bytes.buffer, bytes.byteOffset, count) : new Uint16Array(bytes.buffer, bytes.byteOffset, count);
  let nan = 0;
  let inf = 0;
  for (let i = 0; i < count; i++) {
    const bits = values[i];
    if ((bits & exponent) !== exponent) continue;
    if (bits & mantissa) nan++;
    else inf++;
  }
  return { nan, inf };
}

/** The number of values a tensor of this shape holds. */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, size) => product * size, 1);
}

function isSupported(dtype: string): dtype is WeightDtype {
  return Object.hasOwn(BYTES_PER_VALUE, dtype);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON value as a message shows it: short, and 'missing' for undefined. */
function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

async function isFile(file: string): Promise<boolean> {
  return stat(file).then(
    (stats) => stats.isFile(),
    () => false,
  );
}

async function openFile(file: string): Promise<FileHandle> {
  try {
    return await open(file, 'r');
  } catch (err) {
    throw new ImportError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? err}); check that it exists and is readable`);
  }
}
