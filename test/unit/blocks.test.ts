// The analyses over blocks of query rows (analysisGraphs.ts's rowBlocks): with a tile budget so small
// that a 100-token run of a tiny package spans 7 blocks of 16 rows (the last one partial), every
// result equals the direct computation (rows recomputed from q and k) or the one-block result.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { RunAnalysis, type AnalysisInputs } from '../../extension/core/analysis';
import { AnalysisGraphs, rowBlocks } from '../../extension/core/analysisGraphs';
import { loadModelPackage } from '../../extension/core/modelPackage';
import { computeOutliers, computeQuantisation } from '../../extension/core/outliers';
import { StatisticsClient } from '../../extension/core/statisticsClient';
import { createSession, runModel } from '../../extension/core/runtime';
import blockSizing from '../../shared/attention.json';
import { viewportCells, wholeMap, type MapViewport } from '../../shared/inspection';
import { MAP_VIEWS, THUMBNAIL_SIZE, type MapView, type ModelKind } from '../../shared/model';
import { assertClose } from '../support/tolerance';

const REPO = path.resolve(__dirname, '..', '..', '..');
const T = 100;
/** The least tile budget: every block has min_rows rows. */
const TINY_TILE = 1;
/** A budget that puts the whole run in one block. */
const ONE_BLOCK = 1 << 30;

const graphs = new AnalysisGraphs();
const always = () => {};

/** Runs T pseudo-random tokens (BOS first) through a tiny package; analyses of the outputs are made
 *  by `analysis(tileElements)`, each with its own cache. */
async function runOf(kind: ModelKind) {
  const pkg = await loadModelPackage(path.join(REPO, 'models', `tiny-${kind}`));
  const { session } = await createSession(pkg.modelPath, 'cpu');
  const ids = [pkg.config.bos_token_id, ...Array.from({ length: T - 1 }, (_, i) => 3 + ((i * 7919 + 13) % (pkg.config.vocab_size - 3)))];
  const out = await runModel(session, ids, pkg.config);
  return { out, analysis: (tileElements: number, inputs: AnalysisInputs = out) => new RunAnalysis(pkg.config, inputs, graphs, tileElements) };
}

test('rowBlocks covers the rows in blocks of the size shared/attention.json sets', () => {
  const blocks = [...rowBlocks(T, 2, TINY_TILE)];
  assert.equal(blocks.length, 7);
  assert.deepEqual(blocks.map((b) => b.rows), [16, 16, 16, 16, 16, 16, 4]);
  blocks.forEach((b, n) => assert.equal(b.firstRow, n * 16));
  assert.deepEqual([...rowBlocks(T, 2, TINY_TILE, 5, 40)], [{ firstRow: 5, rows: 16 }, { firstRow: 21, rows: 16 }, { firstRow: 37, rows: 3 }]);
  assert.deepEqual([...rowBlocks(32_768, 8)].length, 32_768 / Math.floor(blockSizing.tile_elements / (8 * 32_768)));
  assert.equal([...rowBlocks(T, 1)][0].rows, blockSizing.max_rows > T ? T : blockSizing.max_rows);
});

/** The rows of a view's map recomputed one by one in JavaScript (RunAnalysis.row). */
function directMap(analysis: RunAnalysis, view: MapView): Float32Array[] {
  return Array.from({ length: analysis.T }, (_, i) => analysis.row(0, 1, view, i));
}

/** A viewport pooled from the direct map: mean over every entry of a cell (masked ones as 0), or the
 *  visible entry of largest magnitude with its sign. */
function poolDirect(rows: Float32Array[], viewport: MapViewport): number[] {
  const { rows: height, cols, cellOfRow, cellOfKey } = viewportCells(viewport);
  const sums = new Array<number>(height * cols).fill(0);
  const entries = new Array<number>(height * cols).fill(0);
  for (let i = viewport.firstRow; i < viewport.endRow; i++) {
    for (let j = viewport.firstKey; j < viewport.endKey; j++) {
      const cell = cellOfRow(i) * cols + cellOfKey(j);
      entries[cell]++;
      if (viewport.pooling === 'mean') sums[cell] += rows[i][j];
      else if (j <= i && Math.abs(rows[i][j]) > Math.abs(sums[cell])) sums[cell] = rows[i][j];
    }
  }
  return viewport.pooling === 'mean' ? sums.map((s, c) => s / entries[c]) : sums;
}

