// λ, the weight of a differential head's second softmax map (its map is A1 − λ·A2), in one module
// for the host, the engine's importer and the panel: λ's initial value per layer, a run's λ (one
// per layer for DIFF V1; per query token and head for DIFF V2, which learns it from the token) and
// how λ is written. model/model.py keeps the Python twin of lambdaInit.

/** λ_init of the paper's depth schedule, 0.8 − 0.6·exp(−0.3·(l − 1)) for the 1-based layer l
 *  (`layer` here is 0-based). */
export function lambdaInit(layer: number): number {
  return 0.8 - 0.6 * Math.exp(-0.3 * layer);
}

/** λ with 3 decimals, as the panel, the hover and the model card write it. */
export function formatLambda(lambda: number): string {
  return lambda.toFixed(3);
}

/** λ over [min, max] ranges (a layer's heads, or one head) in words: "λ 0.356", or "λ 0.120–0.870"
 *  where it varies with the token or the head. */
export function lambdaText(ranges: readonly (readonly [number, number])[]): string {
  const low = Math.min(...ranges.map(([min]) => min));
  const high = Math.max(...ranges.map(([, max]) => max));
  return low === high ? `λ ${formatLambda(low)}` : `λ ${formatLambda(low)}–${formatLambda(high)}`;
}

/** [min, max] of a row of λ (a head's λ over the query tokens). */
export function lambdaRange(row: ArrayLike<number>): [number, number] {
  let [low, high] = [Infinity, -Infinity];
  for (let i = 0; i < row.length; i++) [low, high] = [Math.min(low, row[i]), Math.max(high, row[i])];
  return [low, high];
}

/** The λ a run's result holds: one per layer (V1; empty for a baseline), or for V2 every query
 *  token's per head, lambdaByToken [L, T, H]. */
export interface RunLambda {
  lambda: readonly number[];
  lambdaByToken: Float32Array | null;
  tokens: readonly unknown[];
}

/** Per layer and head, [min, max] of λ over the run's tokens; empty for a baseline. */
export function lambdaRanges(result: RunLambda, nHead: number): [number, number][][] {
  const { lambdaByToken, tokens } = result;
  if (!lambdaByToken) return result.lambda.map((lambda) => Array.from({ length: nHead }, () => [lambda, lambda]));
  const nLayer = lambdaByToken.length / (tokens.length * nHead);
  return Array.from({ length: nLayer }, (_, layer) => Array.from({ length: nHead }, (_, head) => lambdaRange(lambdaRow(result, nHead, layer, head)!)));
}

/** λ of each query token for one layer and head; undefined when one λ holds for the whole layer. */
export function lambdaRow(result: RunLambda, nHead: number, layer: number, head: number): Float32Array | undefined {
  if (!result.lambdaByToken) return undefined;
  return Float32Array.from(result.tokens, (_, token) => lambdaAt(result, nHead, layer, head, token)!);
}

/** The λ that query token `token` ran with in one layer and head: the layer's one λ (V1), or that
 *  token's (V2); undefined for a baseline. */
export function lambdaAt({ lambda, lambdaByToken, tokens }: RunLambda, nHead: number, layer: number, head: number, token: number): number | undefined {
  if (!lambdaByToken) return lambda[layer];
  return lambdaByToken[(layer * tokens.length + token) * nHead + head];
}
