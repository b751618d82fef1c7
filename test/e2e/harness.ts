// Helpers for browser end-to-end tests (node:test): a real VS Code (code-server) with the built
// extension and test/fixtures/workspace, driven by headless chromium. Needs
// `bash scripts/setup-vscode.sh`, `node scripts/build.mjs` and `npx tsc -p .` first.
// Each session keeps its files (server log, profiles, screenshots) in test-results/e2e/NAME/.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FrameLocator, Page } from 'playwright-core';
import {
  launchBrowser,
  openWorkbench,
  pickFromQuickInput,
  repoRoot,
  startServer,
  waitForStatusBarItem,
  type Browser,
  type RunningServer,
} from '../vscode/server';

export { runCommand, waitForStatusBarItem } from '../vscode/server';

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
  close(): Promise<void>;
}

/** Starts code-server with the extension, opens the workspace in chromium and waits until the
 * extension's status bar item shows (its readiness signal). */
export async function startSession(name: string): Promise<Session> {
  const runDir = path.join(repoRoot, 'test-results', 'e2e', name);
  fs.rmSync(runDir, { recursive: true, force: true });
  let server: RunningServer | undefined;
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close();
    await server?.stop();
  };
  try {
    // A copy, so what the tests write (exports, settings) never lands in the fixtures.
    const folder = path.join(runDir, 'workspace');
    fs.cpSync(workspaceFolder, folder, { recursive: true });
    server = await startServer({ runDir, folder, extensionDevelopmentPath: repoRoot });
    browser = await launchBrowser(runDir);
    const { page } = browser;
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

/** Shows the hover at a position (the editor's Show Hover command) and returns its text. */
export async function hoverText(page: Page, line: number, column: number): Promise<string> {
  await goToPosition(page, line, column);
  await page.keyboard.press('Control+K');
  await page.keyboard.press('Control+I');
  const hover = page.locator('.monaco-editor .monaco-hover:not(.hidden) .monaco-hover-content').first();
  await hover.waitFor({ state: 'visible' });
  return (await hover.innerText()).trim();
}

/** The content document of the extension's webview (two iframes deep). */
export function webviewFrame(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
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
