// Loads and validates a model package folder (docs/model-package.md): manifest hashes, config
// fields and the graph outputs the extension relies on. Every error names the file and the field.

import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { z } from 'zod';
import { hasOutput, INTERVENTION_INPUTS, LAYER_OUTPUTS, modelKindSchema, pairingSchema, requiredOutputs } from '../../shared/model';
import { parseOrThrow } from '../../shared/schemas';
import { PackageError } from './errors';
import { sha256Of } from './hashCache';

export const FORMAT_VERSION = 1;
const PACKAGE_FILES = ['model.onnx', 'tokenizer.json', 'config.json'] as const;
/** Files a manifest lists when the package has them: the logit lens and contributions graphs, and
 *  the weights file that imported packages' graphs refer to as external data. */
const OPTIONAL_FILES = ['lens.onnx', 'contributions.onnx', 'weights.bin'] as const;

const count = z.number().int().positive();

const manifestSchema = z.object({
  format_version: z.literal(FORMAT_VERSION),
  files: z.record(z.string(), z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), bytes: z.number().int() })),
});

const configSchema = z
  .object({
    format_version: z.literal(FORMAT_VERSION),
    name: z.string().min(1),
    kind: modelKindSchema,
    variant: z.string(),
    n_layer: count,
    n_head: count,
    n_softmax_heads: count,
    n_kv_softmax_heads: count,
    head_dim: count,
    value_head_dim: count,
    n_embd: count,
    vocab_size: count,
    max_seq_len: count,
    /** Imported packages: how weights.bin stores the weight matrices. 16-bit ones are widened to
     *  float32 in the graph where each is used, and the session must not fold them (runtime.ts). */
    weights_dtype: z.enum(['float32', 'bfloat16', 'float16']).optional(),
    /** Imported 16-bit packages: 'per_layer' when each matrix is widened as its layer runs (its Cast
     *  waits for the input it multiplies), so that the session may keep ONNX Runtime's arena. */
    widening: z.literal('per_layer').optional(),
    attention_scale: z.number().positive(),
    rope: z.object({ theta: z.number(), interleaved: z.boolean(), rotary_dim: count }),
    pairing: pairingSchema.nullable(),
    lambda: z.object({ granularity: z.string(), init: z.array(z.number()), value: z.array(z.number()) }).nullable(),
    bos_token_id: z.number().int().nonnegative(),
    top_k: count,
    outputs: z.array(z.string()),
    optional_outputs: z.array(z.string()),
    /** The graph's intervention inputs, each [n_layer, n_head], and the value that changes nothing
     *  (packages exported before interventions have none). */
    intervention_inputs: z.partialRecord(z.enum(INTERVENTION_INPUTS), z.number()).optional(),
    parameters: count,
    training: z.record(z.string(), z.unknown()),
    /** Imported packages: how the architecture departs from the paper, and the checkpoint's format. */
    conventions: z.object({ value_layout: z.enum(['wide', 'halves', 'plain']), head_norm: z.object({ weight: z.boolean(), scale: z.string() }).nullable() }).optional(),
    source: z.object({ format: z.string(), model_type: z.string(), folder: z.string() }).optional(),
    /** 'blocked': the graph computes attention over blocks of query rows (shared/attention.json), so
     *  its memory grows linearly with T and any text up to max_seq_len runs whole. Packages without
     *  it hold whole [S, T, T] score tensors and are run in a window (engine.ts, inspectionContext). */
    attention: z.enum(['blocked']).optional(),
    /** Imported with --allow-non-finite: the weights that hold NaN or Inf, and how many. */
    non_finite_weights: z.array(z.object({ tensor: z.string(), nan: z.number().int(), inf: z.number().int() })).optional(),
  })
  .passthrough();

export type PackageConfig = z.infer<typeof configSchema>;

export interface ModelPackage {
  dir: string;
  config: PackageConfig;
  tokenizerJson: string;
  modelPath: string;
  /** The logit lens graph (final norm and LM head on hidden states), if the package has one. */
  lensPath?: string;
  /** The contributions graph (contributions to one logit), if the package has one. */
  contributionsPath?: string;
  /** sha256 of model.onnx: identifies the weights in exports and results. */
  sha256: string;
  /** Bytes of model.onnx and, for imported packages, weights.bin. */
  weightBytes: number;
}

