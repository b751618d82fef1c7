// What the views show, computed from one run's outputs: attention maps (A1, A2, lambda*A2 and the
// signed A1 - lambda*A2), thumbnails, retrieved key spans, and activation-outlier histograms with
// the paper's Table 5 statistics. Maps come from the graph's T x T outputs when the package has
// them and are otherwise recomputed row by row from q and k (docs/model-package.md).

import { quickselect } from 'd3-array';
import type { Histogram, KeySpan, LayerOutliers, QuantisationError } from '../../shared/inspection';
import { QUANT_BITS, quantTopLevel, type MapView, type QuantBits } from '../../shared/model';
import type { PackageConfig } from './modelPackage';
import type { RunOutputs } from './runtime';

const HISTOGRAM_BINS = 40;
const OUTLIERS_LISTED = 5;

export class RunAnalysis {
  readonly T: number;
  readonly nLayer: number;
  /** Heads with maps: differential heads (diff) or standard heads (baseline). */
  readonly nHead: number;
  private readonly diff: boolean;
  private readonly S: number;
  private readonly kvGroup: number;
  private readonly d: number;

  constructor(
    readonly config: PackageConfig,
    readonly out: RunOutputs,
  ) {
    this.T = out.length;
    this.nLayer = config.n_layer;
    this.nHead = config.n_head;
    this.diff = config.kind === 'diff';
    this.S = config.n_softmax_heads;
    this.kvGroup = config.n_softmax_heads / config.n_kv_softmax_heads;
    this.d = config.head_dim;
  }

  /** lambda of a layer for a query position and head (one value per layer in V1 models). */
  lambda(layer: number, query = 0, head = 0): number {
    if (!this.out.lambda) return 0;
    return this.out.lambda[(layer * this.T + query) * this.nHead + head];
  }

  /** Softmax sub-head holding A1 (second = false) or A2 (second = true) of a head. */
  private subHead(head: number, second: boolean): number {
    return this.diff ? 2 * head + (second ? 1 : 0) : head;
  }

  /** q_i . k_j * scale for softmax sub-head s (its key sub-head under grouped-query attention). */
  private attentionLogit(layer: number, s: number, i: number, j: number): number {
    const { T, S, d } = this;
    const qBase = ((layer * S + s) * T + i) * d;
    const kBase = ((layer * (S / this.kvGroup) + Math.floor(s / this.kvGroup)) * T + j) * d;
    let dot = 0;
    for (let c = 0; c < d; c++) dot += this.out.q[qBase + c] * this.out.k[kBase + c];
    return dot * this.config.attention_scale;
  }

  /** One row (length T, zero past the query) of a softmax map of sub-head s. */
  softmaxRow(layer: number, s: number, query: number, into = new Float32Array(this.T)): Float32Array {
    const { T } = this;
    const graphMap = s % 2 === 1 && this.diff ? this.out.a2 : this.out.a1;
    if (graphMap) {
      const mapIndex = this.diff ? s >> 1 : s;
      const base = ((layer * this.nHead + mapIndex) * T + query) * T;
      into.set(graphMap.subarray(base, base + T));
      return into;
    }
    // Recompute: softmax_j(q_i . k_j * scale) over j <= query.
    for (let j = 0; j <= query; j++) into[j] = this.attentionLogit(layer, s, query, j);
    softmaxInPlace(into, query + 1);
    into.fill(0, query + 1);
    return into;
  }

  /** One row of the chosen view of a head's map. */
  row(layer: number, head: number, view: MapView, query: number): Float32Array {
    if (!this.diff && view !== 'a1') throw new RangeError(`a baseline model has only A1 maps, not '${view}'`);
    const a1 = view === 'a1' || view === 'diff' ? this.softmaxRow(layer, this.subHead(head, false), query) : undefined;
    if (view === 'a1') return a1!;
    const a2 = this.softmaxRow(layer, this.subHead(head, true), query);
    if (view === 'a2') return a2;
    const lam = this.lambda(layer, query, head);
    for (let j = 0; j <= query; j++) a2[j] = view === 'diff' ? a1![j] - lam * a2[j] : lam * a2[j];
    return a2;
  }

