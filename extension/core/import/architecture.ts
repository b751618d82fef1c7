// Reads a Hugging Face-layout config.json into the architecture the inspection graph is built for,
// and lists every tensor the checkpoint must hold with its shape. The formats and their conventions
// are in docs/import.md.

import type { Pairing } from '../../../shared/model';
import { ImportError } from '../errors';

export const CHECKPOINT_FORMATS = ['diffllama', 'llama', 'diff-v1', 'diff-v2'] as const;
export type CheckpointFormat = (typeof CHECKPOINT_FORMATS)[number];

/** How a differential head's value is laid out. */
export type ValueLayout =
  | 'wide' // value heads of width 2d, shared by both sub-heads (the paper, official V1)
  | 'halves' // DiffLlama: value head h = [v_h ; v_{h+H}] of the (repeated) d-wide value heads
  | 'plain'; // one d-wide value head per softmax head (grouped), V2 and standard attention

export interface Architecture {
  format: CheckpointFormat;
  modelType: string;
  kind: 'diff' | 'baseline';
  variant: 'v1' | 'v2' | 'standard';
  /** Differential head h: A1, A2 from sub-heads (2h, 2h+1) (adjacent) or (h, h+H) (halves). */
  pairing: Pairing | null;
  nLayer: number;
  /** E, the residual stream's width. */
  hidden: number;
  intermediate: number;
  vocabSize: number;
  /** S softmax (query) sub-heads, S_kv key sub-heads, d their width. */
  softmaxHeads: number;
  kvSoftmaxHeads: number;
  headDim: number;
  /** Heads as a user sees them: H differential heads, or S standard heads. */
  heads: number;
  valueLayout: ValueLayout;
  /** Width of one head's output before the output projection. */
  valueHeadDim: number;
  /** DIFF V1's per-head RMSNorm: with a learned weight (official) or without (DiffLlama); null: none. */
  headNorm: { weight: boolean } | null;
  /** DIFF's lambda: one per layer (V1), per token and head (V2), none (standard). */
  lambda: 'layer' | 'token' | null;
  rmsNormEps: number;
  rope: { theta: number; interleaved: boolean; invFreq: Float32Array; scaling: unknown };
  attentionBias: boolean;
  mlpBias: boolean;
  tiedEmbeddings: boolean;
  maxSeqLen: number;
  bosTokenId: number;
}

/** A tensor the checkpoint must hold, by its name in the checkpoint, with its [out, in] shape. */
export interface TensorSpec {
  name: string;
  shape: number[];
}

/** bos_token_id where config.json has none: LlamaConfig's, MistralConfig's and DiffLlamaConfig's default. */
export const TRANSFORMERS_BOS_TOKEN_ID = 1;

/** tokenizerBosId: the tokenizer's own BOS token, which stands in for a missing bos_token_id before
 *  transformers' default does. */
