// What the views show, computed from one run's outputs: attention rows and maps (A1, A2, lambda*A2
// and the signed A1 - lambda*A2), thumbnails and retrieved key spans. Nothing is computed before a
// view asks for it: a row is recomputed from q and k in O(T d) (docs/model-package.md), a map's
// viewport by the analysis graphs over blocks of query rows (memory linear in T), and the
// thumbnails come pooled from the inspection graph.

import { viewportCells, type KeySpan, type MapViewport } from '../../shared/inspection';
import { softmaxSubHeads, THUMBNAIL_SIZE, type MapView } from '../../shared/model';
import { rowBlocks, type AnalysisGraphs, type RowBlock, type SubHeadRows } from './analysisGraphs';
import type { PackageConfig } from './modelPackage';
import type { RunOutputs } from './runtime';

/** The run outputs the analyses read (the statistics worker gets only these). */
export type AnalysisInputs = Pick<RunOutputs, 'length' | 'q' | 'k' | 'hidden' | 'lambda' | 'thumbnails' | 'lambdaThumbnails'>;

/** The arrays a job's blocks of q and k are copied into, grown as needed and reused block after
 *  block: a statistics job copies hundreds of blocks, and new arrays for each (zero-filled, then
 *  collected) cost about as much as its logit_top graph runs (code-diff at 1,024 tokens). */
export class BlockBuffers {
  private q = new Float32Array(0);
  private k = new Float32Array(0);

  /** Views of the first qLength and kLength floats; the previous block's views are overwritten. */
  take(qLength: number, kLength: number): [Float32Array, Float32Array] {
    if (this.q.length < qLength) this.q = new Float32Array(qLength);
    if (this.k.length < kLength) this.k = new Float32Array(kLength);
    return [this.q.subarray(0, qLength), this.k.subarray(0, kLength)];
  }
}

/** Which keys subHeadRows copies, and where to. */
interface KeyRange {
  firstKey?: number;
  endKey?: number;
  buffers?: BlockBuffers;
}

export class RunAnalysis {
  readonly T: number;
  readonly nLayer: number;
  /** Heads with maps: differential heads (diff) or standard heads (baseline). */
  readonly nHead: number;
  readonly diff: boolean;
  /** Softmax sub-heads per layer. */
  readonly S: number;
  private readonly kvGroup: number;
  readonly d: number;
  /** Per layer and sub-head (key layer * S + s), each query row's log-sum-exp of its visible scaled
   *  logits, NaN until a block of the row has been computed whole: then attention_tile computes
   *  any keys of the row alone. */
  private readonly lse = new Map<number, Float32Array>();

