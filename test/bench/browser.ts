// Browser timings for `npm run bench`: a real VS Code (code-server) in headless chromium, driven
// through the end-to-end harness. How long from issuing Inspect Selection / Inspect File until the
// panel paints that run's heatmap, and from moving the mouse onto a heatmap row until the readout
// names that row. Both are timed inside the browser from the input event's own timestamp, so
// playwright's round trips and the palette's typing are not counted. The long-context bench times
// the first map painted the same way for an imported long-context model (measureLongFirstMaps).
// Alone: `node scripts/build.mjs && npx tsc -p . && node out/test/bench/browser.js`.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { DEFAULT_MODEL } from '../../extension/core/modelPath';
import { loadTokenizer } from '../../extension/core/tokenizer';
import { drawnMap, inspectWith, modelsFolder, ofRun, openFile, PANEL_IFRAME, selectLines, startSession, webviewFrame } from '../e2e/harness';
import { repoRoot } from '../vscode/server';

export interface BrowserTimings {
  /** Command -> the heatmap of that run painted, per case; one entry per repeat, ms. */
  firstMap: { name: string; tokens: number; ms: number[] }[];
  /** Mouse moved onto a new row of the heatmap -> the panel's readout/row display shows that row, ms per repeat. */
  hoverRow: { tokens: number; ms: number[] };
}

/** Written into the session's copy of the workspace, so the fixtures other tests use stay as they are. */
const BENCH_FILE = 'inspector_bench.py';
/** About how many tokens the Inspect Selection case selects. */
const SELECTION_TOKENS = 200;
const INSPECT_SELECTION = 'DiffTransformer: Inspect Selection';
const INSPECT_FILE = 'DiffTransformer: Inspect File';
/** How long a long-context run may take: 32,768 tokens of the long-context test model take minutes
 *  on two loaded cores. */
const LONG_WAIT_MS = 20 * 60_000;

/** What the in-page functions below use of the DOM (this project's Node tsconfig has no DOM library). */
interface PageEvent {
  timeStamp: number;
}
interface PageElement {
  textContent: string | null;
  width: number;
  dataset: Record<string, string | undefined>;
  ownerDocument: { getElementById(id: string): PageElement | null };
  addEventListener(type: string, listener: (event: PageEvent) => void, options: { capture: boolean; once?: boolean }): void;
}
interface PageWindow {
  addEventListener(type: string, listener: (event: PageEvent) => void, options: { capture: boolean }): void;
  MutationObserver: new (callback: (records: unknown, observer: { disconnect(): void }) => void) => { observe(target: PageElement, options: object): void };
  requestAnimationFrame(callback: () => void): number;
  /** Workbench: when the last pointer press happened (recordPresses). */
  benchPressedAt?: number;
  /** Webview: per run id, when its heatmap was first painted (recordPaints). */
  benchPaints?: Record<string, Promise<number>>;
  /** Webview: the move and readout times of the current hover measurement (watchReadout). */
  benchHover?: { movedAt?: number; shownAt?: number };
}

/** The bench file's text: the tokenizer sample, repeated until it overflows the model's context (the
 *  engine then runs the last full window); and how many of its first lines make about
 *  SELECTION_TOKENS tokens. */
function benchText(): { text: string; selectionLines: number } {
  const packageFolder = path.join(modelsFolder, DEFAULT_MODEL);
  const tokenizer = loadTokenizer(fs.readFileSync(path.join(packageFolder, 'tokenizer.json'), 'utf8'));
  const context: number = JSON.parse(fs.readFileSync(path.join(packageFolder, 'config.json'), 'utf8')).max_seq_len;
  const tokenCount = (text: string) => tokenizer.encode(text).ids.length;
  const sample = fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'tokenizer-sample.txt'), 'utf8');
  let text = sample;
  while (tokenCount(text) <= context) text += sample;
  const lines = text.split('\n');
  let selectionLines = 1;
  while (tokenCount(lines.slice(0, selectionLines).join('\n') + '\n') < SELECTION_TOKENS) selectionLines++;
  return { text, selectionLines };
}

/** Makes the workbench note when each pointer press happens, on the epoch clock that every
 *  document's performance.timeOrigin is on. The last press before a run is the click on the
 *  palette row that issued its command (runCommand). */
async function recordPresses(page: Page): Promise<void> {
  await page.evaluate(() => {
    const scope = globalThis as unknown as PageWindow;
    scope.addEventListener('pointerdown', (event) => (scope.benchPressedAt = performance.timeOrigin + event.timeStamp), { capture: true });
  });
}

/** Makes the webview note, per run id, when its heatmap was first painted: the animation frame after
 *  the canvas took the run's pixels and data-run-id (heatmap.ts sets both in one task), on the same
 *  epoch clock as recordPresses. Does nothing when the webview's document already notes them. */
