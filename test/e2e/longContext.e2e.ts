// End to end, a span far away in a long file: an imported 32K-context DiffLlama whose layer 0,
// head 0 is a planted retrieval head (`python -m model hf-checkpoint --size long32k --retrieval
// QUERY KEY`: the query token attends to the key token wherever it is) runs Inspect File on a file
// of 8,000+ tokens whole; the panel's strongest key span of the last token is the key near the top,
// and clicking it selects the key in the editor, scrolled there from the end of the file.
// The same scenario at the engine level: test/unit/longContext.test.ts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { importModel } from '../../extension/core/import/importModel';
import { loadTokenizer } from '../../extension/core/tokenizer';
import { repoRoot } from '../vscode/server';
import { inspectWith, ofRun, openFile, panelFixture, webviewFrame } from './harness';

const QUERY = ' answer';
const KEY = 'SECRET';
const TOKENS = 8200;
const LONG_RUN_WAIT_MS = 15 * 60_000;
/** Written into the session's copy of the workspace. */
const FILE = 'long_context.py';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'long-context-e2e-'));

/** The imported package: its name and folder. */
let model: string;
let packageDir: string;
let text: string;
/** Tokens of the run (BOS included). */
let T: number;
/** Imports the planted-retrieval checkpoint and composes the document the session inspects. */
async function importModelAndText(): Promise<void> {
  const source = path.join(work, 'checkpoint');
  await promisify(execFile)(path.join(repoRoot, 'scripts', 'python.sh'), ['-m', 'model', 'hf-checkpoint', '--format', 'diffllama', '--size', 'long32k', '--retrieval', QUERY, KEY, '--out', source], { cwd: repoRoot });
  const imported = await importModel({ source, destination: path.join(work, 'package'), name: 'long32k' });
  [model, packageDir] = [imported.name, imported.dir];

  // The sample's Python, repeated to over TOKENS tokens, with the key near the top and the query last.
  const tokenizer = loadTokenizer(fs.readFileSync(path.join(imported.dir, 'tokenizer.json'), 'utf8'));
  const sample = fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'tokenizer-sample.txt'), 'utf8');
  const head = `${sample.slice(0, 300)}\n${KEY} = "hunter2"\n`;
  // The sample's CRLF lines as LF: the editor holds a document with mixed line endings as LF only.
  text = `${head}${sample.repeat(Math.ceil(TOKENS / tokenizer.encode(sample).ids.length))}\n# what is the${QUERY}`.replace(/\r\n/g, '\n');
  T = tokenizer.encode(text).ids.length + 1;
}
const panel = panelFixture('long-context', {
  prepare: importModelAndText,
  settings: () => ({ 'difftransformer.modelPath': packageDir }),
  files: () => ({ [FILE]: text }),
  cleanUp: () => fs.rmSync(work, { recursive: true, force: true }),
});

test('Inspect File on 8,000+ tokens: the strongest span of the last token is the key at the top, and clicking it selects it', async (t) => {
  const { page } = panel;
  assert.ok(T > TOKENS && T < TOKENS * 1.5, `the document is ${T} tokens`);
  const lines = text.split('\n');
  const keyLine = lines.findIndex((line) => line.startsWith(`${KEY} =`)) + 1;

  await openFile(page, FILE);
  // 9 s on an idle machine, minutes on a loaded one: the test waits for its own run, however long.
  page.setDefaultTimeout(LONG_RUN_WAIT_MS);
  const started = Date.now();
  const runId = await inspectWith(page, 'DiffTransformer: Inspect File', model);
  t.diagnostic(`Inspect File of ${T} tokens: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const frame = webviewFrame(page);
  const sourceLine = await frame.locator('#source').innerText();
  assert.ok(sourceLine.includes(`${T} tokens`) || sourceLine.includes(`${T.toLocaleString('en-US')} tokens`), `the whole text ran: ${sourceLine}`);
  assert.doesNotMatch(sourceLine, /window/i, 'no window note');

  // Layer 0, head 0, picked in the overview; the locked query is the last token.
  await frame.locator('#overview canvas[data-layer="0"][data-head="0"]').click();
  const spanList = frame.locator(`${ofRun('#spans', runId)}[data-layer="0"][data-head="0"][data-query="${T - 1}"]`);
  const strongest = spanList.locator('.span-item').first();
  await strongest.waitFor();
  assert.equal((await strongest.locator('.span-text').innerText()).trim(), KEY);
  // It says where it is before it is revealed.
  assert.match(await strongest.locator('.span-range').innerText(), new RegExp(`^line ${keyLine}:1 · token `));

  // The editor at the end of the file: the key's line is not shown.
  const editor = page.locator('.editor-instance .monaco-editor');
  const selection = page.locator('#status\\.editor\\.selection');
  await editor.click();
  await page.keyboard.press('Control+End');
  await selection.filter({ hasText: `Ln ${lines.length},` }).waitFor();
  await editor.locator('.view-line', { hasText: `what is the${QUERY}` }).waitFor();
  assert.equal(await editor.locator('.view-line', { hasText: KEY }).count(), 0, 'the key is out of view');

  // Clicking the span selects the key (the cursor at its end) and scrolls it into view.
  await strongest.click();
  await selection.filter({ hasText: `Ln ${keyLine}, Col ${KEY.length + 1} (${KEY.length} selected)` }).waitFor();
  await editor.locator('.view-line', { hasText: KEY }).waitFor();
  await panel.screenshot('long-context-revealed');
});
