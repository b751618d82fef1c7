// Export View as SVG on the Flow tab (for papers): the flow graph as the tab draws it, at the same
// layout (webview/flowLayout.ts), as shared/svgChart.ts writes it. Each part of an edge is a vector
// line of the canvas's colour, width and dash (A1's, the cancelled −λ·A2's, the residual edge's,
// named by class), each node a circle titled with its layer and token; the token columns and the
// layer rows are the axes' tick labels. The title names the prediction and the threshold.

import type { FlowGraph } from '../shared/flow';
import { chartSvg } from '../shared/svgChart';
import { visibleText } from '../shared/tokenText';
import type { Theme } from './colors';
import { EDGE_OPACITY, flowDots, flowStrokes, layerLabel, nodeName, TOKEN_LABEL_HEIGHT, type FlowLayout } from './flowLayout';
import { formatValue } from './valueText';

export function flowSvg(graph: FlowGraph, layout: FlowLayout, tokens: readonly string[], theme: Theme): string {
  const tokenText = (token: number) => visibleText(tokens[token] ?? '');
  return chartSvg({
    title: `Flow into the prediction at token ${graph.query} «${tokenText(graph.query)}» · edges with |weight| ≥ ${formatValue(graph.threshold)}`,
    width: layout.width,
    // The canvas keeps a strip at the bottom for its token labels: here they are the x axis's.
    height: layout.height - TOKEN_LABEL_HEIGHT,
    x: { title: 'token', ticks: layout.tokens.map((token) => ({ at: layout.x(token), label: `${tokenText(token)} ${token}` })) },
    y: { title: 'layer', ticks: layout.layers.map((layer) => ({ at: layout.y(layer), label: layerLabel(layer) })) },
    lines: flowStrokes(graph, layout, theme).map(({ part, x1, y1, x2, y2, width, color, dashed }) => ({ x1, y1, x2, y2, stroke: color, width, dashed, opacity: EDGE_OPACITY, role: part })),
    circles: flowDots(graph, layout, theme).map(({ node, x, y, radius, color }, index) => ({
      x,
      y,
      radius,
      fill: color,
      role: index === 0 ? 'prediction' : 'node',
      title: `${nodeName(node.layer, node.token)} «${tokenText(node.token)}»`,
    })),
    colors: { background: theme.background, foreground: theme.foreground, muted: theme.mutedForeground, highlight: theme.highlight },
    font: theme.uiFont,
  });
}
