// End to end, the features that run the model and its matched baseline: Compare with Baseline
// (side by side, layer, head and locked query token in step, each model's statistics) and the
// Needle Test.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { Engine } from '../../extension/core/engine';
import { DEFAULT_BASELINE, DEFAULT_MODEL } from '../../extension/core/modelPath';
import { canvasPixel, drawnMap, modelsFolder, ofRun, openFile, panelFixture, reloadWindow, runCommand, webviewFrame, workspaceFolder } from './harness';

const SELECTED = 'def fibonacci(n: int) -> list[int]:';
const PANES = ['main', 'compare'] as const;

/** Its runId is the compared run's (the baseline's pane carries the main run's id). */
const panel = panelFixture('baseline', { inspect: { file: 'sample.py', text: SELECTED, command: 'DiffTransformer: Compare with Baseline' } });

/** Width and height of a canvas's drawing buffer. */
async function bufferSize(selector: string): Promise<number[]> {
  return panel.frame
    .locator(selector)
    .evaluate((c) => [(c as unknown as { width: number }).width, (c as unknown as { height: number }).height]);
}

test('both models are drawn side by side: the differential map and the baseline softmax map', async () => {
  const { frame } = panel;
  const baseline = await Engine.load(path.join(modelsFolder, DEFAULT_BASELINE), 'cpu');
  const result = await baseline.inspect(SELECTED);
  const T = result.tokens.length;
  for (const pane of PANES) {
    const { layer, head } = await drawnMap(panel.page, `#compare-${pane}-heatmap`, panel.runId);
    assert.deepEqual([layer, head], [0, 0], `${pane}: a new comparison opens on layer 0, head 0`);
  }
  assert.ok((await frame.locator('#compare-main-title').innerText()).includes(`${DEFAULT_MODEL} (diff)`));
  assert.ok((await frame.locator('#compare-compare-title').innerText()).includes(`${DEFAULT_BASELINE} (baseline)`));
  assert.deepEqual(await bufferSize('#compare-compare-heatmap'), [T, T], 'one pixel per cell of the baseline map');
  assert.deepEqual(await bufferSize('#compare-main-heatmap'), [T, T], 'the same tokens for the DIFF model (shared tokenizer)');

  // The baseline map is A1 (non-negative): its largest cell is drawn warm, a masked cell neutral.
  const map = await baseline.map(0, 0, 'a1');
  let maxAt = 0;
  for (let i = 0; i < map.length; i++) if (map[i] > map[maxAt]) maxAt = i;
  const warmth = ([r, , b]: number[]) => r - b;
  const strongest = await canvasPixel(frame, '#compare-compare-heatmap', maxAt % T, Math.floor(maxAt / T));
  const masked = await canvasPixel(frame, '#compare-compare-heatmap', T - 1, 0);
  assert.ok(warmth(strongest) > 40, `the strongest baseline cell is warm: ${strongest}`);
  assert.ok(Math.abs(warmth(masked)) < 12, `a future cell is background: ${masked}`);
  const model = await Engine.load(path.join(modelsFolder, DEFAULT_MODEL), 'cpu');
  await model.inspect(SELECTED);
  const layers = { main: model.info.nLayer, compare: baseline.info.nLayer };
  for (const pane of PANES) {
    const histograms = frame.locator(`${ofRun(`#compare-${pane}-histograms`, panel.runId)} .histogram-canvas`);
    await histograms.first().waitFor({ state: 'attached' });
    assert.equal(await histograms.count(), 2 * layers[pane], `${pane}: histograms for every layer`);
    // Then the what-if, each column its model's.
    const rows = frame.locator(`${ofRun(`#compare-${pane}-quantisation`, panel.runId)}[data-state="ready"] tbody tr`);
    await rows.first().waitFor({ state: 'attached' });
    assert.equal(await rows.count(), layers[pane], `${pane}: a what-if row for every layer`);
  }
  // Both columns draw layer 0's logits on one axis, up to the larger model's top-1.
  const sharedEnd = Math.max((await model.outliers())[0].logits.top1, (await baseline.outliers())[0].logits.top1);
  for (const pane of PANES) {
    const end = await frame.locator(`#compare-${pane}-histograms section[data-layer="0"] canvas[data-kind="logits"]`).getAttribute('data-axis-end');
    assert.ok(Math.abs(Number(end) - sharedEnd) < 1e-4 * sharedEnd, `${pane}: axis ends at ${end}, expected ${sharedEnd}`);
  }
  await panel.screenshot('compare');
});

test('layer, head and the locked query token stay in step in both panes', async () => {
  const { frame } = panel;
  await frame.locator('#compare-layer-select').click();
  await frame.locator('#compare-layer-select vscode-option').nth(1).click();
  const layer1 = (selector: string) => frame.locator(`${ofRun(selector, panel.runId)}[data-layer="1"][data-head="0"]`).waitFor({ state: 'attached' });
  for (const pane of PANES) {
    await layer1(`#compare-${pane}-heatmap`);
    await frame.locator(`#compare-${pane}-title`, { hasText: 'layer 1 head 0' }).waitFor();
  }
  await layer1('#heatmap'); // the Maps tab follows too

  // Lock a query by clicking a row of the baseline's map; both panes show that token's spans.
  const T = (await bufferSize('#compare-compare-heatmap'))[0];
  const row = Math.floor(T / 2);
  await runCommand(panel.page, 'View: Toggle Maximized Panel');
  await frame.locator('#compare-compare-heatmap').scrollIntoViewIfNeeded();
  const box = (await frame.locator('#compare-compare-heatmap').boundingBox())!;
  await panel.page.mouse.click(box.x + box.width * 0.02, box.y + (box.height * (row + 0.5)) / T);
  for (const pane of PANES) {
    const spans = frame.locator(`${ofRun(`#compare-${pane}-spans`, panel.runId)}[data-layer="1"][data-query="${row}"]`);
    await spans.locator('.spans-heading', { hasText: `Key spans of query ${row} ` }).waitFor();
  }
  assert.equal((await drawnMap(panel.page, '#heatmap', panel.runId)).query, row, 'the Maps tab locks the same query');
  await panel.screenshot('compare-locked');
  await runCommand(panel.page, 'View: Toggle Maximized Panel');
});

test('Needle Test hides needles in a scratch copy and reports both models as the engine computes them', async () => {
  const { page } = panel;
  await openFile(page, 'sample.py');
  await page.keyboard.press('Control+Home'); // no selection: the test uses the whole document
  const input = page.locator('.quick-input-widget input');
  await page.keyboard.press('F1');
  await input.fill('>DiffTransformer: Needle Test');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'DiffTransformer: Needle Test' }).first().click();
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'N = 1, R = 1' }).first().click();
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'λ as trained' }).first().click();
  // Document lengths: the whole context, picked already.
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'the whole context' }).first().waitFor();
  const frame = webviewFrame(page);
  // Every text the progress line shows, recorded as it is set (waiting on the line could miss one).
  await frame.locator('#needle-progress').evaluate((line) => {
    type Records = { addedNodes: ArrayLike<{ textContent: string | null }> }[];
    type Observer = new (callback: (records: Records) => void) => { observe(target: unknown, options: { childList: boolean }): void };
    const panelWindow = globalThis as unknown as { needleProgress: string[]; MutationObserver: Observer };
    const shown: string[] = (panelWindow.needleProgress = []);
    new panelWindow.MutationObserver((records) => records.forEach((record) => Array.from(record.addedNodes, (node) => shown.push(node.textContent ?? '')))).observe(line, { childList: true });
  });
  await page.keyboard.press('Enter');
  // This test's report: sample.py with one needle and one query per document, both models.
  await frame.locator('.needle-heading', { hasText: 'Needle Test on sample.py: 1 needle, 1 query per document' }).waitFor({ timeout: 300_000 });
  for (const kind of ['diff', 'baseline']) await frame.locator(`#needle-table tr[data-kind="${kind}"]`).waitFor();
  assert.equal(await frame.getByRole('table', { name: /^Needle Test results/ }).getAttribute('id'), 'needle-table', 'the results table has an accessible name');
  // In the tab, after every document of each model in turn; gone with the report.
  const progress = await frame.locator('#needle-progress').evaluate(() => (globalThis as unknown as { needleProgress: string[] }).needleProgress);
  assert.equal(await frame.locator('#needle-progress').isHidden(), true, 'no progress line once the report is shown');

  const filler = fs.readFileSync(path.join(workspaceFolder, 'sample.py'), 'utf8');
  const options = { needles: 1, queries: 1, trials: 10, form: 'code' as const, language: 'python' };
  let context = 0; // the shipped model's, the one length run by default
  for (const [name, kind] of [[DEFAULT_MODEL, 'diff'], [DEFAULT_BASELINE, 'baseline']] as const) {
    const engine = await Engine.load(path.join(modelsFolder, name), 'cpu');
    if (kind === 'diff') context = engine.info.maxSeqLen;
    const expected = await engine.needleTest(filler, options);
    const row = frame.locator(`#needle-table tr[data-kind="${kind}"]`);
    for (const [metric, value] of [['accuracy', expected.accuracy], ['answerShare', expected.meanAnswerShare], ['noiseShare', expected.meanNoiseShare]] as const) {
      const shown = Number(await row.locator(`td[data-metric="${metric}"]`).getAttribute('data-value'));
      assert.ok(Math.abs(shown - value) < 1e-9, `${name} ${metric}: panel ${shown}, engine ${value}`);
    }
    if (kind === 'diff') {
      // The scratch copy beside the document is the middle trial's text, needles and all.
      const middle = expected.trials[Math.floor(expected.trials.length / 2)];
      const needleLine = middle.text.slice(middle.text.lastIndexOf('\n', middle.queries[0].valueSpan[0]) + 1, middle.text.indexOf('\n', middle.queries[0].valueSpan[0]));
      await page.locator('.tab', { hasText: 'sample (Needle Test' }).first().waitFor();
      await page.locator('.monaco-editor .view-lines', { hasText: needleLine.trim() }).first().waitFor();
    }
  }
  const documents = Array.from({ length: 10 }, (_, k) => `document ${k + 1} of 10 done (${context.toLocaleString('en-US')} tokens, needles at depth ${Math.round((100 * k) / 9)}%)`);
  assert.deepEqual(progress, [DEFAULT_MODEL, DEFAULT_BASELINE].flatMap((name) => documents.map((document) => `${name}: ${document}`)));
  const chart = await bufferSize('#needle-chart');
  assert.ok(chart[0] > 0 && chart[1] > 0, 'the depth chart is drawn');
  const grid = await bufferSize('#needle-grid');
  assert.ok(grid[0] > 0 && grid[1] > 0, 'the length x depth grid is drawn');
  assert.match(await frame.locator('#needle-grid-text').textContent() ?? '', new RegExp(`code-diff \\(diff\\) accuracy: ${context.toLocaleString('en-US')} tokens: \\d+% at depth 0, `), 'the grid as text');
  assert.equal(fs.readFileSync(path.join(panel.runDir, 'workspace', 'sample.py'), 'utf8'), filler, 'the user’s file is untouched');
  await panel.screenshot('needle-test');
});

test('the comparison and the Needle Test results come back after a window reload', async () => {
  const { page, frame } = panel;
  const [heading, table] = await Promise.all([frame.locator('.needle-heading').innerText(), frame.locator('#needle-table').innerText()]);
  await reloadWindow(page);
  await runCommand(page, 'DiffTransformer: Show Panel');
  await frame.locator('.needle-heading', { hasText: heading }).waitFor({ state: 'attached' });
  assert.equal(await frame.locator('#needle-table').innerText(), table, 'the Needle Test table is restored');
  await drawnMap(page, '#compare-compare-heatmap', panel.runId);
  const width = await frame.locator('#compare-compare-heatmap').evaluate((c) => (c as unknown as { width: number }).width);
  assert.ok(width > 1, 'the baseline map is drawn from the saved state');
});
