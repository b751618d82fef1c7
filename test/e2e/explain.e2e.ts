// End to end: the Explain tab shows what the engine computes. For the run's locked query it lists
// the engine's largest parts (component, total, A1 and −λ·A2 parts) and the sum line; a clicked
// head lists the engine's source tokens (all of them on Show all); a versus token explains the logit difference; Open in
// Maps shows that head's map. Each wait is keyed on what the panel says it shows (run, query,
// target, layer, head).
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Locator } from 'playwright-core';
import { assertClose } from '../support/tolerance';
import { drawnMap, modelsFolder, ofRun, panelFixture } from './harness';

const SELECTED = 'numbers.append(numbers[-1] + numbers[-2])';
/** Rows a bar list shows before "Show all" (webview/explainLayout.ts SHOWN_ROWS). */
const SHOWN_ROWS = 12;

/** A bundled package with the contributions graph (contributions.onnx) that explanations run. */
const MODEL = 'tiny-diff';

const panel = panelFixture('explain', {
  settings: () => ({ 'difftransformer.modelPath': path.join(modelsFolder, MODEL) }),
  inspect: { file: 'sample.py', text: SELECTED, command: 'DiffTransformer: Inspect Selection', model: MODEL },
  engine: MODEL,
});

/** The data-* values of a bar list's rows, as numbers where they are. */
async function rows(list: Locator): Promise<{ component?: string; token?: number; total: number; a1?: number; a2?: number }[]> {
  const data = await list.locator('.bar-row').evaluateAll((items) => items.map((item) => ({ ...(item as unknown as { dataset: Record<string, string> }).dataset })));
  const number = (value: string | undefined) => (value === undefined ? undefined : Number(value));
  return data.map((row) => ({ component: row.component, token: number(row.token), total: Number(row.total), a1: number(row.a1), a2: number(row.a2) }));
}

/** The title once it shows the explanation of the run's query (and these target/versus ids). */
async function explained(ids: { target?: number; versus?: number } = {}): Promise<void> {
  const { query } = panel.inspected;
  const target = ids.target === undefined ? '' : `[data-target="${ids.target}"]`;
  const versus = ids.versus === undefined ? '[data-versus=""]' : `[data-versus="${ids.versus}"]`;
  await panel.frame.locator(`${ofRun('#explain-title', panel.runId)}[data-query="${query}"]${target}${versus}`).waitFor({ state: 'attached' });
}

test('Explain lists the engine’s largest parts of the top prediction and checks their sum', async () => {
  await panel.frame.locator('#tab-explain').click();
  await explained();
  const expected = await panel.engine.explain(panel.inspected.query);
  const largest = [...expected.parts].sort((x, y) => Math.abs(y.total) - Math.abs(x.total));
  const shown = await rows(panel.frame.locator('#explain-parts'));
  assert.deepEqual(shown.map((row) => row.component), largest.slice(0, SHOWN_ROWS).map((part) => part.component), 'the largest parts, largest first');
  assertClose(shown.map((row) => row.total), largest.slice(0, SHOWN_ROWS).map((part) => part.total), 'each part');
  const split = largest.slice(0, SHOWN_ROWS).filter((part) => part.a2 !== undefined);
  assert.ok(split.length > 0, 'some DIFF head is among the largest');
  const shownSplit = shown.filter((row) => row.a2 !== undefined);
  assertClose(shownSplit.flatMap((row) => [row.a1!, row.a2!]), split.flatMap((part) => [part.a1!, part.a2!]), 'A1 and −λ·A2 parts');

  const sum = panel.frame.locator('#explain-sum');
  assert.match(await sum.innerText(), /^parts sum to logit: Σ = −?\d.* \(logit −?\d.*\) ✓$/);
  assertClose(Number(await sum.getAttribute('data-logit')), expected.logit, 'logit');
  assertClose(Number(await sum.getAttribute('data-sum')), expected.logit, 'Σ of the parts', { atol: 1e-3 });
  assert.ok((await panel.frame.locator('.explain-linearisation').innerText()).includes('final norm'), 'the linearisation is said');

  assert.equal(shown.length, Math.min(SHOWN_ROWS, expected.parts.length));
  await panel.screenshot('explain-parts');
});

test('a clicked head lists the engine’s source tokens; Open in Maps shows its map', async () => {
  const expected = await panel.engine.explain(panel.inspected.query);
  const head = [...expected.parts].filter((part) => part.kind === 'head').sort((x, y) => Math.abs(y.total) - Math.abs(x.total))[0];
  await panel.frame.locator(`#explain-parts .bar-row[data-component="${head.component}"]`).click();
  const list = panel.frame.locator(`${ofRun('#explain-sources', panel.runId)}[data-layer="${head.layer}"][data-head="${head.head}"]`);
  await list.locator('.bar-row').first().waitFor();
  const sources = await panel.engine.explainSources(panel.inspected.query, {}, head.layer!, head.head!);
  const moved = (token: number) => Math.abs(sources.a1[token]) + Math.abs(sources.a2[token]);
  const ranked = Array.from(sources.a1.keys()).sort((x, y) => moved(y) - moved(x) || x - y);
  const shown = await rows(list);
  assert.deepEqual(shown.map((row) => row.token), ranked.slice(0, SHOWN_ROWS), 'the tokens that moved the part most');
  assertClose(shown.flatMap((row) => [row.a1!, row.a2!]), ranked.slice(0, SHOWN_ROWS).flatMap((token) => [sources.a1[token], sources.a2[token]]), 'each token’s A1 and A2 parts');
  await panel.screenshot('explain-sources');
  assert.ok(ranked.length > SHOWN_ROWS, 'more source tokens than the list shows at first');
  await list.locator('#explain-sources-all').click();
  await list.locator('.bar-row').nth(ranked.length - 1).waitFor();
  assert.equal(await list.locator('.bar-row').count(), ranked.length, 'Show all lists every source token');

  await panel.frame.locator('#explain-open-maps').click();
  const map = await drawnMap(panel.page, '#heatmap', panel.runId);
  assert.deepEqual([map.layer, map.head], [head.layer, head.head], 'Maps shows the head');
});

test('a versus token explains the difference of the two logits', async () => {
  const { query } = panel.inspected;
  const top = await panel.engine.explain(query);
  const versus = panel.engine.tokenId(')');
  await panel.frame.locator('#tab-explain').click();
  await panel.frame.locator('#explain-versus').fill(')');
  await panel.frame.locator('#explain-versus').press('Enter');
  await explained({ target: top.target.id, versus });
  const expected = await panel.engine.explain(query, { versus });
  assertClose(Number(await panel.frame.locator('#explain-sum').getAttribute('data-logit')), expected.logit, 'logit difference');
  assert.ok((await panel.frame.locator('#explain-title').innerText()).includes('versus'), 'the title says it is a difference');
});
