// Runs a model package's inspection graph with onnxruntime-node: chooses the execution provider
// (ONNX Runtime throws rather than falls back when a GPU provider cannot load, so we fall back
// ourselves) and returns the outputs as typed arrays for batch 1.

import * as ort from 'onnxruntime-node';
import type { OutputName } from '../../shared/model';
import type { PackageConfig } from './modelPackage';

export const PROVIDER_SETTINGS = ['auto', 'cpu', 'cuda', 'dml', 'coreml', 'webgpu'] as const;
export type ProviderSetting = (typeof PROVIDER_SETTINGS)[number];

export interface SessionInfo {
  /** The provider the session runs on. */
  provider: string;
  /** Why a requested or automatic GPU provider was not used, if one was tried. */
  fallbackReason?: string;
}

/** The GPU providers worth trying for `auto` on this platform, in order. */
export function gpuCandidates(platform: NodeJS.Platform, supported: readonly string[]): string[] {
  const byPlatform: Record<string, string[]> = { linux: ['cuda'], win32: ['dml'], darwin: ['coreml'] };
  return (byPlatform[platform] ?? []).filter((name) => supported.includes(name));
}

export async function createSession(
  modelPath: string,
  setting: ProviderSetting,
  log: (message: string) => void = () => {},
): Promise<{ session: ort.InferenceSession; info: SessionInfo }> {
  const supported = ort.listSupportedBackends().map((backend) => backend.name);
  const tries = setting === 'auto' ? gpuCandidates(process.platform, supported) : setting === 'cpu' ? [] : [setting];
  const failures: string[] = [];
  for (const provider of tries) {
    try {
      const session = await ort.InferenceSession.create(modelPath, { executionProviders: [provider] });
      return { session, info: { provider } };
    } catch (err) {
      const reason = `${provider} could not load: ${(err as Error).message.split('\n')[0]}`;
      log(`execution provider ${reason}; trying the next one`);
      failures.push(reason);
    }
  }
  const session = await ort.InferenceSession.create(modelPath, { executionProviders: ['cpu'] });
  return { session, info: { provider: 'cpu', ...(failures.length ? { fallbackReason: failures.join('; ') } : {}) } };
}

/** The inspection graph's outputs for one sequence (batch dimension dropped). Layouts, row-major:
 *  topIds/topProbs [T, K], tokenLogprob [T], lastLogits [V], hidden [L, T, E], q [L, S, T, d],
 *  k [L, S_kv, T, d], logitAbsMax [L, S, T], a1 [L, H_maps, T, T], a2 [L, H, T, T], lambda [L, T, H]. */
export interface RunOutputs {
  length: number;
  topIds: Int32Array;
  topProbs: Float32Array;
  tokenLogprob: Float32Array;
  lastLogits: Float32Array;
  hidden: Float32Array;
  q: Float32Array;
  k: Float32Array;
  logitAbsMax: Float32Array;
  a1?: Float32Array;
  a2?: Float32Array;
  lambda?: Float32Array;
}

/** Where each float output goes (top_ids, int64, is converted on its own). */
const OUTPUT_FIELDS: Record<Exclude<OutputName, 'top_ids'>, keyof RunOutputs> = {
  top_probs: 'topProbs',
  token_logprob: 'tokenLogprob',
  last_logits: 'lastLogits',
  hidden_states: 'hidden',
  q: 'q',
  k: 'k',
  attn_logit_absmax: 'logitAbsMax',
  attn_a1: 'a1',
  attn_a2: 'a2',
  lambda: 'lambda',
};

export async function runModel(session: ort.InferenceSession, ids: readonly number[], config: PackageConfig): Promise<RunOutputs> {
  if (ids.length === 0 || ids.length > config.max_seq_len) {
    throw new RangeError(`a run takes 1..${config.max_seq_len} tokens (the model's context); got ${ids.length}`);
  }
  const input = new ort.Tensor('int64', BigInt64Array.from(ids, (id) => BigInt(id)), [1, ids.length]);
  const fetched = await session.run({ input_ids: input });
  const result: Partial<RunOutputs> = { length: ids.length };
  const topIds = fetched.top_ids.data as BigInt64Array;
  result.topIds = Int32Array.from(topIds, Number);
  for (const [name, field] of Object.entries(OUTPUT_FIELDS)) {
    if (name in fetched) (result as Record<string, unknown>)[field] = fetched[name].data as Float32Array;
  }
  return result as RunOutputs;
}