  /** The whole T x T map of a view, row = query, column = key. */
  map(layer: number, head: number, view: MapView): Float32Array {
    const out = new Float32Array(this.T * this.T);
    for (let i = 0; i < this.T; i++) out.set(this.row(layer, head, view, i), i * this.T);
    return out;
  }

  /** Average-pooled size x size thumbnails of every layer and head, layer-major. */
  thumbnails(view: MapView, size: number): Float32Array {
    const out = new Float32Array(this.nLayer * this.nHead * size * size);
    const hits = new Float32Array(size * size);
    for (let layer = 0; layer < this.nLayer; layer++) {
      for (let head = 0; head < this.nHead; head++) {
        const cell = out.subarray((layer * this.nHead + head) * size * size, (layer * this.nHead + head + 1) * size * size);
        hits.fill(0);
        for (let i = 0; i < this.T; i++) {
          const row = this.row(layer, head, view, i);
          const y = Math.floor((i * size) / this.T);
          for (let j = 0; j < this.T; j++) {
            const x = Math.floor((j * size) / this.T);
            cell[y * size + x] += row[j];
            hits[y * size + x] += 1;
          }
        }
        for (let p = 0; p < cell.length; p++) if (hits[p] > 0) cell[p] /= hits[p];
      }
    }
    return out;
  }

  /** The attention a query pays to each key: A1 - lambda*A2 for DIFF, A for a baseline;
   *  `head` undefined = mean over the layer's heads. */
  effectiveRow(layer: number, head: number | undefined, query: number): Float32Array {
    const view: MapView = this.diff ? 'diff' : 'a1';
    if (head !== undefined) return this.row(layer, head, view, query);
    const mean = new Float32Array(this.T);
    for (let h = 0; h < this.nHead; h++) {
      const row = this.row(layer, h, view, query);
      for (let j = 0; j <= query; j++) mean[j] += row[j] / this.nHead;
    }
    return mean;
  }

  /** The top-k attended keys of a query (BOS excluded: it has no text), adjacent ones merged into
   *  spans, highest total score first. tokenText gives each token's text. */
  keySpans(layer: number, head: number | undefined, query: number, k: number, tokenText: (i: number) => string): KeySpan[] {
    const row = this.effectiveRow(layer, head, query);
    const keys = Array.from({ length: query }, (_, j) => j + 1)
      .filter((j) => row[j] > 0)
      .sort((a, b) => row[b] - row[a])
      .slice(0, k)
      .sort((a, b) => a - b);
    const spans: KeySpan[] = [];
    for (const j of keys) {
      const last = spans[spans.length - 1];
      if (last && last.endToken === j) {
        last.endToken = j + 1;
        last.score += row[j];
        last.text += tokenText(j);
      } else {
        spans.push({ firstToken: j, endToken: j + 1, score: row[j], text: tokenText(j) });
      }
    }
    return spans.sort((a, b) => b.score - a.score);
  }

