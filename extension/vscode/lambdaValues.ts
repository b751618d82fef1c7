// λ as the panel shows it, from a run's result: one value per layer (V1), or, for a model whose λ
// varies per token and head (DIFF V2, result.lambdaByToken [L, T, H]), its range per layer and head
// and the row of a head's λ per query token.

import type { InspectionResult } from '../core/engine';

type LambdaSource = Pick<InspectionResult, 'lambda' | 'lambdaByToken' | 'tokens'>;

/** Per layer and head, [min, max] of λ over the run's tokens; empty for a baseline. */
export function lambdaRanges(result: LambdaSource, nHead: number): [number, number][][] {
  const { lambdaByToken, tokens } = result;
  if (!lambdaByToken) return result.lambda.map((lambda) => Array.from({ length: nHead }, () => [lambda, lambda]));
  const T = tokens.length;
  const nLayer = lambdaByToken.length / (T * nHead);
  return Array.from({ length: nLayer }, (_, layer) =>
    Array.from({ length: nHead }, (_, head) => {
      const row = lambdaRow(result, nHead, layer, head)!;
      return [row.reduce((a, b) => Math.min(a, b)), row.reduce((a, b) => Math.max(a, b))];
    }),
  );
}

/** λ of each query token for one layer and head; undefined when one λ holds for the whole layer. */
export function lambdaRow({ lambdaByToken, tokens }: LambdaSource, nHead: number, layer: number, head: number): Float32Array | undefined {
  if (!lambdaByToken) return undefined;
  const T = tokens.length;
  return Float32Array.from({ length: T }, (_, t) => lambdaByToken[(layer * T + t) * nHead + head]);
}
