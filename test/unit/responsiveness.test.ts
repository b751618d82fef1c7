// The engine process answers what a user waits for (a map, a span list) while slower statistics of
// the same run are still being computed, and stops those statistics when a newer run replaces it.
// On the shipped model at its full context, where the statistics take long enough to overlap.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { EngineClient } from '../../extension/core/engineClient';
import { SupersededError } from '../../extension/core/errors';

const REPO = path.resolve(__dirname, '..', '..', '..');
const ENGINE_PROCESS = path.join(REPO, 'out', 'extension', 'core', 'engineWorker.js');
const sample = readFileSync(path.join(REPO, 'test', 'fixtures', 'tokenizer-sample.txt'), 'utf8');
const LONG_TEXT = sample.repeat(Math.ceil(20_000 / sample.length));

/** Resolves with the order in which the given requests were answered. */
function answerOrder(requests: Record<string, Promise<unknown>>): Promise<string[]> {
  const order: string[] = [];
  return Promise.all(Object.entries(requests).map(([name, reply]) => reply.then(() => order.push(name)))).then(() => order);
}

test('a map and a span list are answered while the outlier statistics are still running', async () => {
  const client = new EngineClient(ENGINE_PROCESS);
  try {
    const { maxSeqLen } = await client.load(path.join(REPO, 'models', 'code-diff'), 'cpu');
    const run = await client.request({ op: 'inspect', text: LONG_TEXT });
    assert.equal(run.tokens.length, maxSeqLen, 'the full context');
    // Sent first, answered last: the statistics take several graph runs, the others one or none.
    const order = await answerOrder({
      quantisation: client.request({ op: 'quantisation' }),
      map: client.request({ op: 'map', layer: 3, head: 1, view: 'diff' }),
      spans: client.request({ op: 'spans', layer: 3, head: 1, query: run.query, k: 5 }),
    });
    assert.equal(order[order.length - 1], 'quantisation', `answered in the order ${order.join(', ')}`);
  } finally {
    client.dispose();
  }
});

test('statistics of a run that a newer inspection replaced stop with SupersededError', async () => {
  const client = new EngineClient(ENGINE_PROCESS);
  try {
    await client.load(path.join(REPO, 'models', 'code-diff'), 'cpu');
    await client.request({ op: 'inspect', text: LONG_TEXT });
    const stale = client.request({ op: 'quantisation' });
    const newer = await client.request({ op: 'inspect', text: 'x = 1\n' });
    await assert.rejects(stale, SupersededError);
    const fresh = await client.request({ op: 'outliers' });
    assert.equal(fresh.length, 6, 'the newer run gets its own statistics');
    assert.equal(fresh[0].hidden.counts.reduce((a, b) => a + b), newer.tokens.length * 256);
  } finally {
    client.dispose();
  }
});

/** The nice value of each thread of a process, by thread id (Linux's /proc). */
function threadNiceness(pid: number): Map<number, number> {
  return new Map(
    readdirSync(`/proc/${pid}/task`).map((tid) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      return [Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])];
    }),
  );
}

test("on Linux the statistics workers run below the engine's own thread", { skip: process.platform !== 'linux' }, async () => {
  const client = new EngineClient(ENGINE_PROCESS);
  try {
    await client.load(path.join(REPO, 'models', 'code-diff'), 'cpu');
    await client.request({ op: 'inspect', text: sample });
    const pid = client.pid!;
    const before = threadNiceness(pid).get(pid)!;
    await client.request({ op: 'outliers' });
    const after = threadNiceness(pid);
    assert.equal(after.get(pid), before, "the engine's own thread keeps its priority");
    const lowest = [...after.values()].filter((nice) => nice === 19).length;
    assert.ok(lowest >= Math.min(2, availableParallelism()), `${lowest} threads at nice 19`);
  } finally {
    client.dispose();
  }
});
