// End to end, how the panel fits and labels what it shows: the heatmap in view without scrolling
// from a 300 px panel to a maximized one, Compare's columns stacked when the panel is narrow, an
// error visible at any scroll position with the stale map greyed, token texts whose whitespace
// and byte fragments are shown as signs, a λ line that wraps between entries only, and a locked
// row's label that no other label overlaps. Screenshots of each tab at both heights are kept in
// test-results/e2e/layout/.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { Engine } from '../../extension/core/engine';
import { DEFAULT_MODEL } from '../../extension/core/modelPath';
import { drawnMap, inspectWith, modelsFolder, ofRun, openFile, panelFixture, runCommand, webviewFrame } from './harness';
import { panelFrame, setPanelHeight, waitInPanel, waitInView } from './panelLayout';

const SELECTED = 'def fibonacci(n: int) -> list[int]:';
const INSPECT = 'DiffTransformer: Inspect Selection';
const COMPARE = 'DiffTransformer: Compare with Baseline';
/** The least side of the Maps tab's heatmap at the default panel height: the token labels took a
 *  fixed 96 px of the frame and left the map about 70 px for this selection's 17 tokens; with labels
 *  that shrink in a short panel it is 119 px. */
const MIN_DEFAULT_SIDE = 100;

const panel = panelFixture('layout', { inspect: { file: 'sample.py', text: SELECTED, command: COMPARE } });

async function showTab(tab: 'maps' | 'outliers' | 'compare'): Promise<void> {
  await panel.frame.locator(`#tab-${tab}`).click();
  await panel.frame.locator(`#view-${tab}`).waitFor({ state: 'visible' });
}

test('the heatmap is in view without scrolling at the default height, at 300 px and maximized, sized to the room', async () => {
  const { page } = panel;
  for (const pane of ['main', 'compare']) await drawnMap(page, `#compare-${pane}-heatmap`, panel.runId);
  // The Compare tab opened for the comparison: both maps at the top, side by side on a wide panel.
  const compareMain = await waitInView(panel, ofRun('#compare-main-heatmap', panel.runId));
  const compareBaseline = await waitInView(panel, ofRun('#compare-compare-heatmap', panel.runId));
  assert.ok(Math.abs(compareMain.top - compareBaseline.top) < 1, 'the columns are side by side on a wide panel');

  await showTab('maps');
  const atDefault = await waitInView(panel, ofRun('#heatmap', panel.runId));
  await panel.screenshot('maps-default');
  const defaultHeight = (await page.locator('.part.panel').boundingBox())!.height;

  await setPanelHeight(page, 300);
  const at300 = await waitInView(panel, ofRun('#heatmap', panel.runId));
  await panel.screenshot('maps-300px');
  await showTab('outliers');
  await webviewFrame(page).locator(`${ofRun('#histograms', panel.runId)} .histogram-canvas`).first().waitFor({ state: 'visible' });
  await panel.screenshot('outliers-300px');
  // Compare has its pickers and each column's title above its map: at 300 px the map may start at
  // the fold (its token labels take 96 px), so this is only looked at.
  await showTab('compare');
  await panel.screenshot('compare-300px');

  await runCommand(page, 'View: Toggle Maximized Panel');
  const compareTall = await waitInView(panel, ofRun('#compare-main-heatmap', panel.runId));
  await panel.screenshot('compare-tall');
  await showTab('outliers');
  await panel.screenshot('outliers-tall');
  await showTab('maps');
  const tall = await waitInView(panel, ofRun('#heatmap', panel.runId));
  await panel.screenshot('maps-tall');
  await runCommand(page, 'View: Toggle Maximized Panel');
  await setPanelHeight(page, defaultHeight);

  assert.ok(atDefault.height >= MIN_DEFAULT_SIDE, `at the default height the map is at least ${MIN_DEFAULT_SIDE} px: ${atDefault.height} px`);
  assert.ok(at300.height <= atDefault.height, `a lower panel, a map no larger: ${at300.height} px at 300, ${atDefault.height} px by default`);
  assert.ok(tall.height > 1.5 * at300.height, `a taller panel, a larger map: ${tall.height} px maximized, ${at300.height} px at 300`);
  assert.ok(compareTall.height > 1.5 * compareMain.height, `Compare's maps grow with the panel too: ${compareTall.height} px maximized, ${compareMain.height} px by default`);
});

test('Compare stacks its columns when the panel is narrow', async () => {
  const { page } = panel;
  await showTab('compare');
  const columnsTop = async () =>
    (await panelFrame(page)).evaluate(`(() => {
      const [main, compare] = ['#compare-main', '#compare-compare'].map((id) => document.querySelector(id).getBoundingClientRect());
      return { mainBottom: main.bottom, compareTop: compare.top, mainTop: main.top };
    })()`) as Promise<{ mainBottom: number; compareTop: number; mainTop: number }>;
  const viewport = page.viewportSize()!;
  const frame = await panelFrame(page);
  const [main, compare] = ['#compare-main', '#compare-compare'].map((id) => `document.querySelector('${id}').getBoundingClientRect()`);
  await page.setViewportSize({ width: 600, height: viewport.height });
  try {
    await waitInPanel(frame, `${compare}.top >= ${main}.bottom`, 'the columns stack');
    const stacked = await columnsTop();
    assert.ok(stacked.compareTop >= stacked.mainBottom, `the baseline's column is under the model's: ${JSON.stringify(stacked)}`);
    await panel.screenshot('compare-narrow');
  } finally {
    await page.setViewportSize(viewport);
  }
  await waitInPanel(frame, `${compare}.top === ${main}.top`, 'the columns are side by side again');
});

