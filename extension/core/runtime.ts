// Opens every ONNX Runtime session the extension runs (openSession) and runs a model package's
// inspection graph with onnxruntime-node: chooses the execution provider (ONNX Runtime throws rather
// than falls back when a GPU provider cannot load, so we fall back ourselves) and returns the
// outputs as typed arrays for batch 1.

import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { layerOutputNames, type InterventionInput, type Interventions, type LayerOutput, type OutputName } from '../../shared/model';
import type { ModelPackage, PackageConfig } from './modelPackage';

export const PROVIDER_SETTINGS = ['auto', 'cpu', 'cuda', 'dml', 'coreml', 'webgpu'] as const;
export type ProviderSetting = (typeof PROVIDER_SETTINGS)[number];

export interface SessionInfo {
  /** The provider the session runs on. */
  provider: string;
  /** Why each GPU provider tried or skipped before this one was not used, joined with '; '. */
  fallbackReason?: string;
}

/** The GPU providers `auto` tries on each platform, in order, among those onnxruntime-node lists. */
const AUTO_ORDER: Partial<Record<NodeJS.Platform, string[]>> = {
  linux: ['cuda', 'webgpu'],
  win32: ['dml', 'webgpu'],
  darwin: ['coreml', 'webgpu'],
};

/** The CUDA provider's libraries: not in the npm package; they go beside libonnxruntime.so.1 (see README). */
export const CUDA_LIBRARIES = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'];

export interface ProviderEnv {
  platform: NodeJS.Platform;
  /** The backends onnxruntime-node lists (`listSupportedBackends`). */
  supported: readonly string[];
  /** The folder of onnxruntime-node's native binaries. */
  binDir: string;
  exists: (file: string) => boolean;
}

/** The GPU providers to try for a setting, in order, and why `auto` skipped any without trying it. */
export function gpuCandidates(setting: ProviderSetting, env: ProviderEnv): { tries: string[]; skipped: string[] } {
  if (setting !== 'auto') return { tries: setting === 'cpu' ? [] : [setting], skipped: [] };
  const tries: string[] = [];
  const skipped: string[] = [];
  for (const provider of (AUTO_ORDER[env.platform] ?? []).filter((name) => env.supported.includes(name))) {
    const missing = provider === 'cuda' ? CUDA_LIBRARIES.filter((lib) => !env.exists(path.join(env.binDir, lib))) : [];
    if (missing.length) skipped.push(`cuda: provider libraries not installed (${missing.join(', ')} missing in ${env.binDir}); see README`);
    else tries.push(provider);
  }
  return { tries, skipped };
}

/** This process's provider environment. */
export function currentProviderEnv(): ProviderEnv {
  const ortRoot = path.dirname(require.resolve('onnxruntime-node/package.json'));
  return {
    platform: process.platform,
    supported: ort.listSupportedBackends().map((backend) => backend.name),
    binDir: path.join(ortRoot, 'bin', 'napi-v6', process.platform, process.arch),
    exists: existsSync,
  };
}

/** How a package's graphs are opened for its weights. A package with 16-bit weights widens each
 *  where it is used (a Cast of the initializer), and ONNX Runtime's constant folding would turn every
 *  such Cast into a float32 initializer when the session is created: the whole model a second time,
 *  twice its size. Only that optimiser is turned off: with all of them off (level 'disabled') a run
 *  of the 110M bench model took twice as long, and the 1B one peaked 1.6 GB higher at 1,024 tokens.
 *  Such a session keeps its arena, where one layer's widened copies are reused by the next (the
 *  graph widens each as its layer runs: importModel.ts): the 1B bench model at 1,024 tokens ran in
 *  14 s and peaked at 3.0 GB with it, 28-36 s and 3.1 GB without (freed to the C allocator, the
 *  widened copies came back as fresh pages from the kernel every layer); at 256 tokens 3.7 s
 *  against 13.4. Packages imported before (no `widening` in config.json) widen some matrices of every
 *  layer at the start of the run, and those copies piled up in an arena (the 1B model at 256 tokens
 *  peaked at 3,444 MiB with one, 2,356 without): they run without it. `extra` joins the caller's
 *  own config entries. */
