// End to end: the quantisation what-if in the Outliers tab. Nothing of it is computed while the
// panel shows Maps & spans; switching to Outliers brings the histograms, then the table. Choosing 4
// bits draws the grid's levels over the attention-logit histograms, and the table shows, per layer,
// the errors the engine computes for the same text; the choice survives a window reload.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { Engine } from '../../extension/core/engine';
import { DEFAULT_MODEL } from '../../extension/core/modelPath';
import { QUANT_BITS } from '../../shared/model';
import { canvasImage, drawnMap, modelsFolder, ofRun, packageShape, panelFixture, reloadWindow, runCommand, webviewFrame } from './harness';

const PACKAGE = path.join(modelsFolder, DEFAULT_MODEL);
const SELECTED = 'numbers.append(numbers[-1] + numbers[-2])';

const panel = panelFixture('quantisation', { inspect: { file: 'sample.py', text: SELECTED, command: 'DiffTransformer: Inspect Selection' } });
/** Layer 0's logit histogram of the inspected run. */
const logitsCanvas = () => `${ofRun('#histograms', panel.runId)} .histogram-layer[data-layer="0"] canvas[data-kind="logits"]`;
/** The run's what-if table once its numbers are there. */
const filledTable = () => `${ofRun('#quantisation', panel.runId)}[data-state="ready"]`;

/** The numbers of the run's filled #quantisation table: rows[layer][metric][bits] as shown. */
async function shownErrors(): Promise<{ layer: number; cells: { metric: string; bits: number; text: string; chosen: boolean }[] }[]> {
  const rows = panel.frame.locator(`${filledTable()} tbody tr`);
  await rows.first().waitFor({ state: 'attached' });
  const shown = [];
  for (let r = 0; r < (await rows.count()); r++) {
    const row = rows.nth(r);
    const cells = await row.locator('td').evaluateAll((tds) =>
      tds.map((td) => {
        const cell = td as unknown as { dataset: Record<string, string>; textContent: string; classList: { contains(name: string): boolean } };
        return { metric: cell.dataset.metric!, bits: Number(cell.dataset.bits), text: cell.textContent, chosen: cell.classList.contains('chosen') };
      }),
    );
    shown.push({ layer: Number(await row.getAttribute('data-layer')), cells });
  }
  return shown;
}

test('the statistics wait for the Outliers tab, where 4 bits draws the grid over the logit histograms', async () => {
  const { frame } = panel;
  // The run's map and spans are drawn on Maps & spans; its statistics are not asked for.
  await drawnMap(panel.page, '#heatmap', panel.runId);
  await frame.locator(`${ofRun('#spans', panel.runId)} .span-item`).first().waitFor();
  assert.equal(await frame.locator(ofRun('#quantisation', panel.runId)).getAttribute('data-state'), 'pending', 'no what-if before the Outliers tab');
  assert.equal(await frame.locator(ofRun('#histograms', panel.runId)).count(), 0, 'no histograms before the Outliers tab');

  await frame.locator('#tab-outliers').click();
  await frame.locator(logitsCanvas()).waitFor({ state: 'visible' });
  assert.equal(await frame.locator(logitsCanvas()).getAttribute('data-quant-bits'), 'off', 'no grid until one is chosen');
  const legend = frame.locator(`${ofRun('#histograms', panel.runId)} .histogram-legend li`);
  const marks = ['bars', 'median', 'top-10', 'top-1'];
  const named = async () => (await legend.allInnerTexts()).join(' | ');
  for (const mark of marks) assert.ok((await named()).includes(mark), `the legend names the ${mark} mark: ${await named()}`);
  assert.ok(!(await named()).includes('grid'), 'no grid in the legend while none is drawn');
  const before = await canvasImage(frame, logitsCanvas());

  await frame.locator('#quant-switch vscode-radio[data-bits="4"]').click();
  await frame.locator(`${logitsCanvas()}[data-quant-bits="4"]`).waitFor({ state: 'attached' });
  assert.match(await named(), /4-bit grid .*k = 0…7, scale = top-1 \/ 7/, 'the legend says what the grid lines are');
  assert.equal(await legend.count(), marks.length + 1, 'one legend entry per kind of mark');
  const drawn = await canvasImage(frame, logitsCanvas());
  assert.deepEqual([drawn.width, drawn.height], [before.width, before.height], 'same canvas size');

  // Rows changed per canvas column. With absmax the top level is the histogram's right end (top-1),
  // so the 4-bit levels k * scale, k = 0..7, sit at k/7 of the width.
  const ratio = drawn.width / drawn.cssWidth;
  const changedRows = Array.from({ length: drawn.width }, (_, x) => {
    let rows = 0;
    for (let y = 0; y < drawn.height; y++) {
      const at = (y * drawn.width + x) * 4;
      if ([0, 1, 2].some((c) => drawn.data[at + c] !== before.data[at + c])) rows++;
    }
    return rows;
  });
  const levelColumns = Array.from({ length: 8 }, (_, k) => Math.floor(Math.min(drawn.cssWidth - 1, Math.round((k * drawn.cssWidth) / 7)) * ratio));
  for (const [k, x] of levelColumns.entries()) {
    const rows = Math.max(...changedRows.slice(x, x + Math.ceil(ratio)));
    assert.ok(rows > drawn.height / 2, `level ${k} is a line over the plot at x = ${x}: ${rows} of ${drawn.height} rows changed`);
  }
  const strayColumns = changedRows.flatMap((rows, x) => (rows > 0 && !levelColumns.some((level) => Math.abs(x - level) <= ratio) ? [x] : []));
  assert.deepEqual(strayColumns, [], 'nothing but the level lines changed');
  await runCommand(panel.page, 'View: Toggle Maximized Panel');
  await panel.screenshot('quantisation-4bit');
  await runCommand(panel.page, 'View: Toggle Maximized Panel');
});

