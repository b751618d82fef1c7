// The flow of information for the run's prediction (shared/flow.ts): a canvas with one row per
// residual-stream layer (embeddings at the bottom) and one column per token that appears, its
// labels drawn with fillText; edges thick as their |weight|, A1's part in the "adds" hue and the
// cancelled −λ·A2 part in the other (dashed where a part opposes the receiving direction), the
// residual edge in the muted colour. A slider moves the threshold (the host traces again; a newer
// request supersedes an older one); hovering shows an edge's or node's numbers; clicking a node
// opens Maps & spans on its layer (and strongest head) with its token locked as the query. The
// canvas says what it shows (data-run-id, data-flow-id, data-nodes, data-edges, data-threshold).

import { edgeWeight, FLOW_THRESHOLD, type FlowEdge, type FlowGraph, type FlowNode } from '../shared/flow';
import type { InspectionMeta } from '../shared/protocol';
import { drawText, fillBackground, sizeCanvas, themeFont } from './canvas';
import type { Theme } from './colors';
import { formatValue, visibleText } from './format';
import { flowSvg } from './flowSvg';
import { EDGE_OPACITY, edgesInto, flowDots, flowStrokes, layerLabel, layoutFlow, nodeName, mapsTarget, pickFlow, TOKEN_LABEL_HEIGHT, type FlowLayout } from './flowLayout';
import type { PanelState, ShownFlow } from './types';
import { describeElement, element, textElement, type HostRequests, type PanelView } from './view';

export class FlowGraphView implements PanelView {
  readonly element = element('section', 'flow', 'flow');
  private readonly slider = element('input', 'flow-threshold', 'flow-threshold');
  private readonly sliderValue = element('span', 'flow-threshold-value');
  private readonly summary = element('p', 'note', 'flow-summary');
  private readonly canvas = element('canvas', 'flow-canvas', 'flow-canvas');
  private readonly detail = element('p', 'note', 'flow-detail');
  private shown: { flow: ShownFlow; meta: InspectionMeta; layout: FlowLayout } | undefined;
  /** The last flow asked for: its run and request id. */
  private requested: { runId: number; flowId: number } | undefined;
  private lastFlowId = 0;

  /** openMaps: shows the Maps & spans tab, where a clicked node opens. */
  constructor(
    private theme: Theme,
    private readonly host: HostRequests,
    private readonly openMaps: () => void,
  ) {
    Object.assign(this.slider, { type: 'range', min: String(FLOW_THRESHOLD.min), max: String(FLOW_THRESHOLD.max), step: '0.005', value: String(FLOW_THRESHOLD.initial) });
    this.slider.setAttribute('aria-label', 'Threshold: the smallest |weight| of an edge kept');
    this.slider.addEventListener('input', () => (this.sliderValue.textContent = formatValue(this.threshold)));
    // Traced again when the user lets go, not at every step of a drag.
    this.slider.addEventListener('change', () => this.shown && this.ask(this.shown.meta));
    this.sliderValue.textContent = formatValue(this.threshold);
    this.summary.setAttribute('aria-live', 'polite');
    this.canvas.setAttribute('role', 'img');
    this.canvas.addEventListener('pointermove', (event) => this.hover(event));
    this.canvas.addEventListener('click', (event) => this.click(event));
    const controls = element('div', 'map-controls flow-controls');
    controls.append(textElement('span', 'Threshold', 'control-label'), this.slider, this.sliderValue);
    const legend = textElement('p', 'Edges: A1 adds (one hue), −λ·A2 cancels (the other), dashed where a part opposes the node; the residual edge grey. Click a node to open its layer and token in Maps & spans.', 'note');
    this.element.append(controls, this.summary, this.canvas, this.detail, legend);
  }

  private get threshold(): number {
    return Number(this.slider.value);
  }

  render(state: PanelState): void {
    this.show(state.meta, state.flow, state.tab === 'flow');
  }

  /** Draws the run's flow, asking the host for it when the run has none yet and the tab is
   *  shown (a flow costs a graph run per node). */
  private show(meta: InspectionMeta | undefined, flow: ShownFlow | undefined, visible: boolean): void {
    if (!meta) {
      this.shown = undefined;
      this.requested = undefined;
      this.summary.textContent = 'Inspect some text to see the flow of information into its prediction.';
      this.canvas.hidden = true;
      return;
    }
    if (visible && this.requested?.runId !== meta.runId) this.ask(meta);
    const current = flow?.runId === meta.runId ? flow : undefined;
    const waiting = !current || current.flowId < (this.requested?.flowId ?? 0);
    this.summary.textContent = waiting ? 'Tracing the flow…' : summaryText(current.graph);
    this.canvas.hidden = !current; // another run's graph is not shown meanwhile
    if (!current || this.shown?.flow === current) return;
    // A hidden tab has no width: lay out for the panel's.
    const layout = layoutFlow(current.graph, meta.model.nLayer, this.element.clientWidth || document.body.clientWidth);
    this.shown = { flow: current, meta, layout };
    this.draw();
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    if (this.shown) this.draw();
  }

