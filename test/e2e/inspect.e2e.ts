// End to end in a real VS Code in a real browser: select code, run Inspect Selection from the
// palette, and check what the person sees — the heatmap's pixels against the model's own numbers,
// the hover, the span highlights, untrusted text shown as text, and Export View's files.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Engine } from '../../extension/core/engine';
import { DEFAULT_BASELINE, DEFAULT_MODEL } from '../../extension/core/modelPath';
import { canvasPixel, hoverText, modelsFolder, openFile, packageShape, runCommand, selectText, startSession, waitForStatusBarItem, webviewFrame, workspaceFolder, type Session } from './harness';

const PACKAGE = path.join(modelsFolder, DEFAULT_MODEL);
const SELECTED = 'numbers.append(numbers[-1] + numbers[-2])';

let session: Session;
before(async () => {
  session = await startSession('inspect');
  await openFile(session.page, 'sample.py');
  await selectText(session.page, SELECTED);
  await runCommand(session.page, 'DiffTransformer: Inspect Selection');
});
after(async () => {
  await session?.close();
});

type Rgba = [number, number, number, number];

async function drawnMap() {
  const frame = webviewFrame(session.page);
  const body = frame.locator('body[data-view][data-layer][data-head]');
  await body.waitFor({ state: 'attached', timeout: 60_000 });
  const [view, layer, head] = await Promise.all(['data-view', 'data-layer', 'data-head'].map((a) => body.getAttribute(a)));
  return { frame, view: view!, layer: Number(layer), head: Number(head) };
}

test('the heatmap shows the differential map the model computes', async () => {
  const { frame, view, layer, head } = await drawnMap();
  assert.equal(view, 'diff', 'a DIFF model opens on the signed differential map');
  const engine = await Engine.load(PACKAGE, 'cpu');
  const result = await engine.inspect(SELECTED);
  const T = result.tokens.length;
  const map = engine.map(layer, head, 'diff');
  const size = await frame.locator('#heatmap').evaluate((c) => [(c as unknown as { width: number }).width, (c as unknown as { height: number }).height]);
  assert.deepEqual(size, [T, T], 'one canvas pixel per (query, key) cell');

  let [maxAt, minAt] = [0, 0];
  for (let i = 0; i < map.length; i++) {
    if (map[i] > map[maxAt]) maxAt = i;
    if (map[i] < map[minAt]) minAt = i;
  }
  assert.ok(map[minAt] < 0, 'the model’s map has negative entries');
  const pixel = (flat: number): Promise<Rgba> => canvasPixel(frame, '#heatmap', flat % T, Math.floor(flat / T));
  const [strongest, mostNegative, future] = await Promise.all([pixel(maxAt), pixel(minAt), canvasPixel(frame, '#heatmap', T - 1, 0)]);
  const hue = ([r, , b]: Rgba) => r - b;
  assert.ok(hue(strongest) > 40, `the largest positive cell is drawn warm: ${strongest}`);
  assert.ok(hue(mostNegative) < -40, `the most negative cell is drawn cool: ${mostNegative}`);
  const zero = Math.abs(hue(future));
  assert.ok(zero < Math.abs(hue(strongest)) && zero < Math.abs(hue(mostNegative)), `a masked (future) cell is neutral: ${future}`);
  const lambdaText = await frame.locator('#lambda').innerText();
  assert.ok(lambdaText.includes(result.lambda[0].toFixed(3)), `lambda per layer shown: ${lambdaText}`);
  await runCommand(session.page, 'View: Toggle Maximized Panel');
  await session.screenshot('panel-maximized');
  await runCommand(session.page, 'View: Toggle Maximized Panel');
  await session.screenshot('heatmap');
});

test('the overview grid, spans and histograms are drawn', async () => {
  const frame = webviewFrame(session.page);
  assert.ok((await frame.locator('#overview canvas').count()) >= 1, 'overview thumbnails are canvases');
  await frame.locator('#spans .span-item').first().waitFor({ timeout: 30_000 });
  assert.ok((await frame.locator('#spans .span-item').count()) >= 1);
  await frame.locator('#histograms .histogram-canvas').first().waitFor({ state: 'attached', timeout: 30_000 });
  assert.equal(await frame.locator('#histograms .histogram-canvas').count(), 2 * packageShape(DEFAULT_MODEL).layers, 'hidden-state and logit histograms for every layer');
});

test('retrieved spans are highlighted in the editor', async () => {
  // Evaluated in the page (a string: this project's Node tsconfig has no DOM types).
  const highlighted = await session.page.evaluate<number>(`
    Array.from(document.querySelectorAll('.monaco-editor .view-overlays div, .monaco-editor .view-lines span'))
      .filter((element) => getComputedStyle(element).backgroundColor.startsWith('rgba(255, 166, 0')).length`);
  assert.ok(highlighted > 0, 'span decorations are painted in the editor');
});

