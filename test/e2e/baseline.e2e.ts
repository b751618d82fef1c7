// End to end, the features that run the model and its matched baseline: Compare with Baseline
// (side by side, layer, head and locked query token in step) and the Needle Test.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Engine } from '../../extension/core/engine';
import { DEFAULT_BASELINE, DEFAULT_MODEL } from '../../extension/core/modelPath';
import { canvasPixel, modelsFolder, openFile, runCommand, selectText, startSession, waitForStatusBarItem, webviewFrame, workspaceFolder, type Session } from './harness';

const SELECTED = 'def fibonacci(n: int) -> list[int]:';

let session: Session;
before(async () => {
  session = await startSession('baseline');
  await openFile(session.page, 'sample.py');
  await selectText(session.page, SELECTED);
  await runCommand(session.page, 'DiffTransformer: Compare with Baseline');
});
after(async () => {
  await session?.close();
});

/** Width and height of a canvas's drawing buffer. */
async function bufferSize(selector: string): Promise<number[]> {
  return webviewFrame(session.page)
    .locator(selector)
    .evaluate((c) => [(c as unknown as { width: number }).width, (c as unknown as { height: number }).height]);
}

test('both models are drawn side by side: the differential map and the baseline softmax map', async () => {
  const frame = webviewFrame(session.page);
  await frame.locator('body[data-comparing="true"]').waitFor({ state: 'attached', timeout: 60_000 });
  const baseline = await Engine.load(path.join(modelsFolder, DEFAULT_BASELINE), 'cpu');
  const result = await baseline.inspect(SELECTED);
  const T = result.tokens.length;
  await frame.locator('#compare-compare-title', { hasText: 'layer 0 head 0' }).waitFor({ timeout: 30_000 });
  assert.ok((await frame.locator('#compare-main-title').innerText()).includes(`${DEFAULT_MODEL} (diff)`));
  assert.ok((await frame.locator('#compare-compare-title').innerText()).includes(`${DEFAULT_BASELINE} (baseline)`));
  assert.deepEqual(await bufferSize('#compare-compare-heatmap'), [T, T], 'one pixel per cell of the baseline map');
  assert.deepEqual(await bufferSize('#compare-main-heatmap'), [T, T], 'the same tokens for the DIFF model (shared tokenizer)');

  // The baseline map is A1 (non-negative): its largest cell is drawn warm, a masked cell neutral.
  const map = baseline.map(0, 0, 'a1');
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
  for (const pane of ['main', 'compare'] as const) {
    assert.equal(await frame.locator(`#compare-${pane}-histograms .histogram-canvas`).count(), 2 * layers[pane], `${pane}: histograms for every layer`);
  }
  // Both columns draw layer 0's logits on one axis, up to the larger model's top-1.
  const sharedEnd = Math.max(model.outliers()[0].logits.top1, baseline.outliers()[0].logits.top1);
  for (const pane of ['main', 'compare'] as const) {
    const end = await frame.locator(`#compare-${pane}-histograms section[data-layer="0"] canvas[data-kind="logits"]`).getAttribute('data-axis-end');
    assert.ok(Math.abs(Number(end) - sharedEnd) < 1e-4 * sharedEnd, `${pane}: axis ends at ${end}, expected ${sharedEnd}`);
  }
  await session.screenshot('compare');
});

test('layer, head and the locked query token stay in step in both panes', async () => {
  const frame = webviewFrame(session.page);
  await frame.locator('#compare-layer-select').click();
  await frame.locator('#compare-layer-select vscode-option').nth(1).click();
  for (const pane of ['main', 'compare']) {
    await frame.locator(`#compare-${pane}-title`, { hasText: 'layer 1 head 0' }).waitFor({ timeout: 30_000 });
  }
  assert.equal(await frame.locator('body').getAttribute('data-layer'), '1', 'the Maps tab follows too');

  // Lock a query by clicking a row of the baseline's map; both panes show that token's spans.
  const T = (await bufferSize('#compare-compare-heatmap'))[0];
  const row = Math.floor(T / 2);
  await runCommand(session.page, 'View: Toggle Maximized Panel');
  await frame.locator('#compare-compare-heatmap').scrollIntoViewIfNeeded();
  const box = (await frame.locator('#compare-compare-heatmap').boundingBox())!;
  await session.page.mouse.click(box.x + box.width * 0.02, box.y + (box.height * (row + 0.5)) / T);
  for (const pane of ['main', 'compare']) {
    await frame.locator(`#compare-${pane}-spans .spans-heading`, { hasText: `Key spans of query ${row} ` }).waitFor({ timeout: 30_000 });
  }
  assert.equal(await frame.locator('body').getAttribute('data-query'), String(row));
  await session.screenshot('compare-locked');
  await runCommand(session.page, 'View: Toggle Maximized Panel');
});

