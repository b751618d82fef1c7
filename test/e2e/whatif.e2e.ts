// End to end: the What-if tab. Setting λ = 0 in one layer runs the text again and draws the
// per-token surprisal difference that the engine computes for the same intervention; λ at its own
// value changes nothing; "Ablate A2 only" from a thumbnail's context menu shows that head's maps and
// predictions in both runs; the logit lens at the locked query agrees with the hover. Each wait is
// keyed on the request id the panel gave its own click, or on the run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_MODEL } from '../../extension/core/modelPath';
import type { Interventions } from '../../shared/model';
import { assertClose, FLOAT32 } from '../support/tolerance';
import { drawnMap, hoverText, ofRun, packageShape, panelFixture, runCommand } from './harness';

const SELECTED = 'numbers.append(numbers[-1] + numbers[-2])';
const LAYER = 1;

const panel = panelFixture('whatif', { inspect: { file: 'sample.py', text: SELECTED, command: 'DiffTransformer: Inspect Selection' }, engine: DEFAULT_MODEL });

/** Clicks `selector` in the panel and returns the what-if request id that click made. */
async function requestWhatIf(selector: string): Promise<string> {
  const before = await panel.frame.locator('body').getAttribute('data-what-if-requested');
  await panel.frame.locator(selector).click();
  const body = panel.frame.locator(before === null ? 'body[data-what-if-requested]' : `body[data-what-if-requested]:not([data-what-if-requested="${before}"])`);
  return (await body.getAttribute('data-what-if-requested'))!;
}

/** The strip's values once it shows request `whatIfId` of the run. */
async function stripValues(whatIfId: string): Promise<number[]> {
  const strip = panel.frame.locator(`${ofRun('#surprisal-strip', panel.runId)}[data-what-if-id="${whatIfId}"]`);
  await strip.waitFor({ state: 'attached' });
  return (await strip.getAttribute('data-values'))!.split(',').map(Number);
}

/** Per token, surprisal in bits with the interventions minus without, from an in-process engine. */
async function engineDelta(interventions: Interventions): Promise<Float32Array> {
  const plain = await panel.engine.inspect(SELECTED);
  const changed = await panel.engine.inspect(SELECTED, undefined, interventions);
  return plain.tokenLogprob.map((logprob, token) => (logprob - changed.tokenLogprob[token]) / Math.LN2);
}

test('λ = 0 in one layer draws the surprisal difference the engine computes', async () => {
  const { layers, heads } = packageShape(DEFAULT_MODEL);
  await panel.frame.locator('#tab-whatIf').click();
  await panel.frame.locator('#whatif-layer').selectOption(String(LAYER));
  const whatIfId = await requestWhatIf('#whatif-preset-zero');
  const shown = await stripValues(whatIfId);

  const scale = new Float32Array(layers * heads).fill(1);
  scale.fill(0, LAYER * heads, (LAYER + 1) * heads);
  const expected = await engineDelta({ lambda_scale: scale, lambda_shift: new Float32Array(layers * heads) });
  assert.equal(shown.length, expected.length, 'one strip cell per token');
  assertClose(shown, expected, 'surprisal difference per token');
  assert.ok(expected.some((value) => Math.abs(value) > 1e-3), 'λ = 0 changes some token’s surprisal');
  const sumText = await panel.frame.locator('#surprisal-sum').innerText();
  assert.match(sumText, /^Sum: [+−]\d/, `the sum is shown: ${sumText}`);
  const title = await panel.frame.locator(`${ofRun('#whatif-title', panel.runId)}[data-what-if-id="${whatIfId}"]`).innerText();
  assert.ok(title.includes(`λ = 0 in layer ${LAYER}`), `the title names the intervention: ${title}`);
  // Both runs' maps of that layer, side by side.
  for (const prefix of ['#whatif-main-', '#whatif-changed-']) assert.equal((await drawnMap(panel.page, `${prefix}heatmap`, panel.runId)).layer, LAYER);
  await runCommand(panel.page, 'View: Toggle Maximized Panel');
  await panel.screenshot('whatif-lambda-zero');
  await runCommand(panel.page, 'View: Toggle Maximized Panel');
});

test('λ at its own value in every layer gives an all-zero strip', async () => {
  await panel.frame.locator('#whatif-layer').selectOption('all');
  const shown = await stripValues(await requestWhatIf('#whatif-preset-own'));
  assertClose(shown, new Float32Array(shown.length), 'surprisal difference with λ unchanged', FLOAT32);
});

test('"Ablate A2 only" from a thumbnail’s context menu shows that head in both runs', async () => {
  const { layers, heads } = packageShape(DEFAULT_MODEL);
  const [layer, head] = [0, heads - 1];
  await panel.frame.locator('#tab-maps').click();
  await panel.frame.locator(`#overview canvas.thumbnail[data-layer="${layer}"][data-head="${head}"]`).click({ button: 'right' });
  const whatIfId = await requestWhatIf('#menu-ablate-a2');
  const shown = await stripValues(whatIfId);
  const scale = new Float32Array(layers * heads).fill(1);
  scale[layer * heads + head] = 0;
  assertClose(shown, await engineDelta({ lambda_scale: scale, lambda_shift: new Float32Array(layers * heads) }), 'surprisal difference with A2 ablated');
  const map = await drawnMap(panel.page, '#whatif-changed-heatmap', panel.runId);
  assert.deepEqual([map.layer, map.head], [layer, head], 'the what-if shows the ablated head');
  const predictions = panel.frame.locator(`${ofRun('#whatif-changed-predictions', panel.runId)}[data-what-if-id="${whatIfId}"] li`);
  assert.ok((await predictions.count()) > 0, 'the what-if’s next-token predictions are listed');
  await panel.screenshot('whatif-ablate-a2');
});

test('the logit lens: its last layer’s top-1 is the hover’s top prediction, and both say where it was decided', async () => {
  await panel.frame.locator('#tab-maps').click();
  const lens = panel.frame.locator(ofRun('#lens', panel.runId));
  await lens.locator('tr[data-top]').first().waitFor({ state: 'attached' });
  const query = Number(await lens.getAttribute('data-query'));
  const decidedAt = await lens.getAttribute('data-decided-at');
  const lastTop = await lens.locator('tr[data-top]').last().getAttribute('data-top');
  await panel.engine.inspect(SELECTED);
  assert.equal(lastTop, panel.engine.predictions(query)[0].text, 'the last layer’s lens top-1 is the model’s own top prediction');
  const heading = await lens.locator('.lens-heading').innerText();
  assert.ok(heading.endsWith(`decided at layer ${decidedAt}`), `the panel says where: ${heading}`);
  await panel.screenshot('logit-lens');

  // The hover over the query token (the selection's last, ")" at line 9, column 49).
  const hover = await hoverText(panel.page, 9, 49, 'Logit lens');
  const topPrediction = /Next token\s+probability\s+(.+?)\t/.exec(hover)?.[1];
  const lensLine = /decided at layer (\d+) \(layers 0–\d+\); its top prediction from then on: (.+)/.exec(hover);
  assert.ok(topPrediction && lensLine, `the hover lists predictions and the lens line: ${hover}`);
  assert.equal(lensLine[1], decidedAt, 'the hover and the panel agree on the layer');
  assert.equal(lensLine[2], topPrediction, 'the lens’s final top-1 is the hover’s top prediction');
  await panel.screenshot('logit-lens-hover');
});