  /** Export View's SVG of the graph as drawn, or undefined while none is shown. */
  exportSvg(): string | undefined {
    if (!this.shown || this.canvas.hidden) return undefined;
    const { flow, meta, layout } = this.shown;
    return flowSvg(flow.graph, layout, meta.tokens.map((token) => token.text), this.theme);
  }

  private ask(meta: InspectionMeta): void {
    this.requested = { runId: meta.runId, flowId: ++this.lastFlowId };
    this.host.flow(this.requested.flowId, meta.query, this.threshold);
  }

  private draw(): void {
    const { flow, meta, layout } = this.shown!;
    const { graph } = flow;
    drawFlowGraph(this.canvas, graph, layout, meta, this.theme);
    this.canvas.setAttribute('aria-label', `Flow of information into the prediction at token ${graph.query}: ${summaryText(graph)}`);
    describeElement(this.canvas, { runId: flow.runId, flowId: flow.flowId, nodes: graph.nodes.length, edges: graph.edges.length, threshold: graph.threshold });
    this.detail.textContent = '';
  }

  private pick(event: MouseEvent) {
    if (!this.shown) return undefined;
    const bounds = this.canvas.getBoundingClientRect();
    return pickFlow(this.shown.flow.graph, this.shown.layout, event.clientX - bounds.left, event.clientY - bounds.top);
  }

  private hover(event: PointerEvent): void {
    const picked = this.pick(event);
    const text = !picked || !this.shown ? '' : 'node' in picked ? nodeText(this.shown.flow.graph, picked.node) : edgeText(picked.edge);
    this.detail.textContent = text;
    this.canvas.title = text;
  }

  private click(event: MouseEvent): void {
    const picked = this.pick(event);
    if (!picked || !('node' in picked) || !this.shown) return;
    this.host.select(mapsTarget(this.shown.flow.graph, picked.node));
    this.host.lockQuery('main', picked.node.token);
    this.openMaps();
  }
}

/** Draws `graph` on `canvas` at `layout`: layer labels, token labels, edges, then nodes. */
export function drawFlowGraph(canvas: HTMLCanvasElement, graph: FlowGraph, layout: FlowLayout, meta: InspectionMeta, theme: Theme): void {
  const context = sizeCanvas(canvas, layout.width, layout.height);
  fillBackground(context, theme, layout.width, layout.height);
  for (const layer of layout.layers) drawText(context, theme, layerLabel(layer), 4, layout.y(layer) + 4, { size: 11, color: theme.mutedForeground });
  const columnWidth = layout.tokens.length > 1 ? layout.x(layout.tokens[1]) - layout.x(layout.tokens[0]) : layout.width;
  context.font = themeFont(theme, 11, 'token');
  context.textAlign = 'center';
  context.fillStyle = theme.foreground;
  for (const token of layout.tokens) context.fillText(visibleText(meta.tokens[token]?.text ?? '', 8), layout.x(token), layout.height - TOKEN_LABEL_HEIGHT / 2, columnWidth - 2);
  for (const stroke of flowStrokes(graph, layout, theme)) {
    context.beginPath();
    context.moveTo(stroke.x1, stroke.y1);
    context.lineTo(stroke.x2, stroke.y2);
    context.setLineDash(stroke.dashed ? [4, 3] : []);
    context.lineWidth = stroke.width;
    context.strokeStyle = stroke.color;
    context.globalAlpha = EDGE_OPACITY;
    context.stroke();
  }
  context.globalAlpha = 1;
  context.setLineDash([]);
  for (const dot of flowDots(graph, layout, theme)) {
    context.beginPath();
    context.arc(dot.x, dot.y, dot.radius, 0, 2 * Math.PI);
    context.fillStyle = dot.color;
    context.fill();
  }
}

function summaryText(graph: FlowGraph): string {
  const capped = graph.cappedLayers.length ? ` (capped at the strongest sources in ${graph.cappedLayers.length} layers)` : '';
  return `${graph.nodes.length} nodes, ${graph.edges.length} edges with |weight| ≥ ${formatValue(graph.threshold)}${capped}`;
}

function edgeText(edge: FlowEdge): string {
  const through = edge.head === null ? 'residual' : `head ${edge.head}`;
  const parts = edge.a2 === null ? '' : ` (A1 ${formatValue(edge.a1)}, −λ·A2 ${formatValue(edge.a2)})`;
  return `${nodeName(edge.fromLayer, edge.fromToken)} → ${nodeName(edge.toLayer, edge.toToken)} through ${through}: ${formatValue(edgeWeight(edge))}${parts}`;
}

function nodeText(graph: FlowGraph, node: FlowNode): string {
  const into = edgesInto(graph, node);
  const strongest = into.slice(0, 3).map((edge) => `${edge.head === null ? 'residual' : `head ${edge.head}`} from token ${edge.fromToken} ${formatValue(edgeWeight(edge))}`);
  return `${nodeName(node.layer, node.token)}: ${into.length} edges in${strongest.length ? `; strongest ${strongest.join(', ')}` : ''}`;
}
