// The small ONNX graphs (extension/graphs/, built by model/analysis_graphs.py) that compute what a
// view shows from one layer's queries and keys, when it is shown: a head's attention maps, the
// attention-logit statistics of the Outliers view, and the quantisation what-if. They hold no
// weights, so one set serves every package. Each run takes one block of query rows (rowBlocks) and
// the keys up to its last row, so no [S, T, T] tensor is ever held: memory is linear in T. ONNX
// Runtime runs a graph synchronously on the calling thread: the long ones (statistics,
// quantisation) run in a worker (statisticsClient.ts), and maps yield between blocks.

import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import blockSizing from '../../shared/attention.json';
import { openSession } from './runtime';

const GRAPH_FILES = {
  attentionMaps: 'attention_maps.onnx',
  attentionTile: 'attention_tile.onnx',
  logitTop: 'logit_top.onnx',
  logitBins: 'logit_bins.onnx',
  quantisationDiff: 'quantisation_diff.onnx',
  quantisationStandard: 'quantisation_standard.onnx',
  sinkSharesDiff: 'sink_shares_diff.onnx',
  sinkSharesStandard: 'sink_shares_standard.onnx',
} as const;
type GraphName = keyof typeof GRAPH_FILES;

/** A block of query rows [firstRow, firstRow + rows). */
export interface RowBlock {
  firstRow: number;
  rows: number;
}

/** Rows per block when each row takes `floatsPerRow` floats: clamp(floor(tileElements /
 *  floatsPerRow), min_rows, max_rows), shared/attention.json's rule (the graphs apply it too). */
export function rowsPerBlock(floatsPerRow: number, tileElements: number = blockSizing.tile_elements): number {
  return Math.min(blockSizing.max_rows, Math.max(blockSizing.min_rows, Math.floor(tileElements / floatsPerRow)));
}

/** The tile of the engine's views (a map's viewport; the thumbnails of a package without them):
 *  an eighth of tile_elements. The run's outputs are held meanwhile, and the arena and copies of
 *  whole tiles added about 300 MiB to the first map at 32K tokens; quarter tiles added about 120 (90
 *  once the engine process kept its freed memory mapped: engineClient.ts), eighths 71, 10% slower. */
export const VIEW_TILE_ELEMENTS = blockSizing.tile_elements / 8;

/** The blocks of rows [from, end) of a T-token run whose graph runs take `count` sub-heads: R rows
 *  each (the last one fewer), R = rowsPerBlock(count * T), so that a block's logits stay near
 *  tileElements floats at any T. */
export function* rowBlocks(T: number, count: number, tileElements: number = blockSizing.tile_elements, from = 0, end = T): Generator<RowBlock> {
  const rows = rowsPerBlock(count * T, tileElements);
  for (let firstRow = from; firstRow < end; firstRow += rows) yield { firstRow, rows: Math.min(rows, end - firstRow) };
}

/** Queries of a block of rows and a range of keys of some softmax sub-heads of one layer: q
 *  [count, rows, d], k [count, keys, d] (keys [firstKey, firstKey + keys), already one per query
 *  sub-head: grouped keys repeated). */
export interface SubHeadRows extends RowBlock {
  q: Float32Array;
  k: Float32Array;
  count: number;
  firstKey: number;
  keys: number;
  width: number;
}

export interface TopLogits {
  /** The largest |logits| of the block, descending, and their flat [count, rows, keys] indices
   *  (-inf for hidden pairs when the block has fewer visible ones). */
  values: Float32Array;
  indices: number[];
}

/** Every head of a layer for a block of rows: a differential head's A1 and A2 sub-heads apart, with
 *  λ [H, rows] per head and row; a standard model's heads. */
export type HeadBlock = { a1: SubHeadRows; a2: SubHeadRows; lambda: Float32Array } | { heads: SubHeadRows };

/** Per head, a block's sums over its query rows of what lands on key 0: of A1 (a standard model's
 *  A) and, for DIFF, of A2 and |A1 − λ·A2|, with |A1 − λ·A2| over every visible pair. */
export interface SinkSums {
  firstA1: Float32Array;
  firstA2?: Float32Array;
  firstDiff?: Float32Array;
  massDiff?: Float32Array;
}

export interface QuantisationSums {
  /** Sum of squared visible logits. */
  squared: number;
  /** Per bit width: sum of squared quantisation errors, and sum over (head, query) of the
   *  total-variation distance of the effective rows relative to their absolute mass. */
  squaredError: Float32Array;
  distance: Float32Array;
}

/** The folder of the graphs: extension/graphs/ of the extension (found upward from this file, which
 *  is bundled into dist/ or compiled into out/extension/core/). */
function graphsDir(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'extension', 'graphs');
    if (existsSync(path.join(candidate, GRAPH_FILES.attentionMaps))) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`extension/graphs/${GRAPH_FILES.attentionMaps} is missing above ${__dirname}; reinstall the extension`);
  }
}

const float = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);
const scalar = (value: number) => new ort.Tensor('float32', Float32Array.of(value), []);
const int64 = (value: number) => new ort.Tensor('int64', BigInt64Array.of(BigInt(value)), []);

export class AnalysisGraphs {
  private readonly sessions = new Map<GraphName, Promise<ort.InferenceSession>>();

  /** threads: ONNX Runtime's threads per run (its default, one a core, unless given). */
  constructor(private readonly threads?: number) {}

