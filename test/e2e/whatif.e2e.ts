// End to end: the What-if tab. Setting λ = 0 in one layer runs the text again and draws the
// per-token surprisal difference that the engine computes for the same intervention; λ at its own
// value changes nothing; "Ablate A2 only" from a thumbnail's context menu shows that head's maps and
// predictions in both runs; the logit lens at the locked query agrees with the hover. Each wait is
// keyed on the request id the panel gave its own click, or on the run.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { FrameLocator } from 'playwright-core';
import { Engine } from '../../extension/core/engine';
import { DEFAULT_MODEL } from '../../extension/core/modelPath';
import type { Interventions } from '../../shared/model';
import { assertClose, FLOAT32 } from '../support/tolerance';
import { drawnMap, hoverText, inspectText, modelsFolder, ofRun, packageShape, runCommand, startSession, webviewFrame, type Session } from './harness';

const PACKAGE = path.join(modelsFolder, DEFAULT_MODEL);
const SELECTED = 'numbers.append(numbers[-1] + numbers[-2])';
const LAYER = 1;

let session: Session;
let frame: FrameLocator;
let runId: string;
let engine: Engine;
before(async () => {
  session = await startSession('whatif');
  frame = webviewFrame(session.page);
  runId = await inspectText(session.page, 'sample.py', SELECTED, 'DiffTransformer: Inspect Selection', DEFAULT_MODEL);
  engine = await Engine.load(PACKAGE, 'cpu');
});
after(async () => {
  await session?.close();
});

/** Clicks `selector` in the panel and returns the what-if request id that click made. */
async function requestWhatIf(selector: string): Promise<string> {
  const before = await frame.locator('body').getAttribute('data-what-if-requested');
  await frame.locator(selector).click();
  const body = frame.locator(before === null ? 'body[data-what-if-requested]' : `body[data-what-if-requested]:not([data-what-if-requested="${before}"])`);
  return (await body.getAttribute('data-what-if-requested'))!;
}

/** The strip's values once it shows request `whatIfId` of the run. */
async function stripValues(whatIfId: string): Promise<number[]> {
  const strip = frame.locator(`${ofRun('#surprisal-strip', runId)}[data-what-if-id="${whatIfId}"]`);
  await strip.waitFor({ state: 'attached' });
  return (await strip.getAttribute('data-values'))!.split(',').map(Number);
}

/** Per token, surprisal in bits with the interventions minus without, from an in-process engine. */
async function engineDelta(interventions: Interventions): Promise<Float32Array> {
  const plain = await engine.inspect(SELECTED);
  const changed = await engine.inspect(SELECTED, undefined, interventions);
  return plain.tokenLogprob.map((logprob, token) => (logprob - changed.tokenLogprob[token]) / Math.LN2);
}

test('λ = 0 in one layer draws the surprisal difference the engine computes', async () => {
  const { layers, heads } = packageShape(DEFAULT_MODEL);
  await frame.locator('#tab-whatIf').click();
  await frame.locator('#whatif-layer').selectOption(String(LAYER));
  const whatIfId = await requestWhatIf('#whatif-preset-zero');
  const shown = await stripValues(whatIfId);

  const scale = new Float32Array(layers * heads).fill(1);
  scale.fill(0, LAYER * heads, (LAYER + 1) * heads);
  const expected = await engineDelta({ lambda_scale: scale, lambda_shift: new Float32Array(layers * heads) });
  assert.equal(shown.length, expected.length, 'one strip cell per token');
  assertClose(shown, expected, 'surprisal difference per token');
  assert.ok(expected.some((value) => Math.abs(value) > 1e-3), 'λ = 0 changes some token’s surprisal');
  const sumText = await frame.locator('#surprisal-sum').innerText();
  assert.match(sumText, /^Sum: [+−]\d/, `the sum is shown: ${sumText}`);
  const title = await frame.locator(`${ofRun('#whatif-title', runId)}[data-what-if-id="${whatIfId}"]`).innerText();
  assert.ok(title.includes(`λ = 0 in layer ${LAYER}`), `the title names the intervention: ${title}`);
  // Both runs' maps of that layer, side by side.
  for (const prefix of ['#whatif-main-', '#whatif-changed-']) assert.equal((await drawnMap(session.page, `${prefix}heatmap`, runId)).layer, LAYER);
  await runCommand(session.page, 'View: Toggle Maximized Panel');
  await session.screenshot('whatif-lambda-zero');
  await runCommand(session.page, 'View: Toggle Maximized Panel');
});

