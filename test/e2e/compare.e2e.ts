// End to end: Compare with Baseline from the palette shows the DiffTransformer and its matched
// baseline side by side, and keeps their layer, head and locked query token in step.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Engine } from '../../extension/core/engine';
import { DEFAULT_BASELINE, DEFAULT_MODEL } from '../../extension/core/modelPath';
import { canvasPixel, openFile, runCommand, selectText, startSession, webviewFrame, type Session } from './harness';

const MODELS = path.resolve(__dirname, '..', '..', '..', 'models');
const SELECTED = 'def fibonacci(n: int) -> list[int]:';

let session: Session;
before(async () => {
  session = await startSession('compare');
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
  const baseline = await Engine.load(path.join(MODELS, DEFAULT_BASELINE), 'cpu');
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
  const layers = { main: (await Engine.load(path.join(MODELS, DEFAULT_MODEL), 'cpu')).info.nLayer, compare: baseline.info.nLayer };
  for (const pane of ['main', 'compare'] as const) {
    assert.equal(await frame.locator(`#compare-${pane}-histograms .histogram-canvas`).count(), 2 * layers[pane], `${pane}: histograms for every layer`);
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