test('hover shows the next-token predictions', async () => {
  const text = fs.readFileSync(path.join(workspaceFolder, 'sample.py'), 'utf8');
  const before = text.slice(0, text.indexOf(SELECTED));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n') + 2;
  const hover = await hoverText(session.page, line, column);
  assert.match(hover, /DiffTransformer/);
  assert.match(hover, /Surprisal: \d+\.\d\d bits/);
  assert.match(hover, /Next token/);
  assert.match(hover, /\d+\.\d%/);
  await session.screenshot('hover');
  await session.page.keyboard.press('Escape');
});

test('text with markup is shown as text and runs nothing', async () => {
  const dialogs: string[] = [];
  session.page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await selectText(session.page, '<script>alert(1)</script>');
  await runCommand(session.page, 'DiffTransformer: Inspect Selection');
  const frame = webviewFrame(session.page);
  await frame.locator('#spans .span-item').first().waitFor({ timeout: 30_000 });
  assert.equal(await frame.locator('script', { hasText: 'alert' }).count(), 0, 'the selected markup created no script');
  const spans = await frame.locator('#spans').innerText();
  assert.ok(/[<>/]|script|alert/.test(spans), `span texts show the markup literally: ${spans}`);
  assert.deepEqual(dialogs, []);
  await session.screenshot('markup');
});

test('Export View writes a PNG and a JSON', async () => {
  const target = path.join(session.runDir, 'exported-view.png');
  // The palette closes into code-server's save dialog, a quick input holding a path: type ours.
  const { page } = session;
  const input = page.locator('.quick-input-widget input');
  await page.keyboard.press('F1');
  await input.fill('>DiffTransformer: Export View');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'DiffTransformer: Export View' }).first().click();
  const pathInput = page.locator('.quick-input-widget input:not([aria-label^="Type the name of a command"])');
  await pathInput.waitFor({ state: 'visible' });
  // The dialog fills in its default path and lists that folder asynchronously, and validates a
  // typed path the same way: type ours once the default is in, and press Enter until it is taken.
  await page.waitForFunction((el) => (el as unknown as { value: string }).value.length > 0, await pathInput.elementHandle());
  const json = target.replace(/\.png$/, '.json');
  for (let waited = 0; !fs.existsSync(json) && waited < 30_000; waited += 1000) {
    if (await pathInput.isVisible()) {
      if ((await pathInput.inputValue()) !== target) await pathInput.fill(target);
      await new Promise((r) => setTimeout(r, 500));
      await page.keyboard.press('Enter');
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  const png = fs.readFileSync(target);
  assert.equal(png.subarray(1, 4).toString('ascii'), 'PNG');
  const record = JSON.parse(fs.readFileSync(json, 'utf8'));
  assert.match(record.model.sha256, /^[0-9a-f]{64}$/);
  assert.equal(record.map.values.length, record.map.rows ** 2);
  await session.screenshot('exported');
});

test('the panel shows the last map again after a window reload', async () => {
  const { page } = session;
  const before = await drawnMap();
  await runCommand(page, 'Developer: Reload Window');
  await waitForStatusBarItem(page, 'DiffTransformer');
  await runCommand(page, 'DiffTransformer: Show Panel');
  const after = await drawnMap();
  assert.deepEqual([after.view, after.layer, after.head], [before.view, before.layer, before.head]);
  const width = await after.frame.locator('#heatmap').evaluate((c) => (c as unknown as { width: number }).width);
  assert.ok(width > 1, 'the heatmap is drawn from the saved state');
  await session.screenshot('after-reload');
});

test('Select Model… switches to the baseline, whose panel has only its A maps', async () => {
  const { page } = session;
  const input = page.locator('.quick-input-widget input');
  await page.keyboard.press('F1');
  await input.fill('>DiffTransformer: Select Model');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'DiffTransformer: Select Model' }).first().click();
  // The palette turns into the model picker.
  await page.locator('.quick-input-list .monaco-list-row', { hasText: DEFAULT_BASELINE }).first().click();
  await waitForStatusBarItem(page, DEFAULT_BASELINE);
  await openFile(page, 'sample.py');
  await selectText(page, SELECTED);
  await runCommand(page, 'DiffTransformer: Inspect Selection');
  const frame = webviewFrame(page);
  await frame.locator('body[data-view="a1"]').waitFor({ state: 'attached', timeout: 60_000 });
  assert.ok((await frame.locator('body').innerText()).includes(DEFAULT_BASELINE));
  const { layers, heads } = packageShape(DEFAULT_BASELINE);
  assert.equal(await frame.locator('#overview canvas').count(), layers * heads, 'a thumbnail for each layer and standard head');
  await session.screenshot('baseline');
});
