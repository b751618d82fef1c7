// Interventions run through ONNX Runtime: the graph's intervention inputs (lambda scaled or set
// per head, heads ablated) on the fixture packages. What they mean is checked against PyTorch in
// model/tests/test_interventions.py.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { Engine } from '../../extension/core/engine';
import { loadModelPackage } from '../../extension/core/modelPackage';
import { createSession, runModel } from '../../extension/core/runtime';
import { assertClose } from '../support/tolerance';

const REPO = path.resolve(__dirname, '..', '..', '..');
const PACKAGES = { diff: path.join(REPO, 'models', 'tiny-diff'), baseline: path.join(REPO, 'models', 'tiny-baseline') };
const TEXT = 'def area(r):\n    return 3.14159 * r * r\n\nprint(area(2))\n';

test('lambda set to its own value reproduces the unmodified run', async () => {
  const engine = await Engine.load(PACKAGES.diff, 'cpu');
  const plain = await engine.inspect(TEXT);
  const plainMap = await engine.map(1, 1, 'diff');
  const { nLayer, nHead } = engine.info;
  const own = Float32Array.from({ length: nLayer * nHead }, (_, n) => plain.lambda[Math.floor(n / nHead)]);
  const same = await engine.inspect(TEXT, undefined, { lambda_scale: new Float32Array(nLayer * nHead), lambda_shift: own });
  assertClose(same.tokenLogprob, plain.tokenLogprob, 'token log-probabilities');
  assertClose(same.lambda, plain.lambda, 'lambda');
  assertClose(await engine.map(1, 1, 'diff'), plainMap, 'A1 - lambda A2 of layer 1, head 1');
});

test('lambda 0 in a layer changes that layer and what follows, not what comes before', async () => {
  const engine = await Engine.load(PACKAGES.diff, 'cpu');
  await engine.inspect(TEXT);
  const before = await engine.map(0, 0, 'a1');
  const plainLast = await engine.map(1, 0, 'a1');
  const { nLayer, nHead } = engine.info;
  const scale = Float32Array.from({ length: nLayer * nHead }, (_, n) => (Math.floor(n / nHead) === 0 ? 0 : 1));
  const changed = await engine.inspect(TEXT, undefined, { lambda_scale: scale });
  assert.deepEqual(changed.lambda[0], 0, 'layer 0 runs with lambda 0');
  assertClose(await engine.map(0, 0, 'a1'), before, 'layer 0 maps: its own queries and keys are unchanged');
  const after = await engine.map(1, 0, 'a1');
  assert.ok(after.some((v, n) => Math.abs(v - plainLast[n]) > 1e-3), 'layer 1 sees a changed input');
});

test('an ablated head changes the run; a package without intervention inputs refuses', async () => {
  for (const dir of Object.values(PACKAGES)) {
    const pkg = await loadModelPackage(dir);
    const { session } = await createSession(pkg.modelPath, 'cpu');
    const ids = [pkg.config.bos_token_id, 5, 9, 33, 70, 12];
    const size = pkg.config.n_layer * pkg.config.n_head;
    const plain = await runModel(session, ids, pkg.config);
    const mask = Float32Array.from({ length: size }, (_, n) => (n === 1 ? 0 : 1));
    const ablated = await runModel(session, ids, pkg.config, { head_mask: mask });
    assert.ok(ablated.tokenLogprob.some((v, t) => Math.abs(v - plain.tokenLogprob[t]) > 1e-4), `${pkg.config.name}: masking a head changes the predictions`);
    const older = { ...pkg.config, intervention_inputs: undefined };
    await assert.rejects(runModel(session, ids, older, { head_mask: mask }), /has no input 'head_mask' \(config\.json: intervention_inputs\); export the package again/);
  }
});

test('a what-if run sits beside the inspection: the plain run stays, both answer maps and spans', async () => {
  const engine = await Engine.load(PACKAGES.diff, 'cpu');
  const plain = await engine.inspect(TEXT);
  const plainMap = await engine.map(1, 0, 'diff');
  const { nLayer, nHead } = engine.info;
  const noA2 = await engine.whatIf({ lambda_scale: new Float32Array(nLayer * nHead), lambda_shift: new Float32Array(nLayer * nHead) });
  assert.deepEqual(noA2.tokens, plain.tokens, 'the same tokens');
  assert.deepEqual(noA2.lambda, [0, 0], 'every head runs with lambda 0');
  assertClose(await engine.map(1, 0, 'diff'), plainMap, 'the plain run is kept');
  assertClose(await engine.map(1, 0, 'diff', undefined, 'whatIf'), await engine.map(1, 0, 'a1', undefined, 'whatIf'), 'with lambda 0, A1 - lambda A2 is A1');
  assert.ok(noA2.tokenLogprob.some((v, t) => Math.abs(v - plain.tokenLogprob[t]) > 1e-4), 'the predictions change');
  assert.ok(engine.spans(1, 0, plain.query, 3, 'whatIf').length > 0);
  await engine.inspect(TEXT);
  assert.throws(() => engine.spans(1, 0, plain.query, 3, 'whatIf'), /no what-if has run on the last inspection/, 'a new inspection drops the what-if');
});

test("the logit lens's last layer is the model's own prediction, in both runs", async () => {
  for (const dir of Object.values(PACKAGES)) {
    const engine = await Engine.load(dir, 'cpu');
    const plain = await engine.inspect(TEXT);
    const lens = await engine.lens(plain.query);
    assert.equal(lens.length, engine.info.nLayer);
    const last = lens[lens.length - 1].predictions;
    const own = engine.predictions(plain.query);
    assert.deepEqual(last.map((p) => p.text), own.map((p) => p.text), `${engine.info.name}: top tokens`);
    assertClose(last.map((p) => p.prob), own.map((p) => p.prob), `${engine.info.name}: probabilities`);
    const size = engine.info.nLayer * engine.info.nHead;
    await engine.whatIf({ head_mask: new Float32Array(size) });
    const ablated = await engine.lens(plain.query, 'whatIf');
    assert.deepEqual(ablated[ablated.length - 1].predictions.map((p) => p.text), engine.predictions(plain.query, undefined, 'whatIf').map((p) => p.text));
  }
});

test('the Needle Test without noise cancellation: lambda 0 makes every head a softmax, so the shares are proportions', async () => {
  const filler = Array.from({ length: 30 }, (_, i) => `value_${i} = compute(${i})\n`).join('');
  const engine = await Engine.load(PACKAGES.diff, 'cpu');
  const plain = await engine.needleTest(filler, { form: 'code', needles: 1, queries: 1, trials: 3, seed: 4 });
  const zero = await engine.needleTest(filler, { form: 'code', needles: 1, queries: 1, trials: 3, seed: 4, lambdaZero: true });
  assert.equal(zero.model, 'tiny-diff (λ = 0)');
  assert.deepEqual(zero.trials.map((t) => t.text), plain.trials.map((t) => t.text), 'the same documents');
  for (const query of zero.trials.flatMap((t) => t.queries)) {
    for (const share of [query.answerShare, query.noiseShare, query.queryShare]) assert.ok(share >= 0, `share ${share}`);
    assertClose(query.answerShare + query.noiseShare + query.queryShare, 1, 'shares of a softmax sum to 1');
  }
  const signed = plain.trials.flatMap((t) => t.queries).some((q) => Math.abs(q.answerShare + q.noiseShare + q.queryShare - 1) > 1e-3);
  assert.ok(signed, 'as trained, DIFF heads cancel: the signed shares do not sum to 1');
});
