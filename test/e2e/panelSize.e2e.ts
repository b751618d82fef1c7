// End to end, the panel at the sizes VS Code gives it: at the bottom panel's default height (291 px
// of webview) the map, its legend and the key spans are all in view; at 200 px each is in view or
// named by the "more below" cue, which scrolls to it, and no tab is taller than the panel without
// the cue; the overview's context menu opened on the rightmost and the lowest thumbnails stays inside
// the panel; Inspect on a binary file or from the Welcome page says why in the panel's banner.
// Screenshots in test-results/e2e/panel-size/.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { DEFAULT_MODEL } from '../../extension/core/modelPath';
import { pickFromQuickInput } from '../vscode/server';
import { drawnMap, ofRun, packageShape, panelFixture, runCommand, webviewFrame } from './harness';
import { panelFrame, setWebviewHeight, waitInPanel, waitInView } from './panelLayout';

const SELECTED = 'def fibonacci(n: int) -> list[int]:';
const INSPECT = 'DiffTransformer: Inspect Selection';
/** The webview's height in VS Code's bottom panel as it first opens. */
const DEFAULT_HEIGHT = 291;
/** The parts that share a short panel's height, by selector, with the name the cue gives each. */
const SHARED_PARTS = [
  ['#heatmap', 'map'],
  ['#legend', 'legend'],
  ['#spans', 'key spans'],
] as const;

const panel = panelFixture('panel-size', {
  inspect: { file: 'sample.py', text: SELECTED, command: INSPECT },
  ready: async ({ page, frame, runId }) => {
    await drawnMap(page, '#heatmap', runId);
    await frame.locator(`${ofRun('#spans', runId)} .span-item`).first().waitFor();
  },
});

/** Whether the element of `selector` lies inside the webview's visible area (a JavaScript expression). */
const inView = (selector: string) => `(() => {
  const box = document.querySelector(${JSON.stringify(selector)})?.getBoundingClientRect();
  return Boolean(box) && box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight && box.left >= 0 && box.right <= window.innerWidth;
})()`;
/** The cue's text while it shows, else '' (a JavaScript expression). */
const CUE_TEXT = `(() => { const cue = document.querySelector('#more-below'); return cue && !cue.hidden && cue.getBoundingClientRect().height > 0 ? cue.textContent : ''; })()`;

test('at the default height the map, its legend and the key spans are all in view', async () => {
  const { page } = panel;
  await setWebviewHeight(page, DEFAULT_HEIGHT);
  for (const selector of [ofRun('#heatmap', panel.runId), '#legend', ofRun('#spans', panel.runId)]) await waitInView(panel, selector);
  const frame = await panelFrame(page);
  // What does not fit (the logit lens) is named by the cue, and only that.
  await waitInPanel(frame, `${CUE_TEXT}.includes('logit lens')`, 'the cue names the logit lens');
  const cue = (await frame.evaluate(CUE_TEXT)) as string;
  for (const [, name] of SHARED_PARTS) assert.ok(!cue.includes(name), `the cue does not name the ${name}, which is in view: ${cue}`);
  await panel.screenshot('maps-291px');
});

test('at 200 px each part is in view or named by the cue, which scrolls to it', async () => {
  const { page } = panel;
  await setWebviewHeight(page, 200);
  const frame = await panelFrame(page);
  await frame.evaluate('window.scrollTo(0, 0)');
  const shownOrCued = SHARED_PARTS.map(([selector, name]) => `(${inView(selector)} || ${CUE_TEXT}.includes(${JSON.stringify(name)}))`).join(' && ');
  await waitInPanel(frame, shownOrCued, 'the map, the legend and the key spans are each in view or named by the cue');
  await panel.screenshot('maps-200px');
  const cue = (await frame.evaluate(CUE_TEXT)) as string;
  const hidden = SHARED_PARTS.filter(([, name]) => cue.includes(name));
  assert.ok(hidden.length > 0, `a 200 px panel has no room for everything; the cue says what is below: ${cue}`);

  // The cue scrolls the first part it names into view.
  await webviewFrame(page).locator('#more-below').click();
  const [firstSelector, firstName] = hidden[0];
  await waitInPanel(frame, `window.scrollY > 0 && document.querySelector(${JSON.stringify(firstSelector)}).getBoundingClientRect().top < window.innerHeight / 2`, `the ${firstName} is scrolled into view`);
  await panel.screenshot('maps-200px-scrolled');

  // No tab is taller than the panel without the cue.
  for (const tab of ['whatIf', 'outliers', 'needles', 'maps']) {
    await webviewFrame(page).locator(`#tab-${tab}`).click();
    await webviewFrame(page).locator(`#view-${tab}`).waitFor({ state: 'visible' });
    await frame.evaluate('window.scrollTo(0, 0)');
    const taller = 'document.scrollingElement.scrollHeight > window.innerHeight + 16';
    await waitInPanel(frame, `!(${taller}) || ${CUE_TEXT} !== ''`, `the ${tab} tab shows the cue when it is taller than the panel`);
    await panel.screenshot(`${tab}-200px`);
  }
  await setWebviewHeight(page, DEFAULT_HEIGHT);
});

