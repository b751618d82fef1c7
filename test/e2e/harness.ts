// Helpers for browser end-to-end tests (node:test): a real VS Code (code-server) with the built
// extension and test/fixtures/workspace, driven by headless chromium. Needs
// `bash scripts/setup-vscode.sh`, `node scripts/build.mjs` and `npx tsc -p .` first.
// Every test file sets itself up with panelFixture: one session (and, as it asks, an inspection
// and the model in this process), started before its tests and closed after them.
// Each session keeps its files (server log, profiles, screenshots) in test-results/e2e/NAME/.
// A test waits for the result of its own action, never for "an element exists": the panel's views
// say which run they show (data-run-id; a run's id is new within an extension host's life), and the
// heatmaps which view, layer, head and query (see webview/heatmap.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before } from 'node:test';
import type { FrameLocator, Page } from 'playwright-core';
import { Engine, type InspectionResult } from '../../extension/core/engine';
import { DEFAULT_MODEL } from '../../extension/core/modelPath';
import {
  launchBrowser,
  openWorkbench,
  pickFromQuickInput,
  repoRoot,
  runCommand,
  startServer,
  waitForStatusBarItem,
  type Browser,
  type RunningServer,
} from '../vscode/server';

export { runCommand, waitForStatusBarItem } from '../vscode/server';

/** How long a wait may take: inspections share two cores with other work while tests run. */
const WAIT_MS = 120_000;

export const workspaceFolder = path.join(repoRoot, 'test', 'fixtures', 'workspace');
/** The bundled model packages. */
export const modelsFolder = path.join(repoRoot, 'models');

/** n_layer and n_head of a bundled package (the panel draws one thumbnail per layer and head). */
export function packageShape(name: string): { layers: number; heads: number } {
  const config = JSON.parse(fs.readFileSync(path.join(modelsFolder, name, 'config.json'), 'utf8'));
  return { layers: config.n_layer, heads: config.n_head };
}

export interface Session {
  readonly page: Page;
  readonly runDir: string;
  /** Saves a PNG of the whole window as runDir/NAME.png and returns its path. */
  screenshot(name: string): Promise<string>;
  /** Saves a last screenshot (at-close.png) and stops the browser and the server. */
  close(): Promise<void>;
}

/** How a session gets the extension: from this checkout's sources with a copy of
 *  test/fixtures/workspace open (the default), or installed into `extensionsDir` (with no folder
 *  open) by `install`, which gets the session's folder. */
export interface SessionOptions {
  /** Over the default user settings. */
  settings?: Record<string, unknown>;
  install?: (runDir: string) => Promise<{ extensionsDir: string }>;
}

/** Starts code-server with the extension, opens its workbench in chromium and waits until the
 * extension's status bar item shows (its readiness signal). */