export function readArchitecture(config: unknown, file: string, tokenizerBosId?: number): Architecture {
  const fields = new ConfigFields(config, file);
  const modelType = fields.string('model_type');
  const format = formatOf(modelType, fields);
  const diffVersion = format === 'diff-v1' || format === 'diff-v2';
  const hidden = fields.count('hidden_size');
  const attentionHeads = fields.count('num_attention_heads');
  const kvHeads = fields.count('num_key_value_heads', attentionHeads);
  if (attentionHeads % kvHeads) fields.fail('num_key_value_heads', `a divisor of num_attention_heads (${attentionHeads})`, kvHeads);
  const act = fields.string('hidden_act', 'silu');
  if (act !== 'silu') fields.fail('hidden_act', '"silu" (a SwiGLU MLP)', act);

  let softmaxHeads: number, kvSoftmaxHeads: number, headDim: number;
  if (format === 'diff-v1') {
    // The official V1 module: num_heads differential heads of width 2d, d = E / H / 2.
    headDim = exactDivision(hidden, 2 * attentionHeads, fields, 'hidden_size', 'by 2 * num_attention_heads');
    softmaxHeads = 2 * attentionHeads;
    kvSoftmaxHeads = 2 * kvHeads;
  } else if (format === 'diff-v2') {
    headDim = fields.count('head_dim');
    softmaxHeads = 2 * attentionHeads;
    kvSoftmaxHeads = kvHeads;
  } else {
    headDim = fields.count('head_dim', exactDivision(hidden, attentionHeads, fields, 'hidden_size', 'by num_attention_heads'));
    softmaxHeads = attentionHeads;
    kvSoftmaxHeads = kvHeads;
  }
  if (headDim % 2) fields.fail('head_dim', 'an even width (rotary embedding rotates pairs of dimensions)', headDim);
  if (format === 'diffllama' && softmaxHeads % 2) fields.fail('num_attention_heads', 'an even number (DiffLlama pairs the first half of the heads with the second)', softmaxHeads);
  if (format === 'diff-v2' && softmaxHeads % kvSoftmaxHeads) fields.fail('num_key_value_heads', `a divisor of 2 * num_attention_heads (${softmaxHeads})`, kvHeads);

  const kind = format === 'llama' ? 'baseline' : 'diff';
  const contextLength = fields.count('max_position_embeddings', 2048);
  // Runs no longer than Mistral's sliding window (null: none) attend to every earlier token, as Llama's do.
  const maxSeqLen = modelType === 'mistral' ? Math.min(contextLength, fields.count('sliding_window', contextLength)) : contextLength;
  const interleaved = diffVersion ? fields.boolean('rope_interleaved', true) : false;
  const theta = fields.number('rope_theta', 10000);
  const scaling = fields.raw('rope_scaling') ?? null;
  return {
    format,
    modelType,
    kind,
    variant: format === 'llama' ? 'standard' : format === 'diff-v2' ? 'v2' : 'v1',
    pairing: format === 'llama' ? null : format === 'diffllama' ? 'halves' : 'adjacent',
    nLayer: fields.count('num_hidden_layers'),
    hidden,
    intermediate: fields.count('intermediate_size'),
    vocabSize: fields.count('vocab_size'),
    softmaxHeads,
    kvSoftmaxHeads,
    headDim,
    heads: kind === 'diff' ? softmaxHeads / 2 : softmaxHeads,
    valueLayout: format === 'diff-v1' ? 'wide' : format === 'diffllama' ? 'halves' : 'plain',
    valueHeadDim: format === 'diff-v1' || format === 'diffllama' ? 2 * headDim : headDim,
    headNorm: format === 'diff-v1' ? { weight: true } : format === 'diffllama' ? { weight: false } : null,
    lambda: format === 'llama' ? null : format === 'diff-v2' ? 'token' : 'layer',
    // Defaults as in transformers' LlamaConfig (1e-6) and DiffLlamaConfig (1e-5); the official code uses 1e-5.
    rmsNormEps: fields.number('rms_norm_eps', format === 'llama' ? 1e-6 : 1e-5),
    rope: ropeOf(headDim, theta, interleaved, diffVersion, scaling, fields),
    attentionBias: fields.boolean('attention_bias', false),
    // DiffLlama's MLP and Mistral's have no biases whatever mlp_bias says; Llama's follows mlp_bias.
    mlpBias: modelType === 'llama' && fields.boolean('mlp_bias', false),
    tiedEmbeddings: fields.boolean('tie_word_embeddings', false),
    maxSeqLen,
    bosTokenId: fields.index('bos_token_id', tokenizerBosId ?? TRANSFORMERS_BOS_TOKEN_ID),
  };
}

