// Helpers for browser tests of the panel's layout: the webview's document as a playwright Frame,
// waiting for a condition inside it, and sizing the bottom panel by dragging its sash.
import assert from 'node:assert/strict';
import type { Frame, Page } from 'playwright-core';
import { PANEL_IFRAME, webviewFrame, type Session } from './harness';

/** How long a layout may take to follow a resize on a loaded machine. */
const SETTLE_MS = 30_000;

/** The webview's document as a playwright Frame (to wait for a condition inside it). */
export async function panelFrame(page: Page): Promise<Frame> {
  const body = await webviewFrame(page).locator('body').elementHandle();
  return (await body!.ownerFrame())!;
}

/** Waits (checking once per frame, in the page: the webview's CSP forbids eval, which
 *  frame.waitForFunction needs) until the JavaScript expression `condition` holds in the webview. */
export async function waitInPanel(frame: Frame, condition: string, what: string): Promise<void> {
  await frame.evaluate(`new Promise((resolve, reject) => {
    const deadline = performance.now() + ${SETTLE_MS};
    const check = () => {
      if (${condition}) resolve(true);
      else if (performance.now() > deadline) reject(new Error(${JSON.stringify(`timed out waiting until ${what}`)}));
      else requestAnimationFrame(check);
    };
    check();
  })`);
}

/** Drags the sash above the panel until the panel is `height` px tall. */
export async function setPanelHeight(page: Page, height: number): Promise<void> {
  const panel = page.locator('.part.panel');
  let box = (await panel.boundingBox())!;
  for (let attempt = 0; attempt < 3 && Math.abs(box.height - height) > 2; attempt++) {
    // The workbench's sash on the panel's top edge.
    const sashes = await Promise.all((await page.locator('.monaco-sash.horizontal').all()).map((sash) => sash.boundingBox()));
    const sash = sashes.filter((sashBox) => sashBox && sashBox.width > 0).sort((a, b) => Math.abs(a!.y + a!.height / 2 - box.y) - Math.abs(b!.y + b!.height / 2 - box.y))[0]!;
    const x = box.x + box.width / 2;
    await page.mouse.move(x, sash.y + sash.height / 2);
    await page.mouse.down();
    await page.mouse.move(x, box.y + box.height - height, { steps: 5 });
    await page.mouse.up();
    box = (await panel.boundingBox())!;
  }
  assert.ok(Math.abs(box.height - height) <= 2, `the panel is ${height} px tall: ${box.height}`);
}

/** Sizes the bottom panel so that the inspector's webview (the panel less its title bar) is
 *  `height` px tall. */
export async function setWebviewHeight(page: Page, height: number): Promise<void> {
  const webviewHeight = async () => (await page.locator(PANEL_IFRAME).boundingBox())!.height;
  const titleBar = (await page.locator('.part.panel').boundingBox())!.height - (await webviewHeight());
  await setPanelHeight(page, height + titleBar);
  const frame = await panelFrame(page);
  await waitInPanel(frame, `Math.abs(window.innerHeight - ${height}) <= 2`, `the webview is ${height} px tall`);
}

/** Waits until every element of `selector` lies inside the panel's visible area with the page
 *  scrolled to the top, and returns the first one's box. */
export async function waitInView(session: Session, selector: string): Promise<{ top: number; bottom: number; height: number; viewport: number }> {
  const frame = await panelFrame(session.page);
  await frame.evaluate('window.scrollTo(0, 0)');
  const inView = `(() => {
    const elements = Array.from(document.querySelectorAll(${JSON.stringify(selector)}));
    return elements.length > 0 && elements.every((element) => {
      const box = element.getBoundingClientRect();
      return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight && box.left >= 0 && box.right <= window.innerWidth;
    });
  })()`;
  await waitInPanel(frame, inView, `${selector} is in view`).catch(async (error) => {
    await session.screenshot(`not-in-view-${Date.now()}`);
    const boxes = await frame.evaluate(`Array.from(document.querySelectorAll(${JSON.stringify(selector)})).map((e) => JSON.stringify(e.getBoundingClientRect())).join(' ') + ' in ' + window.innerWidth + 'x' + window.innerHeight`);
    throw new Error(`${selector} is not inside the visible panel: ${boxes} (${(error as Error).message})`);
  });
  return frame.evaluate(`(() => {
    const box = document.querySelector(${JSON.stringify(selector)}).getBoundingClientRect();
    return { top: box.top, bottom: box.bottom, height: box.height, viewport: window.innerHeight };
  })()`);
}