export async function startSession(name: string, { settings, install }: SessionOptions = {}): Promise<Session> {
  const runDir = path.join(repoRoot, 'test-results', 'e2e', name);
  fs.rmSync(runDir, { recursive: true, force: true });
  let server: RunningServer | undefined;
  let browser: Browser | undefined;
  const close = async () => {
    // The window as the last test left it: what a failed wait was looking at.
    await browser?.page.screenshot({ path: path.join(runDir, 'at-close.png') }).catch(() => undefined);
    await browser?.close();
    await server?.stop();
  };
  try {
    if (install) {
      fs.mkdirSync(runDir, { recursive: true });
      server = await startServer({ runDir, settings, ...(await install(runDir)) });
    } else {
      // A copy, so what the tests write (exports, settings) never lands in the fixtures.
      const folder = path.join(runDir, 'workspace');
      fs.cpSync(workspaceFolder, folder, { recursive: true });
      server = await startServer({ runDir, folder, extensionDevelopmentPath: repoRoot, settings });
    }
    browser = await launchBrowser(runDir);
    const { page } = browser;
    page.setDefaultTimeout(WAIT_MS);
    await openWorkbench(page, server.workbenchUrl());
    await waitForStatusBarItem(page, 'DiffTransformer');
    const screenshot = async (shotName: string) => {
      const file = path.join(runDir, `${shotName}.png`);
      await page.screenshot({ path: file });
      return file;
    };
    return { page, runDir, screenshot, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** What a test file's fixture sets up before its tests (panelFixture). The functions are called
 *  in the fixture's own hooks, in this order: node:test does not wait for one top-level hook
 *  before it starts the next, so a file's setup goes here rather than in a `before` of its own. */
export interface FixtureOptions {
  /** Work before the session starts (importing a model…), whose results the other options use. */
  prepare?: () => Promise<void>;
  settings?: () => Record<string, unknown>;
  install?: SessionOptions['install'];
  /** Files written into the session's copy of the workspace (name: text) before the inspection. */
  files?: () => Record<string, string>;
  /** The run inspected before the tests: `text` selected in `file`, or the whole file, with
   *  `command`, by `model` (the bundled DIFF model unless given). */
  inspect?: { file: string; text?: string; command: string; model?: string };
  /** Waits, after the inspection, until the panel is as the file's tests start from it. */
  ready?: (fixture: PanelFixture) => Promise<void>;
  /** A bundled package to load in this process, as `engine` (run on the inspected text, as
   *  `inspected`): the model's own numbers that the panel's must match. */
  engine?: string;
  /** Work after the session has closed (removing what `prepare` made). */
  cleanUp?: () => void;
}

/** A test file's session, the panel's document in it and what the fixture inspected. */
export interface PanelFixture extends Session {
  readonly frame: FrameLocator;
  /** The run the panel shows, from the fixture's inspection (a test that inspects again sets it). */
  runId: string;
  readonly engine: Engine;
  readonly inspected: InspectionResult;
}

/** One fixture for the browser tests: registers the node:test hooks that start a session (and
 *  inspect, and load the engine, as `options` asks) before the file's tests and close it after
 *  them, and returns the fixture they fill. Read its fields inside tests and hooks only. */
export function panelFixture(name: string, options: FixtureOptions = {}): PanelFixture {
  const fixture = {} as { -readonly [K in keyof PanelFixture]: PanelFixture[K] };
  before(async () => {
    await options.prepare?.();
    const session = await startSession(name, { settings: options.settings?.(), install: options.install });
    Object.assign(fixture, session, { frame: webviewFrame(session.page) });
    const workspaceFile = (file: string) => path.join(session.runDir, 'workspace', file);
    for (const [file, text] of Object.entries(options.files?.() ?? {})) fs.writeFileSync(workspaceFile(file), text);
    const { inspect, engine } = options;
    if (inspect) {
      const { page } = session;
      const model = inspect.model ?? DEFAULT_MODEL;
      if (inspect.text === undefined) {
        await openFile(page, inspect.file);
        fixture.runId = await inspectWith(page, inspect.command, model);
      } else fixture.runId = await inspectText(page, inspect.file, inspect.text, inspect.command, model);
    }
    await options.ready?.(fixture);
    if (engine) {
      fixture.engine = await Engine.load(path.join(modelsFolder, engine), 'cpu');
      if (inspect) fixture.inspected = await fixture.engine.inspect(inspect.text ?? fs.readFileSync(workspaceFile(inspect.file), 'utf8'));
    }
  });
  after(async () => {
    await fixture.close?.();
    options.cleanUp?.();
  });
  return fixture;
}

/** Reloads the window and waits until the new page's extension is up (the old page's status bar
 *  would otherwise pass for the new one's). */
export async function reloadWindow(page: Page): Promise<void> {
  const loaded = page.waitForEvent('load', { timeout: WAIT_MS });
  await runCommand(page, 'Developer: Reload Window');
  await loaded;
  await waitForStatusBarItem(page, 'DiffTransformer', WAIT_MS);
}

/** The run the panel shows (its body's data-run-id), or undefined when there is no panel or no run. */
async function shownRunId(page: Page): Promise<string | undefined> {
  if ((await page.locator(PANEL_IFRAME).count()) === 0) return undefined;
  return (await webviewFrame(page).locator('body[data-run-id]').getAttribute('data-run-id', { timeout: 5_000 }).catch(() => null)) ?? undefined;
}

/** Runs a command that starts an inspection (Inspect Selection, Compare with Baseline) and waits
 *  until the panel shows the run it started: one of `model`, with a run id other than the one shown
 *  before. Returns that id: the views of this run carry it as data-run-id. Waits up to the page's
 *  default timeout (WAIT_MS, unless a caller timing longer runs set another). */
export async function inspectWith(page: Page, command: string, model: string): Promise<string> {
  const previous = await shownRunId(page);
  await runCommand(page, command);
  const otherRun = previous === undefined ? '[data-run-id]' : `[data-run-id]:not([data-run-id="${previous}"])`;
  const body = webviewFrame(page).locator(`body${otherRun}[data-model=${JSON.stringify(model)}]`);
  await body.waitFor({ state: 'attached' });
  return (await body.getAttribute('data-run-id'))!;
}

/** Opens `file`, selects `text` in it and inspects it with `command` (see inspectWith). */
export async function inspectText(page: Page, file: string, text: string, command: string, model: string): Promise<string> {
  await openFile(page, file);
  await selectText(page, text);
  return inspectWith(page, command, model);
}

/** A selector narrowed to the element that shows run `runId`. */
export function ofRun(selector: string, runId: string): string {
  return `${selector}[data-run-id="${runId}"]`;
}

/** The view, layer, head and locked query of the heatmap `selector` once it shows run `runId`
 *  (waiting up to the page's default timeout, as inspectWith). */
export async function drawnMap(page: Page, selector: string, runId: string): Promise<{ view: string; layer: number; head: number; query: number }> {
  const canvas = webviewFrame(page).locator(ofRun(selector, runId));
  await canvas.waitFor({ state: 'attached' });
  const [view, layer, head, query] = await Promise.all(['data-view', 'data-layer', 'data-head', 'data-query'].map((name) => canvas.getAttribute(name)));
  return { view: view!, layer: Number(layer), head: Number(head), query: Number(query) };
}

/** Opens a workspace file with Quick Open and waits until its editor is active. */
export async function openFile(page: Page, fileName: string): Promise<void> {
  await pickFromQuickInput(page, 'Control+P', fileName, fileName);
  await page.locator('.tab.active', { hasText: fileName }).waitFor({ state: 'visible' });
  await page.locator('.editor-instance .monaco-editor.focused').waitFor({ state: 'visible' });
}

/** Moves the cursor with Go to Line ("line" or "line:column", 1-based). */
export async function goToPosition(page: Page, line: number, column = 1): Promise<void> {
  await pickFromQuickInput(page, 'Control+G', `:${line}:${column}`, `${line}`);
}

/** Selects whole lines `fromLine`..`toLine` (1-based, inclusive) in the active editor. */
export async function selectLines(page: Page, fromLine: number, toLine: number): Promise<void> {
  await goToPosition(page, fromLine);
  for (let line = fromLine; line <= toLine; line++) await page.keyboard.press('Shift+ArrowDown');
}

/** Selects the first occurrence of `text` in the active editor (Find, then close the widget:
 * the match stays selected). */
export async function selectText(page: Page, text: string): Promise<void> {
  await page.keyboard.press('Control+F');
  const findInput = page.locator('.find-widget.visible textarea[aria-label="Find"]');
  await findInput.fill(text);
  await page.locator('.find-widget.visible .matchesCount', { hasText: /^1 of/ }).waitFor();
  await page.keyboard.press('Escape');
  await page.locator('.find-widget.visible').waitFor({ state: 'hidden' });
}

/** Shows the hover at a position (the editor's Show Hover command), waits until it holds
 *  `expected` (another provider's hover, or one still loading, does not) and returns its text. */
export async function hoverText(page: Page, line: number, column: number, expected: string): Promise<string> {
  await goToPosition(page, line, column);
  await page.keyboard.press('Control+K');
  await page.keyboard.press('Control+I');
  const hover = page.locator('.monaco-editor .monaco-hover:not(.hidden) .monaco-hover-content', { hasText: expected }).first();
  await hover.waitFor({ state: 'visible', timeout: WAIT_MS });
  return (await hover.innerText()).trim();
}

/** Waits until the editor shows span highlights and `every` highlighted line, or `some` of them,
 *  contains `text`. Evaluated in the page (a string: this project's Node tsconfig has no DOM types);
 *  the editor shows spaces as U+00A0. */
export async function waitForHighlightedLines(page: Page, mode: 'every' | 'some', text: string): Promise<void> {
  await page.waitForFunction(`(() => {
    const editor = document.querySelector('.editor-instance .monaco-editor');
    const isHighlight = (element) => getComputedStyle(element).backgroundColor.startsWith('rgba(255, 166, 0');
    const lineText = (top) => Array.from(editor.querySelectorAll('.view-line')).find((line) => line.style.top === top)?.textContent.replace(/\\u00a0/g, ' ') ?? '';
    const highlightedTops = Array.from(editor.querySelectorAll('.view-overlays > div'))
      .filter((line) => Array.from(line.children).some(isHighlight))
      .map((line) => line.style.top);
    return highlightedTops.length > 0 && highlightedTops.${mode}((top) => lineText(top).includes(${JSON.stringify(text)}));
  })()`);
}

/** The iframe of the extension's panel: other webviews may be open beside it (the walkthrough's
 *  step media), and only this one's address names the extension. */
export const PANEL_IFRAME = 'iframe.webview.ready[src*="extensionId=difftransformer-inspector.difftransformer-inspector&"]';

/** The content document of the extension's webview (two iframes deep). */
export function webviewFrame(page: Page): FrameLocator {
  return page.frameLocator(PANEL_IFRAME).frameLocator('#active-frame');
}

/** The part of a DOM canvas used here (the root tsconfig has no DOM library). */
interface CanvasElement {
  getContext(kind: '2d'): { getImageData(x: number, y: number, width: number, height: number): { data: ArrayLike<number> } } | null;
}

/** RGBA of one pixel of a 2D canvas inside `frame` (canvas pixel coordinates). */
export async function canvasPixel(frame: FrameLocator, canvasSelector: string, x: number, y: number): Promise<[number, number, number, number]> {
  return frame.locator(canvasSelector).evaluate((canvas, [px, py]) => {
    const context = (canvas as unknown as CanvasElement).getContext('2d');
    if (!context) throw new Error('not a 2D canvas');
    const { data } = context.getImageData(px!, py!, 1, 1);
    return [data[0]!, data[1]!, data[2]!, data[3]!] as [number, number, number, number];
  }, [x, y]);
}

/** Every pixel of a 2D canvas inside `frame`: RGBA rows top to bottom, and its CSS width (the
 *  drawing buffer is that times devicePixelRatio). */
export async function canvasImage(frame: FrameLocator, canvasSelector: string): Promise<{ width: number; height: number; cssWidth: number; data: number[] }> {
  return frame.locator(canvasSelector).evaluate((canvas) => {
    const element = canvas as unknown as CanvasElement & { width: number; height: number; clientWidth: number };
    const context = element.getContext('2d');
    if (!context) throw new Error('not a 2D canvas');
    const { data } = context.getImageData(0, 0, element.width, element.height);
    return { width: element.width, height: element.height, cssWidth: element.clientWidth, data: Array.from(data) };
  });
}