function formatOf(modelType: string, fields: ConfigFields): CheckpointFormat {
  if (modelType === 'diffllama' || modelType === 'llama') return modelType;
  // A Mistral is a Llama whose attention is limited to a sliding window; maxSeqLen keeps every run inside it.
  if (modelType === 'mistral') return 'llama';
  if (modelType === 'diff_transformer') {
    const version = fields.count('diff_version');
    if (version === 1 || version === 2) return version === 1 ? 'diff-v1' : 'diff-v2';
    fields.fail('diff_version', '1 (the official V1 attention module) or 2 (V2)', version);
  }
  return fields.fail('model_type', '"diffllama", "llama", "mistral" or "diff_transformer" (see the supported formats in docs/import.md)', modelType);
}

function exactDivision(value: number, by: number, fields: ConfigFields, field: string, what: string): number {
  if (value % by) fields.fail(field, `divisible ${what} (${by})`, value);
  return value / by;
}

/** The rotary embedding. Its inverse frequencies, rounded to float32 the way the PyTorch code computes
 *  them (the project's exp form for diff_transformer checkpoints, transformers' power form with its
 *  rope_scaling for the others), are computed when first used: rope_scaling is checked now, but the
 *  head_dim they depend on only once it has been checked against the weights (checkAgainstWeights). */
function ropeOf(dim: number, theta: number, interleaved: boolean, expForm: boolean, scaling: unknown, fields: ConfigFields): Architecture['rope'] {
  const scale = frequencyScaling(scaling, fields);
  let invFreq: Float32Array | undefined;
  return {
    theta,
    interleaved,
    scaling,
    get invFreq() {
      const f = Math.fround;
      invFreq ??= scale(
        Float32Array.from({ length: dim / 2 }, (_, i) => (expForm ? f(Math.exp(f(2 * i * f(-Math.log(theta) / dim)))) : f(1 / f(theta ** f((2 * i) / dim))))),
      );
      return invFreq;
    },
  };
}

/** rope_scaling as a map of the unscaled inverse frequencies. */
function frequencyScaling(scaling: unknown, fields: ConfigFields): (base: Float32Array) => Float32Array {
  if (scaling === null) return (base) => base;
  const rope = new ConfigFields(scaling, fields.file, 'rope_scaling.');
  const type = rope.string('rope_type', rope.string('type', ''));
  const factor = rope.number('factor');
  if (type === 'linear') return (base) => base.map((v) => v / factor);
  if (type === 'llama3') {
    const low = rope.number('low_freq_factor');
    const high = rope.number('high_freq_factor');
    const original = rope.count('original_max_position_embeddings');
    const lowWavelength = original / low;
    const highWavelength = original / high;
    return (base) =>
      base.map((freq) => {
        const wavelength = (2 * Math.PI) / freq;
        if (wavelength < highWavelength) return freq;
        if (wavelength > lowWavelength) return freq / factor;
        const smooth = (original / wavelength - low) / (high - low);
        return (1 - smooth) * (freq / factor) + smooth * freq;
      });
  }
  return rope.fail('rope_type', 'null (no scaling), "linear" or "llama3"', type);
}