  /** Per layer: histograms of |hidden state| and of |attention logits| = |q k^T| * scale over all
   *  causal pairs and softmax sub-heads, with top-1, top-10 and median (Table 5), and the error of
   *  quantising those logits to each of QUANT_BITS (Figure 8). */
  outliers(): LayerOutliers[] {
    const { T, S } = this;
    const E = this.config.n_embd;
    const layers: LayerOutliers[] = [];
    for (let layer = 0; layer < this.nLayer; layer++) {
      const hidden = this.out.hidden.subarray(layer * T * E, (layer + 1) * T * E);
      const hiddenHist = histogram(hidden, (flat) => {
        const token = Math.floor(flat / E);
        return { token, detail: `channel ${flat % E}` };
      });
      // Signed (the histogram takes |value|), and kept for the quantisation errors so that they
      // do not compute every q·k again.
      const logits = new Float32Array((S * T * (T + 1)) / 2);
      let n = 0;
      for (let s = 0; s < S; s++) {
        for (let i = 0; i < T; i++) {
          for (let j = 0; j <= i; j++) logits[n++] = this.attentionLogit(layer, s, i, j);
        }
      }
      const logitHist = histogram(logits, (flat) => {
        const perHead = (T * (T + 1)) / 2;
        const s = Math.floor(flat / perHead);
        const { i, j } = triangleIndex(flat % perHead);
        return { token: i, detail: `sub-head ${s}, key ${j}` };
      });
      layers.push({ layer, hidden: hiddenHist, logits: logitHist, quantisation: this.quantisationErrors(layer, logits, logitHist.top1) });
    }
    return layers;
  }

  /** The error of quantising a layer's attention logits (every sub-head's causal lower triangle,
   *  row-major, as outliers() collects them) to each of QUANT_BITS, absmax with one scale for the
   *  whole layer (absMax = its top-1 |logit|), as model/evaluate.py's quantise_absmax (whose
   *  absmax also covers the masked future logits; here only those that reach a softmax). Each
   *  effective row (A1 - lambda*A2, or A) is compared with the one from the exact logits, both
   *  softmaxed in float64 from the same stored logits, so nothing but the quantisation differs. */
  private quantisationErrors(layer: number, logits: Float32Array, absMax: number): QuantisationError[] {
    const { T } = this;
    const perSubHead = (T * (T + 1)) / 2;
    const subHeads = this.diff ? 2 : 1;
    const grids = QUANT_BITS.map((bits) => new QuantisationGrid(bits, absMax));
    const exact = Array.from({ length: subHeads }, () => new Float64Array(T));
    const quantised = Array.from({ length: subHeads }, () => new Float64Array(T));
    const reference = new Float64Array(T);
    const starts = new Array<number>(subHeads);
    const squaredError = new Float64Array(grids.length);
    const distance = new Float64Array(grids.length);
    let squared = 0;
    for (let head = 0; head < this.nHead; head++) {
      for (let i = 0; i < T; i++) {
        const lam = this.lambda(layer, i, head);
        const effective = (rows: Float64Array[], j: number) => (this.diff ? rows[0][j] - lam * rows[1][j] : rows[0][j]);
        for (let sub = 0; sub < subHeads; sub++) {
          starts[sub] = this.subHead(head, sub === 1) * perSubHead + (i * (i + 1)) / 2;
          for (let j = 0; j <= i; j++) squared += (exact[sub][j] = logits[starts[sub] + j]) ** 2;
          softmaxInPlace(exact[sub], i + 1);
        }
        for (let j = 0; j <= i; j++) reference[j] = effective(exact, j);
        // DIFF's rows sum to 1 - lambda: normalised to sum 1 like the baseline's (as the evaluation's shares).
        const normaliser = this.diff ? Math.abs(1 - lam) : 1;
        for (let b = 0; b < grids.length; b++) {
          for (let sub = 0; sub < subHeads; sub++) squaredError[b] += grids[b].softmax(logits, starts[sub], i + 1, quantised[sub]);
          let rowDistance = 0;
          for (let j = 0; j <= i; j++) rowDistance += Math.abs(effective(quantised, j) - reference[j]);
          distance[b] += (0.5 * rowDistance) / normaliser;
        }
      }
    }
    return grids.map(({ bits, scale }, b) => ({
      bits,
      scale,
      logitRelRmse: squared > 0 ? Math.sqrt(squaredError[b] / squared) : 0,
      attentionError: distance[b] / (this.nHead * T),
    }));
  }
}

/** Absmax quantisation to signed `bits`-bit integers: the levels k * scale, |k| <= top, with
 *  scale = absMax / top. */
