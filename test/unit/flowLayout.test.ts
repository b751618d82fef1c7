// The flow graph's layout and picking without a browser (webview/flowLayout.ts): one row per
// residual-stream layer with the embeddings at the bottom, one column per token in the graph in
// text order, and the pointer finds the node or the strongest edge under it; a click on a node
// shows its own layer and its strongest incoming head in the maps.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FlowGraph } from '../../shared/flow';
import { edgesInto, layoutFlow, mapsTarget, pickFlow } from '../../webview/flowLayout';

/** Two layers: the prediction at token 7 reads token 2 through two heads and its own residual;
 *  (0, 2) reads the embedding of token 5. */
const GRAPH: FlowGraph = {
  query: 7,
  threshold: 0.05,
  nodes: [
    { layer: 1, token: 7 },
    { layer: 0, token: 2 },
    { layer: 0, token: 7 },
    { layer: -1, token: 5 },
  ],
  edges: [
    { fromLayer: 0, fromToken: 2, toLayer: 1, toToken: 7, head: 0, a1: 0.1, a2: -0.02 },
    { fromLayer: 0, fromToken: 2, toLayer: 1, toToken: 7, head: 3, a1: 0.4, a2: -0.1 },
    { fromLayer: 0, fromToken: 7, toLayer: 1, toToken: 7, head: null, a1: 0.6, a2: null },
    { fromLayer: -1, fromToken: 5, toLayer: 0, toToken: 2, head: 1, a1: -0.2, a2: 0.05 },
  ],
  cappedLayers: [],
};

test('rows go from the embeddings at the bottom to the top layer, columns follow the tokens in text order', () => {
  const layout = layoutFlow(GRAPH, 2, 400);
  assert.deepEqual(layout.tokens, [2, 5, 7]);
  assert.deepEqual(layout.layers, [-1, 0, 1]);
  assert.ok(layout.y(1) < layout.y(0) && layout.y(0) < layout.y(-1), 'higher layers are drawn higher');
  assert.ok(layout.x(2) < layout.x(5) && layout.x(5) < layout.x(7), 'columns in text order');
  assert.ok(layout.x(7) < layout.width && layout.y(-1) < layout.height);
});

test('a canvas narrower than the tokens need grows, and the columns keep their least gap', () => {
  const many: FlowGraph = { ...GRAPH, nodes: Array.from({ length: 40 }, (_, token) => ({ layer: 0, token })) };
  const layout = layoutFlow(many, 2, 200);
  assert.ok(layout.width > 200);
  assert.ok(layout.x(1) - layout.x(0) >= 28);
  assert.ok(layout.x(39) < layout.width);
});

test('the pointer picks a node over an edge, else the strongest edge on its line', () => {
  const layout = layoutFlow(GRAPH, 2, 400);
  assert.deepEqual(pickFlow(GRAPH, layout, layout.x(7), layout.y(1)), { node: { layer: 1, token: 7 } });
  const middle = { x: (layout.x(2) + layout.x(7)) / 2, y: (layout.y(0) + layout.y(1)) / 2 };
  assert.deepEqual(pickFlow(GRAPH, layout, middle.x, middle.y), { edge: GRAPH.edges[1] }, 'head 3 (0.3) over head 0 (0.08)');
  assert.equal(pickFlow(GRAPH, layout, layout.x(5), layout.y(1)), undefined);
});

test("a node's incoming edges come strongest first, and a click shows its layer and strongest head", () => {
  assert.deepEqual(edgesInto(GRAPH, { layer: 1, token: 7 }).map((edge) => edge.head), [null, 3, 0]);
  assert.deepEqual(mapsTarget(GRAPH, { layer: 1, token: 7 }), { layer: 1, head: 3 });
  assert.deepEqual(mapsTarget(GRAPH, { layer: 0, token: 2 }), { layer: 0, head: 1 });
  assert.deepEqual(mapsTarget(GRAPH, { layer: -1, token: 5 }), { layer: 0 }, 'the embeddings show layer 0, whose heads read them');
});
