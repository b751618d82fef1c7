// Where the flow graph (shared/flow.ts) goes on its canvas: one row per residual-stream layer, the
// embeddings at the bottom and the prediction's layer at the top, and one column per token that
// appears in the graph (in text order); the strokes and dots the canvas and the SVG draw there; and
// what is under the pointer. No DOM, so the unit tests run it under Node.

import { edgeWeight, type FlowEdge, type FlowGraph, type FlowNode } from '../shared/flow';
import type { Theme } from './colors';

/** Room for the layer labels on the left and the token labels at the bottom (CSS px). */
export const LAYER_LABEL_WIDTH = 36;
export const TOKEN_LABEL_HEIGHT = 18;
const MARGIN = 12;
/** Least distance between two columns, and between two rows. */
const MIN_COLUMN_GAP = 28;
const ROW_GAP = 34;
export const NODE_RADIUS = 5;
/** The widest an edge is drawn (CSS px), for the strongest edge of the graph. */
const MAX_EDGE_WIDTH = 6;
/** How far apart a head's A1 and −λ·A2 strokes sit, so that a part cancelled by the other stays visible. */
const PARTS_APART = 1.5;
export const EDGE_OPACITY = 0.75;
/** How close the pointer must come to an edge's line to pick it. */
const EDGE_PICK_PX = 4;

export interface FlowLayout {
  width: number;
  height: number;
  /** The tokens shown, one column each, in text order. */
  tokens: number[];
  /** Residual-stream layers from -1 (the embeddings) to the top one. */
  layers: number[];
  x(token: number): number;
  y(layer: number): number;
}

/** The layout of `graph` for a model of `nLayer` layers in a canvas at least `width` wide (wider
 *  where the tokens need more room: the canvas then scrolls sideways). */
export function layoutFlow(graph: FlowGraph, nLayer: number, width: number): FlowLayout {
  const tokens = [...new Set(graph.nodes.map((node) => node.token))].sort((a, b) => a - b);
  const layers = Array.from({ length: nLayer + 1 }, (_, index) => index - 1);
  const gap = Math.max(MIN_COLUMN_GAP, (width - LAYER_LABEL_WIDTH - 2 * MARGIN) / Math.max(1, tokens.length));
  const column = new Map(tokens.map((token, index) => [token, index]));
  const top = nLayer - 1;
  return {
    width: Math.max(width, LAYER_LABEL_WIDTH + 2 * MARGIN + gap * tokens.length),
    height: 2 * MARGIN + TOKEN_LABEL_HEIGHT + ROW_GAP * nLayer,
    tokens,
    layers,
    x: (token) => LAYER_LABEL_WIDTH + MARGIN + gap * ((column.get(token) ?? 0) + 0.5),
    y: (layer) => MARGIN + ROW_GAP * (top - layer),
  };
}

/** One part of an edge as drawn: A1's in the "adds" hue, −λ·A2's in the other, the residual edge's
 *  muted; as thick as the part's |weight| and dashed where the part is negative. */
export interface FlowStroke {
  part: 'a1' | 'a2' | 'residual';
  edge: FlowEdge;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  width: number;
  color: string;
  dashed: boolean;
}

export function flowStrokes(graph: FlowGraph, layout: FlowLayout, theme: Theme): FlowStroke[] {
  const strongest = Math.max(1e-12, ...graph.edges.flatMap((edge) => [Math.abs(edge.a1), Math.abs(edge.a2 ?? 0)]));
  return graph.edges.flatMap((edge) => {
    const from = { x: layout.x(edge.fromToken), y: layout.y(edge.fromLayer) };
    const to = { x: layout.x(edge.toToken), y: layout.y(edge.toLayer) };
    const length = Math.hypot(to.x - from.x, to.y - from.y) || 1;
    const stroke = (part: FlowStroke['part'], value: number, offset: number, color: string): FlowStroke => {
      const dx = (-(to.y - from.y) / length) * offset;
      const dy = ((to.x - from.x) / length) * offset;
      const width = Math.max(0.5, (Math.abs(value) / strongest) * MAX_EDGE_WIDTH);
      return { part, edge, x1: from.x + dx, y1: from.y + dy, x2: to.x + dx, y2: to.y + dy, width, color, dashed: value < 0 };
    };
    if (edge.head === null) return [stroke('residual', edge.a1, 0, theme.mutedForeground)];
    if (edge.a2 === null) return [stroke('a1', edge.a1, 0, theme.positive)];
    return [stroke('a1', edge.a1, -PARTS_APART, theme.positive), stroke('a2', edge.a2, PARTS_APART, theme.negative)];
  });
}

/** The graph's nodes as drawn: the prediction (the first node) larger and in the highlight colour. */
export function flowDots(graph: FlowGraph, layout: FlowLayout, theme: Theme): { node: FlowNode; x: number; y: number; radius: number; color: string }[] {
  return graph.nodes.map((node, index) => {
    const prediction = index === 0;
    return { node, x: layout.x(node.token), y: layout.y(node.layer), radius: prediction ? NODE_RADIUS + 2 : NODE_RADIUS, color: prediction ? theme.highlight : theme.foreground };
  });
}

/** What the pointer at (x, y) is over: a node, else the strongest edge passing within EDGE_PICK_PX
 *  (the heads between two nodes share their line). */
export type FlowPick = { node: FlowNode } | { edge: FlowEdge } | undefined;

export function pickFlow(graph: FlowGraph, layout: FlowLayout, x: number, y: number): FlowPick {
  const node = graph.nodes.find((n) => Math.hypot(layout.x(n.token) - x, layout.y(n.layer) - y) <= NODE_RADIUS + 2);
  if (node) return { node };
  const near = graph.edges.filter((edge) => segmentDistance(x, y, layout.x(edge.fromToken), layout.y(edge.fromLayer), layout.x(edge.toToken), layout.y(edge.toLayer)) <= EDGE_PICK_PX);
  const strongest = near.sort((a, b) => Math.abs(edgeWeight(b)) - Math.abs(edgeWeight(a)))[0];
  return strongest && { edge: strongest };
}

/** A row's label on the left: `emb` for the embeddings, else `L` and the layer. */
export function layerLabel(layer: number): string {
  return layer < 0 ? 'emb' : `L${layer}`;
}

/** A node in words, as the hover and the SVG's node titles say it. */
export function nodeName(layer: number, token: number): string {
  return `${layer < 0 ? 'embeddings' : `layer ${layer}`}, token ${token}`;
}

/** The edges into a node, strongest first. */
export function edgesInto(graph: FlowGraph, node: FlowNode): FlowEdge[] {
  return graph.edges
    .filter((edge) => edge.toLayer === node.layer && edge.toToken === node.token)
    .sort((a, b) => Math.abs(edgeWeight(b)) - Math.abs(edgeWeight(a)));
}

/** The layer and head a click on a node shows in the maps: the node's own layer (its incoming
 *  heads' layer; layer 0 for the embeddings) and its strongest incoming head, if any. */
export function mapsTarget(graph: FlowGraph, node: FlowNode): { layer: number; head?: number } {
  const head = edgesInto(graph, node).find((edge) => edge.head !== null)?.head ?? undefined;
  return { layer: Math.max(0, node.layer), ...(head !== undefined && { head }) };
}

function segmentDistance(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const squared = dx * dx + dy * dy;
  const t = squared === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / squared));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}