class QuantisationGrid {
  readonly scale: number;
  private readonly top: number;
  /** exp(-m * scale) for m = 0..2 * top: a quantised row's softmax needs no Math.exp. */
  private readonly expDown: Float64Array;

  constructor(
    readonly bits: QuantBits,
    absMax: number,
  ) {
    this.top = quantTopLevel(bits);
    this.scale = absMax / this.top;
    this.expDown = Float64Array.from({ length: 2 * this.top + 1 }, (_, m) => Math.exp(-m * this.scale));
  }

  /** Softmax of values[from..from+length) quantised, into `into`; returns the sum of squared
   *  quantisation errors of those values. */
  softmax(values: Float32Array, from: number, length: number, into: Float64Array): number {
    const { scale, top, expDown } = this;
    let squaredError = 0;
    let highest = -top;
    for (let j = 0; j < length; j++) {
      const x = values[from + j];
      // All-zero logits (scale 0) stay at level 0.
      const level = scale > 0 ? Math.max(-top, Math.min(top, Math.round(x / scale))) : 0;
      squaredError += (level * scale - x) ** 2;
      into[j] = level;
      if (level > highest) highest = level;
    }
    let sum = 0;
    for (let j = 0; j < length; j++) sum += into[j] = expDown[highest - into[j]];
    for (let j = 0; j < length; j++) into[j] /= sum;
    return squaredError;
  }
}

/** Softmax over values[0..length), in place. */
function softmaxInPlace(values: Float32Array | Float64Array, length: number): void {
  let max = -Infinity;
  for (let j = 0; j < length; j++) if (values[j] > max) max = values[j];
  let sum = 0;
  for (let j = 0; j < length; j++) sum += values[j] = Math.exp(values[j] - max);
  for (let j = 0; j < length; j++) values[j] /= sum;
}

/** (query i, key j) of the n-th entry of a row-major lower triangle including the diagonal. */
function triangleIndex(n: number): { i: number; j: number } {
  const i = Math.floor((Math.sqrt(8 * n + 1) - 1) / 2);
  return { i, j: n - (i * (i + 1)) / 2 };
}

/** Log-count histogram over |values| with Table 5's statistics and the largest entries. */
function histogram(values: Float32Array, locate: (flatIndex: number) => { token: number; detail: string }): Histogram {
  // Plain indexed loops: Float32Array.from(values, Math.abs) and for-of were 10x slower on the
  // millions of logits of a 1,024-token run.
  const magnitudes = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) magnitudes[i] = Math.abs(values[i]);
  const top: number[] = []; // indices of the largest magnitudes, descending
  const keep = Math.max(10, OUTLIERS_LISTED);
  for (let i = 0; i < magnitudes.length; i++) {
    if (top.length === keep && magnitudes[i] <= magnitudes[top[keep - 1]]) continue;
    if (top.length === keep) top.pop();
    let at = top.length;
    while (at > 0 && magnitudes[top[at - 1]] < magnitudes[i]) at--;
    top.splice(at, 0, i);
  }
  const top1 = magnitudes[top[0]] ?? 0;
  const top10 = magnitudes[top[Math.min(9, top.length - 1)]] ?? 0;
  const edges = Array.from({ length: HISTOGRAM_BINS + 1 }, (_, b) => (top1 * b) / HISTOGRAM_BINS);
  const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
  for (let i = 0; i < magnitudes.length; i++) counts[Math.min(HISTOGRAM_BINS - 1, Math.floor((magnitudes[i] / (top1 || 1)) * HISTOGRAM_BINS))]++;
  const middle = magnitudes.length >> 1;
  quickselect(magnitudes, middle);
  return {
    edges,
    counts,
    top1,
    top10,
    median: magnitudes[middle] ?? 0,
    outliers: top.slice(0, OUTLIERS_LISTED).map((flat) => ({ value: Math.abs(values[flat]), ...locate(flat) })),
  };
}
