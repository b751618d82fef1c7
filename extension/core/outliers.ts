// The Outliers view's numbers for one run, computed when the view asks for them, layer by layer:
// log-count histograms of |hidden state| and of |attention logit| = |q k^T| * scale over every
// visible pair and softmax sub-head, with the paper's Table 5 statistics (top-1, top-10, median),
// and the quantisation what-if of Figure 8. The attention logits never reach JavaScript: the
// analysis graphs reduce them a block of query rows at a time (analysisGraphs.ts), all sub-heads of
// a layer in each run, and the blocks' results are merged here: memory stays linear in T.
// `beforeRun` is called before each graph run: it throws SupersededError when a newer run replaced
// this one, and may wait while something the user is waiting for runs first. Attention sinks
// (sinks.ts) run over the same blocks.

import type { Histogram, LayerOutliers, LayerQuantisation } from '../../shared/inspection';
import { QUANT_BITS, quantTopLevel } from '../../shared/model';
import { BlockBuffers, type RunAnalysis } from './analysis';
import { rowBlocks, type AnalysisGraphs, type HeadBlock, type RowBlock, type SubHeadRows } from './analysisGraphs';

export const HISTOGRAM_BINS = 40;
/** Fine bins per histogram bin of the logits: the median is placed to within top-1 / (40 * 1,600). */
const FINE_PER_BIN = 1600;
const OUTLIERS_LISTED = 5;
const COUNT_SLICE = 1 << 20;
const TOP_KEPT = Math.max(10, OUTLIERS_LISTED);
/** The logits one statistics graph run holds, unless the analysis sets its own: the graphs make
 *  dozens of passes over a block, which stay in the cache at 1 MiB (code-diff at 1,024 tokens, one
 *  thread: outliers 310 -> 270 ms, quantisation 500 -> 290 ms of CPU against 32 MiB blocks). */
const STATISTICS_TILE_ELEMENTS = 1 << 18;

/** One of a layer's largest |attention logits|: the sub-head, query row and key it came from. */
interface TopLogit {
  value: number;
  subHead: number;
  token: number;
  key: number;
}

export async function computeOutliers(analysis: RunAnalysis, graphs: AnalysisGraphs, beforeRun: () => void): Promise<LayerOutliers[]> {
  const { S, nLayer } = analysis;
  const E = analysis.config.n_embd;
  const scale = analysis.config.attention_scale;
  const subHeads = Array.from({ length: S }, (_, s) => s);
  const blocks = [...statisticsBlocks(analysis)];
  const buffers = new BlockBuffers();
  const layers: LayerOutliers[] = [];
  for (let layer = 0; layer < nLayer; layer++) {
    const hidden = await hiddenHistogram(analysis.out.hidden[layer], E, beforeRun);
    // The largest |logits| first: the largest of all sets the scale of the bins.
    let top: TopLogit[] = [];
    for (const block of blocks) {
      beforeRun();
      const heads = analysis.subHeadRows(layer, subHeads, block, { buffers });
      const { values, indices } = await graphs.logitTop(heads, scale, TOP_KEPT);
      // -inf: a hidden pair, where a block has fewer visible ones than asked for.
      values.forEach((value, n) => value > -Infinity && top.push({ value, ...locate(indices[n], heads) }));
      top = top.sort((a, b) => b.value - a.value).slice(0, TOP_KEPT);
    }
    const absMax = top[0]?.value ?? 0;
    const fine = new Float64Array(HISTOGRAM_BINS * FINE_PER_BIN + 1);
    for (const block of blocks) {
      beforeRun();
      await countInto(fine, await graphs.logitBins(analysis.subHeadRows(layer, subHeads, block, { buffers }), scale, absMax, HISTOGRAM_BINS * FINE_PER_BIN), beforeRun);
    }
    const listed = top.map(({ value, subHead, token, key }) => ({ value, token, detail: `sub-head ${subHead}, key ${key}` }));
    layers.push({ layer, hidden, logits: fineHistogram(absMax, fine, listed) });
  }
  return layers;
}