  /** tileElements: the logits one graph run may hold, shared/attention.json's unless given. */
  constructor(
    readonly config: PackageConfig,
    readonly out: AnalysisInputs,
    private readonly graphs: AnalysisGraphs,
    readonly tileElements?: number,
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

  /** Softmax sub-head holding A1 (second = false) or A2 (second = true) of a head: (2h, 2h+1) in
   *  the paper's pairing, (h, h+H) in DiffLlama's ("halves"). */
  subHead(head: number, second: boolean): number {
    return this.diff ? softmaxSubHeads(this.config.pairing, this.nHead, head)[second ? 1 : 0] : head;
  }

  /** The listed sub-heads of a layer for a block of query rows: their queries of the block's rows
   *  and each one's keys [firstKey, endKey) (its key sub-head's: grouped-query keys repeated),
   *  by default the keys up to the block's last row. In `buffers` when given (valid until the next
   *  block taken from them), else in new arrays. */
  subHeadRows(layer: number, indices: readonly number[], { firstRow, rows }: RowBlock, { firstKey = 0, endKey = firstRow + rows, buffers }: KeyRange = {}): SubHeadRows {
    const { T, d } = this;
    const keys = endKey - firstKey;
    const [q, k] = buffers ? buffers.take(indices.length * rows * d, indices.length * keys * d) : [new Float32Array(indices.length * rows * d), new Float32Array(indices.length * keys * d)];
    const [layerQ, layerK] = [this.out.q[layer], this.out.k[layer]];
    indices.forEach((s, n) => {
      const qFrom = (s * T + firstRow) * d;
      const kFrom = (this.keySubHead(s) * T + firstKey) * d;
      q.set(layerQ.subarray(qFrom, qFrom + rows * d), n * rows * d);
      k.set(layerK.subarray(kFrom, kFrom + keys * d), n * keys * d);
    });
    return { q, k, count: indices.length, firstRow, rows, firstKey, keys, width: d };
  }

  /** The key sub-head (of a layer's S_kv) that query sub-head s uses. */
  private keySubHead(s: number): number {
    return Math.floor(s / this.kvGroup);
  }

  /** q_i . k_j * scale for softmax sub-head s (its key sub-head under grouped-query attention). */
  private attentionLogit(layer: number, s: number, i: number, j: number): number {
    const { T, d } = this;
    const [q, k] = [this.out.q[layer], this.out.k[layer]];
    const qBase = (s * T + i) * d;
    const kBase = (this.keySubHead(s) * T + j) * d;
    let dot = 0;
    for (let c = 0; c < d; c++) dot += q[qBase + c] * k[kBase + c];
    return dot * this.config.attention_scale;
  }

  /** One row (length T, zero past the query) of a softmax map of sub-head s, recomputed:
   *  softmax_j(q_i . k_j * scale) over j <= query. */
  softmaxRow(layer: number, s: number, query: number, into = new Float32Array(this.T)): Float32Array {
    for (let j = 0; j <= query; j++) into[j] = this.attentionLogit(layer, s, query, j);
    softmaxInPlace(into, query + 1);
    into.fill(0, query + 1);
    return into;
  }

  /** One row of the chosen view of a head's map. */
  row(layer: number, head: number, view: MapView, query: number): Float32Array {
    this.checkView(view);
    const a1 = view === 'a1' || view === 'diff' ? this.softmaxRow(layer, this.subHead(head, false), query) : undefined;
    if (view === 'a1') return a1!;
    const a2 = this.softmaxRow(layer, this.subHead(head, true), query);
    if (view === 'a2') return a2;
    const lam = this.lambda(layer, query, head);
    for (let j = 0; j <= query; j++) a2[j] = view === 'diff' ? a1![j] - lam * a2[j] : lam * a2[j];
    return a2;
  }

  /** A viewport of a view's map pooled to cells (shared/inspection.ts's MapViewport), computed by
   *  the graphs over blocks of its query rows, each reading only the viewport's keys up to its last
   *  row: memory O(block + cells) at any length. Between blocks it lets other requests in. */
  async pooledMap(layer: number, head: number, view: MapView, viewport: MapViewport): Promise<Float32Array> {
    this.checkView(view);
    const { firstRow, endRow, firstKey, endKey, pooling } = viewport;
    if (endRow > this.T || endKey > this.T) throw new RangeError(`a viewport of rows ${firstRow}..${endRow} and keys ${firstKey}..${endKey} lies outside this run's ${this.T} tokens`);
    const { rows, cols, cellOfRow, cellOfKey } = viewportCells(viewport);
    const keyCell = Int32Array.from({ length: endKey - firstKey }, (_, n) => cellOfKey(firstKey + n));
    const out = new Float32Array(rows * cols);
    // The view as w1 * P1 + w2 * P2 per entry, over the sub-heads it reads (one or two).
    const [a1, a2] = [this.subHead(head, false), this.subHead(head, true)];
    const subHeads = view === 'a1' ? [a1] : view === 'diff' ? [a1, a2] : [a2];
    const two = subHeads.length === 2;
    const mean = pooling === 'mean';
    for (const block of rowBlocks(this.T, subHeads.length, this.tileElements, firstRow, endRow)) {
      const blockEnd = block.firstRow + block.rows;
      if (firstKey >= blockEnd) continue; // the causal mask empties the block's part of the viewport
      const tile = await this.blockAttention(layer, subHeads, block, firstKey, Math.min(endKey, blockEnd));
      const second = block.rows * tile.keys; // where the second sub-head's rows start
      for (let r = 0; r < block.rows; r++) {
        const i = block.firstRow + r;
        const lam = view === 'a1' || view === 'a2' ? 0 : this.lambda(layer, i, head);
        const w1 = view === 'lambdaA2' ? lam : 1;
        const w2 = -lam;
        const cell = out.subarray(cellOfRow(i) * cols, (cellOfRow(i) + 1) * cols);
        const at = r * tile.keys - tile.firstKey; // key j of the first sub-head lies at probs[at + j]
        for (let j = firstKey, end = Math.min(i + 1, endKey); j < end; j++) {
          const value = two ? w1 * tile.probs[at + j] + w2 * tile.probs[second + at + j] : w1 * tile.probs[at + j];
          const c = keyCell[j - firstKey];
          if (mean) cell[c] += value;
          else if (Math.abs(value) > Math.abs(cell[c])) cell[c] = value;
        }
      }
      await new Promise(setImmediate);
    }
    if (mean) {
      const rowsIn = new Float64Array(rows);
      const keysIn = new Float64Array(cols);
      for (let i = firstRow; i < endRow; i++) rowsIn[cellOfRow(i)]++;
      keyCell.forEach((c) => keysIn[c]++);
      for (let p = 0; p < out.length; p++) out[p] /= rowsIn[Math.floor(p / cols)] * keysIn[p % cols];
    }
    return out;
  }

  /** The attention [count, rows, keys] of a block's rows to keys [firstKey, endKey) of the
   *  sub-heads: from the rows' cached log-sum-exp by attention_tile, or else the block's whole rows
   *  (keys from 0, their lse kept for the next viewport). */
  private async blockAttention(
    layer: number,
    subHeads: readonly number[],
    block: RowBlock,
    firstKey: number,
    endKey: number,
  ): Promise<{ probs: Float32Array; firstKey: number; keys: number }> {
    const lse = new Float32Array(subHeads.length * block.rows);
    subHeads.forEach((s, n) => lse.set(this.lseOf(layer, s).subarray(block.firstRow, block.firstRow + block.rows), n * block.rows));
    if (!lse.some(Number.isNaN)) {
      const probs = await this.graphs.attentionTile(this.subHeadRows(layer, subHeads, block, { firstKey, endKey }), this.config.attention_scale, lse);
      return { probs, firstKey, keys: endKey - firstKey };
    }
    return { probs: await this.blockMaps(layer, subHeads, block), firstKey: 0, keys: block.firstRow + block.rows };
  }

  /** The causal softmax rows [count, rows, firstRow + rows] of a block of the sub-heads (attention_maps),
   *  keeping each row's log-sum-exp. */
  private async blockMaps(layer: number, subHeads: readonly number[], block: RowBlock): Promise<Float32Array> {
    const { probs, lse } = await this.graphs.attentionMaps(this.subHeadRows(layer, subHeads, block), this.config.attention_scale);
    subHeads.forEach((s, n) => this.lseOf(layer, s).set(lse.subarray(n * block.rows, (n + 1) * block.rows), block.firstRow));
    return probs;
  }

  private lseOf(layer: number, s: number): Float32Array {
    const key = layer * this.S + s;
    let lse = this.lse.get(key);
    if (!lse) this.lse.set(key, (lse = new Float32Array(this.T).fill(NaN)));
    return lse;
  }

  /** size x size average-pooled thumbnails of every layer and head for one view, layer-major, from
   *  the graph's pooled softmax maps [L, S, size, size]. Pooling is linear, so lambda*A2 and
   *  A1 - lambda*A2 follow from the pooled A1 and A2 with V1's one lambda per layer. With a lambda per
   *  token (V2) the graph pools lambda*A2 itself (lambda_a2_thumbnails); without that output, each
   *  row of cells takes the mean lambda of the query rows pooled into it (exact while T <= size). */
  thumbnails(view: MapView, pooled: Float32Array, size: number): Float32Array {
    this.checkView(view);
    const cells = size * size;
    const out = new Float32Array(this.nLayer * this.nHead * cells);
    for (let layer = 0; layer < this.nLayer; layer++) {
      for (let head = 0; head < this.nHead; head++) {
        const at = (second: boolean) => (layer * this.S + this.subHead(head, second)) * cells;
        const a1 = pooled.subarray(at(false), at(false) + cells);
        const a2 = this.diff ? pooled.subarray(at(true), at(true) + cells) : a1;
        const lambdaOfRow = this.pooledLambda(layer, head, size);
        const pooledLambdaA2 = this.out.lambdaThumbnails?.subarray((layer * this.nHead + head) * cells, (layer * this.nHead + head + 1) * cells);
        const cell = out.subarray((layer * this.nHead + head) * cells, (layer * this.nHead + head + 1) * cells);
        for (let p = 0; p < cells; p++) {
          const lambdaA2 = pooledLambdaA2 ? pooledLambdaA2[p] : lambdaOfRow[Math.floor(p / size)] * a2[p];
          cell[p] = view === 'a1' ? a1[p] : view === 'a2' ? a2[p] : view === 'lambdaA2' ? lambdaA2 : a1[p] - lambdaA2;
        }
      }
    }
    return out;
  }

  /** lambda of a head per row of pooled cells: the mean over the query rows that fall into it
   *  (row i in cell row i * size div T, as the graph pools). */
  private pooledLambda(layer: number, head: number, size: number): Float64Array {
    const sums = new Float64Array(size);
    const counts = new Float64Array(size);
    for (let i = 0; i < this.T; i++) {
      const row = Math.floor((i * size) / this.T);
      sums[row] += this.lambda(layer, i, head);
      counts[row]++;
    }
    return sums.map((sum, row) => (counts[row] ? sum / counts[row] : 0));
  }

  /** The softmax maps of every layer and sub-head average-pooled to size x size, [L, S, size,
   *  size]: the graph's attn_thumbnails, or for packages exported before it, pooled here from
   *  each layer's blocks of rows (whose lse then serves zoomed viewports). */
  async pooledMaps(): Promise<{ pooled: Float32Array; size: number }> {
    const { T, S, nLayer } = this;
    if (this.out.thumbnails) return { pooled: this.out.thumbnails, size: Math.round(Math.sqrt(this.out.thumbnails.length / (nLayer * S))) };
    const size = THUMBNAIL_SIZE;
    const cells = size * size;
    const pooled = new Float32Array(nLayer * S * cells);
    const bin = Int32Array.from({ length: T }, (_, i) => Math.floor((i * size) / T));
    const members = new Float64Array(size);
    for (let i = 0; i < T; i++) members[bin[i]]++;
    const all = Array.from({ length: S }, (_, s) => s);
    for (let layer = 0; layer < nLayer; layer++) {
      for (const block of rowBlocks(T, S, this.tileElements)) {
        const probs = await this.blockMaps(layer, all, block);
        const keys = block.firstRow + block.rows;
        for (let s = 0; s < S; s++) {
          const cell = pooled.subarray((layer * S + s) * cells, (layer * S + s + 1) * cells);
          for (let r = 0; r < block.rows; r++) {
            const i = block.firstRow + r;
            const row = (s * block.rows + r) * keys;
            const cellRow = bin[i] * size;
            for (let j = 0; j <= i; j++) cell[cellRow + bin[j]] += probs[row + j];
          }
        }
      }
    }
    for (let p = 0; p < pooled.length; p++) pooled[p] /= Math.max(1, members[Math.floor((p % cells) / size)] * members[p % size]);
    return { pooled, size };
  }

  private checkView(view: MapView): void {
    if (!this.diff && view !== 'a1') throw new RangeError(`a baseline model has only A1 maps, not '${view}'`);
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
}

/** Softmax over values[0..length), in place. */
export function softmaxInPlace(values: Float32Array | Float64Array, length: number): void {
  let max = -Infinity;
  for (let j = 0; j < length; j++) if (values[j] > max) max = values[j];
  let sum = 0;
  for (let j = 0; j < length; j++) sum += values[j] = Math.exp(values[j] - max);
  for (let j = 0; j < length; j++) values[j] /= sum;
}