test('the λ line wraps between entries, never inside one, in a narrow panel', async () => {
  const { page } = panel;
  await showTab('maps');
  const frame = await panelFrame(page);
  const viewport = page.viewportSize()!;
  await page.setViewportSize({ width: 480, height: viewport.height });
  try {
    const entries = `Array.from(document.querySelectorAll('#lambda .lambda-entry'))`;
    // Wrapped: the entries are on more than one line.
    await waitInPanel(frame, `new Set(${entries}.map((entry) => entry.getBoundingClientRect().top)).size > 1`, 'the λ line wraps');
    const lines = (await frame.evaluate(`${entries}.map((entry) => entry.textContent + ' ' + entry.getClientRects().length)`)) as string[];
    assert.equal(lines.length, 6, `one entry per layer: ${lines.join(', ')}`);
    for (const line of lines) assert.match(line, /^L\d λ -?\d\.\d{3} 1$/, `each entry is on one line (text, line boxes): ${lines.join(', ')}`);
    await frame.evaluate(`document.querySelector('#lambda').scrollIntoView({ block: 'center' })`);
    await panel.screenshot('lambda-narrow');
  } finally {
    await page.setViewportSize(viewport);
  }
});

test("the locked row's label is drawn and no other label overlaps it", async () => {
  const { page } = panel;
  await showTab('maps');
  const frame = webviewFrame(page);
  const canvas = frame.locator(ofRun('#heatmap', panel.runId));
  const { query } = await drawnMap(page, '#heatmap', panel.runId);
  const size = Number(await canvas.getAttribute('width'));
  // An odd row, next to labels drawn every other row when cells are small, or both neighbours.
  const locked = query === 5 ? 7 : 5;
  const box = (await canvas.boundingBox())!;
  await canvas.click({ position: { x: box.width / 2, y: ((locked + 0.5) * box.height) / size } });
  await frame.locator(`${ofRun('#heatmap', panel.runId)}[data-query="${locked}"]`).waitFor({ state: 'attached' });
  const rowLabels = frame.locator('.heatmap-grid:has(#heatmap) .row-labels');
  const pitch = Number(await rowLabels.getAttribute('data-label-pitch'));
  const labels = (await rowLabels.getAttribute('data-labels'))!.split(' ').map((label) => label.split(':').map(Number));
  const lockedCentre = labels.find(([index]) => index === locked)?.[1];
  assert.ok(lockedCentre !== undefined, `the locked row ${locked} is labelled: ${labels.join(' ')}`);
  assert.ok(labels.length > 2, `other rows are labelled too: ${labels.join(' ')}`);
  for (const [index, centre] of labels) {
    if (index !== locked) assert.ok(Math.abs(centre - lockedCentre) >= pitch, `row ${index}'s label (at ${centre}) is clear of the locked row's (at ${lockedCentre}, ${pitch} px apart at least)`);
  }
  await panel.screenshot('locked-row-label');
});