export async function loadModelPackage(dir: string): Promise<ModelPackage> {
  const manifestPath = path.join(dir, 'manifest.json');
  const manifest = parse(manifestSchema, await readJson(manifestPath), manifestPath);
  const hashes: Record<string, string> = {};
  // Optional files are checked when the manifest lists them (older packages have none).
  const optional = OPTIONAL_FILES.filter((file) => manifest.files[file]);
  for (const file of [...PACKAGE_FILES, ...optional]) {
    const entry = manifest.files[file];
    if (!entry) throw new PackageError(`${manifestPath}: field 'files' has no entry for ${file}`);
    hashes[file] = await packageFileSha256(path.join(dir, file));
    if (hashes[file] !== entry.sha256) {
      throw new PackageError(
        `${path.join(dir, file)}: sha256 is ${hashes[file]} but manifest.json says ${entry.sha256}; ` +
          'the file was changed or damaged after export (export the package again)',
      );
    }
  }
  const configPath = path.join(dir, 'config.json');
  const config = parse(configSchema, await readJson(configPath), configPath);
  checkConfig(config, configPath);
  return {
    dir,
    config,
    tokenizerJson: await readFile(path.join(dir, 'tokenizer.json'), 'utf8'),
    modelPath: path.join(dir, 'model.onnx'),
    ...(manifest.files['lens.onnx'] ? { lensPath: path.join(dir, 'lens.onnx') } : {}),
    ...(manifest.files['contributions.onnx'] ? { contributionsPath: path.join(dir, 'contributions.onnx') } : {}),
    sha256: hashes['model.onnx'],
    weightBytes: manifest.files['model.onnx'].bytes + (manifest.files['weights.bin']?.bytes ?? 0),
  };
}

function checkConfig(config: PackageConfig, configPath: string): void {
  const required = requiredOutputs(config.kind);
  const missing = required.filter((name) => !hasOutput(config.outputs, name, config.n_layer));
  if (missing.length > 0) {
    throw new PackageError(`${configPath}: field 'outputs' lacks ${missing.join(', ')}; expected at least ${required.join(', ')} (each of ${LAYER_OUTPUTS.join(', ')} joined or per layer: q.0 … q.${config.n_layer - 1})`);
  }
  // V1 differential heads attend to 2d-wide values; V2 and standard heads to d-wide ones.
  const valueWidth = config.kind === 'diff' && config.variant !== 'v2' ? 2 * config.head_dim : config.head_dim;
  const expectations: Array<[string, number, number]> = [
    ['n_softmax_heads', config.n_softmax_heads, config.kind === 'diff' ? 2 * config.n_head : config.n_head],
    ['value_head_dim', config.value_head_dim, valueWidth],
  ];
  for (const [field, actual, expected] of expectations) {
    if (actual !== expected) throw new PackageError(`${configPath}: field '${field}' is ${actual}; expected ${expected} from the other fields`);
  }
  if (config.n_softmax_heads % config.n_kv_softmax_heads !== 0) {
    throw new PackageError(`${configPath}: field 'n_kv_softmax_heads' (${config.n_kv_softmax_heads}) must divide n_softmax_heads (${config.n_softmax_heads})`);
  }
}

/** sha256 of a package file (large ones remembered while unchanged: hashCache.ts). */
async function packageFileSha256(file: string): Promise<string> {
  try {
    return await sha256Of(file);
  } catch (err) {
    throw unreadable(file, err);
  }
}

async function readPackageFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw unreadable(file, err);
  }
}

function unreadable(file: string, err: unknown): PackageError {
  return new PackageError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? err}); a model package needs ${PACKAGE_FILES.join(', ')} and manifest.json`);
}

async function readJson(file: string): Promise<unknown> {
  const text = (await readPackageFile(file)).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PackageError(`${file}: not valid JSON (${(err as Error).message})`);
  }
}

function parse<T>(schema: z.ZodType<T>, data: unknown, file: string): T {
  return parseOrThrow(schema, data, (field, problem) => new PackageError(`${file}: field '${field}': ${problem}`));
}