  private session(name: GraphName): Promise<ort.InferenceSession> {
    let session = this.sessions.get(name);
    if (!session) {
      session = openSession(path.join(graphsDir(), GRAPH_FILES[name]), 'cpu', {
        ...(this.threads ? { intraOpNumThreads: this.threads } : {}),
        // An arena without a memory pattern: runs reuse the arena's blocks (freed blocks of the
        // process's heap were not reused as well: +100 MB after a quantisation what-if).
        enableMemPattern: false,
        // Its threads sleep when idle rather than spin: they share two cores with the engine's own runs.
        extra: { session: { intra_op: { allow_spinning: '0' } } },
      });
      this.sessions.set(name, session);
    }
    return session;
  }

  /** The causal softmax rows [count, rows, keys] of a block (keys [0, firstRow + rows)) and
   *  each row's log-sum-exp [count, rows] of its visible scaled logits. */
  async attentionMaps(heads: SubHeadRows, scale: number): Promise<{ probs: Float32Array; lse: Float32Array }> {
    const out = await (await this.session('attentionMaps')).run(blockFeeds(heads, scale));
    return { probs: out.probs.data as Float32Array, lse: out.lse.data as Float32Array };
  }

  /** The attention [count, rows, keys] of a block's rows to its keys [firstKey, firstKey + keys)
   *  from the rows' log-sum-exp [count, rows] (attentionMaps'); 0 where a key lies after the row. */
  async attentionTile(heads: SubHeadRows, scale: number, lse: Float32Array): Promise<Float32Array> {
    const out = await (await this.session('attentionTile')).run({
      ...blockFeeds(heads, scale),
      first_key: int64(heads.firstKey),
      lse: float(lse, [heads.count, heads.rows]),
    });
    return out.probs.data as Float32Array;
  }

  /** The `top` largest visible |logits| of a block. */
  async logitTop(heads: SubHeadRows, scale: number, top: number): Promise<TopLogits> {
    const k = Math.min(top, heads.count * heads.rows * heads.keys);
    const out = await (await this.session('logitTop')).run({ ...blockFeeds(heads, scale), top: new ort.Tensor('int64', BigInt64Array.of(BigInt(k)), [1]) });
    return { values: out.top_values.data as Float32Array, indices: Array.from(out.top_indices.data as BigInt64Array, Number) };
  }

  /** Per pair of a block (sub-head-major, row-major) its bin + 1 among `bins` equal bins over
   *  [0, absMax]; 0 for pairs after the row. */
  async logitBins(heads: SubHeadRows, scale: number, absMax: number, bins: number): Promise<Uint16Array> {
    const out = await (await this.session('logitBins')).run({ ...blockFeeds(heads, scale), absmax: scalar(absMax), bins: scalar(bins) });
    return out.bin_plus_one.data as Uint16Array;
  }

  /** The quantisation sums of a block of a layer for each of `topLevels` (2^(bits-1) - 1 per bit
   *  width): DIFF takes the A1 and A2 sub-heads apart and lambda [H, rows]; a standard model its heads. */
  async quantisation(maps: HeadBlock, scale: number, absMax: number, topLevels: readonly number[]): Promise<QuantisationSums> {
    const common = { absmax: scalar(absMax), top_levels: float(Float32Array.from(topLevels), [topLevels.length]) };
    const out = await this.runPerHead(maps, scale, ['quantisationStandard', 'quantisationDiff'], common);
    return {
      squared: (out.squared_sum.data as Float32Array)[0],
      squaredError: out.squared_error.data as Float32Array,
      distance: out.distance.data as Float32Array,
    };
  }

  /** The attention-sink sums of a block of a layer (sinks.ts adds them up into shares). */
  async sinkSums(maps: HeadBlock, scale: number): Promise<SinkSums> {
    const out = await this.runPerHead(maps, scale, ['sinkSharesStandard', 'sinkSharesDiff']);
    const data = (name: string) => out[name].data as Float32Array;
    return 'heads' in maps ? { firstA1: data('first') } : { firstA1: data('first_a1'), firstA2: data('first_a2'), firstDiff: data('first_diff'), massDiff: data('mass_diff') };
  }

  /** Runs the standard model's or DIFF's graph of a per-head computation on a block. */
  private async runPerHead(maps: HeadBlock, scale: number, [standard, diff]: [GraphName, GraphName], extra: Record<string, ort.Tensor> = {}): Promise<ort.InferenceSession.OnnxValueMapType> {
    if ('heads' in maps) return (await this.session(standard)).run({ ...extra, ...blockFeeds(maps.heads, scale) });
    return (await this.session(diff)).run({
      ...extra,
      ...blockFeeds(maps.a1, scale, '1'),
      ...qk(maps.a2, '2'),
      lambda: float(maps.lambda, [maps.a1.count, maps.a1.rows]),
    });
  }
}

function qk(heads: SubHeadRows, suffix = ''): Record<string, ort.Tensor> {
  return { [`q${suffix}`]: float(heads.q, [heads.count, heads.rows, heads.width]), [`k${suffix}`]: float(heads.k, [heads.count, heads.keys, heads.width]) };
}

/** The inputs of every graph: a block's queries and keys, its first row and the attention scale. */
function blockFeeds(heads: SubHeadRows, scale: number, suffix = ''): Record<string, ort.Tensor> {
  return { ...qk(heads, suffix), first_row: int64(heads.firstRow), scale: scalar(scale) };
}