test("the overview's context menu stays inside the panel at its right and bottom edges", async () => {
  const { page } = panel;
  await setWebviewHeight(page, DEFAULT_HEIGHT);
  const frame = await panelFrame(page);
  const { layers, heads } = packageShape(DEFAULT_MODEL);
  const menuInside = `(() => {
    const menu = document.querySelector('#head-menu');
    const box = menu.getBoundingClientRect();
    const page = document.documentElement;
    return !menu.hidden && box.width > 0 && box.left >= 0 && box.top >= 0 && box.right <= page.clientWidth && box.bottom <= page.clientHeight;
  })()`;
  // The top right thumbnail (near the right edge), then the bottom right one (scrolled to the bottom edge).
  for (const [layer, shot] of [[0, 'menu-right-edge'], [layers - 1, 'menu-bottom-edge']] as const) {
    const thumbnail = webviewFrame(page).locator(`#overview canvas[data-layer="${layer}"][data-head="${heads - 1}"]`);
    await thumbnail.evaluate((canvas) => (canvas as unknown as { scrollIntoView(options: object): void }).scrollIntoView({ block: 'end' }));
    const box = (await thumbnail.boundingBox())!;
    await thumbnail.click({ button: 'right', position: { x: box.width - 2, y: box.height - 2 } });
    await webviewFrame(page).locator('#head-menu:not([hidden]) #menu-ablate-head', { hasText: `L${layer} H${heads - 1}` }).waitFor();
    await waitInPanel(frame, menuInside, `the menu of L${layer} H${heads - 1} is inside the panel`).catch(async (error) => {
      await panel.screenshot(`${shot}-failed`);
      const boxes = await frame.evaluate(`JSON.stringify(document.querySelector('#head-menu').getBoundingClientRect()) + ' in ' + document.documentElement.clientWidth + 'x' + document.documentElement.clientHeight`);
      throw new Error(`${(error as Error).message}: ${boxes}`);
    });
    await panel.screenshot(shot);
    await page.keyboard.press('Escape');
    await webviewFrame(page).locator('#head-menu').waitFor({ state: 'hidden' });
  }
});

test('Inspect on a binary file, or from the Welcome page, says why in the panel banner', async () => {
  const { page } = panel;
  const banner = webviewFrame(page).locator('#error-banner:not([hidden])');
  fs.writeFileSync(path.join(panel.runDir, 'workspace', 'image.bin'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0x0d, 0xff, 0xfe, 0, 1, 2, 3]));
  // VS Code shows a binary file as a note, not in a text editor.
  await pickFromQuickInput(page, 'Control+P', 'image.bin', 'image.bin');
  await page.locator('.tab.active', { hasText: 'image.bin' }).waitFor();
  await runCommand(page, 'DiffTransformer: Inspect File');
  await banner.filter({ hasText: 'image.bin is not shown as text' }).waitFor();
  assert.match(await banner.innerText(), /last inspection that succeeded/, 'the map shown is said to be the last one that worked');
  await panel.screenshot('banner-binary');

  await runCommand(page, 'Help: Welcome');
  await page.locator('.tab.active', { hasText: 'Welcome' }).waitFor();
  await runCommand(page, 'DiffTransformer: Inspect File');
  await banner.filter({ hasText: 'no active editor' }).waitFor();
  assert.doesNotMatch(await banner.innerText(), /image\.bin/, "the binary file's error is replaced by the new one");
  await panel.screenshot('banner-welcome');
  await runCommand(page, 'View: Close All Editors');
});
