// End to end, models the user brings (docs/import.md): a DiffLlama package as the model and a
// Llama package as the comparison model, with the panel naming each head's softmax heads as
// DiffLlama pairs them (A1 = h, A2 = h + H) and the Compare tab putting the Llama heads h and h + H
// beside DIFF head h; then a DIFF V2 folder imported through the command's dialogs and used as the
// model, whose λ per token is drawn as a strip beside the map and as ranges in the overview, beside
// both What-if maps (λ × 0.5 halves the strip), and named by the hover.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Engine } from '../../extension/core/engine';
import { importModel } from '../../extension/core/import/importModel';
import { repoRoot } from '../vscode/server';
import { assertClose } from '../support/tolerance';
import { canvasPixel, drawnMap, hoverText, inspectText, inspectWith, ofRun, panelFixture, runCommand, webviewFrame } from './harness';

const SELECTED = 'def fibonacci(n: int) -> list[int]:';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imported-model-e2e-'));
const run = promisify(execFile);

/** Writes a random-weight checkpoint in `format` with `python -m model hf-checkpoint`. */
async function checkpoint(format: string): Promise<string> {
  const out = path.join(work, 'checkpoints', format);
  await run(path.join(repoRoot, 'scripts', 'python.sh'), ['-m', 'model', 'hf-checkpoint', '--format', format, '--out', out], { cwd: repoRoot });
  return out;
}

const packages: Record<string, string> = {};
/** Imports the DiffLlama and Llama checkpoints that the session runs as its model and baseline. */
async function importPackages(): Promise<void> {
  for (const format of ['diffllama', 'llama']) {
    packages[format] = (await importModel({ source: await checkpoint(format), destination: path.join(work, 'packages', format) })).dir;
  }
}
const panel = panelFixture('imported-model', {
  prepare: importPackages,
  settings: () => ({ 'difftransformer.modelPath': packages.diffllama, 'difftransformer.baselineModelPath': packages.llama }),
  cleanUp: () => fs.rmSync(work, { recursive: true, force: true }),
});

/** The text of an element of the panel. */
function panelText(selector: string): Promise<string> {
  return panel.frame.locator(selector).innerText();
}

/** The λ values a strip beside a map lists. */
async function stripValues(selector: string): Promise<number[]> {
  return (await panel.frame.locator(`${selector}:not([hidden])`).getAttribute('data-values'))!.split(',').map(Number);
}

/** The DIFF V2 run that the test importing it inspected, and the folder it imported. */
let v2: { runId: string; source: string } | undefined;

test('a DiffLlama model: the map and the overview name its softmax heads h and h + H', async () => {
  const runId = await inspectText(panel.page, 'sample.py', SELECTED, 'DiffTransformer: Inspect Selection', 'diffllama');
  const { head } = await drawnMap(panel.page, '#heatmap', runId);
  const model = await Engine.load(packages.diffllama, 'cpu');
  const H = model.info.nHead;
  assert.equal(await panelText('#heatmap-caption'), `A1 = softmax head ${head}, A2 = softmax head ${head + H} (DiffLlama pairing)`);
  const thumbnail = panel.frame.locator('#overview canvas[data-layer="1"][data-head="1"]');
  assert.match(String(await thumbnail.getAttribute('title')), new RegExp(`A1 = softmax head 1, A2 = softmax head ${1 + H} \\(DiffLlama pairing\\)`));
  assert.equal(await panel.frame.locator('#lambda-strip').isHidden(), true, 'one λ per layer: no strip');
  const result = await model.inspect(SELECTED);
  assert.ok((await panelText('#lambda')).includes(`L0 λ ${result.lambda[0].toFixed(3)}`), 'λ per layer as before');
});