/** The sub-head, query row and key of a block's flat [count, rows, keys] index. */
function locate(flat: number, { rows, keys, firstRow, firstKey }: SubHeadRows): Omit<TopLogit, 'value'> {
  return { subHead: Math.floor(flat / (rows * keys)), token: firstRow + (Math.floor(flat / keys) % rows), key: firstKey + (flat % keys) };
}

/** Adds each entry's bin to the counts, in slices of about a millisecond (sliced). */
function countInto(counts: Float64Array, binPlusOne: Uint16Array, beforeRun: () => void): Promise<void> {
  return sliced(binPlusOne.length, beforeRun, (from, end) => {
    for (let p = from; p < end; p++) counts[binPlusOne[p]]++;
  });
}

/** Calls `work` on [from, end) slices of [0, length) of about a millisecond each, letting other
 *  requests in between and, through `beforeRun`, what the user waits for run first: at 32K tokens
 *  one layer's hidden states are 8M values, a few hundred milliseconds of plain loops. */
async function sliced(length: number, beforeRun: () => void, work: (from: number, end: number) => void): Promise<void> {
  for (let from = 0; from < length; from += COUNT_SLICE) {
    beforeRun();
    work(from, Math.min(length, from + COUNT_SLICE));
    await new Promise(setImmediate);
  }
}

/** A histogram of |values| from its fine bins (bin + 1 over [0, top1]; 0 = entries left out, the
 *  hidden pairs of a logit map) and its largest entries, descending. */
function fineHistogram(top1: number, fine: Float64Array, top: Histogram['outliers']): Histogram {
  const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
  let total = 0;
  for (let b = 1; b < fine.length; b++) {
    counts[Math.floor((b - 1) / FINE_PER_BIN)] += fine[b];
    total += fine[b];
  }
  return {
    edges: edgesUpTo(top1),
    counts,
    top1,
    top10: top[Math.min(9, top.length - 1)]?.value ?? 0,
    median: fineMedian(fine, total, top1),
    outliers: top.slice(0, OUTLIERS_LISTED),
  };
}

/** The value of rank floor(total / 2) (0-based: the upper of two middle values), interpolated inside
 *  its fine bin [b, b + 1) * width: off by at most one bin width. */
function fineMedian(fine: Float64Array, total: number, absMax: number): number {
  if (total === 0) return 0;
  const width = absMax / (fine.length - 1);
  const rank = Math.floor(total / 2);
  let below = 0;
  for (let b = 1; b < fine.length; b++) {
    if (below + fine[b] > rank) return (b - 1 + (rank - below + 0.5) / fine[b]) * width;
    below += fine[b];
  }
  return absMax;
}

/** The quantisation what-if of every layer: the logits quantised absmax (one scale per layer,
 *  top level = the layer's top-1 |logit|) to each of QUANT_BITS. `absMax` per layer comes from the
 *  outlier statistics (the logit histograms' top-1). */
export async function computeQuantisation(
  analysis: RunAnalysis,
  graphs: AnalysisGraphs,
  absMax: readonly number[],
  beforeRun: () => void,
): Promise<LayerQuantisation[]> {
  const { T, nHead, nLayer } = analysis;
  const topLevels = QUANT_BITS.map(quantTopLevel);
  const buffers = headBuffers();
  const layers: LayerQuantisation[] = [];
  for (let layer = 0; layer < nLayer; layer++) {
    let squared = 0;
    const squaredError = new Float64Array(topLevels.length);
    const distance = new Float64Array(topLevels.length);
    // Every head in each run, block of rows by block: the sums are over pairs and rows, so they add.
    for (const block of absMax[layer] > 0 ? statisticsBlocks(analysis) : []) {
      beforeRun();
      const sums = await graphs.quantisation(headBlock(analysis, layer, block, buffers), analysis.config.attention_scale, absMax[layer], topLevels);
      squared += sums.squared;
      sums.squaredError.forEach((v, b) => (squaredError[b] += v));
      sums.distance.forEach((v, b) => (distance[b] += v));
    }
    layers.push({
      layer,
      errors: QUANT_BITS.map((bits, b) => ({
        bits,
        scale: absMax[layer] / topLevels[b],
        logitRelRmse: squared > 0 ? Math.sqrt(squaredError[b] / squared) : 0,
        attentionError: distance[b] / (nHead * T),
      })),
    });
  }
  return layers;
}

