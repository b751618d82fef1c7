// Export View from the palette in the browser tests: runs the command and saves where a test says.

import * as fs from 'node:fs';
import type { Page } from 'playwright-core';

/** Runs Export View and saves as `target` (an .svg): the dialog is a quick input holding a path,
 *  which code-server fills in with the command's default and, under load, may fill in again after
 *  the test typed; so the test types the path and presses Enter until the file exists, and runs the
 *  command again if the dialog closed on another name. */
export async function exportAs(page: Page, target: string): Promise<string> {
  const commandInput = page.locator('.quick-input-widget input');
  const pathInput = page.locator('.quick-input-widget input:not([aria-label^="Type the name of a command"])');
  for (let attempt = 0; attempt < 3 && !fs.existsSync(target); attempt++) {
    await page.keyboard.press('F1');
    await commandInput.fill('>DiffTransformer: Export View');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'DiffTransformer: Export View' }).first().click();
    await pathInput.waitFor({ state: 'visible' });
    await page.waitForFunction((el) => (el as unknown as { value: string }).value.endsWith('.png'), await pathInput.elementHandle());
    for (let waited = 0; !fs.existsSync(target) && waited < 30_000 && (await pathInput.isVisible()); waited += 500) {
      if ((await pathInput.inputValue()) !== target) await pathInput.fill(target);
      await page.keyboard.press('Enter');
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    for (let waited = 0; !fs.existsSync(target) && waited < 10_000; waited += 500) await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return fs.readFileSync(target, 'utf8');
}