test('Compare with Baseline puts the Llama heads h and h + H beside DiffLlama head h', async () => {
  const runId = await inspectWith(panel.page, 'DiffTransformer: Compare with Baseline', 'diffllama');
  const H = (await Engine.load(packages.diffllama, 'cpu')).info.nHead;
  const main = await drawnMap(panel.page, '#compare-main-heatmap', runId);
  const first = await drawnMap(panel.page, '#compare-compare-heatmap', runId);
  const paired = await drawnMap(panel.page, '#compare-compare-paired-heatmap', runId);
  assert.deepEqual([first.layer, first.head], [main.layer, main.head], 'standard head h beside DIFF head h');
  assert.deepEqual([paired.layer, paired.head], [main.layer, main.head + H], 'and standard head h + H');
  assert.equal(await panelText('#compare-main-heatmap-caption'), `A1 = softmax head ${main.head}, A2 = softmax head ${main.head + H} (DiffLlama pairing)`);
  assert.match(await panelText('#compare-compare-heatmap-caption'), new RegExp(`^standard head ${main.head}: the counterpart of A1`));
  assert.match(await panelText('#compare-compare-paired-heatmap-caption'), new RegExp(`^standard head ${main.head + H}: the counterpart of A2`));
  assert.match(await panelText('#compare-note'), /DiffLlama pairing/);

  // Another head: both baseline maps follow it.
  const { frame } = panel;
  await frame.locator('#compare-head-select').click();
  await frame.locator('#compare-head-select vscode-option').nth(1).click();
  const moved = frame.locator(`${ofRun('#compare-compare-paired-heatmap', runId)}[data-head="${1 + H}"]`);
  await moved.waitFor({ state: 'attached' });
  await panel.screenshot('imported-compare');
});

test('a DIFF V2 folder imported with the command shows λ per token beside the map and its ranges in the overview', async () => {
  const { page } = panel;
  const source = await checkpoint('diff-v2');
  // The command opens VS Code's own open dialog (a quick input in the browser): the folder's path, then OK.
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.fill('>DiffTransformer: Import Model…');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'DiffTransformer: Import Model…' }).first().click();
  const folderInput = page.locator('.quick-input-widget input[placeholder="Folder path"]');
  await folderInput.waitFor({ state: 'visible' });
  // The dialog fills in the folder it starts from by itself, in steps: type the path again until
  // it stays, and the dialog has moved into that folder (it lists folders: only '..' there). Its OK
  // accepts that folder only when the dialog is idle and no row is focused (a focused '..' goes up
  // instead), so press it until the dialog has closed and the command asks its next question.
  const rows = page.locator('.quick-input-list .monaco-list-row');
  const ok = page.locator('.quick-input-widget .monaco-button', { hasText: 'Import this model' });
  const storage = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Extension storage' });
  const message = page.locator('.quick-input-widget .quick-input-message');
  const typed = `${source}/`;
  let dialog = '';
  for (const deadline = Date.now() + 60_000; !(await storage.isVisible()); await page.waitForTimeout(250)) {
    assert.ok(Date.now() < deadline, `the dialog accepts ${typed} and the command asks where to write the package; last, ${dialog}`);
    if (!(await folderInput.isVisible())) continue;
    const value = await folderInput.inputValue();
    dialog = `the dialog shows ${value}, rows ${await rows.allInnerTexts()}, message "${await message.innerText({ timeout: 500 }).catch(() => '')}"`;
    if (value !== typed) await folderInput.fill(typed);
    else if ((await rows.count()) === 1 && (await rows.first().innerText()).trim() === '..') await ok.click({ timeout: 1_000 }).catch(() => undefined);
  }
  await storage.click();
  // The import's message offers to use the package (from the notification centre: toasts may be hidden).
  await runCommand(page, 'Notifications: Show Notifications');
  await page.locator('.notifications-center .monaco-button', { hasText: 'Use as Model' }).click();
  await page.locator('.statusbar-item', { hasText: 'DiffTransformer: diff-v2' }).waitFor({ state: 'visible' });
  // The centre closes by itself when the answered message was its last one.
  if (await page.locator('.notifications-center').isVisible()) await runCommand(page, 'Notifications: Hide Notifications');

  const runId = await inspectText(page, 'sample.py', SELECTED, 'DiffTransformer: Inspect Selection', 'diff-v2');
  const frame = webviewFrame(page);
  const { head } = await drawnMap(page, '#heatmap', runId);
  const strip = frame.locator('#lambda-strip:not([hidden])');
  await strip.waitFor({ state: 'attached' });
  const tokens = (await frame.locator(ofRun('#heatmap', runId)).evaluate((c) => (c as unknown as { height: number }).height));
  assert.equal((await stripValues('#lambda-strip')).length, tokens, 'one λ per query row');
  assert.match(await panelText('#heatmap-caption'), new RegExp(`A1 = softmax head ${2 * head}, A2 = softmax head ${2 * head + 1} · λ \\d\\.\\d{3}–\\d\\.\\d{3} over the query tokens`));
  assert.match(await panelText('#lambda'), /^λ per token and head, range in each layer: L0 λ \d\.\d{3}–\d\.\d{3}/);
  const ranges = frame.locator('#overview .overview-head-lambda');
  const nLayer = await frame.locator('#overview .overview-layer').count();
  const nHead = await frame.locator('#overview .overview-head').count();
  assert.equal(await ranges.count(), nLayer * nHead, 'a λ range under every thumbnail');
  assert.match(await ranges.first().innerText(), /^\.\d\d–\n\.\d\d$/);
  await panel.screenshot('imported-v2');
  v2 = { runId, source };
});

