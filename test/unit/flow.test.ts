// The flow of information (extension/core/flow.ts, Engine.flow) on the tiny DIFF and baseline
// fixtures and imported random-weight DiffLlama, DIFF V2 and Llama models: pruning is monotone in the threshold; every
// edge into the prediction is the contributions engine's own per-source part (Engine.explainSources)
// divided by the readout's norm and the residual's (from the model's hidden states, run apart), and
// each head's edges add up to its part of the logit; every residual edge is recomputed from the
// hidden states; a baseline has no A2 part; a newer request supersedes a running one.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { AnalysisGraphs } from '../../extension/core/analysisGraphs';
import { RunAnalysis } from '../../extension/core/analysis';
import { Contributions } from '../../extension/core/contributions';
import { Engine } from '../../extension/core/engine';
import { SupersededError } from '../../extension/core/errors';
import { importModel } from '../../extension/core/import/importModel';
import { loadModelPackage } from '../../extension/core/modelPackage';
import { createSession, runModel } from '../../extension/core/runtime';
import { loadTokenizer } from '../../extension/core/tokenizer';
import { edgeWeight, type FlowEdge, type FlowGraph } from '../../shared/flow';
import { assertClose } from '../support/tolerance';

const REPO = path.resolve(__dirname, '..', '..', '..');
const TEXT = 'def total(values):\n    result = 0\n    for value in values:\n        result += value\n    return result\n';

let work: string;
before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'flow-test-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A random-weight checkpoint of a format (python -m model hf-checkpoint), imported. */
async function imported(format: string): Promise<string> {
  const source = path.join(work, `${format}-src`);
  await promisify(execFile)(path.join(REPO, 'scripts', 'python.sh'), ['-m', 'model', 'hf-checkpoint', '--format', format, '--out', source], { cwd: REPO });
  return (await importModel({ source, destination: path.join(work, format) })).dir;
}

const MODELS: { name: string; diff: boolean; dir: () => Promise<string> }[] = [
  { name: 'tiny-diff', diff: true, dir: async () => path.join(REPO, 'models', 'tiny-diff') },
  { name: 'tiny-baseline', diff: false, dir: async () => path.join(REPO, 'models', 'tiny-baseline') },
  { name: 'imported DiffLlama', diff: true, dir: () => imported('diffllama') },
  { name: 'imported DIFF V2 (λ per token)', diff: true, dir: () => imported('diff-v2') },
  { name: 'imported Llama', diff: false, dir: () => imported('llama') },
];

/** TEXT run apart from the engine: every layer's hidden states [L, T, E], the readout direction u
 *  the contributions graph reads the prediction at `query` along, and the parts along any direction. */
async function runApart(dir: string, query: number) {
  const pkg = await loadModelPackage(dir);
  const ids = [pkg.config.bos_token_id, ...loadTokenizer(pkg.tokenizerJson).encode(TEXT).ids];
  const { session } = await createSession(pkg, 'cpu');
  const out = await runModel(session, ids, pkg.config);
  await session.release();
  const run = { ids, out, analysis: new RunAnalysis(pkg.config, out, new AnalysisGraphs()), interventions: {} };
  const contributions = new Contributions(pkg);
  const readout = await contributions.readout(run, query, {});
  return { hidden: out.hidden, T: ids.length, E: pkg.config.n_embd, readout, along: (token: number, direction: Float32Array) => contributions.along(run, token, direction) };
}

function dot(a: Float32Array, b: Float32Array): number {
  let total = 0;
  for (let i = 0; i < a.length; i++) total += a[i] * b[i];
  return total;
}

const edgeKey = (e: FlowEdge) => `${e.fromLayer}:${e.fromToken}>${e.toLayer}:${e.toToken}@${e.head}`;
const nodeKeys = (graph: FlowGraph) => new Set(graph.nodes.map((n) => `${n.layer}:${n.token}`));

