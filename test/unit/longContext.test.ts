// A whole file of 8,000+ tokens, run whole by an imported 32K-context DiffLlama whose layer 0, head 0
// has a planted retrieval head (`python -m model hf-checkpoint --size long32k --retrieval QUERY
// KEY`): the query token at the end attends to the key token near the start. The inspector must
// find that far-away span, show it in the whole-context map, explain the query's prediction, and do
// so with memory that does not grow with T^2.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { EngineClient } from '../../extension/core/engineClient';
import { importModel } from '../../extension/core/import/importModel';
import { loadTokenizer, type TextTokenizer } from '../../extension/core/tokenizer';
import { viewportCells, wholeMap } from '../../shared/inspection';
import { assertClose } from '../support/tolerance';

const REPO = path.resolve(__dirname, '..', '..', '..');
const ENGINE_PROCESS = path.join(REPO, 'out', 'extension', 'core', 'engineWorker.js');
const run = promisify(execFile);
const QUERY = ' answer';
const KEY = 'SECRET';
const TOKENS = 8200;

/** The sample's Python, repeated to over TOKENS tokens, with the key near the start and the query last. */
async function longDocument(tokenizer: TextTokenizer): Promise<{ text: string; keyOffset: number }> {
  const sample = await readFile(path.join(REPO, 'test', 'fixtures', 'tokenizer-sample.txt'), 'utf8');
  const head = `${sample.slice(0, 300)}\n${KEY} = "hunter2"\n`;
  const repeats = Math.ceil(TOKENS / tokenizer.encode(sample).ids.length);
  return { text: `${head}${sample.repeat(repeats)}\n# what is the${QUERY}`, keyOffset: head.indexOf(KEY) };
}

function peakResidentBytes(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((status) => Number(/VmHWM:\s+(\d+)/.exec(status)![1]) * 1024);
}

test('a span 8,000 tokens away is found, mapped and costs memory linear in T', async () => {
  const work = await mkdtemp(path.join(tmpdir(), 'difft-long-'));
  const source = path.join(work, 'checkpoint');
  await run(path.join(REPO, 'scripts', 'python.sh'), ['-m', 'model', 'hf-checkpoint', '--format', 'diffllama', '--size', 'long32k', '--retrieval', QUERY, KEY, '--out', source], { cwd: REPO });
  const { dir } = await importModel({ source, destination: path.join(work, 'package') });
  const config = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8'));
  assert.equal(config.attention, 'blocked', 'the imported graph computes attention over blocks of query rows');

  const client = new EngineClient(ENGINE_PROCESS);
  try {
    await client.load(dir, 'cpu');
    const { text, keyOffset } = await longDocument(loadTokenizer(await readFile(path.join(dir, 'tokenizer.json'), 'utf8')));
    const inspection = await client.request({ op: 'inspect', text });
    const T = inspection.tokens.length;
    assert.ok(T > TOKENS && T < TOKENS * 1.5, `the document is ${T} tokens`);
    assert.equal(inspection.window, null, 'the whole text ran: no window');
    assert.equal(inspection.query, T - 1, 'the query is the last token');
    assert.equal(inspection.tokens[T - 1].text, QUERY);
    const keyToken = inspection.tokens.findIndex((token) => token.start === keyOffset);
    assert.ok(keyToken > 0 && keyToken < 200, `the key is token ${keyToken}, near the start`);

    const spans = await client.request({ op: 'spans', layer: 0, head: 0, query: inspection.query, k: 5 });
    assert.equal(spans[0].firstToken, keyToken, `the strongest span is the key, ${T - keyToken} tokens back: ${JSON.stringify(spans[0])}`);
    assert.equal(spans[0].text, KEY);
    assert.ok(spans[0].score > 0.5, `it takes most of the attention: ${spans[0].score}`);

    // The whole context max-pooled to 256 x 256 cells: in the query's row of cells, the key's cell is the hottest.
    const viewport = wholeMap(T, 256, 'max');
    const map = await client.request({ op: 'map', layer: 0, head: 0, view: 'diff', viewport });
    const { cols, cellOfRow, cellOfKey } = viewportCells(viewport);
    const row = map.subarray(cellOfRow(inspection.query) * cols, (cellOfRow(inspection.query) + 1) * cols);
    const hottest = row.indexOf(Math.max(...row));
    assert.equal(hottest, cellOfKey(keyToken), `the hottest cell of the query's row is the key's (${cellOfKey(keyToken)}), not ${hottest}`);

    // The contributions to the query's prediction read the query's attention rows and each layer's
    // values, nothing T x T: its parts add up to the logit, the head's sources to the head's part.
    const explanation = await client.request({ op: 'explain', query: inspection.query });
    const logitScale = { atol: 1e-5 * Math.abs(explanation.logit) };
    assertClose(explanation.parts.reduce((sum, part) => sum + part.total, 0), explanation.logit, 'the parts add up to the logit', logitScale);
    const sources = await client.request({ op: 'explainSources', query: inspection.query, layer: 0, head: 0 });
    const head = explanation.parts.find((part) => part.component === 'L0.H0')!;
    assertClose(sources.a1.reduce((sum, x) => sum + x, 0) + sources.a2.reduce((sum, x) => sum + x, 0), head.total, "L0.H0's sources add up to its part", logitScale);

    // One layer's scores as a whole [S, T, T] float32 tensor: S * T^2 * 4 bytes (over 3 GiB here).
    const quadratic = config.n_softmax_heads * T * T * 4;
    const peak = await peakResidentBytes(client.pid!);
    // Graphs that held whole maps peaked above several such tensors; this run's peak (about 0.8 GiB:
    // the model, q, k and hidden states of every layer, the map's block tiles) stays under half of one.
    assert.ok(peak < quadratic / 2, `the engine's peak, ${(peak / 2 ** 20).toFixed(0)} MiB, is under half of one [S, T, T] tensor (${(quadratic / 2 ** 20).toFixed(0)} MiB)`);
  } finally {
    client.dispose();
  }
});
