// End to end: Continue Text from the command palette, its input boxes answered as a user would; the
// panel's key spans say why each generated token was chosen, Next Generated Token moves the
// locked query to the next one, and the heading's "Why it was chosen" explains the row before it
// with the generated token as the target. Each wait is keyed on the run and the query it shows.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_MODEL } from '../../extension/core/modelPath';
import { ofRun, openFile, panelFixture, runCommand, selectText } from './harness';

const TOKENS = 4;
const panel = panelFixture('continueText');

/** The key spans' heading once the panel shows run `runId`'s spans of a query other than `not`. */
async function spansHeading(runId: string, not?: string): Promise<{ query: string; text: string }> {
  const list = panel.frame.locator(`${ofRun('#spans', runId)}[data-query]${not === undefined ? '' : `:not([data-query="${not}"])`}`);
  await list.waitFor({ state: 'attached' });
  return { query: (await list.getAttribute('data-query'))!, text: await list.locator('.spans-heading').innerText() };
}

test('Continue Text asks for the tokens and the mode, and the panel says why each generated token was chosen', async () => {
  const { page } = panel;
  await openFile(page, 'sample.py');
  await selectText(page, 'def fibonacci(n: int) -> list[int]:');
  // Not runCommand, which waits for the quick input to close: this command's own boxes follow.
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget input').fill('>DiffTransformer: Continue Text');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'DiffTransformer: Continue Text' }).first().click();
  const tokensBox = page.locator('.quick-input-widget input[aria-label="DiffTransformer: Continue Text"]');
  await page.locator('.quick-input-widget', { hasText: 'Tokens to generate' }).waitFor({ state: 'visible' });
  await tokensBox.fill(String(TOKENS));
  await tokensBox.press('Enter');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Greedy' }).first().click();
  const body = panel.frame.locator(`body[data-run-id][data-model=${JSON.stringify(DEFAULT_MODEL)}]`);
  await body.waitFor({ state: 'attached' });
  const runId = (await body.getAttribute('data-run-id'))!;

  const first = await spansHeading(runId);
  assert.match(first.text, new RegExp(`generated, step 1 of ${TOKENS}: chosen greedily with p = 0\\.\\d{3}`), `the heading of query ${first.query}: ${first.text}`);
  await runCommand(page, 'DiffTransformer: Next Generated Token');
  const second = await spansHeading(runId, first.query);
  assert.ok(Number(second.query) > Number(first.query), 'the query moved on through the text');
  // The panel runs the document's text tokenised anew: mostly the generated tokens, each its own step.
  const step = /generated, step (\d+) of (\d+): /.exec(second.text);
  assert.ok(step && Number(step[1]) > 1 && Number(step[2]) === TOKENS, `the heading of query ${second.query} names a later step: ${second.text}`);
  await panel.screenshot('continue-text');

  // textContent, not innerText: a token's spaces are kept as they are.
  const heading = panel.frame.locator(`${ofRun('#spans', runId)}[data-query="${second.query}"] .spans-heading`);
  const generatedText = /query \d+ «(.*?)»/.exec((await heading.textContent())!)?.[1];
  await heading.locator('.why-chosen').click();
  const title = panel.frame.locator(`${ofRun('#explain-title', runId)}[data-query="${Number(second.query) - 1}"]`);
  await title.waitFor({ state: 'visible' });
  const target = /→ (.*?) · logit/.exec((await title.textContent())!)?.[1];
  assert.ok(generatedText, `the heading quotes its token: ${second.text}`);
  assert.equal(target, generatedText, 'Explain of the row before the generated token, its target the generated token');
});