for (const model of MODELS) {
  test(`${model.name}: the flow into the prediction, checked against the contributions and the hidden states`, async () => {
    const dir = await model.dir();
    const engine = await Engine.load(dir, 'cpu');
    const { query } = await engine.inspect(TEXT);
    const L = engine.info.nLayer;
    const H = engine.info.nHead;

    // Pruning is monotone in the threshold (no cap on the nodes per layer).
    const thresholds = [0.001, 0.003, 0.01, 0.03];
    const graphs: FlowGraph[] = [];
    for (const threshold of thresholds) graphs.push(await engine.flow(query, { threshold, nodesPerLayer: Infinity }));
    for (const [index, graph] of graphs.entries()) {
      assert.deepEqual(graph.nodes[0], { layer: L - 1, token: query }, 'the prediction comes first');
      const nodes = nodeKeys(graph);
      for (const edge of graph.edges) {
        assert.ok(Math.abs(edgeWeight(edge)) >= graph.threshold, `${edgeKey(edge)} reaches the threshold`);
        assert.ok(nodes.has(`${edge.fromLayer}:${edge.fromToken}`) && nodes.has(`${edge.toLayer}:${edge.toToken}`), `${edgeKey(edge)} joins two nodes`);
        assert.equal(edge.a2 === null, !model.diff || edge.head === null, `${edgeKey(edge)}: an A2 part exactly for a DIFF head`);
      }
      if (index === 0) continue;
      const lower = graphs[index - 1];
      const lowerEdges = new Map(lower.edges.map((edge) => [edgeKey(edge), edge]));
      for (const node of nodes) assert.ok(nodeKeys(lower).has(node), `node ${node} at ${graph.threshold} is kept at ${lower.threshold}`);
      for (const edge of graph.edges) assert.deepEqual(lowerEdges.get(edgeKey(edge)), edge, `${edgeKey(edge)} at ${graph.threshold} is kept at ${lower.threshold}`);
    }
    assert.ok(graphs[0].edges.length > graphs[thresholds.length - 1].edges.length, 'the thresholds tried prune something');

    // The prediction's edges, every one (threshold 0), against the explain parts: w = part / (‖u‖ ‖x‖).
    const full = await engine.flow(query, { threshold: 0, nodesPerLayer: Infinity });
    const into = full.edges.filter((edge) => edge.toLayer === L - 1 && edge.toToken === query);
    const explanation = await engine.explain(query);
    const { hidden, T, E, readout, along } = await runApart(dir, query);
    assert.ok(L >= 2, "the residual edge into the prediction leaves a layer's output");
    const at = (layer: number, token: number) => hidden[layer].subarray(token * E, (token + 1) * E);
    const norm = (vector: Float32Array) => Math.sqrt(dot(vector, vector));
    const scale = 1 / (norm(readout) * norm(at(L - 1, query)));
    assertClose(dot(readout, at(L - 1, query)), explanation.logit, 'the readout reads the logit explained');
    // The graph read along u given as a direction (no target) gives explain's own parts.
    const alongReadout = await along(query, readout);
    const residual = into.find((edge) => edge.head === null)!;
    assertClose(residual.a1, dot(at(L - 2, query), readout) * scale, 'the residual edge into the prediction', { atol: 1e-6 });
    for (let head = 0; head < H; head++) {
      const sources = await engine.explainSources(query, {}, L - 1, head);
      const cells = [((L - 1) * H + head) * T, ((L - 1) * H + head + 1) * T];
      assertClose(alongReadout.sourceA1.subarray(...cells), sources.a1, `head ${head}: A1 parts along u as a direction`, { atol: 1e-6 });
      assertClose(alongReadout.sourceA2.subarray(...cells), sources.a2, `head ${head}: A2 parts along u as a direction`, { atol: 1e-6 });
      const edges = into.filter((edge) => edge.head === head).sort((a, b) => a.fromToken - b.fromToken);
      assert.equal(edges.length, query + 1, `head ${head}: an edge from every source up to the query`);
      const tolerance = { atol: 1e-5 * Math.abs(scale * explanation.logit) + 1e-7 };
      assertClose(edges.map((edge) => edge.a1), Array.from(sources.a1.subarray(0, query + 1), (part) => part * scale), `head ${head}: A1 parts`, tolerance);
      if (model.diff) assertClose(edges.map((edge) => edge.a2!), Array.from(sources.a2.subarray(0, query + 1), (part) => part * scale), `head ${head}: −λ·A2 parts`, tolerance);
      const part = explanation.parts.find((p) => p.layer === L - 1 && p.head === head)!;
      assertClose(edges.reduce((total, edge) => total + edgeWeight(edge), 0), part.total * scale, `head ${head}: its edges add up to its part of the logit`, tolerance);
    }
    // Every edge into an inner node (l, i), read along x(l, i) and divided by ‖x(l, i)‖: a head's
    // part; the residual edge's x(l − 1, i) · x(l, i) / ‖x(l, i)‖² (the embedding's, for layer 0).
    const inner = graphs[0].edges.filter((edge) => !(edge.toLayer === L - 1 && edge.toToken === query));
    assert.ok(inner.length > 0, 'some edge into an inner node is kept');
    for (const edge of inner) {
      const x = at(edge.toLayer, edge.toToken);
      const parts = await along(edge.toToken, x.map((value) => value / norm(x)));
      const cell = (edge.toLayer * H + (edge.head ?? 0)) * T + edge.fromToken;
      const expected = edge.head !== null ? parts.sourceA1[cell] / norm(x) : edge.toLayer > 0 ? dot(at(edge.toLayer - 1, edge.toToken), x) / dot(x, x) : parts.embed / norm(x);
      assertClose(edge.a1, expected, `${edgeKey(edge)}: ${edge.head === null ? 'residual share' : 'A1 part'}`, { atol: 1e-6 });
      if (model.diff && edge.head !== null) assertClose(edge.a2!, parts.sourceA2[cell] / norm(x), `${edgeKey(edge)}: −λ·A2 part`, { atol: 1e-6 });
    }
  });
}

test('a newer flow request supersedes a running one', async () => {
  const engine = await Engine.load(path.join(REPO, 'models', 'tiny-diff'), 'cpu');
  const { query } = await engine.inspect(TEXT);
  const older = engine.flow(query, { threshold: 0.001, nodesPerLayer: Infinity });
  const newer = engine.flow(query, { threshold: 0.1, nodesPerLayer: 4 });
  await assert.rejects(older, SupersededError);
  const graph = await newer;
  for (let layer = -1; layer < engine.info.nLayer - 1; layer++) assert.ok(graph.nodes.filter((node) => node.layer === layer).length <= 4, `layer ${layer} keeps at most 4 nodes`);
});
