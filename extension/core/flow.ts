// Traces the flow of information for one prediction (shared/flow.ts defines the graph and its
// weights): from the prediction node down to the embeddings, layer by layer, keeping the edges
// whose |weight| reaches the threshold and expanding only their sources, at most `nodesPerLayer`
// of them (the strongest) per layer. Each expansion is one run of the contributions graph for one
// (layer, token, direction), whose output is one value per head and source token, so memory stays
// linear in T. The weight is a signed projection rather than a proximity measure (Ferrando & Voita
// 2024 use one): a projection is linear in the contribution, so A1's part and the cancelled −λ·A2
// part stay separable and add up to the edge's weight.

import type { ExplainOptions } from '../../shared/explain';
import { edgeWeight, FLOW_NODES_PER_LAYER, type FlowEdge, type FlowGraph, type FlowNode } from '../../shared/flow';
import type { Contributions, ContributionsRun } from './contributions';
import { SupersededError } from './errors';

/** What to trace: the prediction's target (and versus token) as explain takes them, the threshold
 *  and the cap on nodes per layer (FLOW_NODES_PER_LAYER unless given). */
export interface FlowOptions extends ExplainOptions {
  threshold: number;
  nodesPerLayer?: number;
}

/** Engine.flow's tracer: each trace reads a run through the contributions graph, and a newer trace
 *  stops an older one before its next graph run. */
export class FlowTracer {
  private latest = 0;

  constructor(private readonly contributions: Contributions) {}

  async trace(run: ContributionsRun, query: number, options: FlowOptions): Promise<FlowGraph> {
    const request = ++this.latest;
    const beforeRun = () => {
      if (request !== this.latest) throw new SupersededError('a newer flow request replaced this one');
    };
    beforeRun();
    const readout = await this.contributions.readout(run, query, options);
    return traceFlow(runSource(this.contributions, run), query, readout, { threshold: options.threshold, nodesPerLayer: options.nodesPerLayer ?? FLOW_NODES_PER_LAYER, beforeRun });
  }
}

/** A run's residual stream (its hidden states [L, T, E]) and its parts along any direction. */
function runSource(contributions: Contributions, run: ContributionsRun): FlowSource {
  const { analysis, out } = run;
  const { nHead, T } = analysis;
  const E = out.hidden[0].length / T;
  const residual = (layer: number, token: number) => out.hidden[layer].subarray(token * E, (token + 1) * E);
  return {
    nLayer: analysis.nLayer,
    nHead,
    residual,
    async contributions(layer, token, direction) {
      const parts = await contributions.along(run, token, direction);
      const layerParts = (all: Float32Array) => all.subarray(layer * nHead * T, (layer + 1) * nHead * T);
      return {
        a1: layerParts(parts.sourceA1),
        a2: analysis.diff ? layerParts(parts.sourceA2) : null,
        below: layer === 0 ? parts.embed : dot(residual(layer - 1, token), direction),
      };
    },
  };
}

/** One layer's parts of one position's residual stream read along a direction: per head and
 *  source token, A1's (a1) and the cancelled −λ·A2's (a2; null for a softmax-only model), each
 *  [heads, sources] row-major (only the sources up to the position count: attention is causal);
 *  and the residual stream entering the layer at the position read along the same direction. */
interface ContributionParts {
  a1: Float32Array;
  a2: Float32Array | null;
  below: number;
}

/** What tracing reads of a run. */
interface FlowSource {
  nLayer: number;
  nHead: number;
  /** The residual stream at `token` after model layer `layer`. */
  residual(layer: number, token: number): Float32Array;
  /** Layer `layer`'s attention parts into `token`'s residual stream along the unit `direction`. */
  contributions(layer: number, token: number, direction: Float32Array): Promise<ContributionParts>;
}

interface TraceOptions {
  threshold: number;
  nodesPerLayer: number;
  /** Called before each graph run; throws to stop (a newer request supersedes this one). */
  beforeRun?: () => void;
}

/** The flow graph into the prediction at `query`, whose readout direction (in the residual stream
 *  after the last layer) is `readout`. */
async function traceFlow(source: FlowSource, query: number, readout: Float32Array, options: TraceOptions): Promise<FlowGraph> {
  const { threshold, nodesPerLayer, beforeRun } = options;
  const top = source.nLayer - 1;
  const nodes: FlowNode[] = [{ layer: top, token: query }];
  const edges: FlowEdge[] = [];
  const cappedLayers: number[] = [];
  let frontier: Expansion[] = [{ token: query, direction: unit(readout) }];
  for (let layer = top; layer >= 0 && frontier.length > 0; layer--) {
    const candidates: FlowEdge[] = [];
    for (const { token, direction } of frontier) {
      const norm = length(source.residual(layer, token));
      beforeRun?.();
      const parts = await source.contributions(layer, token, direction);
      addHeadEdges(candidates, parts, source.nHead, layer, token, norm, threshold);
      const residualEdge = { fromLayer: layer - 1, fromToken: token, toLayer: layer, toToken: token, head: null, a1: parts.below / norm, a2: null };
      if (Math.abs(residualEdge.a1) >= threshold) candidates.push(residualEdge);
    }
    const kept = strongestSources(candidates, nodesPerLayer);
    if (kept.size < new Set(candidates.map((edge) => edge.fromToken)).size) cappedLayers.push(layer - 1);
    // One push per edge: a long text at a low threshold has more than spread arguments allow.
    for (const edge of candidates) if (kept.has(edge.fromToken)) edges.push(edge);
    const tokens = [...kept.keys()];
    nodes.push(...tokens.map((token) => ({ layer: layer - 1, token })));
    frontier = layer === 0 ? [] : tokens.map((token) => ({ token, direction: unit(source.residual(layer - 1, token)) }));
  }
  return { query, threshold, nodes, edges, cappedLayers };
}

/** A node to expand: its token and the unit direction its incoming edges are read along. */
interface Expansion {
  token: number;
  direction: Float32Array;
}

/** Adds to `edges` the head edges into (layer, token) that reach the threshold. */
function addHeadEdges(edges: FlowEdge[], { a1, a2 }: ContributionParts, heads: number, layer: number, token: number, norm: number, threshold: number): void {
  const sources = a1.length / heads;
  for (let head = 0; head < heads; head++) {
    for (let from = 0; from <= token; from++) {
      const cell = head * sources + from;
      const edge = { fromLayer: layer - 1, fromToken: from, toLayer: layer, toToken: token, head, a1: a1[cell] / norm, a2: a2 ? a2[cell] / norm : null };
      if (Math.abs(edgeWeight(edge)) >= threshold) edges.push(edge);
    }
  }
}

/** The source tokens of `edges` with the largest |weight| of any edge leaving them, at most
 *  `cap`, strongest first, each with that weight. */
function strongestSources(edges: FlowEdge[], cap: number): Map<number, number> {
  const strength = new Map<number, number>();
  for (const edge of edges) strength.set(edge.fromToken, Math.max(strength.get(edge.fromToken) ?? 0, Math.abs(edgeWeight(edge))));
  return new Map([...strength].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, cap));
}

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

function length(vector: Float32Array): number {
  return Math.sqrt(dot(vector, vector));
}

function unit(vector: Float32Array): Float32Array {
  const norm = length(vector) || 1;
  return vector.map((value) => value / norm);
}
