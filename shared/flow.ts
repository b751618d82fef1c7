// The flow of information for one prediction: a graph over layers × tokens whose edges are the
// attention heads' contributions into the residual stream, traced back from the prediction
// (extension/core/flow.ts computes it; webview/flowGraph.ts draws it).
//
// A node (layer, token) is the residual stream at `token` after model layer `layer`; layer -1 is
// the embeddings. The prediction is the node (L − 1, query), read along the prediction's readout
// direction instead of its own. An edge into (l, i) comes from (l − 1, j) through head `head` of
// layer l, or is the residual edge (l − 1, i) → (l, i) (head null). Its weight is a signed
// projection: the contribution vector c (the head's output for source j, its per-head norm scale
// held) dotted with the receiving node's unit direction d̂ and divided by the node's residual norm,
// w = c · d̂ / ‖x(l, i)‖. For an inner node d̂ = x(l, i) / ‖x(l, i)‖, so a node's incoming weights
// (with its MLP's share, which has no edge) sum to 1.

import { z } from 'zod';
import { indexSchema } from './schemas';

/** A residual-stream layer: -1 (the embeddings) or a model layer's output. */
const flowLayerSchema = z.number().int().min(-1);

export const flowNodeSchema = z.object({ layer: flowLayerSchema, token: indexSchema });
export type FlowNode = z.infer<typeof flowNodeSchema>;

export const flowEdgeSchema = z.object({
  fromLayer: flowLayerSchema,
  fromToken: indexSchema,
  toLayer: indexSchema,
  toToken: indexSchema,
  /** The head of layer toLayer the contribution passes through; null for the residual edge. */
  head: indexSchema.nullable(),
  /** A1's part of the weight (a softmax head's whole weight; the residual edge's whole weight). */
  a1: z.number(),
  /** DIFF's cancelled part, −λ·A2's, in the same units; null for a softmax-only model's heads and
   *  for the residual edge. An edge's weight is a1 + (a2 ?? 0). */
  a2: z.number().nullable(),
});
export type FlowEdge = z.infer<typeof flowEdgeSchema>;

export const flowGraphSchema = z.object({
  /** The predicting token (the node (L − 1, query) is the prediction). */
  query: indexSchema,
  /** Edges with |weight| below it were pruned. */
  threshold: z.number().nonnegative(),
  /** The prediction first, then layer by layer downwards. */
  nodes: z.array(flowNodeSchema),
  edges: z.array(flowEdgeSchema),
  /** Layers where more sources passed the threshold than the cap of nodes per layer kept. */
  cappedLayers: z.array(flowLayerSchema),
});
export type FlowGraph = z.infer<typeof flowGraphSchema>;

/** An edge's signed weight: its A1 part plus its cancelled part. */
export function edgeWeight(edge: Pick<FlowEdge, 'a1' | 'a2'>): number {
  return edge.a1 + (edge.a2 ?? 0);
}

/** The slider's range and the weight a new run's graph starts with. */
export const FLOW_THRESHOLD = { min: 0.005, max: 0.5, initial: 0.05 } as const;
/** Most nodes a layer keeps (the strongest): a long input stays cheap to trace and to draw. */
export const FLOW_NODES_PER_LAYER = 12;
