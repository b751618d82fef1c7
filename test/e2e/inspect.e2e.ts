// End to end in a real VS Code in a real browser: select code, run Inspect Selection from the
// palette, and check what the person sees — the heatmap's pixels against the model's own numbers,
// the hover, the span highlights, untrusted text shown as text, and Export View's files.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { Engine } from '../../extension/core/engine';
import { DEFAULT_BASELINE, DEFAULT_MODEL } from '../../extension/core/modelPath';
import { BASELINE_VIEWS } from '../../shared/model';
import {
  canvasPixel,
  drawnMap,
  hoverText,
  inspectText,
  inspectWith,
  modelsFolder,
  ofRun,
  packageShape,
  panelFixture,
  reloadWindow,
  runCommand,
  selectText,
  waitForHighlightedLines,
  waitForStatusBarItem,
  webviewFrame,
  workspaceFolder,
} from './harness';

const PACKAGE = path.join(modelsFolder, DEFAULT_MODEL);
const SELECTED = 'numbers.append(numbers[-1] + numbers[-2])';
const INSPECT = 'DiffTransformer: Inspect Selection';

/** Its runId is the run the panel shows, the one the last test that inspected started. */
const panel = panelFixture('inspect', { inspect: { file: 'sample.py', text: SELECTED, command: INSPECT } });

type Rgba = [number, number, number, number];

test('the heatmap shows the differential map the model computes', async () => {
  const { frame } = panel;
  const { view, layer, head } = await drawnMap(panel.page, '#heatmap', panel.runId);
  assert.equal(view, 'diff', 'a DIFF model opens on the signed differential map');
  const engine = await Engine.load(PACKAGE, 'cpu');
  const result = await engine.inspect(SELECTED);
  const T = result.tokens.length;
  const map = await engine.map(layer, head, 'diff');
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
  // The scale is √|value| over ±max|value|, so a trained model's weaker negatives are paler: cool,
  // but not as far from neutral as the strongest cell.
  assert.ok(hue(mostNegative) < -15, `the most negative cell (${map[minAt].toFixed(3)}) is drawn cool: ${mostNegative}`);
  const zero = Math.abs(hue(future));
  assert.ok(zero < Math.abs(hue(strongest)) && zero < Math.abs(hue(mostNegative)), `a masked (future) cell is neutral: ${future}`);
  const lambdaText = await frame.locator('#lambda').innerText();
  assert.ok(lambdaText.includes(result.lambda[0].toFixed(3)), `lambda per layer shown: ${lambdaText}`);
  await runCommand(panel.page, 'View: Toggle Maximized Panel');
  await panel.screenshot('panel-maximized');
  await runCommand(panel.page, 'View: Toggle Maximized Panel');
  await panel.screenshot('heatmap');
});

test('the overview grid, spans and, once the Outliers tab is shown, histograms are drawn', async () => {
  const { frame } = panel;
  const { layers, heads } = packageShape(DEFAULT_MODEL);
  assert.equal(await frame.locator('#overview canvas').count(), layers * heads, 'a thumbnail canvas for each layer and head');
  await frame.locator(`${ofRun('#spans', panel.runId)} .span-item`).first().waitFor();
  // The histograms are computed when a tab that shows them opens.
  await frame.locator('#tab-outliers').click();
  await frame.locator(`${ofRun('#histograms', panel.runId)} .histogram-canvas`).first().waitFor({ state: 'attached' });
  assert.equal(await frame.locator('#histograms .histogram-canvas').count(), 2 * layers, 'hidden-state and logit histograms for every layer');
  await frame.locator('#tab-maps').click();
});

test('retrieved spans are highlighted in the editor', async () => {
  // The inspected text is one line, so this run's highlights are all on it.
  await waitForHighlightedLines(panel.page, 'every', SELECTED);
});

test('hover shows the next-token predictions', async () => {
  const text = fs.readFileSync(path.join(workspaceFolder, 'sample.py'), 'utf8');
  const before = text.slice(0, text.indexOf(SELECTED));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n') + 2;
  const { layer, head } = await drawnMap(panel.page, '#heatmap', panel.runId);
  const hover = await hoverText(panel.page, line, column, `Attends to (layer ${layer}, head ${head})`);
  assert.match(hover, /DiffTransformer/);
  assert.match(hover, /Surprisal: \d+\.\d\d bits/);
  assert.match(hover, /Next token/);
  assert.match(hover, /\d+\.\d%/);
  await panel.screenshot('hover');
  await panel.page.keyboard.press('Escape');
});