async function recordPaints(page: Page): Promise<void> {
  await webviewFrame(page)
    .locator('#heatmap')
    .evaluate((canvas) => {
      const scope = globalThis as unknown as PageWindow;
      if (scope.benchPaints) return;
      const paints: Record<string, Promise<number>> = (scope.benchPaints = {});
      const { dataset } = canvas as unknown as PageElement;
      new scope.MutationObserver(() => {
        const runId = dataset.runId;
        if (runId === undefined || runId in paints) return;
        paints[runId] = new Promise((resolve) => scope.requestAnimationFrame(() => resolve(performance.timeOrigin + performance.now())));
      }).observe(canvas as unknown as PageElement, { attributes: true, attributeFilter: ['data-run-id'] });
    });
}

/** The tokens (query rows) of a heatmap showing a new run's first map: the whole text, pooled to
 *  the canvas, so its viewport's rows end at the token count. */
function mapTokens(canvas: Locator): Promise<number> {
  return canvas.evaluate((element) => Number((element as unknown as PageElement).dataset.endRow));
}

/** Runs an inspection command with `model` and waits until its heatmap is drawn and its key spans
 *  are listed (the host's last step of a run, so the next run does not share the engine with it).
 *  Returns the run id and its token count. */
async function inspect(page: Page, command: string, model: string): Promise<{ runId: string; tokens: number }> {
  const runId = await inspectWith(page, command, model);
  await drawnMap(page, '#heatmap', runId);
  const frame = webviewFrame(page);
  await frame.locator(`${ofRun('#spans', runId)} .span-item`).first().waitFor();
  return { runId, tokens: await mapTokens(frame.locator(ofRun('#heatmap', runId))) };
}

/** One timed inspection: from the click that issues `command` (in the workbench) to the first
 *  animation frame in which the webview's heatmap shows that run. The two documents' clocks are
 *  compared through performance.timeOrigin. */
async function timeFirstMap(page: Page, command: string, model: string): Promise<{ ms: number; tokens: number }> {
  await recordPaints(page);
  const { runId, tokens } = await inspect(page, command, model);
  const pressedAt = await page.evaluate(() => (globalThis as unknown as PageWindow).benchPressedAt);
  const paintedAt = await webviewFrame(page)
    .locator('#heatmap')
    .evaluate((_canvas, id) => (globalThis as unknown as PageWindow).benchPaints?.[id], runId);
  if (pressedAt === undefined || paintedAt === undefined) throw new Error(`run ${runId}: no command click or no paint was recorded`);
  return { ms: paintedAt - pressedAt, tokens };
}

/** The heatmap's size in tokens (query rows), the rows whose centres are on screen (a 1,024-row map is taller than
 *  its scrolling frame, the webview and the window), the page y of a row's centre, and a page x
 *  inside the map. */
async function rowsOnScreen(page: Page): Promise<{ size: number; first: number; last: number; x: number; rowY: (row: number) => number }> {
  const frame = webviewFrame(page);
  const canvas = frame.locator('#heatmap');
  await canvas.scrollIntoViewIfNeeded();
  const [map, scroller, webview, size] = await Promise.all([
    canvas.boundingBox(),
    frame.locator('.heatmap-frame:has(#heatmap)').boundingBox(),
    page.locator(PANEL_IFRAME).boundingBox(),
    mapTokens(canvas),
  ]);
  if (!map || !scroller || !webview) throw new Error('the heatmap is not on screen');
  const boxes = [map, scroller, webview];
  const top = Math.max(...boxes.map((box) => box.y));
  const bottom = Math.min(...boxes.map((box) => box.y + box.height));
  const left = Math.max(...boxes.map((box) => box.x));
  const right = Math.min(...boxes.map((box) => box.x + box.width));
  const cell = map.height / size;
  return {
    size,
    first: Math.ceil((top - map.y) / cell),
    last: Math.floor((bottom - map.y) / cell) - 1,
    x: (left + right) / 2,
    rowY: (row) => map.y + (row + 0.5) * cell,
  };
}

/** Arms one hover measurement in the webview: the timestamp of the next pointermove on the heatmap,
 *  and the time the readout first names the cell of query `row` ("query ROW …", or "queries A–B …"
 *  with A <= ROW <= B where a cell pools several tokens), both on the webview's own clock. */
async function watchReadout(page: Page, row: number): Promise<void> {
  await webviewFrame(page)
    .locator('#heatmap')
    .evaluate((canvas, query) => {
      const scope = globalThis as unknown as PageWindow;
      const record: NonNullable<PageWindow['benchHover']> = (scope.benchHover = {});
      const element = canvas as unknown as PageElement;
      const readout = element.ownerDocument.getElementById('readout')!;
      element.addEventListener('pointermove', (event) => (record.movedAt = event.timeStamp), { capture: true, once: true });
      new scope.MutationObserver((_records, observer) => {
        const named = /^quer(?:y|ies) (\d+)(?:–(\d+))? /.exec(readout.textContent ?? '');
        if (!named || Number(named[1]) > query || Number(named[2] ?? named[1]) < query) return;
        record.shownAt = performance.now();
        observer.disconnect();
      }).observe(readout, { childList: true, characterData: true, subtree: true });
    }, row);
}