test('λ at its own value in every layer gives an all-zero strip', async () => {
  await frame.locator('#whatif-layer').selectOption('all');
  const shown = await stripValues(await requestWhatIf('#whatif-preset-own'));
  assertClose(shown, new Float32Array(shown.length), 'surprisal difference with λ unchanged', FLOAT32);
});

test('"Ablate A2 only" from a thumbnail’s context menu shows that head in both runs', async () => {
  const { layers, heads } = packageShape(DEFAULT_MODEL);
  const [layer, head] = [0, heads - 1];
  await frame.locator('#tab-maps').click();
  await frame.locator(`#overview canvas.thumbnail[data-layer="${layer}"][data-head="${head}"]`).click({ button: 'right' });
  const whatIfId = await requestWhatIf('#menu-ablate-a2');
  const shown = await stripValues(whatIfId);
  const scale = new Float32Array(layers * heads).fill(1);
  scale[layer * heads + head] = 0;
  assertClose(shown, await engineDelta({ lambda_scale: scale, lambda_shift: new Float32Array(layers * heads) }), 'surprisal difference with A2 ablated');
  const map = await drawnMap(session.page, '#whatif-changed-heatmap', runId);
  assert.deepEqual([map.layer, map.head], [layer, head], 'the what-if shows the ablated head');
  const predictions = frame.locator(`${ofRun('#whatif-changed-predictions', runId)}[data-what-if-id="${whatIfId}"] li`);
  assert.ok((await predictions.count()) > 0, 'the what-if’s next-token predictions are listed');
  await session.screenshot('whatif-ablate-a2');
});

test('the logit lens: its last layer’s top-1 is the hover’s top prediction, and both say where it was decided', async () => {
  await frame.locator('#tab-maps').click();
  const lens = frame.locator(ofRun('#lens', runId));
  await lens.locator('tr[data-top]').first().waitFor({ state: 'attached' });
  const query = Number(await lens.getAttribute('data-query'));
  const decidedAt = await lens.getAttribute('data-decided-at');
  const lastTop = await lens.locator('tr[data-top]').last().getAttribute('data-top');
  await engine.inspect(SELECTED);
  assert.equal(lastTop, engine.predictions(query)[0].text, 'the last layer’s lens top-1 is the model’s own top prediction');
  const heading = await lens.locator('.lens-heading').innerText();
  assert.ok(heading.endsWith(`decided at layer ${decidedAt}`), `the panel says where: ${heading}`);
  await session.screenshot('logit-lens');

  // The hover over the query token (the selection's last, ")" at line 9, column 49).
  const hover = await hoverText(session.page, 9, 49, 'Logit lens');
  const topPrediction = /Next token\s+probability\s+(.+?)\t/.exec(hover)?.[1];
  const lensLine = /decided at layer (\d+) \(layers 0–\d+\); its top prediction from then on: (.+)/.exec(hover);
  assert.ok(topPrediction && lensLine, `the hover lists predictions and the lens line: ${hover}`);
  assert.equal(lensLine[1], decidedAt, 'the hover and the panel agree on the layer');
  assert.equal(lensLine[2], topPrediction, 'the lens’s final top-1 is the hover’s top prediction');
  await session.screenshot('logit-lens-hover');
});
