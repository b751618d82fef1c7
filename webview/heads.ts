// How the panel names a model's heads and their λ: which softmax sub-heads make a differential head
// (the paper pairs 2h and 2h+1, Hugging Face DiffLlama pairs h and h+H), and λ per layer (V1) or,
// for a model whose λ varies per token and head (DIFF V2), its range.

import { softmaxSubHeads, type ModelInfo } from '../shared/model';
import { formatLambda, lambdaRange, lambdaText } from '../shared/lambda';
import type { InspectionMeta } from '../shared/protocol';

/** "A1 = softmax head 3, A2 = softmax head 7 (DiffLlama pairing)" for a differential head;
 *  undefined for a baseline's head, which is one softmax head. */
export function subHeadNote(model: ModelInfo, head: number): string | undefined {
  if (model.kind !== 'diff') return undefined;
  const [a1, a2] = softmaxSubHeads(model.pairing, model.nHead, head);
  return `A1 = softmax head ${a1}, A2 = softmax head ${a2}${model.pairing === 'halves' ? ' (DiffLlama pairing)' : ''}`;
}

/** Whether the model has λ (a DIFF model; a baseline has none). */
export function hasLambda(meta: InspectionMeta): boolean {
  return meta.lambdaRanges.length > 0 || meta.lambda.length > 0;
}

/** Whether λ varies per query token and head (DIFF V2), rather than one per layer. */
export function lambdaPerToken(meta: InspectionMeta): boolean {
  return meta.model.lambdaGranularity === 'token';
}

/** A layer's λ: "λ 0.356", or its range over heads and tokens, "λ 0.120–0.870"; '' without λ. */
export function layerLambda(meta: InspectionMeta, layer: number): string {
  const ranges = meta.lambdaRanges[layer];
  if (ranges) return lambdaText(ranges);
  return meta.lambda.length > layer ? `λ ${formatLambda(meta.lambda[layer])}` : '';
}

/** A head's λ in a layer: its value, or its range over the tokens; '' without λ. */
export function headLambda(meta: InspectionMeta, layer: number, head: number): string {
  const range = meta.lambdaRanges[layer]?.[head];
  return range ? lambdaText([range]) : layerLambda(meta, layer);
}

/** What a map of a head is made of, for the caption under its readout: its softmax heads and,
 *  when λ varies per token, its range and where it is shown. The range is the map's own λ row
 *  when it has one (a what-if run's λ differs from the inspection's). */
export function mapCaption(meta: InspectionMeta, map: { layer: number; head: number; lambda?: Float32Array }): string {
  const parts = [subHeadNote(meta.model, map.head)];
  if (lambdaPerToken(meta)) {
    const range = map.lambda ? lambdaText([lambdaRange(map.lambda)]) : headLambda(meta, map.layer, map.head);
    parts.push(`${range} over the query tokens (the strip beside the map)`);
  }
  return parts.filter(Boolean).join(' · ');
}
