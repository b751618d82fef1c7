// Contributions to one prediction (shared/explain.ts): the package's contributions.onnx graph gets
// the run's hidden states, the query's attention rows (recomputed here from q and k, O(T d) each)
// and λ at the query, and returns every head's part per source token and each layer's change of the
// target's logit; the MLP's part is the change its heads leave. Nothing held grows with T².

import * as ort from 'onnxruntime-node';
import { componentName, type ExplainOptions, type ExplainPart, type Explanation, type SourceParts } from '../../shared/explain';
import type { Interventions } from '../../shared/model';
import type { RunAnalysis } from './analysis';
import { ContributionsUnavailableError } from './errors';
import type { ModelPackage } from './modelPackage';
import { joinLayers, openWeightsGraph, type RunOutputs } from './runtime';

/** What the contributions read of a run. */
export interface ContributionsRun {
  ids: readonly number[];
  out: RunOutputs;
  analysis: RunAnalysis;
  interventions: Interventions;
}

/** What the graph reads the residual stream along: Σ weights_i × the readout of targets_i (through
 *  the final norm, its scale at the query held), plus `direction` (any residual-stream direction). */
interface Reading {
  targets: number[];
  weights: number[];
  direction: Float32Array;
}

/** The graph's answer for one query and target. */
interface Decomposition extends GraphParts {
  target: number;
  versus: number | null;
}

/** The graph's outputs for one query, read along one direction. */
export interface GraphParts {
  /** [L, H, T] each; sourceA2 all zeros for a softmax-only model. */
  sourceA1: Float32Array;
  sourceA2: Float32Array;
  layerDelta: Float32Array;
  /** [L]: the part of each layer's attention output bias, for a model that has one. */
  outputBias: Float32Array | undefined;
  embed: number;
  logit: number;
  finalScale: number;
  /** [E]: the direction read along, u. */
  readout: Float32Array;
}

export class Contributions {
  private session: Promise<ort.InferenceSession> | undefined;
  /** Each run's last decomposition, so that a head's sources after its explanation cost no second
   *  graph run; weakly held, so that a replaced run's outputs are not kept for it. */
  private readonly last = new WeakMap<ContributionsRun, { key: string; result: Promise<Decomposition> }>();

  constructor(private readonly pkg: ModelPackage) {}

  async explain(run: ContributionsRun, query: number, options: ExplainOptions, tokenText: (id: number) => string): Promise<Explanation> {
    const d = await this.decompose(run, query, options);
    const { n_layer: L, kind } = this.pkg.config;
    const H = run.analysis.nHead;
    const T = run.ids.length;
    const parts: ExplainPart[] = [{ component: 'embed', kind: 'embed', layer: null, head: null, total: d.embed }];
    for (let layer = 0; layer < L; layer++) {
      let heads = 0;
      for (let head = 0; head < H; head++) {
        const from = (layer * H + head) * T;
        const a1 = sum(d.sourceA1, from, from + T);
        const a2 = sum(d.sourceA2, from, from + T);
        heads += a1 + a2;
        parts.push({ component: componentName(layer, head), kind: 'head', layer, head, total: a1 + a2, a1, ...(kind === 'diff' && { a2 }) });
      }
      parts.push({ component: componentName(layer, 'mlp'), kind: 'mlp', layer, head: null, total: d.layerDelta[layer] - heads - (d.outputBias?.[layer] ?? 0) });
    }
    if (d.outputBias) parts.push({ component: 'constant', kind: 'constant', layer: null, head: null, total: sum(d.outputBias, 0, L) });
    const token = (id: number) => ({ id, text: tokenText(id) });
    return { query, target: token(d.target), versus: d.versus === null ? null : token(d.versus), logit: d.logit, finalScale: d.finalScale, parts };
  }

  async sources(run: ContributionsRun, query: number, options: ExplainOptions, layer: number, head: number): Promise<SourceParts> {
    const H = run.analysis.nHead;
    if (!(layer >= 0 && layer < this.pkg.config.n_layer && head >= 0 && head < H)) {
      throw new RangeError(`no head ${head} in layer ${layer}: the model has ${this.pkg.config.n_layer} layers of ${H} heads`);
    }
    const d = await this.decompose(run, query, options);
    const T = run.ids.length;
    const from = (layer * H + head) * T;
    return { layer, head, a1: d.sourceA1.slice(from, from + T), a2: d.sourceA2.slice(from, from + T) };
  }

  /** The direction explain reads the residual stream after the last layer along at a query: the
   *  target's readout (minus the versus token's) through the final norm, its scale held. */
  async readout(run: ContributionsRun, query: number, options: ExplainOptions): Promise<Float32Array> {
    return (await this.decompose(run, query, options)).readout;
  }

