// Export View's SVG of the Flow tab (webview/flowSvg.ts): read back with a real XML parser, each
// part of each edge is one line between its nodes' places in the tab's layout, coloured, thick and
// dashed as the canvas draws it; each node is one circle at its place, titled with its layer and
// token; the token texts label the columns as text, never markup.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FlowEdge, FlowGraph } from '../../shared/flow';
import { visibleText } from '../../shared/tokenText';
import { FALLBACK_THEMES } from '../../webview/colors';
import { layoutFlow } from '../../webview/flowLayout';
import { flowSvg } from '../../webview/flowSvg';
import { assertClose } from '../support/tolerance';
import { parseXml, type XmlElement } from '../support/xml';

const HOSTILE = '</svg><script>alert(1)</script>&';
const TOKENS = ['<BOS>', HOSTILE, ' =', ' x'];
const edge = (fromLayer: number, fromToken: number, toLayer: number, toToken: number, head: number | null, a1: number, a2: number | null): FlowEdge => ({ fromLayer, fromToken, toLayer, toToken, head, a1, a2 });
const GRAPH: FlowGraph = {
  query: 3,
  threshold: 0.05,
  nodes: [
    { layer: 1, token: 3 },
    { layer: 0, token: 3 },
    { layer: 0, token: 1 },
    { layer: -1, token: 1 },
  ],
  edges: [edge(0, 3, 1, 3, null, 0.6, null), edge(0, 1, 1, 3, 2, 0.8, -0.3), edge(-1, 1, 0, 3, 0, -0.2, null), edge(-1, 1, 0, 1, null, 0.9, null)],
  cappedLayers: [],
};
const theme = FALLBACK_THEMES.light;
const layout = layoutFlow(GRAPH, 2, 320);

test('one line per drawn part of each edge, between its nodes, coloured, thick and dashed as the canvas draws it', () => {
  const { elements } = parseXml(flowSvg(GRAPH, layout, TOKENS, theme));
  const lines = elements.filter((e) => e.name === 'line' && e.attributes.class);
  const expected = GRAPH.edges.flatMap((e) => (e.head === null ? [{ e, part: 'residual', value: e.a1, color: theme.mutedForeground }] : [{ e, part: 'a1', value: e.a1, color: theme.positive }, ...(e.a2 === null ? [] : [{ e, part: 'a2', value: e.a2, color: theme.negative }])]));
  assert.equal(lines.length, expected.length, 'the residual edges and the softmax head one line each, the DIFF head two');
  const strongest = 0.9;
  expected.forEach(({ e, part, value, color }, i) => {
    const line = lines[i];
    const at = (name: string) => Number(line.attributes[name]);
    assert.equal(line.attributes.class, part);
    assert.equal(line.attributes.stroke, color, `${part} of edge ${i}'s colour`);
    assert.equal(line.attributes['stroke-dasharray'] !== undefined, value < 0, `edge ${i}'s ${part} is dashed where it is negative`);
    assertClose(at('stroke-width'), Math.max(0.5, (Math.abs(value) / strongest) * 6), `edge ${i}'s ${part} width`, { atol: 0.001 });
    // A DIFF head's two parts sit 1.5 px either side of the line between the nodes.
    const apart = e.head !== null && e.a2 !== null ? 1.5 : 0;
    assert.ok(distance(at('x1'), at('y1'), layout.x(e.fromToken), layout.y(e.fromLayer)) <= apart + 0.001, `edge ${i} starts at its source node`);
    assert.ok(distance(at('x2'), at('y2'), layout.x(e.toToken), layout.y(e.toLayer)) <= apart + 0.001, `edge ${i} ends at its target node`);
  });
});

test('one circle per node at its place, titled with its layer and token; the token texts are labels, as text', () => {
  const { elements, texts } = parseXml(flowSvg(GRAPH, layout, TOKENS, theme));
  const circles = elements.filter((e) => e.name === 'circle');
  assert.deepEqual(circles.map((c) => c.attributes.class), ['prediction', 'node', 'node', 'node']);
  GRAPH.nodes.forEach((node, i) => {
    const circle: XmlElement = circles[i];
    assertClose([Number(circle.attributes.cx), Number(circle.attributes.cy)], [layout.x(node.token), layout.y(node.layer)], `node ${i}'s place`, { atol: 0.001 });
    const title = `${node.layer < 0 ? 'embeddings' : `layer ${node.layer}`}, token ${node.token} «${visibleText(TOKENS[node.token])}»`;
    assert.ok(texts.includes(title), `a circle is titled ${title}`);
  });
  assert.equal(circles[0].attributes.fill, theme.highlight, 'the prediction in the highlight colour');
  assert.ok(texts.includes(`${visibleText(HOSTILE)} 1`), 'the hostile token labels its column as text');
  assert.ok(texts.includes(`${visibleText(' x')} 3`), 'the query labels its column');
  for (const layer of ['emb', 'L0', 'L1']) assert.ok(texts.includes(layer), `the row ${layer} is labelled`);
  assert.ok(texts.some((t) => t.includes('prediction at token 3') && t.includes('0.05')), `the title names the prediction and the threshold: ${texts[0]}`);
  assert.deepEqual(elements.filter((e) => e.name === 'script' || e.name === 'svg').map((e) => e.name), ['svg'], 'one svg element and no script');
});

function distance(x1: number, y1: number, x2: number, y2: number): number {
  return Math.hypot(x2 - x1, y2 - y1);
}
