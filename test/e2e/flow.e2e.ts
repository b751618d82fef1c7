// End to end: the Flow tab draws the flow of information into the run's prediction that the engine
// traces for the same text and threshold (its nodes and edges, as the canvas says them); moving the
// threshold traces it again; Export View as SVG on the tab writes that graph (a line per edge part,
// a circle per node) and records it in the JSON beside it; clicking a node opens Maps & spans on its
// layer with its token locked as the query. The tiny DIFF fixture runs: its graph is small enough to check node by node.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { FLOW_NODES_PER_LAYER, FLOW_THRESHOLD, type FlowGraph } from '../../shared/flow';
import { layoutFlow } from '../../webview/flowLayout';
import { assertClose, FLOAT32 } from '../support/tolerance';
import { parseXml } from '../support/xml';
import { exportAs } from './exportDialog';
import { modelsFolder, ofRun, packageShape, panelFixture } from './harness';

const MODEL = 'tiny-diff';
const SELECTED = 'numbers.append(numbers[-1] + numbers[-2])';

const panel = panelFixture('flow', {
  settings: () => ({ 'difftransformer.modelPath': path.join(modelsFolder, MODEL) }),
  inspect: { file: 'sample.py', text: SELECTED, command: 'DiffTransformer: Inspect Selection', model: MODEL },
  engine: MODEL,
});

/** The flow the canvas shows once it shows `threshold` for the fixture's run: its counts. */
async function shownCounts(threshold: number): Promise<{ nodes: number; edges: number }> {
  const canvas = panel.frame.locator(`${ofRun('#flow-canvas', panel.runId)}[data-threshold="${threshold}"]`);
  await canvas.waitFor({ state: 'attached' });
  const [nodes, edges] = await Promise.all(['data-nodes', 'data-edges'].map((name) => canvas.getAttribute(name)));
  return { nodes: Number(nodes), edges: Number(edges) };
}

function engineFlow(threshold: number): Promise<FlowGraph> {
  return panel.engine.flow(panel.inspected.query, { threshold, nodesPerLayer: FLOW_NODES_PER_LAYER });
}

test('the Flow tab shows the graph the engine traces, and moving the threshold traces it again', async () => {
  await panel.frame.locator('#tab-flow').click();
  const first = await engineFlow(FLOW_THRESHOLD.initial);
  assert.deepEqual(await shownCounts(FLOW_THRESHOLD.initial), { nodes: first.nodes.length, edges: first.edges.length });
  const summary = await panel.frame.locator('#flow-summary').innerText();
  assert.ok(summary.startsWith(`${first.nodes.length} nodes, ${first.edges.length} edges`), summary);

  const higher = 0.2;
  const fewer = await engineFlow(higher);
  assert.ok(fewer.edges.length < first.edges.length, 'a higher threshold keeps fewer edges (else the test shows nothing)');
  await panel.frame.locator('#flow-threshold').fill(String(higher));
  assert.deepEqual(await shownCounts(higher), { nodes: fewer.nodes.length, edges: fewer.edges.length });
  await panel.screenshot('flow');
});

test('Export View as SVG on the Flow tab writes the graph shown, and the JSON beside it records it', async () => {
  const threshold = 0.2;
  await shownCounts(threshold);
  const graph = await engineFlow(threshold);
  const target = path.join(panel.runDir, 'workspace', 'difftransformer-flow.svg');
  const { elements } = parseXml(await exportAs(panel.page, target));
  const record = JSON.parse(fs.readFileSync(target.replace(/\.svg$/, '.json'), 'utf8'));
  // The host's engine and the test's trace the same graph; their weights agree to float32's tolerance.
  const withoutWeights = (g: FlowGraph) => ({ ...g, edges: g.edges.map(({ a1: _a1, a2: _a2, ...edge }) => edge) });
  assert.deepEqual(withoutWeights(record.flow), withoutWeights(graph), 'the JSON records the graph shown');
  const weights = (g: FlowGraph) => g.edges.flatMap((edge) => [edge.a1, edge.a2 ?? 0]);
  assertClose(weights(record.flow), weights(graph), 'the recorded edges’ A1 and −λ·A2 parts', FLOAT32);
  const parts = graph.edges.reduce((count, edge) => count + (edge.head !== null && edge.a2 !== null ? 2 : 1), 0);
  assert.equal(elements.filter((e) => e.name === 'line' && ['a1', 'a2', 'residual'].includes(e.attributes.class)).length, parts, 'a line per edge part');
  assert.equal(elements.filter((e) => e.name === 'circle').length, graph.nodes.length, 'a circle per node');
});

test('clicking a node opens Maps & spans on its layer with its token locked as the query', async () => {
  const threshold = 0.2;
  const graph = await engineFlow(threshold);
  const node = graph.nodes.find((n) => n.layer === 0 && n.token !== graph.query) ?? graph.nodes.find((n) => n.layer === 0)!;
  assert.ok(node, 'the graph reaches layer 0');
  const canvas = panel.frame.locator(`${ofRun('#flow-canvas', panel.runId)}[data-threshold="${threshold}"]`);
  const width = await canvas.evaluate((element) => element.getBoundingClientRect().width);
  const layout = layoutFlow(graph, packageShape(MODEL).layers, width);
  await canvas.click({ position: { x: layout.x(node.token), y: layout.y(node.layer) } });
  const heatmap = panel.frame.locator(`${ofRun('#heatmap', panel.runId)}[data-layer="${node.layer}"][data-query="${node.token}"]`);
  await heatmap.waitFor({ state: 'visible' });
});
