// λ as the panel and the hover show it, from a run's result: one value per layer (V1), or, for a
// model whose λ varies per token and head (DIFF V2, result.lambdaByToken [L, T, H]), its range per
// layer and head, the row of a head's λ per query token, and one query token's λ.

import { lambdaRange } from '../../shared/protocol';
import type { InspectionResult } from '../core/engine';

type LambdaSource = Pick<InspectionResult, 'lambda' | 'lambdaByToken' | 'tokens'>;

/** Per layer and head, [min, max] of λ over the run's tokens; empty for a baseline. */
export function lambdaRanges(result: LambdaSource, nHead: number): [number, number][][] {
  const { lambdaByToken, tokens } = result;
  if (!lambdaByToken) return result.lambda.map((lambda) => Array.from({ length: nHead }, () => [lambda, lambda]));
  const nLayer = lambdaByToken.length / (tokens.length * nHead);
  return Array.from({ length: nLayer }, (_, layer) => Array.from({ length: nHead }, (_, head) => lambdaRange(lambdaRow(result, nHead, layer, head)!)));
}

/** λ of each query token for one layer and head; undefined when one λ holds for the whole layer. */
export function lambdaRow(result: LambdaSource, nHead: number, layer: number, head: number): Float32Array | undefined {
  if (!result.lambdaByToken) return undefined;
  return Float32Array.from(result.tokens, (_, token) => lambdaAt(result, nHead, layer, head, token)!);
}

/** The λ that query token `token` ran with in one layer and head: the layer's one λ (V1), or that
 *  token's (V2); undefined for a baseline. */
export function lambdaAt({ lambda, lambdaByToken, tokens }: LambdaSource, nHead: number, layer: number, head: number, token: number): number | undefined {
  if (!lambdaByToken) return lambda[layer];
  return lambdaByToken[(layer * tokens.length + token) * nHead + head];
}
