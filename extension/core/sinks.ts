// Attention sinks of one run (shared/sinks.ts), layer by layer: the sink_shares graphs
// (analysisGraphs.ts) reduce a block of query rows of all of a layer's heads at once to each head's
// sums over the rows of what lands on key 0, and the blocks' sums add up here. No map is held whole,
// so memory stays linear in T. `beforeRun` is called before each graph run, as in outliers.ts.

import type { LayerSinks } from '../../shared/sinks';
import type { RunAnalysis } from './analysis';
import type { AnalysisGraphs, SinkSums } from './analysisGraphs';
import { headBlock, headBuffers, statisticsBlocks } from './outliers';

export async function computeSinks(analysis: RunAnalysis, graphs: AnalysisGraphs, beforeRun: () => void): Promise<LayerSinks[]> {
  const { T, nHead, nLayer, diff } = analysis;
  const buffers = headBuffers();
  const layers: LayerSinks[] = [];
  for (let layer = 0; layer < nLayer; layer++) {
    const sums: Required<Record<keyof SinkSums, Float64Array>> = { firstA1: new Float64Array(nHead), firstA2: new Float64Array(nHead), firstDiff: new Float64Array(nHead), massDiff: new Float64Array(nHead) };
    for (const block of statisticsBlocks(analysis)) {
      beforeRun();
      const blockSums = await graphs.sinkSums(headBlock(analysis, layer, block, buffers), analysis.config.attention_scale);
      for (const name of Object.keys(blockSums) as (keyof SinkSums)[]) blockSums[name]!.forEach((v, h) => (sums[name][h] += v));
    }
    const rows = new Float64Array(nHead).fill(T); // each softmax row sums to 1
    layers.push({
      layer,
      a1: shares(sums.firstA1, rows),
      a2: diff ? shares(sums.firstA2, rows) : null,
      diff: diff ? shares(sums.firstDiff, sums.massDiff) : null,
    });
  }
  return layers;
}

/** Per head first / mass, in [0, 1]: float32 sums may pass 1 by a rounding error, and 0 / 0 (a head
 *  whose A1 − λ·A2 is 0 everywhere, as with λ = 1 and A1 = A2) is 0. */
function shares(first: Float64Array, mass: Float64Array): number[] {
  return Array.from(first, (v, h) => {
    const share = v / mass[h];
    return Number.isFinite(share) ? Math.min(1, Math.max(0, share)) : 0;
  });
}
