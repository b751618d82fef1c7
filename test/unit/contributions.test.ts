// Contributions to one prediction (extension/core/contributions.ts, contributions.onnx) on the
// fixtures: the parts add up to the logit, which is the model's own (PyTorch's golden last_logits)
// when the final norm's scale is the real one; each DIFF head's A1 and A2 parts add up to its total,
// and its per-source parts to each; a baseline has no A2 part; an ablated head contributes nothing.
// model/tests/test_contributions.py checks every part against PyTorch's forward pass.

import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { Engine } from '../../extension/core/engine';
import { ContributionsUnavailableError } from '../../extension/core/errors';
import type { Explanation } from '../../shared/explain';
import { MODEL_KINDS, type ModelKind } from '../../shared/model';
import { assertClose } from '../support/tolerance';

const REPO = path.resolve(__dirname, '..', '..', '..');
const PACKAGES = { diff: path.join(REPO, 'models', 'tiny-diff'), baseline: path.join(REPO, 'models', 'tiny-baseline') };

interface Golden {
  text: string;
  ids: number[];
  outputs: Record<string, { dims: number[]; data: number[] }>;
}

async function golden(kind: ModelKind): Promise<Golden> {
  return JSON.parse(await readFile(path.join(REPO, 'test', 'fixtures', 'golden', `tiny-${kind}.json`), 'utf8'));
}

function sum(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i];
  return total;
}

/** The parts add up to the logit, and each head's A1 and A2 parts to its total. */
function assertAddsUp(e: Explanation, what: string): void {
  assertClose(sum(e.parts.map((part) => part.total)), e.logit, `${what}: the parts add up to the logit`, { atol: 1e-5 * Math.abs(e.logit) });
  for (const part of e.parts.filter((p) => p.kind === 'head')) assertClose(part.a1! + (part.a2 ?? 0), part.total, `${what}: ${part.component} a1 + a2`);
}

for (const kind of MODEL_KINDS) {
  test(`${kind}: the contributions add up to the model's own logit, per head and per source token`, async () => {
    const g = await golden(kind);
    const engine = await Engine.load(PACKAGES[kind], 'cpu');
    const { tokens } = await engine.inspect(g.text);
    const last = tokens.length - 1;
    const lastLogits = g.outputs.last_logits.data;
    const top = lastLogits.indexOf(Math.max(...lastLogits));

    const e = await engine.explain(last);
    assert.equal(e.target.id, top, "the default target is the model's top prediction");
    assert.equal(e.versus, null);
    assertClose(e.logit, lastLogits[top], 'the logit with the real final scale is the model’s');
    assertAddsUp(e, kind);
    const { n_layer: L } = JSON.parse(await readFile(path.join(PACKAGES[kind], 'config.json'), 'utf8'));
    const H = engine.info.nHead;
    assert.deepEqual(e.parts.map((p) => p.component).slice(0, H + 2), ['embed', ...Array.from({ length: H }, (_, h) => `L0.H${h}`), 'L0.mlp']);
    assert.equal(e.parts.length, 1 + L * (H + 1));
    for (const part of e.parts.filter((p) => p.kind === 'head')) {
      assert.equal('a2' in part, kind === 'diff', `${part.component}: an A2 part only in DIFF`);
      const sources = await engine.explainSources(last, {}, part.layer!, part.head!);
      assert.equal(sources.a1.length, tokens.length);
      assertClose(sum(sources.a1), part.a1!, `${part.component}: its sources' A1 parts`, { atol: 1e-5 * Math.abs(e.logit) });
      assertClose(sum(sources.a2), part.a2 ?? 0, `${part.component}: its sources' A2 parts`, { atol: 1e-5 * Math.abs(e.logit) });
    }

    // The difference of two tokens' logits, at an earlier query too.
    const other = (top + 1) % lastLogits.length;
    const versus = await engine.explain(last, { target: top, versus: other });
    assertClose(versus.logit, lastLogits[top] - lastLogits[other], 'logit(target) - logit(versus)');
    assertAddsUp(versus, `${kind} versus`);
    assertAddsUp(await engine.explain(3, { target: 7, versus: 11 }), `${kind} at token 3`);
    await assert.rejects(engine.explain(last, { target: lastLogits.length }), RangeError);
    await assert.rejects(engine.explain(tokens.length), RangeError);
  });
}

test('an ablated head contributes nothing to the what-if run, whose parts still add up', async () => {
  const engine = await Engine.load(PACKAGES.diff, 'cpu');
  const g = await golden('diff');
  const { tokens } = await engine.inspect(g.text);
  const H = engine.info.nHead;
  const headMask = new Float32Array(engine.info.nLayer * H).fill(1);
  headMask[1 * H + 0] = 0;
  await engine.whatIf({ head_mask: headMask });
  const plain = await engine.explain(tokens.length - 1, { target: 42 });
  const ablated = await engine.explain(tokens.length - 1, { target: 42 }, 'whatIf');
  const part = (e: Explanation, component: string) => e.parts.find((p) => p.component === component)!;
  assert.notEqual(part(plain, 'L1.H0').total, 0);
  assert.equal(part(ablated, 'L1.H0').total, 0);
  assertAddsUp(ablated, 'what-if');
  assert.notEqual(ablated.logit, plain.logit);
});

test('a package without contributions.onnx says to export it again', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'difft-explain-'));
  try {
    const pkg = path.join(dir, 'tiny-diff');
    await cp(PACKAGES.diff, pkg, { recursive: true });
    await rm(path.join(pkg, 'contributions.onnx'));
    const manifest = JSON.parse(await readFile(path.join(pkg, 'manifest.json'), 'utf8'));
    delete manifest.files['contributions.onnx'];
    await writeFile(path.join(pkg, 'manifest.json'), JSON.stringify(manifest));
    const engine = await Engine.load(pkg, 'cpu');
    await engine.inspect('def f(x):\n    return x\n');
    await assert.rejects(engine.explain(3), (err: Error) => err instanceof ContributionsUnavailableError && /export or import the package again/.test(err.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