test('Needle Test hides needles in a scratch copy and reports both models as the engine computes them', async () => {
  const { page } = session;
  await openFile(page, 'sample.py');
  await page.keyboard.press('Control+Home'); // no selection: the test uses the whole document
  const input = page.locator('.quick-input-widget input');
  await page.keyboard.press('F1');
  await input.fill('>DiffTransformer: Needle Test');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'DiffTransformer: Needle Test' }).first().click();
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'N = 1, R = 1' }).first().click();
  const frame = webviewFrame(page);
  await frame.locator('#needle-table tbody tr').nth(1).waitFor({ timeout: 120_000 });

  const filler = fs.readFileSync(path.join(workspaceFolder, 'sample.py'), 'utf8');
  const options = { needles: 1, queries: 1, trials: 10, form: 'code' as const };
  for (const [name, kind] of [[DEFAULT_MODEL, 'diff'], [DEFAULT_BASELINE, 'baseline']] as const) {
    const expected = await (await Engine.load(path.join(modelsFolder, name), 'cpu')).needleTest(filler, options);
    const row = frame.locator(`#needle-table tr[data-kind="${kind}"]`);
    for (const [metric, value] of [['accuracy', expected.accuracy], ['answerShare', expected.meanAnswerShare], ['noiseShare', expected.meanNoiseShare]] as const) {
      const shown = Number(await row.locator(`td[data-metric="${metric}"]`).getAttribute('data-value'));
      assert.ok(Math.abs(shown - value) < 1e-9, `${name} ${metric}: panel ${shown}, engine ${value}`);
    }
    if (kind === 'diff') {
      // The scratch copy beside the document is the middle trial's text, needles and all.
      const middle = expected.trials[Math.floor(expected.trials.length / 2)];
      const needleLine = middle.text.slice(middle.text.lastIndexOf('\n', middle.queries[0].valueSpan[0]) + 1, middle.text.indexOf('\n', middle.queries[0].valueSpan[0]));
      await page.locator('.tab', { hasText: 'Untitled' }).first().waitFor({ timeout: 30_000 });
      await page.locator('.monaco-editor .view-lines', { hasText: needleLine.trim() }).first().waitFor({ timeout: 30_000 });
    }
  }
  const chart = await bufferSize('#needle-chart');
  assert.ok(chart[0] > 0 && chart[1] > 0, 'the depth chart is drawn');
  assert.equal(fs.readFileSync(path.join(session.runDir, 'workspace', 'sample.py'), 'utf8'), filler, 'the user’s file is untouched');
  await session.screenshot('needle-test');
});

test('the comparison and the Needle Test results come back after a window reload', async () => {
  const { page } = session;
  const frame = webviewFrame(page);
  const before = await frame.locator('#needle-table').innerText();
  await runCommand(page, 'Developer: Reload Window');
  await waitForStatusBarItem(page, 'DiffTransformer');
  await runCommand(page, 'DiffTransformer: Show Panel');
  await frame.locator('#needle-table tbody tr').nth(1).waitFor({ state: 'attached', timeout: 60_000 });
  assert.equal(await frame.locator('#needle-table').innerText(), before, 'the Needle Test table is restored');
  await frame.locator('body[data-comparing="true"]').waitFor({ state: 'attached', timeout: 30_000 });
  const width = await frame.locator('#compare-compare-heatmap').evaluate((c) => (c as unknown as { width: number }).width);
  assert.ok(width > 1, 'the baseline map is drawn from the saved state');
});