for (const kind of ['diff', 'baseline'] as const) {
  test(`${kind}: map viewports over 7 blocks equal the rows recomputed directly, before and after the lse is cached`, async () => {
    const run = await runOf(kind);
    for (const view of kind === 'diff' ? MAP_VIEWS : (['a1'] as const)) {
      const analysis = run.analysis(TINY_TILE);
      assert.ok([...rowBlocks(T, view === 'diff' ? 2 : 1, analysis.tileElements)].length >= 3, 'several blocks');
      const direct = directMap(analysis, view);
      const zoomed: MapViewport[] = (['mean', 'max'] as const).map((pooling) => ({ firstRow: 5, endRow: 97, firstKey: 3, endKey: 80, rows: 7, cols: 11, pooling }));
      // The first request computes whole rows (attention_maps); the later ones their tiles from the lse.
      for (const pass of ['rows', 'tiles']) {
        const whole = await analysis.pooledMap(0, 1, view, wholeMap(T, T, 'mean'));
        for (let i = 0; i < T; i++) assertClose(whole.subarray(i * T, (i + 1) * T), direct[i], `${view} ${pass}: row ${i}`);
        for (const viewport of zoomed) assertClose(await analysis.pooledMap(0, 1, view, viewport), poolDirect(direct, viewport), `${view} ${pass}: ${viewport.pooling}-pooled 7 x 11`);
      }
      // A zoomed viewport first: tiles of rows that have no lse yet come whole from attention_maps.
      for (const viewport of zoomed) assertClose(await run.analysis(TINY_TILE).pooledMap(0, 1, view, viewport), poolDirect(direct, viewport), `${view}: zoomed first`);
    }
  });

  test(`${kind}: outlier statistics and the quantisation what-if over 7 blocks equal one block's`, async () => {
    const run = await runOf(kind);
    const blocked = run.analysis(TINY_TILE);
    assert.ok([...rowBlocks(T, blocked.S, blocked.tileElements)].length >= 3, 'several blocks');
    const [outliers, once] = [await computeOutliers(blocked, graphs, always), await computeOutliers(run.analysis(ONE_BLOCK), graphs, always)];
    for (const [n, { logits }] of outliers.entries()) {
      const expected = once[n].logits;
      assert.deepEqual(logits.counts, expected.counts, `layer ${n}: histogram counts`);
      assertClose([logits.top1, logits.top10, logits.median], [expected.top1, expected.top10, expected.median], `layer ${n}: top-1, top-10, median`);
      assert.deepEqual(logits.outliers.map(({ token, detail }) => ({ token, detail })), expected.outliers.map(({ token, detail }) => ({ token, detail })), `layer ${n}: outlier positions`);
      assertClose(logits.outliers.map((o) => o.value), expected.outliers.map((o) => o.value), `layer ${n}: outlier values`);
    }
    const absMax = outliers.map((l) => l.logits.top1);
    const [quantisation, direct] = [await computeQuantisation(blocked, graphs, absMax, always), await computeQuantisation(run.analysis(ONE_BLOCK), graphs, absMax, always)];
    for (const [n, { errors }] of quantisation.entries()) {
      assertClose(errors.flatMap((e) => [e.scale, e.logitRelRmse, e.attentionError]), direct[n].errors.flatMap((e) => [e.scale, e.logitRelRmse, e.attentionError]), `layer ${n}: quantisation`);
    }
  });
  test(`${kind}: the statistics workers, each given some of the layers, give what one analysis of the whole run gives`, async () => {
    const run = await runOf(kind);
    const { config } = run.analysis(ONE_BLOCK);
    assert.ok(config.n_layer >= 2, 'layers to split');
    const workers = new StatisticsClient();
    const inputs = { length: run.out.length, q: run.out.q, k: run.out.k, hidden: run.out.hidden, lambda: run.out.lambda };
    const [split, whole] = [await workers.outliers(config, inputs), await computeOutliers(run.analysis(ONE_BLOCK), graphs, always)];
    assert.deepEqual(split.map((l) => l.layer), whole.map((l) => l.layer), 'every layer once, in order');
    for (const [n, layer] of split.entries()) {
      assert.deepEqual(layer.logits.counts, whole[n].logits.counts, `layer ${n}: histogram counts`);
      assert.deepEqual(layer.hidden, whole[n].hidden, `layer ${n}: hidden-state histogram`);
      assertClose([layer.logits.top1, layer.logits.median], [whole[n].logits.top1, whole[n].logits.median], `layer ${n}: top-1, median`);
    }
    const absMax = whole.map((l) => l.logits.top1);
    const [quantisation, direct] = [await workers.quantisation(config, inputs, absMax), await computeQuantisation(run.analysis(ONE_BLOCK), graphs, absMax, always)];
    assert.deepEqual(quantisation.map((l) => l.layer), direct.map((l) => l.layer));
    for (const [n, { errors }] of quantisation.entries()) {
      assertClose(errors.flatMap((e) => [e.logitRelRmse, e.attentionError]), direct[n].errors.flatMap((e) => [e.logitRelRmse, e.attentionError]), `layer ${n}: quantisation`);
    }
  });
}

test('packages without pooled thumbnails: the maps pooled over 7 blocks equal the rows pooled directly', async () => {
  const run = await runOf('diff');
  const inputs = { ...run.out, thumbnails: undefined, lambdaThumbnails: undefined };
  const blocked = run.analysis(TINY_TILE, inputs);
  const { pooled, size } = await blocked.pooledMaps();
  assert.equal(size, THUMBNAIL_SIZE);
  const cells = size * size;
  const bin = (i: number) => Math.floor((i * size) / T);
  for (let layer = 0; layer < blocked.nLayer; layer++) {
    for (let s = 0; s < blocked.S; s++) {
      const sums = new Array<number>(cells).fill(0);
      const entries = new Array<number>(cells).fill(0);
      for (let i = 0; i < T; i++) {
        const row = blocked.softmaxRow(layer, s, i);
        for (let j = 0; j < T; j++) {
          sums[bin(i) * size + bin(j)] += row[j];
          entries[bin(i) * size + bin(j)]++;
        }
      }
      const at = (layer * blocked.S + s) * cells;
      assertClose(pooled.subarray(at, at + cells), sums.map((v, c) => (entries[c] ? v / entries[c] : 0)), `layer ${layer} sub-head ${s}`);
    }
  }
  // Its blocks' lse then serves zoomed viewports.
  const viewport: MapViewport = { firstRow: 5, endRow: 97, firstKey: 3, endKey: 80, rows: 7, cols: 11, pooling: 'max' };
  assertClose(await blocked.pooledMap(0, 1, 'diff', viewport), poolDirect(directMap(blocked, 'diff'), viewport), 'zoomed after the thumbnails');
});
