// Whether a run's outputs are finite, and where NaN or Inf first appear when they are not.

import { NonFiniteError } from './errors';
import type { PackageConfig } from './modelPackage';
import type { RunOutputs } from './runtime';

/** Throws NonFiniteError when a run's outputs hold NaN or Inf, naming where they first appear: one
 *  pass over the hidden states layer by layer, stopping at the first hit (every later layer, and
 *  q and k after it, inherit it), then the logits' small outputs. */
export function checkFinite(out: RunOutputs, config: PackageConfig, fix: string): void {
  const L = config.n_layer;
  let layer = 0;
  while (layer < L && allFinite(out.hidden[layer])) layer++;
  let where: string;
  if (layer < L) {
    where = layer === 0 && !allFinite(out.q[0]) ? "the embedding/inputs (layer 0's q already holds one)" : `layer ${layer} (the first whose hidden states hold one)`;
  } else if (!allFinite(out.topProbs) || !allFinite(out.tokenLogprob)) {
    where = "the logits (the final norm or the LM head: every layer's hidden states are finite)";
  } else {
    return;
  }
  throw new NonFiniteError(`${config.name}: the run produced NaN or Inf values, first in ${where}; ${fix}.`, layer < L ? layer : null);
}

function allFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}
