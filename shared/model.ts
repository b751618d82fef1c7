// The model-package vocabulary (docs/model-package.md) that the engine, the host and the panel
// share: the two kinds of model, the inspection graph's output names, the maps each kind has, what
// the host and the panel know of a loaded model, and the bit widths of the quantisation what-if.

import { z } from 'zod';
import { indexSchema } from './schemas';
import thumbnails from './thumbnails.json';

/** diff = a Differential Transformer; baseline = its matched standard Transformer. */
export const MODEL_KINDS = ['diff', 'baseline'] as const;
export const modelKindSchema = z.enum(MODEL_KINDS);
export type ModelKind = z.infer<typeof modelKindSchema>;

/** The inspection graph's outputs (shapes in docs/model-package.md and runtime.ts's RunOutputs).
 *  attn_logit_absmax and the T x T maps attn_a1 / attn_a2 are only in packages exported before
 *  maps were computed on demand; readers ignore them. */
export type OutputName =
  | 'top_ids'
  | 'top_probs'
  | 'token_logprob'
  | 'last_logits'
  | 'hidden_states'
  | 'q'
  | 'k'
  | 'attn_thumbnails'
  | 'attn_logit_absmax'
  | 'attn_a1'
  | 'attn_a2'
  | 'lambda'
  | 'lambda_a2_thumbnails';

/** The outputs a package of this kind must have for the extension to read it. The others are used
 *  when present: last_logits, and attn_thumbnails (else the engine pools the maps itself). */
export function requiredOutputs(kind: ModelKind): OutputName[] {
  const always: OutputName[] = ['top_ids', 'top_probs', 'token_logprob', 'hidden_states', 'q', 'k'];
  return kind === 'diff' ? [...always, 'lambda'] : always;
}

/** The outputs that hold every layer. A graph has each either joined over the layers (one output
 *  [B, L, ...]) or as one output per layer (`q.0` … `q.{L-1}`, each [B, 1, ...]): per layer, ONNX
 *  Runtime never holds a joined copy beside the layers' own (at 32K tokens of the long-context test
 *  model, 114 MiB less at the run's peak). */
export const LAYER_OUTPUTS = ['hidden_states', 'q', 'k'] as const satisfies readonly OutputName[];
export type LayerOutput = (typeof LAYER_OUTPUTS)[number];

/** The name of one layer's part of a per-layer output. */
export function layerOutputName(name: LayerOutput, layer: number): string {
  return `${name}.${layer}`;
}

/** The names of every layer's part of a per-layer output, layer 0 first. */
export function layerOutputNames(name: LayerOutput, nLayer: number): string[] {
  return Array.from({ length: nLayer }, (_, layer) => layerOutputName(name, layer));
}

/** Whether a graph with `outputs` has output `name`, joined or (for LAYER_OUTPUTS) per layer. */
export function hasOutput(outputs: readonly string[], name: OutputName, nLayer: number): boolean {
  if (outputs.includes(name)) return true;
  const perLayer = (LAYER_OUTPUTS as readonly string[]).includes(name);
  return perLayer && layerOutputNames(name as LayerOutput, nLayer).every((part) => outputs.includes(part));
}

/** The inspection graph's intervention inputs, each [n_layer, n_head] (docs/model-package.md):
 *  DIFF's lambda of a head becomes lambda * lambda_scale + lambda_shift, and head_mask 0 removes a
 *  head's output. */
export const INTERVENTION_INPUTS = ['lambda_scale', 'lambda_shift', 'head_mask'] as const;
export type InterventionInput = (typeof INTERVENTION_INPUTS)[number];
/** Values per intervention input, layer-major [n_layer * n_head]; the ones not given change nothing. */
export type Interventions = Partial<Record<InterventionInput, Float32Array>>;

/** P: the side of the average-pooled attention maps (the graph's attn_thumbnails [B, L, S, P, P]),
 *  shared with the Python model through thumbnails.json. */
export const THUMBNAIL_SIZE: number = thumbnails.size;

export const MAP_VIEWS = ['a1', 'a2', 'lambdaA2', 'diff'] as const;
/** a1 = A1, a2 = A2, lambdaA2 = lambda * A2, diff = A1 - lambda * A2 (the only signed one). */
export type MapView = (typeof MAP_VIEWS)[number];
/** Views a baseline model has: its single softmax map per head. */
export const BASELINE_VIEWS: readonly MapView[] = ['a1'];

/** The views a kind of model has maps for. */
export function mapViews(kind: ModelKind): readonly MapView[] {
  return kind === 'diff' ? MAP_VIEWS : BASELINE_VIEWS;
}

/** Which softmax sub-heads make a differential head h (of H): 'adjacent' = 2h and 2h+1 (the paper),
 *  'halves' = h and h+H (Hugging Face DiffLlama). */
export const pairingSchema = z.enum(['adjacent', 'halves']);
export type Pairing = z.infer<typeof pairingSchema>;

/** The softmax sub-heads [A1, A2] of differential head `head` of `nHead` under `pairing` (the
 *  paper's when none is given). */
export function softmaxSubHeads(pairing: Pairing | null | undefined, nHead: number, head: number): [number, number] {
  return pairing === 'halves' ? [head, head + nHead] : [2 * head, 2 * head + 1];
}

/** A loaded model, as the engine reports it and the panel shows it. */
export const modelInfoSchema = z.object({
  /** config.json's name. */
  name: z.string(),
  kind: modelKindSchema,
  /** sha256 of model.onnx (hex): identifies the weights in exports and results. */
  sha256: z.string(),
  nLayer: indexSchema,
  /** Heads with maps: differential heads for diff, standard heads for baseline. */
  nHead: indexSchema,
  /** The most tokens a run takes, BOS included: the model's context, or less for a model whose attention
   *  scores at full context would not fit in memory (engine.ts inspectionContext). */
  maxSeqLen: indexSchema,
  /** The ONNX Runtime execution provider the model runs on. */
  provider: z.string(),
  /** Parameters, and the bytes of its graph and weights files (absent in states saved before them). */
  parameters: z.number().optional(),
  weightBytes: z.number().optional(),
  /** Set for a package imported with weights that hold NaN or Inf: which, shown with every run. */
  weightWarning: z.string().optional(),
  /** The pairing of a differential head's softmax sub-heads (pairingSchema); null for a baseline.
   *  Absent in states saved before it: the paper's. */
  pairing: pairingSchema.nullable().optional(),
  /** 'layer': one λ per layer (V1); 'token': λ per query token and head (DIFF V2); null for a baseline. */
  lambdaGranularity: z.enum(['layer', 'token']).nullable().optional(),
  /** The format an imported package was converted from (docs/import.md: 'diffllama', 'llama',
   *  'diff-v1', 'diff-v2'); null for the project's own exports. */
  sourceFormat: z.string().nullable().optional(),
});
export type ModelInfo = z.infer<typeof modelInfoSchema>;

/** "6.8M" / "1.0B": a parameter count as the status bar and the panel show it. */
export function formatParameterCount(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : `${(n / 1e6).toFixed(1)}M`;
}

/** Bit widths of the quantisation what-if (the paper's Figure 8). */
export const QUANT_BITS = [8, 6, 4] as const;
export type QuantBits = (typeof QUANT_BITS)[number];

/** The top level of signed `bits`-bit integers, 2^(bits-1) - 1: levels run from -top to top. */
export function quantTopLevel(bits: QuantBits): number {
  return 2 ** (bits - 1) - 1;
}