test('the what-if table fills with finite errors per layer and bit width, the engine’s', async () => {
  const shown = await shownErrors();
  const { frame } = panel;
  // The attention error is divided by the exact row's absolute mass, and the table says so.
  assert.match(await frame.locator(`${filledTable()} caption`).innerText(), /½·Σ\|row′ − row\| \/ Σ\|row\|.*absolute mass/);
  assert.match((await frame.locator(`${filledTable()} th[title*="absolute mass"]`).getAttribute('title'))!, /λ ≥ 1/, 'the column title’s tooltip says it holds for λ ≥ 1');
  const engine = await Engine.load(PACKAGE, 'cpu');
  await engine.inspect(SELECTED);
  const expected = await engine.quantisation();
  assert.deepEqual(shown.map((row) => row.layer), expected.map((layer) => layer.layer), 'one row per layer');
  for (const [index, { layer, cells }] of shown.entries()) {
    assert.equal(cells.length, 2 * QUANT_BITS.length, `layer ${layer}: two errors per bit width`);
    for (const { metric, bits, text, chosen } of cells) {
      const number = Number(text.replace('−', '-'));
      assert.ok(Number.isFinite(number), `layer ${layer} ${metric} ${bits}-bit: a finite number, shown ${text}`);
      const error = expected[index].errors.find((entry) => entry.bits === bits)!;
      const value = error[metric as 'logitRelRmse' | 'attentionError'];
      // The table shows 4 significant digits.
      assert.ok(Math.abs(number - value) <= 5e-4 * value, `layer ${layer} ${metric} ${bits}-bit: shown ${text}, engine ${value}`);
      assert.equal(chosen, bits === 4, `only the chosen bit width is emphasised (${metric} ${bits}-bit)`);
    }
  }
  await panel.screenshot('quantisation-table');
});

test('the chosen grid survives a window reload', async () => {
  const { page } = panel;
  await reloadWindow(page);
  await runCommand(page, 'DiffTransformer: Show Panel');
  const frame = webviewFrame(page);
  await frame.locator(`${logitsCanvas()}[data-quant-bits="4"]`).waitFor({ state: 'attached' });
  assert.equal(await frame.locator('#quant-switch').evaluate((group) => (group as unknown as { value: string }).value), '4');
  assert.equal(await frame.locator(`${filledTable()} tbody tr`).count(), packageShape(DEFAULT_MODEL).layers, 'the error table is restored for every layer');
  await panel.screenshot('quantisation-after-reload');
});