test('whitespace and byte fragments are labelled as signs, distinct from text, in the span list and readout', async () => {
  const { page } = panel;
  // CRLF line ends, tabs, a space-only token and a character the tokenizer splits into bytes.
  const text = 'name\tvalue\r\n\r\nalpha\t\t1 🦀 crab\r\n\tbeta 2\r\n';
  fs.writeFileSync(path.join(panel.runDir, 'workspace', 'crlf.txt'), text);
  const engine = await Engine.load(path.join(modelsFolder, DEFAULT_MODEL), 'cpu');
  const { tokens } = await engine.inspect(text);
  const signs: Record<string, string> = { '\r': '\\r', '\n': '⏎', '\t': '→', ' ': '·' };
  const probes = [
    tokens.findIndex((token) => token.text === '\r'),
    tokens.findIndex((token) => token.text === '\t'),
    tokens.findIndex((token) => token.text === ' '),
    tokens.findIndex((token) => /^\\x[0-9A-F]{2}$/.test(token.text)),
  ];
  assert.ok(probes.every((index) => index > 0), `the text has a \\r, a \\t, a space and a byte-fragment token: ${JSON.stringify(tokens.map((token) => token.text))}`);

  await openFile(page, 'crlf.txt'); // nothing selected: the whole document is inspected
  const crlfRun = await inspectWith(page, INSPECT, DEFAULT_MODEL);
  await showTab('maps');
  await drawnMap(page, '#heatmap', crlfRun);
  const frame = webviewFrame(page);
  const canvas = frame.locator(ofRun('#heatmap', crlfRun));
  for (const query of probes) {
    const box = (await canvas.boundingBox())!;
    await canvas.click({ position: { x: box.width / 2, y: ((query + 0.5) * box.height) / tokens.length } });
    const list = frame.locator(`${ofRun('#spans', crlfRun)}[data-query="${query}"]`);
    await list.waitFor({ state: 'attached' });
    const expected = /^\\x/.test(tokens[query].text) ? tokens[query].text : [...tokens[query].text].map((char) => signs[char]).join('');
    const heading = list.locator('.spans-heading');
    assert.deepEqual(await heading.locator('.token-escape').allInnerTexts(), [expected], `query ${query} (${JSON.stringify(tokens[query].text)}) is shown as the sign ${expected} in its own style`);
    const readout = frame.locator('#readout');
    assert.ok((await readout.innerText()).includes(`«${expected}»`), `the readout names query ${query} as «${expected}»`);
    // The readout names the query's token first (then the key's under the pointer).
    assert.deepEqual(await readout.locator('.token-text').first().locator('.token-escape').allInnerTexts(), [expected], `the readout shows ${expected} in the signs' style`);
    // No span is blank, and a score never runs into its token range.
    for (const item of await list.locator('.span-item').all()) {
      assert.notEqual((await item.locator('.span-text').innerText()).trim(), '', 'a span shows some text');
      const score = (await item.locator('.span-score').boundingBox())!;
      const range = (await item.locator('.span-range').boundingBox())!;
      assert.ok(score.x + score.width + 4 <= range.x, `the score ends before the range: ${score.x + score.width} vs ${range.x}`);
    }
  }
  // The byte fragments of the crab, wherever they are in a span's text, are signs too.
  const fragments = await frame.locator(`${ofRun('#spans', crlfRun)} .span-text .token-escape`).allInnerTexts();
  assert.ok(fragments.every((sign) => /^(\\x[0-9A-F]{2}|(\\r|[⏎→·])+)$/.test(sign)), `only whitespace and bytes are signs: ${fragments.join(' ')}`);
  await panel.screenshot('token-signs');
});

test('a failed model load shows a sticky error at any scroll position and greys the stale map', async () => {
  const { page } = panel;
  const notAPackage = path.join(panel.runDir, 'not-a-package');
  fs.mkdirSync(notAPackage, { recursive: true });
  fs.writeFileSync(path.join(notAPackage, 'notes.txt'), 'not a model');
  const settings = path.join(panel.runDir, 'workspace', '.vscode', 'settings.json');
  fs.mkdirSync(path.dirname(settings), { recursive: true });
  fs.writeFileSync(settings, JSON.stringify({ 'difftransformer.modelPath': notAPackage }));
  await setPanelHeight(page, 300);
  await showTab('maps');
  const frame = webviewFrame(page);
  const banner = frame.locator('#error-banner:not([hidden])');
  // The workbench reads the changed settings file on its own time: until it has, Inspect still runs
  // the bundled model (a new run), then the next one fails.
  await openFile(page, 'sample.py');
  // Until it has (it may take long on a loaded machine), each Inspect is a new run; then one fails.
  for (const deadline = Date.now() + 90_000; Date.now() < deadline && (await banner.count()) === 0; ) {
    const shownRun = await frame.locator('body').getAttribute('data-run-id');
    await runCommand(page, INSPECT);
    const newRun = frame.locator(`body[data-run-id]:not([data-run-id="${shownRun}"])`);
    // The wait that loses the race must not reject later, unhandled, once the session is closed.
    const quietly = (wait: Promise<void>) => wait.catch(() => {});
    await Promise.race([quietly(banner.waitFor({ state: 'attached' })), quietly(newRun.waitFor({ state: 'attached' }))]);
  }
  assert.equal(await banner.count(), 1, 'the failed load shows the error banner');
  assert.equal(await banner.getAttribute('role'), 'alert', 'the error is announced');
  assert.match(await banner.innerText(), /not-a-package/, 'the error names the folder');
  assert.match(await banner.locator('.error-stale').innerText(), /last inspection that succeeded/, 'it says the map shown is the last one that worked');
  const staleRun = await frame.locator('body').getAttribute('data-run-id');
  assert.ok(staleRun, 'the last inspection that succeeded is still shown');
  const webview = await panelFrame(page);
  const filter = await webview.evaluate(`getComputedStyle(document.querySelector('#heatmap[data-run-id="${staleRun}"]')).filter`);
  assert.match(String(filter), /grayscale/, 'the stale map is greyed');

  await webview.evaluate('window.scrollTo(0, document.body.scrollHeight)');
  await waitInPanel(webview, 'window.scrollY > 0', 'the panel is scrolled');
  await waitInPanel(webview, `(() => { const box = document.querySelector('#error-banner').getBoundingClientRect(); return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight; })()`, 'the banner is in view');
  await panel.screenshot('error-scrolled');
  fs.rmSync(settings);
});
