// Import Model: a Hugging Face-layout folder (config.json, safetensors weights, tokenizer.json) ->
// a model package (docs/model-package.md) the extension runs, with no Python. The weights are
// streamed one tensor at a time into the package's weights.bin, which both graphs refer to as ONNX
// external data: a bfloat16 or float16 checkpoint's matrices as they are (the graphs widen each
// where it is used), everything else as float32. Everything is written into a temporary sibling folder that is renamed
// into place at the end, so a failed or cancelled import leaves nothing behind.

import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { lambdaInit } from '../../../shared/lambda';
import { rememberSha256 } from '../hashCache';
import { EOT_TOKEN, loadTokenizer } from '../tokenizer';
import { readArchitecture, requiredTensors, type Architecture, type TensorSpec } from './architecture';
import type { GraphBuilder, Value } from './graphBuilder';
import { ImportCancelledError, ImportError, NonFiniteWeightsError, TokenizerFormatError } from '../errors';
import { buildContributionsGraph } from './contributionsGraph';
import { buildInspectionGraph, inspectionOutputs, interventionInputs, type RowRange, type WeightFile } from './inspectionGraph';
import { buildLensGraph, headChunkRows, lensChunkRows } from './predictionHead';
import { DataType, type DataTypeValue } from './onnxProto';
import { partialFolderFor } from './partialFolder';
import { CheckpointWeights, countNonFinite, elementCount, type WeightDtype } from './safetensors';
import { checkAgainstWeights, checkMemory } from './weightCheck';

export const WEIGHTS_FILE = 'weights.bin';
const TOP_K = 10;
/** Each weight starts on a 64 KiB boundary, so ONNX Runtime can map it from the file instead of copying it. */
const WEIGHT_ALIGNMENT = 65536;
/** The most of a 16-bit matrix widened to float32 at once: a larger one is multiplied a block of its
 *  rows at a time (the 1B's MLP matrices are 64 MiB each as float32). */
const WIDENED_BLOCK_BYTES = 8 * 2 ** 20;
const PRODUCER = 'difftransformer-inspector import';

/** How the package stores its weight matrices (config.json's weights_dtype). */
export type WeightsDtype = 'float32' | 'bfloat16' | 'float16';
const SIXTEEN_BIT: Partial<Record<WeightDtype, { dtype: WeightsDtype; dataType: DataTypeValue }>> = {
  BF16: { dtype: 'bfloat16', dataType: DataType.BFLOAT16 },
  F16: { dtype: 'float16', dataType: DataType.FLOAT16 },
};

export interface ImportProgress {
  /** 0..1 over the whole import (copying the weights is almost all of it). */
  fraction: number;
  message: string;
}

export interface ImportOptions {
  /** The model folder. */
  source: string;
  /** The package folder to create; it must not exist yet. */
  destination: string;
  /** The package's name (default: the source folder's name). */
  name?: string;
  onProgress?: (progress: ImportProgress) => void;
  signal?: AbortSignal;
  /** Import weights holding NaN or Inf instead of refusing them; config.json's non_finite_weights lists them. */
  allowNonFinite?: boolean;
  /** Also write bare.onnx, the model's logits alone on the same weights, which the benchmarks compare the inspection with. */
  bareForward?: boolean;
  /** Vocabulary rows per chunk of the LM head in the graphs, instead of headChunkRows's (the tests
   *  run a small vocabulary over several chunks). */
  headChunkRows?: number;
}

export interface ImportResult {
  dir: string;
  name: string;
  kind: Architecture['kind'];
  parameters: number;
}

