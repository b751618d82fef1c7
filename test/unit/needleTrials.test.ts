// The Needle Test run from the host a trial at a time (needleTrials.ts), in a real engine process:
// the same result as one request for the whole test, progress after every document, and a cancel
// after the first progress stops before the next document.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { EngineClient } from '../../extension/core/engineClient';
import { CancelledError } from '../../extension/core/errors';
import { needleTestSettings } from '../../extension/core/needles';
import { describeNeedleTrial, runNeedleTrials, type NeedleTrialDone } from '../../extension/core/needleTrials';

const REPO = path.resolve(__dirname, '..', '..', '..');
const ENGINE_PROCESS = path.join(REPO, 'out', 'extension', 'core', 'engineWorker.js');
const TINY_DIFF = path.join(REPO, 'models', 'tiny-diff');
const FILLER = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? `// step ${i}` : `total = total + ${i} * factor`)).join('\n');
const OPTIONS = { form: 'code', needles: 1, queries: 1, trials: 3, seed: 7, lengths: [64, 96] } as const;

test('a trial at a time: the whole test\'s result, with progress after every document', async () => {
  const client = new EngineClient(ENGINE_PROCESS);
  try {
    const { maxSeqLen } = await client.load(TINY_DIFF, 'cpu');
    const whole = await client.request({ op: 'needleTest', filler: FILLER, options: OPTIONS });
    const reports: NeedleTrialDone[] = [];
    const byTrial = await runNeedleTrials(client, maxSeqLen, FILLER, OPTIONS, (trial) => reports.push(trial));
    assert.deepEqual(byTrial, whole);
    assert.equal(client.requestCount('needleTest'), 1 + 6, 'one request per document');
    assert.deepEqual(reports, [64, 96].flatMap((length) => [0, 0.5, 1].map((depth) => ({ length, depth }))).map((trial, n) => ({ done: n + 1, total: 6, ...trial })));
    assert.equal(describeNeedleTrial('tiny-diff', reports[1]), 'tiny-diff: document 2 of 6 done (64 tokens, needles at depth 50%)');

    // Without lengths, the whole context, as one request runs it.
    const { lengths: _lengths, ...wholeContext } = { ...OPTIONS, trials: 1 };
    assert.deepEqual(await runNeedleTrials(client, maxSeqLen, FILLER, wholeContext, () => {}), await client.request({ op: 'needleTest', filler: FILLER, options: wholeContext }));
  } finally {
    client.dispose();
  }
});

test('cancelled at the first progress report, the test stops before the next document and the engine keeps running', async () => {
  const client = new EngineClient(ENGINE_PROCESS);
  try {
    const { maxSeqLen } = await client.load(TINY_DIFF, 'cpu');
    const pid = client.pid;
    const cancel = new AbortController();
    const reports: NeedleTrialDone[] = [];
    const run = runNeedleTrials(client, maxSeqLen, FILLER, OPTIONS, (trial) => {
      reports.push(trial);
      cancel.abort();
    }, cancel.signal);
    await assert.rejects(run, CancelledError);
    assert.deepEqual(reports.map((r) => r.done), [1], 'one document run');
    assert.equal(client.requestCount('needleTest'), 1, 'no request for the second document');
    assert.equal(client.pid, pid, 'the engine process was not stopped');
    assert.equal((await client.request({ op: 'inspect', text: 'x = 1\n' })).tokens.length > 1, true);
  } finally {
    client.dispose();
  }
});

test('a trial outside the test\'s trials is refused', () => {
  assert.throws(() => needleTestSettings({ trials: 3, trial: 3 }), /trial must be one of 0\.\.2 \(of 3 trials\); got 3/);
  assert.throws(() => needleTestSettings({ trials: 3, trial: 0.5 }), /got 0\.5/);
  assert.equal(needleTestSettings({ trials: 3, trial: 2 }).trials, 3);
});
