// The request/reply helper every channel uses (shared/requests.ts): ids, replies, timeouts, closing,
// and errors that reach the other side as their own class, through a real worker thread too.

import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as errors from '../../extension/core/errors';
import { importInWorker } from '../../extension/core/importClient';
import { answer, deserializeError, PendingRequests, serializeError, type Reply } from '../../shared/requests';

const { ERROR_CLASSES } = errors;

/** One instance of each of the project's error classes, as the code that raises them makes them. */
const RAISED: Error[] = [
  new errors.CancelledError(),
  new errors.SupersededError(),
  new errors.EmptyTextError('there is no text to inspect'),
  new errors.NonFiniteError('the run produced NaN or Inf values, first in layer 2', 2),
  new errors.NonFiniteError('the run produced NaN or Inf values, first in the logits', null),
  new errors.LensUnavailableError('pkg has no lens.onnx'),
  new errors.ContributionsUnavailableError('pkg has no contributions.onnx'),
  new errors.PackageError("manifest.json: field 'files': expected an object"),
  new errors.TokenizerFormatError('model.type: expected BPE'),
  new errors.ImportError('config.json: cannot be read'),
  new errors.NonFiniteWeightsError('model.safetensors: layers.1.mlp.up_proj.weight holds 3 NaN; import with --allow-non-finite to keep them'),
  new errors.ImportCancelledError('import cancelled'),
];

/** An error as the other side of a channel sees it: serialised, structured-cloned (as postMessage
 *  and the engine process's 'advanced' serialisation do), rebuilt. */
function acrossChannel(error: unknown): Error {
  return deserializeError(structuredClone(serializeError(error)), ERROR_CLASSES);
}

test('every project error crosses a channel as its own class, with its message and fields', () => {
  const covered = new Set(RAISED.map((error) => error.name));
  assert.deepEqual([...covered].sort(), Object.keys(ERROR_CLASSES).sort(), 'each class of ERROR_CLASSES is tried, under the name its instances carry');
  for (const raised of RAISED) {
    const rebuilt = acrossChannel(raised);
    assert.ok(rebuilt instanceof ERROR_CLASSES[raised.name as keyof typeof ERROR_CLASSES], `${raised.name} is rebuilt as ${raised.name}`);
    assert.ok(rebuilt instanceof Error);
    assert.equal(rebuilt.name, raised.name);
    assert.equal(rebuilt.message, raised.message);
    assert.equal(String(rebuilt), String(raised));
  }
  const nonFinite = acrossChannel(new errors.NonFiniteError('NaN in layer 3', 3));
  assert.ok(nonFinite instanceof errors.NonFiniteError && nonFinite.layer === 3, 'NonFiniteError keeps the layer it names');
});

test("JavaScript's own errors keep their class; an unknown one keeps its name; a thrown non-error becomes an Error", () => {
  const typeError = acrossChannel(new TypeError('x is not a function'));
  assert.ok(typeError instanceof TypeError);
  assert.equal(typeError.message, 'x is not a function');
  const foreign = Object.assign(new Error('no such file'), { name: 'OrtError' });
  const rebuilt = acrossChannel(foreign);
  assert.equal(Object.getPrototypeOf(rebuilt), Error.prototype);
  assert.deepEqual([rebuilt.name, rebuilt.message], ['OrtError', 'no such file']);
  const withCallback = acrossChannel(Object.assign(new errors.PackageError('bad package'), { retry: () => {} }));
  assert.ok(withCallback instanceof errors.PackageError && !('retry' in withCallback), 'fields a channel cannot carry are left behind, not the error');
  const thrown = acrossChannel('a string');
  assert.deepEqual([thrown.name, thrown.message], ['Error', 'a string']);
  // A name that is a property of every object is not a class.
  assert.equal(Object.getPrototypeOf(deserializeError({ name: 'constructor', message: 'm' }, ERROR_CLASSES)), Error.prototype);
});

test('requests get distinct ids and each reply settles its own request, once', async () => {
  const requests = new PendingRequests(ERROR_CLASSES);
  const first = requests.open<string>();
  const second = requests.open<string>();
  assert.notEqual(first.id, second.id);
  assert.equal(requests.size, 2);
  // Replies come back out of order, as the engine answers a map while statistics still run.
  assert.equal(requests.settle({ id: second.id, ok: true, result: 'second' }), true);
  assert.equal(requests.settle(await answer(first.id, () => 'first')), true);
  assert.deepEqual(await Promise.all([first.reply, second.reply]), ['first', 'second']);
  assert.equal(requests.settle({ id: first.id, ok: true, result: 'again' }), false, 'a request is settled once');
  assert.equal(requests.settle({ id: 999, ok: true, result: 'unknown' }), false);
  assert.equal(requests.size, 0);
});

test('a failed request rejects with the error the other side threw, as its class', async () => {
  const requests = new PendingRequests(ERROR_CLASSES);
  const { id, reply } = requests.open();
  const failed: Reply = await answer(id, () => {
    throw new errors.LensUnavailableError('pkg has no lens.onnx');
  });
  assert.equal(failed.ok, false);
  requests.settle(structuredClone(failed));
  await assert.rejects(reply, (err: Error) => err instanceof errors.LensUnavailableError && err.message === 'pkg has no lens.onnx');
});

test('a request without a reply in time rejects with the timeout message; a late reply is ignored', async () => {
  const requests = new PendingRequests();
  const { id, reply } = requests.open<string>({ ms: 20, message: 'the panel did not answer' });
  await assert.rejects(reply, { message: 'the panel did not answer' });
  assert.equal(requests.size, 0);
  assert.equal(requests.settle({ id, ok: true, result: 'late' }), false);
  const answered = requests.open<string>({ ms: 60_000, message: 'too slow' });
  requests.settle({ id: answered.id, ok: true, result: 'in time' });
  assert.equal(await answered.reply, 'in time', 'a reply in time wins (and its timer does not keep the test running)');
});

test('closing the channel rejects every request still waiting', async () => {
  const requests = new PendingRequests();
  const waiting = [requests.open(), requests.open(), requests.open({ ms: 60_000, message: 'timeout' })];
  requests.rejectAll(new Error('the engine process stopped'));
  for (const { reply } of waiting) await assert.rejects(reply, { message: 'the engine process stopped' });
  assert.equal(requests.size, 0);
});

test("the import's worker thread: an ImportError thrown there is an ImportError here", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'difft-requests-'));
  const importing = importInWorker({ source: path.join(dir, 'no-such-model'), destination: path.join(dir, 'package') });
  await assert.rejects(importing, (err: Error) => err instanceof errors.ImportError && err.message.includes('config.json'));
});
