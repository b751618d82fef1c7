// End to end: the shipped DIFF model retrieves, and the panel shows it. Inspect File on a file
// that ends in a call to a function defined near its top: the definition is among the retrieved
// key spans of the head that attends to it, in the panel's list and highlighted in the editor.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { Engine } from '../../extension/core/engine';
import { DEFAULT_MODEL } from '../../extension/core/modelPath';
import type { KeySpan } from '../../shared/inspection';
import { modelsFolder, ofRun, panelFixture, waitForHighlightedLines, workspaceFolder } from './harness';

const FILE = 'settings_loader.py';
const TEXT = fs.readFileSync(path.join(workspaceFolder, FILE), 'utf8');
const DEFINITION = 'def load_settings(path):';
/** The panel's default number of spans (difftransformer.topSpans). */
const TOP_SPANS = 5;

const panel = panelFixture('retrieval', { inspect: { file: FILE, command: 'DiffTransformer: Inspect File' } });

test('a call retrieves the function definition earlier in the file', async () => {
  assert.ok(TEXT.endsWith('load_settings'), 'the file ends in the call, so its last token is the query');
  const engine = await Engine.load(path.join(modelsFolder, DEFAULT_MODEL), 'cpu');
  const { tokens, query } = await engine.inspect(TEXT);
  const { nLayer, nHead } = engine.info;
  const definitionStart = TEXT.indexOf(DEFINITION);
  const inDefinition = (span: KeySpan) =>
    tokens[span.firstToken].start >= definitionStart && tokens[span.endToken - 1].end <= definitionStart + DEFINITION.length;

  // The model: the heads whose top spans for the call include a piece of the definition.
  const retrieving: { layer: number; head: number; score: number }[] = [];
  for (let layer = 0; layer < nLayer; layer++) {
    for (let head = 0; head < nHead; head++) {
      const found = engine.spans(layer, head, query, TOP_SPANS).filter(inDefinition);
      if (found.length) retrieving.push({ layer, head, score: Math.max(...found.map((s) => s.score)) });
    }
  }
  assert.ok(retrieving.length > 0, 'some head puts the definition among the call\'s retrieved spans');
  const best = retrieving.reduce((a, b) => (b.score > a.score ? b : a));

  // The panel: pick that head in the overview, as a user would; its span list shows the definition.
  const { frame } = panel;
  await frame.locator(`#overview canvas[data-layer="${best.layer}"][data-head="${best.head}"]`).click();
  const spanList = frame.locator(`${ofRun('#spans', panel.runId)}[data-layer="${best.layer}"][data-head="${best.head}"][data-query="${query}"]`);
  await spanList.locator('.span-item').first().waitFor();
  const shown = await spanList.locator('.span-item').evaluateAll((items) =>
    items.map((item) => [Number((item as unknown as { dataset: Record<string, string> }).dataset.firstToken), Number((item as unknown as { dataset: Record<string, string> }).dataset.endToken)]));
  const expected = engine.spans(best.layer, best.head, query, TOP_SPANS);
  assert.deepEqual(shown, expected.map((s) => [s.firstToken, s.endToken]), 'the panel lists the engine\'s spans');
  assert.ok(expected.some(inDefinition), 'the definition is among them');

  await waitForHighlightedLines(panel.page, 'some', DEFINITION);
  await panel.screenshot('retrieved-definition');
});
