// A run that goes non-finite fails with NonFiniteError naming where it first did: a package whose
// weights hold NaN (an imported tiny checkpoint, its weights.bin patched afterwards, so the test
// does not depend on what the importer refuses), and a what-if whose λ is NaN on a good model,
// which must leave the good run usable.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Engine } from '../../extension/core/engine';
import { NonFiniteError } from '../../extension/core/errors';
import { importWithNaN, writeTestCheckpoint } from '../support/nanPackage';

const REPO = path.resolve(__dirname, '..', '..', '..');
const TINY_DIFF = path.join(REPO, 'models', 'tiny-diff');
const TEXT = 'def add(a, b):\n    return a + b\n';

let work: string;
let checkpoint: string;
before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'non-finite-test-'));
  checkpoint = await writeTestCheckpoint(work);
});

const packageWithNaN = (folder: string, tensor: string) => importWithNaN(checkpoint, path.join(work, folder), tensor);

after(async () => {
  await rm(work, { recursive: true, force: true });
});

test('a package whose layer 1 holds NaN fails its inspection naming layer 1, the package and the fix', async () => {
  const dir = await packageWithNaN('nan-layer-1', 'model.layers.1.post_attention_layernorm.weight');
  const engine = await Engine.load(dir, 'cpu');
  await assert.rejects(engine.inspect(TEXT), (err: unknown) => {
    assert.ok(err instanceof NonFiniteError, String(err));
    assert.equal(err.name, 'NonFiniteError');
    assert.equal(err.layer, 1);
    assert.match(err.message, /^nan-layer-1: .*first in layer 1 /);
    assert.match(err.message, /import it again; the importer reports which tensor/);
    return true;
  });
  // Nothing of the refused run is kept to be asked for.
  assert.throws(() => engine.spans(0, 0, 1, 3), /no inspection to read/);
  assert.throws(() => engine.outliers(), /no inspection to read/);
});

test('a package whose embedding holds NaN fails naming the embedding', async () => {
  const dir = await packageWithNaN('nan-embedding', 'model.embed_tokens.weight');
  const engine = await Engine.load(dir, 'cpu');
  await assert.rejects(engine.inspect(TEXT), (err: unknown) => {
    assert.ok(err instanceof NonFiniteError, String(err));
    assert.equal(err.layer, 0);
    assert.match(err.message, /first in the embedding\/inputs/);
    return true;
  });
});

test('a what-if with λ scale NaN fails naming layer 0, and the run before it stays usable', async () => {
  const engine = await Engine.load(TINY_DIFF, 'cpu');
  const { nLayer, nHead } = engine.info;
  const main = await engine.inspect(TEXT);
  const spansBefore = engine.spans(0, 0, main.query, 3);
  await assert.rejects(engine.whatIf({ lambda_scale: new Float32Array(nLayer * nHead).fill(NaN) }), (err: unknown) => {
    assert.ok(err instanceof NonFiniteError, String(err));
    assert.equal(err.layer, 0);
    assert.match(err.message, /first in layer 0 .*the intervention/);
    return true;
  });
  assert.deepEqual(engine.spans(0, 0, main.query, 3), spansBefore);
  assert.ok(engine.predictions(main.query).every((p) => Number.isFinite(p.prob)));
  assert.equal((await engine.outliers()).length, nLayer);
  assert.throws(() => engine.spans(0, 0, main.query, 3, 'whatIf'), /no what-if has run/);
  // A what-if that stays finite still runs after the refused one.
  await engine.whatIf({ lambda_scale: new Float32Array(nLayer * nHead) });
});

test('an inspection that fails after one that ran leaves no inspection: the earlier run is let go before the new one runs', async () => {
  const engine = await Engine.load(TINY_DIFF, 'cpu');
  const { nLayer, nHead } = engine.info;
  const main = await engine.inspect(TEXT);
  assert.ok(engine.spans(0, 0, main.query, 3).length > 0);
  await assert.rejects(engine.inspect(TEXT, TEXT.length, { lambda_scale: new Float32Array(nLayer * nHead).fill(NaN) }), NonFiniteError);
  assert.throws(() => engine.spans(0, 0, main.query, 3), /no inspection to read: none has run yet, or the last one failed/);
  assert.throws(() => engine.predictions(main.query), /no inspection to read/);
  // The next inspection runs as usual.
  const again = await engine.inspect(TEXT);
  assert.deepEqual(engine.spans(0, 0, again.query, 3), engine.spans(0, 0, main.query, 3));
});