/** Every tensor the checkpoint must hold, by name, with its shape. */
export function requiredTensors(arch: Architecture): TensorSpec[] {
  const { hidden: E, headDim: d, softmaxHeads: S, kvSoftmaxHeads: Skv, heads: H } = arch;
  const tensors: TensorSpec[] = [{ name: 'model.embed_tokens.weight', shape: [arch.vocabSize, E] }];
  const linear = (name: string, out: number, inp: number, bias: boolean) => {
    tensors.push({ name: `${name}.weight`, shape: [out, inp] });
    if (bias) tensors.push({ name: `${name}.bias`, shape: [out] });
  };
  for (let layer = 0; layer < arch.nLayer; layer++) {
    const names = layerTensorNames(arch, layer);
    tensors.push({ name: names.inputNorm, shape: [E] });
    linear(names.q, S * d, E, arch.attentionBias);
    linear(names.k, Skv * d, E, arch.attentionBias);
    linear(names.v, Skv * d, E, arch.attentionBias); // V1's 2d-wide value heads: H_kv * 2d = S_kv * d
    linear(names.o, E, H * arch.valueHeadDim, arch.attentionBias);
    if (arch.lambda === 'layer') for (const name of names.lambdaVectors) tensors.push({ name, shape: [d] });
    if (arch.lambda === 'token') tensors.push({ name: names.lambdaProj, shape: [H, E] });
    if (arch.headNorm?.weight) tensors.push({ name: names.headNorm, shape: [arch.valueHeadDim] });
    tensors.push({ name: names.postNorm, shape: [E] });
    linear(names.gate, arch.intermediate, E, arch.mlpBias);
    linear(names.up, arch.intermediate, E, arch.mlpBias);
    linear(names.down, E, arch.intermediate, arch.mlpBias);
  }
  tensors.push({ name: 'model.norm.weight', shape: [E] });
  if (!arch.tiedEmbeddings) tensors.push({ name: 'lm_head.weight', shape: [arch.vocabSize, E] });
  return tensors;
}

/** The checkpoint's tensor names for one layer (Llama's, with the official modules' attention names). */
export function layerTensorNames(arch: Architecture, layer: number) {
  const prefix = `model.layers.${layer}`;
  const attn = `${prefix}.self_attn`;
  return {
    inputNorm: `${prefix}.input_layernorm.weight`,
    postNorm: `${prefix}.post_attention_layernorm.weight`,
    q: `${attn}.q_proj`,
    k: `${attn}.k_proj`,
    v: `${attn}.v_proj`,
    o: arch.format === 'diff-v1' ? `${attn}.out_proj` : `${attn}.o_proj`,
    lambdaVectors: ['q1', 'k1', 'q2', 'k2'].map((v) => `${attn}.lambda_${v}`),
    lambdaProj: `${attn}.lambda_proj.weight`,
    headNorm: `${attn}.subln.weight`,
    gate: `${prefix}.mlp.gate_proj`,
    up: `${prefix}.mlp.up_proj`,
    down: `${prefix}.mlp.down_proj`,
  };
}

/** Typed access to config.json's fields; every failure names the file and the field. */
class ConfigFields {
  private readonly data: Record<string, unknown>;

  constructor(
    data: unknown,
    readonly file: string,
    private readonly prefix = '',
  ) {
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new ImportError(`${file}: ${prefix || 'the top level'} must be a JSON object; got ${JSON.stringify(data)}`);
    }
    this.data = data as Record<string, unknown>;
  }

  raw(field: string): unknown {
    return this.data[field];
  }

  fail(field: string, expected: string, got: unknown): never {
    const found = got === undefined ? 'it is missing' : `got ${JSON.stringify(got)}`;
    throw new ImportError(`${this.file}: field '${this.prefix}${field}' must be ${expected}; ${found}`);
  }

  private get<T>(field: string, fallback: T | undefined, ok: (v: unknown) => boolean, expected: string): T {
    const value = this.data[field] ?? fallback;
    if (value === undefined || !ok(value)) this.fail(field, expected, this.data[field]);
    return value as T;
  }

  string(field: string, fallback?: string): string {
    return this.get(field, fallback, (v) => typeof v === 'string', 'a string');
  }

  number(field: string, fallback?: number): number {
    return this.get(field, fallback, (v) => typeof v === 'number' && Number.isFinite(v), 'a number');
  }

  count(field: string, fallback?: number): number {
    return this.get(field, fallback, (v) => Number.isInteger(v) && (v as number) > 0, 'a positive integer');
  }

  index(field: string, fallback?: number): number {
    return this.get(field, fallback, (v) => Number.isInteger(v) && (v as number) >= 0, 'a non-negative integer');
  }

  boolean(field: string, fallback?: boolean): boolean {
    return this.get(field, fallback, (v) => typeof v === 'boolean', 'true or false');
  }
}