test('a DIFF V2 model: each What-if map shows its run’s λ per query row, and the hover names the query token’s λ', async () => {
  assert.ok(v2, 'the DIFF V2 model was imported and inspected by the test before');
  const { page, frame } = panel;
  const { runId } = v2;
  const { layer, head, query } = await drawnMap(page, '#heatmap', runId);
  // The engine's λ of the same text, from the same folder imported here.
  const engine = await Engine.load((await importModel({ source: v2.source, destination: path.join(work, 'packages', 'diff-v2') })).dir, 'cpu');
  const { tokens, lambdaByToken } = await engine.inspect(SELECTED);
  assert.ok(lambdaByToken, 'λ per token and head');
  const engineLambda = (token: number) => lambdaByToken[(layer * tokens.length + token) * engine.info.nHead + head];
  const plain = tokens.map((_, token) => engineLambda(token));
  assertClose(await stripValues('#lambda-strip'), plain, 'the Maps tab’s strip: the engine’s λ of each query row');

  // λ × 0.5 in the map's layer: the layers before it run as they did, so its λ is half the plain run's.
  await frame.locator('#tab-whatIf').click();
  await frame.locator('#whatif-layer').selectOption(String(layer));
  const before = await frame.locator('body').getAttribute('data-what-if-requested');
  await frame.locator('#whatif-preset-half').click();
  const asked = frame.locator(before === null ? 'body[data-what-if-requested]' : `body[data-what-if-requested]:not([data-what-if-requested="${before}"])`);
  const whatIfId = await asked.getAttribute('data-what-if-requested');
  await frame.locator(`${ofRun('#whatif-title', runId)}[data-what-if-id="${whatIfId}"]`).waitFor({ state: 'attached' });
  for (const prefix of ['#whatif-main-', '#whatif-changed-']) assert.deepEqual(await drawnMap(page, `${prefix}heatmap`, runId), { view: 'diff', layer, head, query });
  assertClose(await stripValues('#whatif-main-lambda-strip'), plain, 'the unmodified map’s strip: the run’s λ');
  assertClose(await stripValues('#whatif-changed-lambda-strip'), plain.map((value) => 0.5 * value), 'the what-if map’s strip: half of it');
  // One colour scale for both strips: the halved λ looks different, not the same strip again.
  const row = plain.indexOf(Math.max(...plain));
  const colours = await Promise.all(['#whatif-main-lambda-strip', '#whatif-changed-lambda-strip'].map((selector) => canvasPixel(frame, selector, 0, row)));
  assert.notDeepEqual(colours[1], colours[0], `row ${row}: λ ${plain[row]} and half of it are coloured apart`);
  for (const [prefix, scale] of [['#whatif-main-', 1], ['#whatif-changed-', 0.5]] as const) {
    const range = `λ ${(scale * Math.min(...plain)).toFixed(3)}–${(scale * Math.max(...plain)).toFixed(3)} over the query tokens`;
    assert.ok((await panelText(`${prefix}heatmap-caption`)).includes(range), `${prefix}heatmap-caption says ${range}`);
  }
  await runCommand(page, 'View: Toggle Maximized Panel');
  await panel.screenshot('imported-v2-whatif');
  await runCommand(page, 'View: Toggle Maximized Panel');

  // The hover over the query token (the selection's last, ":" at line 5, column 35).
  const hover = await hoverText(page, 5, 35, 'for this query token');
  assert.ok(hover.includes(`λ ${engineLambda(query).toFixed(3)} for this query token (layer ${layer}, head ${head})`), `the hover names the query token’s λ: ${hover}`);
  await panel.screenshot('imported-v2-hover');
});