export function weightsSessionSettings(config: Pick<PackageConfig, 'weights_dtype' | 'widening'>, extra: Record<string, unknown> = {}): SessionSettings {
  const sixteenBit = config.weights_dtype === 'bfloat16' || config.weights_dtype === 'float16';
  if (!sixteenBit) return { extra };
  const settings = { extra: { ...extra, optimization: { disable_specified_optimizers: 'ConstantFolding' } } };
  return config.widening === 'per_layer' ? settings : { ...settings, enableCpuMemArena: false };
}

/** What a session is opened with beside its provider: each caller's own memory and thread settings. */
export type SessionSettings = Omit<ort.InferenceSession.SessionOptions, 'executionProviders'>;

/** An ONNX Runtime session of the graph at `modelPath` on one execution provider: every session
 *  of the extension is opened here (createSession chooses the provider for the model's graph; the
 *  lens and the analysis graphs run on the CPU). */
export function openSession(modelPath: string, provider: string, settings: SessionSettings = {}): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(modelPath, { ...settings, executionProviders: [provider] });
}

/** A session of a small graph on the package's weights that multiplies only a few rows per run (the
 *  logit lens, the contributions), on the CPU. Without pre-packing it reads the weights where they
 *  are mapped (an imported package's weights.bin) instead of packing a private copy of them, which
 *  for a large vocabulary is a second LM head in memory (250 MiB at 64k × 1,024); 16-bit weights
 *  are widened per run, not folded into float32 copies (weightsSessionSettings). */
export function openWeightsGraph(graphPath: string, config: Pick<PackageConfig, 'weights_dtype' | 'widening'>): Promise<ort.InferenceSession> {
  return openSession(graphPath, 'cpu', weightsSessionSettings(config, { session: { disable_prepacking: '1' } }));
}

/** A session on the first provider that loads, else on the CPU; `fallbackReason` says why each
 *  provider tried or skipped was not used (each reason is also logged). Given a package rather
 *  than a graph's path, the session keeps the package's 16-bit weights 16-bit (weightsSessionSettings). */