export async function importModel(options: ImportOptions): Promise<ImportResult> {
  const { source, destination, signal } = options;
  const progress = options.onProgress ?? (() => {});
  const name = options.name ?? path.basename(path.resolve(source));
  progress({ fraction: 0, message: 'checking the folder' });
  const configPath = path.join(source, 'config.json');
  const config = await readJson(configPath);
  const tokenizerPath = path.join(source, 'tokenizer.json');
  if (!(await exists(tokenizerPath)) && (await exists(path.join(source, 'tokenizer.model')))) {
    throw new ImportError(
      `${tokenizerPath}: missing; the folder has only tokenizer.model, SentencePiece's own format. Write tokenizer.json beside it ` +
        'with transformers: AutoTokenizer.from_pretrained(FOLDER).save_pretrained(FOLDER)',
    );
  }
  const tokenizerText = await readText(tokenizerPath, 'the tokenizer saved with the model (a BPE tokenizer.json)');
  const arch = readArchitecture(config, configPath, await tokenizerBosId(tokenizerText, source));
  checkTokenizer(tokenizerText, tokenizerPath, arch);
  const checkpoint = await CheckpointWeights.open(source);
  // Before requiredTensors: it lists num_hidden_layers layers' tensors, however many that claims.
  checkAgainstWeights(arch, checkpoint, configPath);
  const specs = requiredTensors(arch);
  for (const spec of specs) checkShape(checkpoint, spec, configPath);
  const storage = weightStorage(checkpoint, specs);
  checkMemory(specs.reduce((sum, spec) => sum + storage.bytes(spec), 0), configPath);
  if (await exists(destination)) {
    throw new ImportError(`${destination} already exists; choose another name or folder for the imported package`);
  }

  const partial = partialFolderFor(destination);
  await mkdir(partial, { recursive: true });
  let weightsSha256: string;
  try {
    const weights = await copyWeights(checkpoint, specs, storage, options.allowNonFinite ?? false, path.join(partial, WEIGHTS_FILE), (fraction, tensor) => {
      if (signal?.aborted) throw new ImportCancelledError('import cancelled');
      progress({ fraction: 0.02 + 0.93 * fraction, message: `converting ${tensor}` });
    });
    progress({ fraction: 0.96, message: 'writing the inspection graph' });
    const metadata = { source_format: arch.format, weights: WEIGHTS_FILE };
    const files: Record<string, Uint8Array | string> = {
      'model.onnx': buildInspectionGraph(arch, weights.file, TOP_K, 'inspection', options.headChunkRows ?? headChunkRows(arch)).encode('inspection', metadata, PRODUCER),
      'lens.onnx': buildLensGraph(arch, weights.file, TOP_K, options.headChunkRows ?? lensChunkRows(arch, weights.dtype)).encode('logit_lens', metadata, PRODUCER),
      'contributions.onnx': buildContributionsGraph(arch, weights.file).encode('contributions', metadata, PRODUCER),
      ...(options.bareForward && { 'bare.onnx': buildInspectionGraph(arch, weights.file, TOP_K, 'bare').encode('bare_forward', metadata, PRODUCER) }),
      'tokenizer.json': tokenizerText,
      'config.json': JSON.stringify(packageConfig(arch, specs, name, weights, source), null, 2) + '\n',
    };
    const manifest: Record<string, { sha256: string; bytes: number }> = { [WEIGHTS_FILE]: weights.manifestEntry };
    weightsSha256 = weights.manifestEntry.sha256;
    for (const [file, content] of Object.entries(files)) {
      await writeFile(path.join(partial, file), content);
      const bytes = typeof content === 'string' ? Buffer.from(content) : content;
      manifest[file] = { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
    }
    await writeFile(path.join(partial, 'manifest.json'), JSON.stringify({ format_version: 1, files: manifest }, null, 2) + '\n');
    if (signal?.aborted) throw new ImportCancelledError('import cancelled');
    await rename(partial, destination);
  } catch (err) {
    await rm(partial, { recursive: true, force: true });
    throw err;
  }
  // The digest computed while writing, so that the first load does not read gigabytes again.
  await rememberSha256(path.join(destination, WEIGHTS_FILE), weightsSha256);
  progress({ fraction: 1, message: 'done' });
  return { dir: destination, name, kind: arch.kind, parameters: parameterCount(specs) };
}

/** The tokenizer's BOS token, which stands in for a missing bos_token_id: tokenizer_config.json's
 *  bos_token, else a token named as Llama 3's, SentencePiece's or this project's BOS is. */
async function tokenizerBosId(tokenizerText: string, source: string): Promise<number | undefined> {
  const configured = await readFile(path.join(source, 'tokenizer_config.json'), 'utf8').then(
    (text) => parseOrUndefined(text)?.bos_token,
    () => undefined,
  );
  const configuredName = typeof configured === 'object' && configured !== null ? (configured as { content?: unknown }).content : configured;
  const added = parseOrUndefined(tokenizerText)?.added_tokens;
  if (!Array.isArray(added)) return undefined;
  for (const name of [configuredName, '<|begin_of_text|>', '<s>', EOT_TOKEN]) {
    const token = added.find((candidate) => candidate?.content === name);
    if (typeof name === 'string' && Number.isInteger(token?.id)) return token.id;
  }
  return undefined;
}

/** The JSON object in `text`, or undefined for anything else (whoever reads the file reports errors). */
function parseOrUndefined(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function checkTokenizer(text: string, file: string, arch: Architecture): void {
  let vocabSize: number;
  try {
    vocabSize = loadTokenizer(text).vocabSize;
  } catch (err) {
    if (err instanceof TokenizerFormatError) throw new ImportError(`${file}: ${err.message}`);
    throw err;
  }
  if (vocabSize > arch.vocabSize) {
    throw new ImportError(
      `${file}: the tokenizer has ${vocabSize} tokens but config.json's vocab_size is ${arch.vocabSize}; ` +
        'the tokenizer must be the one the model was trained with',
    );
  }
  if (arch.bosTokenId >= vocabSize) {
    throw new ImportError(`config.json: field 'bos_token_id' is ${arch.bosTokenId}, but the tokenizer in ${file} has only ${vocabSize} tokens`);
  }
}

function checkShape(checkpoint: CheckpointWeights, spec: TensorSpec, configPath: string): void {
  const entry = checkpoint.entry(spec.name);
  if (entry.shape.join(',') !== spec.shape.join(',')) {
    throw new ImportError(
      `${entry.file}: tensor '${spec.name}' has shape [${entry.shape.join(', ')}], but ${configPath} describes a model ` +
        `whose ${spec.name} is [${spec.shape.join(', ')}]; the config and the weights do not belong together`,
    );
  }
}

interface CopiedWeights {
  file: WeightFile;
  dtype: WeightsDtype;
  manifestEntry: { sha256: string; bytes: number };
  /** The V1 lambda vectors, kept to state each layer's lambda in config.json. */
  lambdaVectors: Map<string, Float32Array>;
  /** Tensors holding NaN or Inf, imported because allowNonFinite was given. */
  nonFinite: Array<{ tensor: string; nan: number; inf: number }>;
}

/** How the weight matrices are stored: as the checkpoint's 16-bit type when every matrix has it (a
 *  bfloat16 or float16 value is exactly a float32 value, so widening in the graph changes nothing),
 *  else as float32. Vectors (norms, biases, lambda) are always float32: small, and read at import. */
function matrixStorage(checkpoint: CheckpointWeights, specs: TensorSpec[]): { dtype: WeightsDtype; dataType: DataTypeValue } {
  const dtypes = new Set(specs.filter(isMatrix).map((spec) => checkpoint.entry(spec.name).dtype));
  const [only] = dtypes;
  return (dtypes.size === 1 && SIXTEEN_BIT[only]) || { dtype: 'float32', dataType: DataType.FLOAT };
}

interface WeightStorage {
  matrices: { dtype: WeightsDtype; dataType: DataTypeValue };
  dataType(spec: TensorSpec): DataTypeValue;
  /** The tensor's bytes in weights.bin. */
  bytes(spec: TensorSpec): number;
}

function weightStorage(checkpoint: CheckpointWeights, specs: TensorSpec[]): WeightStorage {
  const matrices = matrixStorage(checkpoint, specs);
  const dataType = (spec: TensorSpec) => (isMatrix(spec) ? matrices.dataType : DataType.FLOAT);
  return { matrices, dataType, bytes: (spec) => elementCount(spec.shape) * (dataType(spec) === DataType.FLOAT ? 4 : 2) };
}

const isMatrix = (spec: TensorSpec) => spec.shape.length >= 2;

/** Streams every tensor into the weights file at aligned offsets, hashing as it writes. */
async function copyWeights(
  checkpoint: CheckpointWeights,
  specs: TensorSpec[],
  storage: WeightStorage,
  allowNonFinite: boolean,
  target: string,
  onTensor: (fraction: number, tensor: string) => void,
): Promise<CopiedWeights> {
  const layout = new Map<string, { dims: number[]; dataType: DataTypeValue; offset: number; length: number }>();
  const lambdaVectors = new Map<string, Float32Array>();
  const hash: Hash = createHash('sha256');
  const nonFinite: CopiedWeights['nonFinite'] = [];
  const total = specs.reduce((sum, spec) => sum + storage.bytes(spec), 0);
  const handle = await open(target, 'w');
  let offset = 0;
  let done = 0;
  try {
    for (const spec of specs) {
      onTensor(done / total, spec.name);
      const dataType = storage.dataType(spec);
      let bytes: Uint8Array;
      let dtype: WeightDtype;
      if (dataType === DataType.FLOAT) {
        const values = await checkpoint.read(spec.name, spec.shape);
        if (/\.lambda_[qk][12]$/.test(spec.name)) lambdaVectors.set(spec.name, values);
        bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
        dtype = 'F32';
      } else {
        bytes = await checkpoint.readStored(spec.name, spec.shape);
        dtype = checkpoint.entry(spec.name).dtype;
      }
      const { nan, inf } = countNonFinite(bytes, dtype);
      if (nan || inf) {
        if (!allowNonFinite) {
          throw new NonFiniteWeightsError(
            `${checkpoint.entry(spec.name).file}: tensor '${spec.name}' holds ${nan} NaN and ${inf} infinite values, which make the model's outputs NaN; ` +
              'download the weights again, or import them anyway to inspect them with allowNonFinite (CLI: --allow-non-finite)',
          );
        }
        nonFinite.push({ tensor: spec.name, nan, inf });
      }
      const padding = (WEIGHT_ALIGNMENT - (offset % WEIGHT_ALIGNMENT)) % WEIGHT_ALIGNMENT;
      if (padding) {
        const zeros = new Uint8Array(padding);
        await handle.write(zeros, 0, padding, offset);
        hash.update(zeros);
        offset += padding;
      }
      await handle.write(bytes, 0, bytes.length, offset);
      hash.update(bytes);
      layout.set(spec.name, { dims: spec.shape, dataType, offset, length: bytes.length });
      offset += bytes.length;
      done += bytes.length;
    }
  } finally {
    await handle.close();
  }
  const placeOf = (tensorName: string) => {
    const place = layout.get(tensorName);
    if (!place) throw new Error(`the graph uses tensor ${tensorName}, which requiredTensors does not list`);
    return place;
  };
  const stored = (graph: GraphBuilder, tensorName: string, rows?: RowRange) => {
    const place = placeOf(tensorName);
    if (!rows) return { value: graph.weight(tensorName, place.dims, place.dataType, { location: WEIGHTS_FILE, offset: place.offset, length: place.length }), dataType: place.dataType };
    // Rows [from, to) lie together in the file: a weight of their own over that part of it.
    const rowBytes = place.length / place.dims[0];
    const external = { location: WEIGHTS_FILE, offset: place.offset + rows.from * rowBytes, length: (rows.to - rows.from) * rowBytes };
    return { value: graph.weight(`${tensorName}[${rows.from}:${rows.to}]`, [rows.to - rows.from, ...place.dims.slice(1)], place.dataType, external), dataType: place.dataType };
  };
  // A 16-bit weight is widened by a Cast, held back until `after` exists when given; float32 is read where it lies.
  const widened = (graph: GraphBuilder, { value, dataType }: { value: Value; dataType: DataTypeValue }, after?: Value) =>
    dataType === DataType.FLOAT ? value : graph.op('Cast', [after === undefined ? value : waitFor(graph, value, after)], { to: DataType.FLOAT });
  const file: WeightFile = {
    use: (graph, tensorName, after, rows) => widened(graph, stored(graph, tensorName, rows), after),
    widenedBlocks(tensorName) {
      const { dims, dataType, length } = placeOf(tensorName);
      return dataType === DataType.FLOAT ? [] : widenedRowBlocks(dims[0], length / dims[0]);
    },
    rows(graph, tensorName, indices) {
      const { value, dataType } = stored(graph, tensorName);
      return widened(graph, { value: graph.op('Gather', [value, indices], { axis: 0 }), dataType });
    },
  };
  return { file, dtype: storage.matrices.dtype, manifestEntry: { sha256: hash.digest('hex'), bytes: offset }, lambdaVectors, nonFinite };
}

/** A 16-bit matrix's rows in blocks of at most WIDENED_BLOCK_BYTES as float32, each block starting
 *  on a WEIGHT_ALIGNMENT boundary of the file (so that ONNX Runtime maps it rather than copying it);
 *  none (the matrix whole) when it is smaller or no such blocks exist. */
function widenedRowBlocks(rows: number, rowBytes: number): RowRange[] {
  const floatRowBytes = rowBytes * (4 / 2);
  if (rows * floatRowBytes <= WIDENED_BLOCK_BYTES) return [];
  const step = WEIGHT_ALIGNMENT / gcd(rowBytes, WEIGHT_ALIGNMENT); // rows per aligned step
  const perBlock = Math.floor(WIDENED_BLOCK_BYTES / floatRowBytes / step) * step;
  if (perBlock === 0) return [];
  return Array.from({ length: Math.ceil(rows / perBlock) }, (_, n) => ({ from: n * perBlock, to: Math.min(rows, (n + 1) * perBlock) }));
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** `value` again, once `after` has been computed: a Reshape to its own shape, plus zero times a
 *  run-time size of `after`. ONNX Runtime runs a node as soon as its inputs exist, and the widening
 *  Cast of a weight has none but the weight: in the 1B bench model it widened every layer's o_proj
 *  and down_proj at the start of the run, 1.3 GB of float32 held at once. */
function waitFor(graph: GraphBuilder, value: Value, after: Value): Value {
  const zero = graph.mul(graph.op('Shape', [after], { start: 0, end: 1 }), graph.int64([0]));
  return graph.op('Reshape', [value, graph.add(graph.op('Shape', [value]), zero)]);
}

/** config.json of the package (docs/model-package.md), with the architecture's conventions stated. */
function packageConfig(arch: Architecture, specs: TensorSpec[], name: string, weights: CopiedWeights, source: string): object {
  const d = arch.headDim;
  return {
    format_version: 1,
    name,
    kind: arch.kind,
    variant: arch.variant,
    n_layer: arch.nLayer,
    n_head: arch.heads,
    n_softmax_heads: arch.softmaxHeads,
    n_kv_softmax_heads: arch.kvSoftmaxHeads,
    head_dim: d,
    value_head_dim: arch.valueHeadDim,
    n_embd: arch.hidden,
    vocab_size: arch.vocabSize,
    max_seq_len: arch.maxSeqLen,
    weights_dtype: weights.dtype,
    ...(weights.dtype !== 'float32' && { widening: 'per_layer' }),
    attention_scale: 1 / Math.sqrt(d),
    // The graph attends over blocks of query rows (inspectionGraph.ts), so it runs whole texts up to max_seq_len.
    attention: 'blocked',
    rope: { theta: arch.rope.theta, interleaved: arch.rope.interleaved, rotary_dim: d, scaling: arch.rope.scaling },
    pairing: arch.pairing,
    lambda: lambdaSummary(arch, weights.lambdaVectors),
    conventions: {
      value_layout: arch.valueLayout,
      head_norm: arch.headNorm && { weight: arch.headNorm.weight, scale: '1 - lambda_init' },
    },
    bos_token_id: arch.bosTokenId,
    top_k: TOP_K,
    outputs: inspectionOutputs(arch),
    optional_outputs: ['last_logits', 'attn_thumbnails', ...(arch.lambda === 'token' ? ['lambda_a2_thumbnails'] : [])],
    intervention_inputs: interventionInputs(arch),
    parameters: parameterCount(specs),
    ...(weights.nonFinite.length && { non_finite_weights: weights.nonFinite }),
    training: {},
    source: { format: arch.format, model_type: arch.modelType, folder: path.basename(path.resolve(source)) },
  };
}

function lambdaSummary(arch: Architecture, vectors: Map<string, Float32Array>): object | null {
  if (arch.lambda === null) return null;
  if (arch.lambda === 'token') return { granularity: 'token', init: [], value: [] };
  const init = Array.from({ length: arch.nLayer }, (_, layer) => lambdaInit(layer));
  const value = init.map((lambda0, layer) => {
    const vector = (v: string) => vectors.get(`model.layers.${layer}.self_attn.lambda_${v}`)!;
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((sum, x, i) => sum + x * b[i], 0);
    return Math.exp(dot(vector('q1'), vector('k1'))) - Math.exp(dot(vector('q2'), vector('k2'))) + lambda0;
  });
  return { granularity: 'layer', init, value };
}

function parameterCount(specs: TensorSpec[]): number {
  return specs.reduce((sum, spec) => sum + elementCount(spec.shape), 0);
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new ImportError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? err}); the folder must hold ${what}`);
  }
}

async function readJson(file: string): Promise<unknown> {
  const text = await readText(file, "the model's config.json");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ImportError(`${file}: not valid JSON (${(err as Error).message})`);
  }
}
