// The small ONNX graphs (extension/graphs/, built by model/analysis_graphs.py) that compute what a
// view shows from one layer's queries and keys, when it is shown: a head's attention maps, the
// attention-logit statistics of the Outliers view, and the quantisation what-if. They hold no
// weights, so one set serves every package. ONNX Runtime runs a graph synchronously on the calling
// thread: the long ones (statistics, quantisation) run in a worker (statisticsThread.ts).

import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';

const GRAPH_FILES = {
  attentionMaps: 'attention_maps.onnx',
  logitTop: 'logit_top.onnx',
  logitBins: 'logit_bins.onnx',
  quantisationDiff: 'quantisation_diff.onnx',
  quantisationStandard: 'quantisation_standard.onnx',
} as const;
type GraphName = keyof typeof GRAPH_FILES;

/** Queries and keys of some softmax sub-heads of one layer: [S, T, d] each, keys already one per
 *  query sub-head (grouped keys repeated). */
export interface SubHeads {
  q: Float32Array;
  k: Float32Array;
  count: number;
  length: number;
  width: number;
}

export interface TopLogits {
  /** The largest visible |logits|, descending, and their flat [S, T, T] indices. */
  values: Float32Array;
  indices: number[];
}

export interface QuantisationSums {
  /** Sum of squared visible logits. */
  squared: number;
  /** Per bit width: sum of squared quantisation errors, and sum over (head, query) of the
   *  total-variation distance of the effective rows (DIFF's divided by |1 - lambda|). */
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

export class AnalysisGraphs {
  private readonly sessions = new Map<GraphName, Promise<ort.InferenceSession>>();

  private session(name: GraphName): Promise<ort.InferenceSession> {
    let session = this.sessions.get(name);
    if (!session) {
      session = ort.InferenceSession.create(path.join(graphsDir(), GRAPH_FILES[name]), {
        executionProviders: ['cpu'],
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

  /** The causal softmax maps [S, T, T] of the sub-heads. */
  async attentionMaps(heads: SubHeads, scale: number): Promise<Float32Array> {
    const out = await (await this.session('attentionMaps')).run({ ...qk(heads), scale: scalar(scale) });
    return out.probs.data as Float32Array;
  }

  /** The `top` largest visible |logits| of the sub-heads. */
  async logitTop(heads: SubHeads, scale: number, top: number): Promise<TopLogits> {
    const k = Math.min(top, heads.count * heads.length * heads.length);
    const out = await (await this.session('logitTop')).run({ ...qk(heads), scale: scalar(scale), top: new ort.Tensor('int64', BigInt64Array.of(BigInt(k)), [1]) });
    return { values: out.top_values.data as Float32Array, indices: Array.from(out.top_indices.data as BigInt64Array, Number) };
  }

  /** Per pair of the sub-heads (sub-head-major, row-major) its bin + 1 among `bins` equal bins
   *  over [0, absMax]; 0 for pairs above the diagonal. */
  async logitBins(heads: SubHeads, scale: number, absMax: number, bins: number): Promise<Uint16Array> {
    const out = await (await this.session('logitBins')).run({ ...qk(heads), scale: scalar(scale), absmax: scalar(absMax), bins: scalar(bins) });
    return out.bin_plus_one.data as Uint16Array;
  }

  /** The quantisation sums of a layer for each of `topLevels` (2^(bits-1) - 1 per bit width):
   *  DIFF takes the A1 and A2 sub-heads apart and lambda [H, T]; a standard model its heads. */
  async quantisation(
    maps: { a1: SubHeads; a2: SubHeads; lambda: Float32Array } | { heads: SubHeads },
    scale: number,
    absMax: number,
    topLevels: readonly number[],
  ): Promise<QuantisationSums> {
    const common = { scale: scalar(scale), absmax: scalar(absMax), top_levels: float(Float32Array.from(topLevels), [topLevels.length]) };
    const out =
      'heads' in maps
        ? await (await this.session('quantisationStandard')).run({ ...common, ...qk(maps.heads) })
        : await (await this.session('quantisationDiff')).run({
            ...common,
            ...qk(maps.a1, '1'),
            ...qk(maps.a2, '2'),
            lambda: float(maps.lambda, [maps.a1.count, maps.a1.length]),
          });
    return {
      squared: (out.squared_sum.data as Float32Array)[0],
      squaredError: out.squared_error.data as Float32Array,
      distance: out.distance.data as Float32Array,
    };
  }
}

function qk(heads: SubHeads, suffix = ''): Record<string, ort.Tensor> {
  const dims = [heads.count, heads.length, heads.width];
  return { [`q${suffix}`]: float(heads.q, dims), [`k${suffix}`]: float(heads.k, dims) };
}