/** The blocks of query rows a statistics job runs: every sub-head of a layer in each. */
export function statisticsBlocks(analysis: RunAnalysis): Generator<RowBlock> {
  return rowBlocks(analysis.T, analysis.S, analysis.tileElements ?? STATISTICS_TILE_ELEMENTS);
}

/** Reusable arrays for a head block's A1 sub-heads (a standard model's heads) and A2 sub-heads. */
export type HeadBuffers = [BlockBuffers, BlockBuffers];
export const headBuffers = (): HeadBuffers => [new BlockBuffers(), new BlockBuffers()];

/** A block of every head of a layer as the per-head graphs take it: a differential head's A1 and A2
 *  sub-heads apart with λ [H, rows] (per head and row), a standard model's heads. */
export function headBlock(analysis: RunAnalysis, layer: number, block: RowBlock, buffers: HeadBuffers): HeadBlock {
  const heads = Array.from({ length: analysis.nHead }, (_, h) => h);
  if (!analysis.diff) return { heads: analysis.subHeadRows(layer, heads, block, { buffers: buffers[0] }) };
  const [a1, a2] = [false, true].map((second) => heads.map((h) => analysis.subHead(h, second)));
  return {
    a1: analysis.subHeadRows(layer, a1, block, { buffers: buffers[0] }),
    a2: analysis.subHeadRows(layer, a2, block, { buffers: buffers[1] }),
    lambda: Float32Array.from({ length: heads.length * block.rows }, (_, n) => analysis.lambda(layer, block.firstRow + (n % block.rows), Math.floor(n / block.rows))),
  };
}

function edgesUpTo(top1: number): number[] {
  return Array.from({ length: HISTOGRAM_BINS + 1 }, (_, b) => (top1 * b) / HISTOGRAM_BINS);
}

/** The log-count histogram of a layer's |hidden states| [T, E] with Table 5's statistics and the
 *  largest entries, in the logits' fine bins: two sliced passes, the largest values, then the bins. */
async function hiddenHistogram(values: Float32Array, E: number, beforeRun: () => void): Promise<Histogram> {
  const top: number[] = []; // indices of the largest magnitudes, descending
  await sliced(values.length, beforeRun, (from, end) => {
    for (let i = from; i < end; i++) {
      const magnitude = Math.abs(values[i]);
      if (top.length === TOP_KEPT && magnitude <= Math.abs(values[top[TOP_KEPT - 1]])) continue;
      if (top.length === TOP_KEPT) top.pop();
      let at = top.length;
      while (at > 0 && Math.abs(values[top[at - 1]]) < magnitude) at--;
      top.splice(at, 0, i);
    }
  });
  const top1 = top.length ? Math.abs(values[top[0]]) : 0;
  const bins = HISTOGRAM_BINS * FINE_PER_BIN;
  const perUnit = bins / (top1 || 1);
  const fine = new Float64Array(bins + 1);
  await sliced(values.length, beforeRun, (from, end) => {
    for (let i = from; i < end; i++) fine[Math.min(bins, Math.floor(Math.abs(values[i]) * perUnit) + 1)]++;
  });
  const listed = top.map((flat) => ({ value: Math.abs(values[flat]), token: Math.floor(flat / E), detail: `channel ${flat % E}` }));
  return fineHistogram(top1, fine, listed);
}