test('text with markup is shown as text and runs nothing', async () => {
  const dialogs: string[] = [];
  panel.page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await selectText(panel.page, '<script>alert(1)</script>');
  panel.runId = await inspectWith(panel.page, INSPECT, DEFAULT_MODEL);
  const { frame } = panel;
  const spanList = frame.locator(ofRun('#spans', panel.runId));
  await spanList.locator('.span-item').first().waitFor();
  assert.equal(await frame.locator('script', { hasText: 'alert' }).count(), 0, 'the selected markup created no script');
  const spans = await spanList.innerText();
  assert.ok(/[<>/]|script|alert/.test(spans), `span texts show the markup literally: ${spans}`);
  assert.deepEqual(dialogs, []);
  await panel.screenshot('markup');
});

test('Export View writes a PNG and a JSON', async () => {
  // The palette closes into code-server's save dialog, a quick input holding a path. It fills in
  // the command's default (difftransformer-view.png in the workspace) and lists that folder
  // asynchronously, and under load it can overwrite a path typed meanwhile; so the test takes the
  // default, as a user pressing Enter would, and presses Enter until the dialog has taken it.
  const target = path.join(panel.runDir, 'workspace', 'difftransformer-view.png');
  const { page } = panel;
  const input = page.locator('.quick-input-widget input');
  await page.keyboard.press('F1');
  await input.fill('>DiffTransformer: Export View');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'DiffTransformer: Export View' }).first().click();
  const pathInput = page.locator('.quick-input-widget input:not([aria-label^="Type the name of a command"])');
  await pathInput.waitFor({ state: 'visible' });
  await page.waitForFunction((el) => (el as unknown as { value: string }).value.endsWith('difftransformer-view.png'), await pathInput.elementHandle());
  const json = target.replace(/\.png$/, '.json');
  for (let waited = 0; !fs.existsSync(json) && waited < 90_000; waited += 1000) {
    if (await pathInput.isVisible()) await page.keyboard.press('Enter');
    await new Promise((r) => setTimeout(r, 1000));
  }
  const png = fs.readFileSync(target);
  assert.equal(png.subarray(1, 4).toString('ascii'), 'PNG');
  const record = JSON.parse(fs.readFileSync(json, 'utf8'));
  assert.match(record.model.sha256, /^[0-9a-f]{64}$/);
  const T = record.tokens.length;
  assert.deepEqual(
    [record.map.viewport.firstRow, record.map.viewport.endRow, record.map.viewport.firstKey, record.map.viewport.endKey],
    [0, T, 0, T],
    'the whole map, as the panel shows it',
  );
  assert.equal(record.map.values.length, record.map.rows * record.map.cols);
  assert.ok(record.tokens.join('').includes('<script>alert(1)</script>'), 'the export is of the last inspection, the markup');
  await panel.screenshot('exported');
});

test('the panel shows the last map again after a window reload', async () => {
  const { page } = panel;
  const before = await drawnMap(page, '#heatmap', panel.runId);
  await reloadWindow(page);
  await runCommand(page, 'DiffTransformer: Show Panel');
  // The new page's panel, restored from its saved state: the same run, view, layer, head and query.
  const after = await drawnMap(page, '#heatmap', panel.runId);
  assert.deepEqual(after, before);
  const width = await webviewFrame(page).locator('#heatmap').evaluate((c) => (c as unknown as { width: number }).width);
  assert.ok(width > 1, 'the heatmap is drawn from the saved state');
  await panel.screenshot('after-reload');
});

test('Select Model… switches to the baseline, whose panel has only its A maps', async () => {
  const { page } = panel;
  const input = page.locator('.quick-input-widget input');
  await page.keyboard.press('F1');
  await input.fill('>DiffTransformer: Select Model');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'DiffTransformer: Select Model' }).first().click();
  // The palette turns into the model picker.
  await page.locator('.quick-input-list .monaco-list-row', { hasText: DEFAULT_BASELINE }).first().click();
  await waitForStatusBarItem(page, DEFAULT_BASELINE);
  panel.runId = await inspectText(page, 'sample.py', SELECTED, INSPECT, DEFAULT_BASELINE);
  const frame = webviewFrame(page);
  const { view } = await drawnMap(page, '#heatmap', panel.runId);
  assert.equal(view, 'a1', 'a baseline opens on its softmax map');
  assert.deepEqual(await frame.locator('#view-switch vscode-radio').evaluateAll((radios) => radios.map((radio) => (radio as unknown as { dataset: { view: string } }).dataset.view)), BASELINE_VIEWS, 'only the A map is offered');
  assert.ok((await frame.locator('#source').innerText()).includes(DEFAULT_BASELINE));
  const { layers, heads } = packageShape(DEFAULT_BASELINE);
  assert.equal(await frame.locator('#overview canvas').count(), layers * heads, 'a thumbnail for each layer and standard head');
  await panel.screenshot('baseline');
});