  /** Every head's parts per source token, and the embedding's, of `query`'s residual stream read
   *  along any residual-stream `direction` instead of a target's readout (the flow of information
   *  reads each node along its own). */
  along(run: ContributionsRun, query: number, direction: Float32Array): Promise<GraphParts> {
    checkQuery(run, query);
    return this.runGraph(run, query, { targets: [0], weights: [0], direction });
  }

  private decompose(run: ContributionsRun, query: number, options: ExplainOptions): Promise<Decomposition> {
    const { config } = this.pkg;
    checkQuery(run, query);
    const target = options.target ?? run.out.topIds[query * config.top_k];
    const versus = options.versus ?? null;
    for (const id of versus === null ? [target] : [target, versus]) {
      if (!Number.isInteger(id) || id < 0 || id >= config.vocab_size) throw new RangeError(`token id ${id} is outside the vocabulary (0..${config.vocab_size - 1})`);
    }
    const key = `${query} ${target} ${versus}`;
    const last = this.last.get(run);
    if (last?.key === key) return last.result;
    const targets = versus === null ? [target] : [target, versus];
    const reading = { targets, weights: [1, -1].slice(0, targets.length), direction: new Float32Array(config.n_embd) };
    const result = this.runGraph(run, query, reading).then((parts) => ({ ...parts, target, versus }));
    this.last.set(run, { key, result });
    result.catch(() => {
      if (this.last.get(run)?.result === result) this.last.delete(run);
    });
    return result;
  }

  private async runGraph(run: ContributionsRun, query: number, { targets, weights, direction }: Reading): Promise<GraphParts> {
    const session = await (this.session ??= this.open());
    const { n_layer: L, n_embd: E, kind } = this.pkg.config;
    const { analysis } = run;
    const H = analysis.nHead;
    const T = run.ids.length;
    const diff = kind === 'diff';
    const maps = diff ? 2 : 1;
    // The query's attention rows [L, H, maps, T] and λ there [L, H]: linear in T.
    const rows = new Float32Array(L * H * maps * T);
    const lambda = new Float32Array(L * H);
    for (let layer = 0; layer < L; layer++) {
      for (let head = 0; head < H; head++) {
        for (let m = 0; m < maps; m++) analysis.softmaxRow(layer, analysis.subHead(head, m === 1), query, rows.subarray(((layer * H + head) * maps + m) * T, ((layer * H + head) * maps + m + 1) * T));
        lambda[layer * H + head] = analysis.lambda(layer, query, head);
      }
    }
    const feeds: Record<string, ort.Tensor> = {
      // The graph takes every layer's hidden states as one input: a copy while it runs.
      hidden: new ort.Tensor('float32', joinLayers(run.out.hidden), [L, T, E]),
      input_ids: new ort.Tensor('int64', BigInt64Array.from(run.ids, BigInt), [T]),
      query: new ort.Tensor('int64', BigInt64Array.of(BigInt(query)), [1]),
      rows: new ort.Tensor('float32', rows, [L, H, maps, T]),
      head_mask: new ort.Tensor('float32', run.interventions.head_mask ?? new Float32Array(L * H).fill(1), [L, H]),
      targets: new ort.Tensor('int64', BigInt64Array.from(targets, BigInt), [targets.length]),
      target_weights: new ort.Tensor('float32', Float32Array.from(weights), [weights.length]),
      direction: new ort.Tensor('float32', direction, [E]),
      ...(diff && { lambda: new ort.Tensor('float32', lambda, [L, H]) }),
    };
    const out = await session.run(feeds);
    const scalar = (name: string) => (out[name].data as Float32Array)[0];
    return {
      sourceA1: out.source_a1.data as Float32Array,
      sourceA2: diff ? (out.source_a2.data as Float32Array) : new Float32Array(L * H * T),
      layerDelta: out.layer_delta.data as Float32Array,
      outputBias: out.output_bias?.data as Float32Array | undefined,
      embed: scalar('embed'),
      logit: scalar('logit'),
      finalScale: scalar('final_scale'),
      readout: out.readout.data as Float32Array,
    };
  }

  private open(): Promise<ort.InferenceSession> {
    const { contributionsPath } = this.pkg;
    if (!contributionsPath) {
      return Promise.reject(new ContributionsUnavailableError(`${this.pkg.dir} has no contributions.onnx (packages exported or imported before contributions to a prediction); export or import the package again`));
    }
    return openWeightsGraph(contributionsPath, this.pkg.config);
  }
}

function checkQuery(run: ContributionsRun, query: number): void {
  const T = run.ids.length;
  if (!Number.isInteger(query) || query < 0 || query >= T) throw new RangeError(`the query is token ${query}; this run has tokens 0..${T - 1}`);
}

/** Sum of values[from, to) in double precision. */
function sum(values: Float32Array, from: number, to: number): number {
  let total = 0;
  for (let i = from; i < to; i++) total += values[i];
  return total;
}
