// The statistics' inputs are moved into shared memory once per run (sharedInputs.ts): the workers
// read views of it, the results are those of the run's own analysis, and statistics after a newer
// run read that run's inputs, never the older one's.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { RunAnalysis, type AnalysisInputs } from '../../extension/core/analysis';
import { AnalysisGraphs } from '../../extension/core/analysisGraphs';
import { Engine } from '../../extension/core/engine';
import { loadModelPackage } from '../../extension/core/modelPackage';
import { loadTokenizer } from '../../extension/core/tokenizer';
import { computeOutliers, computeQuantisation } from '../../extension/core/outliers';
import { createSession, runModel } from '../../extension/core/runtime';
import { sharedInputs } from '../../extension/core/sharedInputs';
import type { LayerOutliers, LayerQuantisation } from '../../shared/inspection';
import { assertClose } from '../support/tolerance';

const REPO = path.resolve(__dirname, '..', '..', '..');
const TINY_DIFF = path.join(REPO, 'models', 'tiny-diff');
const FIRST_TEXT = 'def add(a, b):\n    return a + b\n';
const NEWER_TEXT = 'The secret number of the red fox is 48291. Remember it: the red fox, 48291.';

/** Lets every graph run go ahead. */
const always = () => {};

function assertSameStatistics(actual: LayerOutliers[], expected: LayerOutliers[], what: string): void {
  assert.deepEqual(actual.map((l) => l.layer), expected.map((l) => l.layer), `${what}: layers`);
  for (const [n, layer] of actual.entries()) {
    assert.deepEqual(layer.hidden.counts, expected[n].hidden.counts, `${what}, layer ${n}: hidden-state counts`);
    assert.deepEqual(layer.logits.counts, expected[n].logits.counts, `${what}, layer ${n}: logit counts`);
    assertClose(
      [layer.hidden.top1, layer.hidden.median, layer.logits.top1, layer.logits.top10, layer.logits.median],
      [expected[n].hidden.top1, expected[n].hidden.median, expected[n].logits.top1, expected[n].logits.top10, expected[n].logits.median],
      `${what}, layer ${n}: top-1, top-10, medians`,
    );
  }
}

function assertSameQuantisation(actual: LayerQuantisation[], expected: LayerQuantisation[], what: string): void {
  const numbers = (layers: LayerQuantisation[]) => layers.flatMap((l) => l.errors.flatMap((e) => [e.scale, e.logitRelRmse, e.attentionError]));
  assertClose(numbers(actual), numbers(expected), what);
}

/** A run of `text` analysed in this thread on its own ordinary buffers, as the engine would run
 *  it (BOS, then the text's tokens), and that analysis's statistics. */
async function statisticsInThisThread(text: string): Promise<{ outliers: LayerOutliers[]; quantisation: LayerQuantisation[] }> {
  const pkg = await loadModelPackage(TINY_DIFF);
  const { session } = await createSession(pkg, 'cpu');
  const ids = [pkg.config.bos_token_id, ...loadTokenizer(pkg.tokenizerJson).encode(text).ids];
  const graphs = new AnalysisGraphs();
  const analysis = new RunAnalysis(pkg.config, await runModel(session, ids, pkg.config), graphs);
  const outliers = await computeOutliers(analysis, graphs, always);
  return { outliers, quantisation: await computeQuantisation(analysis, graphs, outliers.map((l) => l.logits.top1), always) };
}

test("a run's inputs move into shared memory once, values unchanged; a second job reuses them", async () => {
  const pkg = await loadModelPackage(TINY_DIFF);
  const { session } = await createSession(pkg, 'cpu');
  const out = await runModel(session, [pkg.config.bos_token_id, ...loadTokenizer(pkg.tokenizerJson).encode(FIRST_TEXT).ids], pkg.config);
  // Every array of the statistics' inputs, named: q, k and the hidden states have one per layer.
  const arrays = (inputs: AnalysisInputs): Record<string, Float32Array> => ({
    ...Object.fromEntries((['q', 'k', 'hidden'] as const).flatMap((name) => inputs[name].map((layer, n) => [`${name}[${n}]`, layer]))),
    lambda: inputs.lambda!,
  });
  const before = Object.fromEntries(Object.entries(arrays(out)).map(([name, values]) => [name, values.slice()]));
  const first = arrays(sharedInputs(out));
  const own = arrays(out);
  assert.equal(Object.keys(first).length, 3 * pkg.config.n_layer + 1);
  for (const [name, values] of Object.entries(first)) {
    assert.ok(values.buffer instanceof SharedArrayBuffer, `${name} is shared`);
    assert.equal(own[name], values, `the run's own ${name} is the shared copy`);
    assert.deepEqual(values, before[name], `${name}: the same values`);
  }
  const second = arrays(sharedInputs(out));
  for (const [name, values] of Object.entries(first)) assert.equal(second[name], values, `${name} is not copied again`);
});

test('statistics through the workers equal the analysis in this thread, and after a newer run are the newer run\'s', async () => {
  const engine = await Engine.load(TINY_DIFF, 'cpu');
  const [first, newer] = [await statisticsInThisThread(FIRST_TEXT), await statisticsInThisThread(NEWER_TEXT)];
  await engine.inspect(FIRST_TEXT);
  const firstMap = await engine.map(1, 0, 'diff');
  assertSameStatistics(await engine.outliers(), first.outliers, 'the first run');
  assertSameQuantisation(await engine.quantisation(), first.quantisation, 'the first run\'s quantisation');
  // The maps read the run's inputs from shared memory now: the same map.
  assertClose(await engine.map(1, 0, 'diff'), firstMap, 'the map after the statistics');

  assert.notDeepEqual(newer.outliers[0].hidden.counts, first.outliers[0].hidden.counts, 'the two runs have different statistics');
  await engine.inspect(NEWER_TEXT);
  // Quantisation first: it asks for the newer run's outliers, then uses the same shared inputs.
  assertSameQuantisation(await engine.quantisation(), newer.quantisation, 'the newer run\'s quantisation');
  assertSameStatistics(await engine.outliers(), newer.outliers, 'the newer run');
});