/** Moves the mouse onto `count` different rows of the shown heatmap in turn (the same column) and
 *  times each: the move's pointermove to the readout naming that row's query (set in the animation
 *  frame that draws the hover cross). Returns the times and the map's token count. */
async function timeHoverRows(page: Page, count: number): Promise<{ tokens: number; ms: number[] }> {
  const { size, first, last, x, rowY } = await rowsOnScreen(page);
  if (last - first < count) throw new Error(`only rows ${first}-${last} of the heatmap are on screen; ${count} different rows are needed`);
  const readout = webviewFrame(page).locator('#readout');
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const row = first + Math.round(((i + 0.5) * (last - first)) / count);
    await watchReadout(page, row);
    await page.mouse.move(x, rowY(row));
    const hover = () => readout.evaluate(() => (globalThis as unknown as PageWindow).benchHover!);
    for (const started = Date.now(); (await hover()).shownAt === undefined; ) {
      if (Date.now() - started > 30_000) throw new Error(`row ${row}: the readout never named it`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const { movedAt, shownAt } = await hover();
    if (movedAt === undefined || shownAt === undefined) throw new Error(`row ${row}: no pointermove or readout change was recorded`);
    times.push(shownAt - movedAt);
  }
  return { tokens: size, ms: times };
}

/** Times `repeats` runs of each case and `repeats` hover moves on the 1,024-token map, in a session
 *  of its own (test-results/e2e/bench). Each case, and the hover, is first done once untimed: the
 *  first run also starts the engine, loads the model and opens the panel, and a new text length
 *  gets new buffers in the runtime. */
export async function measureBrowser(repeats: number): Promise<BrowserTimings> {
  const { text, selectionLines } = benchText();
  const session = await startSession('bench');
  try {
    const { page } = session;
    fs.writeFileSync(path.join(session.runDir, 'workspace', BENCH_FILE), text);
    await recordPresses(page);
    const cases = [
      {
        name: `Inspect Selection (${BENCH_FILE} lines 1-${selectionLines})`,
        command: INSPECT_SELECTION,
        prepare: async () => {
          await openFile(page, BENCH_FILE);
          await selectLines(page, 1, selectionLines);
        },
      },
      { name: `Inspect File (${BENCH_FILE}, windowed to the context)`, command: INSPECT_FILE, prepare: () => openFile(page, BENCH_FILE) },
    ];
    const firstMap: BrowserTimings['firstMap'] = [];
    for (const { name, command, prepare } of cases) {
      await prepare();
      await inspect(page, command, DEFAULT_MODEL);
      const ms: number[] = [];
      let tokens = 0;
      for (let i = 0; i < repeats; i++) {
        await prepare();
        const timed = await timeFirstMap(page, command, DEFAULT_MODEL);
        ms.push(timed.ms);
        tokens = timed.tokens;
      }
      firstMap.push({ name, tokens, ms });
    }
    // On the last case's map, the full context; the first move is the untimed one.
    const hover = await timeHoverRows(page, repeats + 1);
    return { firstMap, hoverRow: { tokens: hover.tokens, ms: hover.ms.slice(1) } };
  } finally {
    await session.close();
  }
}

/** The first map painted for long documents of an imported package (set as
 *  difftransformer.modelPath; `model` is its name): Inspect File of each document in turn, timed as
 *  the bundled model's cases are, once each (at 32,768 tokens a run takes minutes), in a session of
 *  its own (test-results/e2e/bench-long). The short `warmUp` text is inspected first, untimed: that
 *  run starts the engine, loads the model and opens the panel. Returns each document's time and its
 *  token count as the map shows it. */
export async function measureLongFirstMaps(packageDir: string, model: string, warmUp: string, documents: string[]): Promise<{ tokens: number; ms: number }[]> {
  const session = await startSession('bench-long', { settings: { 'difftransformer.modelPath': packageDir } });
  try {
    const { page } = session;
    page.setDefaultTimeout(LONG_WAIT_MS);
    await recordPresses(page);
    const painted: { tokens: number; ms: number }[] = [];
    for (const [n, text] of [warmUp, ...documents].entries()) {
      // Written into the session's copy of the workspace.
      const file = `long_context_${n}.py`;
      fs.writeFileSync(path.join(session.runDir, 'workspace', file), text);
      await openFile(page, file);
      if (n === 0) await inspect(page, INSPECT_FILE, model);
      else {
        painted.push(await timeFirstMap(page, INSPECT_FILE, model));
        console.error(`browser: first map painted at ${JSON.stringify(painted.at(-1))}`);
      }
    }
    return painted;
  } finally {
    await session.close();
  }
}

if (require.main === module) {
  measureBrowser(5).then(
    (timings) => console.log(JSON.stringify(timings, null, 2)),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
