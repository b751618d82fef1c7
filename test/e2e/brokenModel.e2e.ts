// End to end, a model whose weights hold NaN (an imported checkpoint with one tensor overwritten,
// test/support/nanPackage.ts) as the configured model: Inspect and Compare fail naming the first
// layer that went non-finite, and that error is in the banner on every tab, none of which is left
// "Computing…". Screenshots in test-results/e2e/broken-model/.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { importWithNaN, writeTestCheckpoint } from '../support/nanPackage';
import { openFile, panelFixture, runCommand, selectText } from './harness';

const TABS = ['maps', 'whatIf', 'outliers', 'compare', 'needles'] as const;

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'broken-model-e2e-'));
/** The imported package with NaN in layer 1. */
let broken: string;
const panel = panelFixture('broken-model', {
  prepare: async () => {
    broken = await importWithNaN(await writeTestCheckpoint(work), path.join(work, 'nan-layer-1'), 'model.layers.1.post_attention_layernorm.weight');
  },
  settings: () => ({ 'difftransformer.modelPath': broken }),
  cleanUp: () => fs.rmSync(work, { recursive: true, force: true }),
});

for (const command of ['DiffTransformer: Inspect Selection', 'DiffTransformer: Compare with Baseline']) {
  test(`${command} with NaN weights: the first non-finite layer is named in the banner of every tab, none left computing`, async () => {
    const { page, frame } = panel;
    await openFile(page, 'sample.py');
    await selectText(page, 'def fibonacci(n: int) -> list[int]:');
    // Dismissed first, so that the banner waited for is this command's.
    const banner = frame.locator('#error-banner:not([hidden])');
    if (await banner.count()) await banner.locator('.error-dismiss').click();
    await runCommand(page, command);
    await banner.filter({ hasText: /nan-layer-1: .*first in layer 1/ }).waitFor();
    for (const tab of TABS) {
      await frame.locator(`#tab-${tab}`).click();
      await frame.locator(`#view-${tab}`).waitFor({ state: 'visible' });
      assert.ok(await banner.isVisible(), `the banner shows on the ${tab} tab`);
      assert.match(await banner.innerText(), /first in layer 1/, `the ${tab} tab's banner names the layer`);
      const computing = frame.locator(`#view-${tab}`).getByText(/Computing/);
      assert.equal(await computing.count(), 0, `the ${tab} tab is not left computing`);
      await panel.screenshot(`${command.split(': ')[1].replace(/ /g, '-').toLowerCase()}-${tab}`);
    }
  });
}