export async function createSession(
  model: string | Pick<ModelPackage, 'modelPath' | 'config'>,
  setting: ProviderSetting,
  log: (message: string) => void = () => {},
  env: ProviderEnv = currentProviderEnv(),
): Promise<{ session: ort.InferenceSession; info: SessionInfo }> {
  const modelPath = typeof model === 'string' ? model : model.modelPath;
  const weights = typeof model === 'string' ? {} : weightsSessionSettings(model.config);
  const { tries, skipped } = gpuCandidates(setting, env);
  const failures: string[] = [];
  const fail = (reason: string) => {
    log(`execution provider ${reason}; trying the next one`);
    failures.push(reason);
  };
  skipped.forEach(fail);
  for (const provider of tries) {
    try {
      const session = await openSession(modelPath, provider, weights);
      return { session, info: withReasons(provider, failures) };
    } catch (err) {
      fail(`${provider} could not load: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  // Without a memory pattern, a run takes its tensors from the arena's free blocks; with one, the
  // second run at a length adds a block of the whole run's size beside them (+120 MB at 1,024 tokens).
  const session = await openSession(modelPath, 'cpu', { enableMemPattern: false, ...weights });
  return { session, info: withReasons('cpu', failures) };
}

function withReasons(provider: string, failures: readonly string[]): SessionInfo {
  return { provider, ...(failures.length ? { fallbackReason: failures.join('; ') } : {}) };
}

/** The inspection graph's outputs for one sequence (batch dimension dropped). Layouts, row-major:
 *  topIds/topProbs [T, K], tokenLogprob [T], thumbnails [L, S, P, P], lambda [L, T, H]; one array
 *  per layer of hidden [T, E], q [S, T, d] and k [S_kv, T, d]. */
export interface RunOutputs {
  length: number;
  topIds: Int32Array;
  topProbs: Float32Array;
  tokenLogprob: Float32Array;
  hidden: Float32Array[];
  q: Float32Array[];
  k: Float32Array[];
  thumbnails?: Float32Array;
  lambda?: Float32Array;
  /** DIFF V2: each head's lambda * A2 average-pooled [L, H, P, P] (lambda varies per query row). */
  lambdaThumbnails?: Float32Array;
}

type FloatField = 'topProbs' | 'tokenLogprob' | 'thumbnails' | 'lambda' | 'lambdaThumbnails';

/** Where each float output goes (top_ids, int64, is converted on its own, and LAYER_FIELDS are one
 *  array per layer). Outputs of older packages that nothing reads any more (the T x T maps,
 *  attn_logit_absmax) are left alone. */
export const OUTPUT_FIELDS: Partial<Record<OutputName, FloatField>> = {
  top_probs: 'topProbs',
  token_logprob: 'tokenLogprob',
  attn_thumbnails: 'thumbnails',
  lambda: 'lambda',
  lambda_a2_thumbnails: 'lambdaThumbnails',
};

/** Where each output that holds every layer goes, one array per layer. */
export const LAYER_FIELDS: Record<LayerOutput, 'hidden' | 'q' | 'k'> = { hidden_states: 'hidden', q: 'q', k: 'k' };

export async function runModel(session: ort.InferenceSession, ids: readonly number[], config: PackageConfig, interventions: Interventions = {}): Promise<RunOutputs> {
  const fetched = await session.run(modelFeeds(ids, config, interventions));
  const result: Partial<RunOutputs> = { length: ids.length, topIds: Int32Array.from(fetched.top_ids.data as BigInt64Array, Number) };
  for (const [name, field] of Object.entries(OUTPUT_FIELDS)) {
    if (name in fetched) result[field!] = fetched[name].data as Float32Array;
  }
  for (const [name, field] of Object.entries(LAYER_FIELDS)) result[field] = perLayer(fetched, name as LayerOutput, config.n_layer);
  return result as RunOutputs;
}

/** An output that holds every layer, one array per layer: the graph's own per-layer outputs, or
 *  views of its joined one (no copy). */
function perLayer(fetched: ort.InferenceSession.OnnxValueMapType, name: LayerOutput, L: number): Float32Array[] {
  if (!(name in fetched)) return layerOutputNames(name, L).map((part) => fetched[part].data as Float32Array);
  const joined = fetched[name].data as Float32Array;
  const size = joined.length / L;
  return Array.from({ length: L }, (_, layer) => joined.subarray(layer * size, (layer + 1) * size));
}

/** One array per layer as one array, layer after layer (a copy). */
export function joinLayers(layers: readonly Float32Array[]): Float32Array {
  const joined = new Float32Array(layers.reduce((total, layer) => total + layer.length, 0));
  let at = 0;
  for (const layer of layers) {
    joined.set(layer, at);
    at += layer.length;
  }
  return joined;
}

/** The logits after the last of `ids` [V], fetched alone (the graph's last_logits), for generation. */
export async function runNextTokenLogits(session: ort.InferenceSession, ids: readonly number[], config: PackageConfig): Promise<Float32Array> {
  if (!config.outputs.includes('last_logits')) {
    throw new Error(`${config.name}'s graph has no output 'last_logits' (config.json: outputs); export or import the package again to generate text`);
  }
  const fetched = await session.run(modelFeeds(ids, config, {}), ['last_logits']);
  return fetched.last_logits.data as Float32Array;
}

/** A run's inputs: `ids` as a batch of one, and the intervention inputs. */
function modelFeeds(ids: readonly number[], config: PackageConfig, interventions: Interventions): Record<string, ort.Tensor> {
  if (ids.length === 0 || ids.length > config.max_seq_len) {
    throw new RangeError(`a run takes 1..${config.max_seq_len} tokens (the model's context); got ${ids.length}`);
  }
  const input = new ort.Tensor('int64', BigInt64Array.from(ids, (id) => BigInt(id)), [1, ids.length]);
  return { input_ids: input, ...interventionFeeds(config, interventions) };
}

/** The graph's intervention inputs: the given values, and for the others the value that changes
 *  nothing (config.json says which). A package without them refuses any intervention. */
function interventionFeeds(config: PackageConfig, interventions: Interventions): Record<string, ort.Tensor> {
  const inputs = config.intervention_inputs ?? {};
  const size = config.n_layer * config.n_head;
  for (const [name, values] of Object.entries(interventions)) {
    if (!(name in inputs)) {
      throw new Error(`${config.name}'s graph has no input '${name}' (config.json: intervention_inputs); export the package again to intervene`);
    }
    if (values.length !== size) throw new RangeError(`${name} needs ${config.n_layer} x ${config.n_head} = ${size} values; got ${values.length}`);
  }
  return Object.fromEntries(
    Object.entries(inputs).map(([name, plain]) => [
      name,
      new ort.Tensor('float32', interventions[name as InterventionInput] ?? new Float32Array(size).fill(plain!), [config.n_layer, config.n_head]),
    ]),
  );
}
