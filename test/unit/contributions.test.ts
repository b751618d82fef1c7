// Contributions to one prediction (extension/core/contributions.ts, contributions.onnx) on the
// fixtures and on imported checkpoints of every kind: the parts add up to the logit, which is the model's own (PyTorch's golden last_logits)
// when the final norm's scale is the real one; each DIFF head's A1 and A2 parts add up to its total,
// and its per-source parts to each; a baseline has no A2 part; an ablated head contributes nothing.
// model/tests/test_contributions.py checks every part against PyTorch's forward pass.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Engine } from '../../extension/core/engine';
import { importModel } from '../../extension/core/import/importModel';
import { ContributionsUnavailableError } from '../../extension/core/errors';
import type { Explanation } from '../../shared/explain';
import { MODEL_KINDS, type ModelKind } from '../../shared/model';
import { assertClose } from '../support/tolerance';

const REPO = path.resolve(__dirname, '..', '..', '..');
const run = promisify(execFile);
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

/** Explains the last token's prediction of the engine's inspection, whose logits PyTorch computed
 *  (lastLogits), and checks it: its default target, its logit, the sums of its parts and sources. */
async function checkLastPrediction(engine: Engine, T: number, lastLogits: number[], what: string): Promise<void> {
  const last = T - 1;
  const top = lastLogits.indexOf(Math.max(...lastLogits));
  const e = await engine.explain(last);
  assert.equal(e.target.id, top, `${what}: the default target is the model's top prediction`);
  assert.equal(e.versus, null);
  assertClose(e.logit, lastLogits[top], `${what}: the logit with the real final scale is the model's`);
  assertAddsUp(e, what);
  const { nLayer: L, nHead: H, kind } = engine.info;
  assert.deepEqual(e.parts.map((p) => p.component).slice(0, H + 2), ['embed', ...Array.from({ length: H }, (_, h) => `L0.H${h}`), 'L0.mlp']);
  assert.equal(e.parts.filter((p) => p.kind !== 'constant').length, 1 + L * (H + 1));
  for (const part of e.parts.filter((p) => p.kind === 'head')) {
    assert.equal('a2' in part, kind === 'diff', `${what}: ${part.component} has an A2 part only in DIFF`);
    const sources = await engine.explainSources(last, {}, part.layer!, part.head!);
    assert.equal(sources.a1.length, T);
    assertClose(sum(sources.a1), part.a1!, `${what}: ${part.component}: its sources' A1 parts`, { atol: 1e-5 * Math.abs(e.logit) });
    assertClose(sum(sources.a2), part.a2 ?? 0, `${what}: ${part.component}: its sources' A2 parts`, { atol: 1e-5 * Math.abs(e.logit) });
  }
  // The difference of two tokens' logits, at an earlier query too.
  const other = (top + 1) % lastLogits.length;
  const versus = await engine.explain(last, { target: top, versus: other });
  assertClose(versus.logit, lastLogits[top] - lastLogits[other], `${what}: logit(target) - logit(versus)`);
  assertAddsUp(versus, `${what} versus`);
  assertAddsUp(await engine.explain(3, { target: 7, versus: 11 }), `${what} at token 3`);
}

for (const kind of MODEL_KINDS) {
  test(`${kind}: the contributions add up to the model's own logit, per head and per source token`, async () => {
    const g = await golden(kind);
    const engine = await Engine.load(PACKAGES[kind], 'cpu');
    const { tokens } = await engine.inspect(g.text);
    await checkLastPrediction(engine, tokens.length, g.outputs.last_logits.data, kind);
    await assert.rejects(engine.explain(tokens.length - 1, { target: g.outputs.last_logits.data.length }), RangeError);
    await assert.rejects(engine.explain(tokens.length), RangeError);
  });
}

// Random-weight Hugging Face checkpoints (python -m model hf-checkpoint, as test/unit/import.test.ts
// writes them), imported; model/tests/test_contributions.py compares every part with their references.
const IMPORTED: Array<[string, string]> = [
  ['diffllama', 'halves pairing, a head norm without weight'],
  ['llama', 'grouped-query softmax heads'],
  ['diff-v1', "'wide' values, float16"],
  ['diff-v2', 'λ per token and head'],
];
for (const [format, about] of IMPORTED) {
  test(`an imported ${format} checkpoint (${about}) explains its own logits`, async () => {
    const work = await mkdtemp(path.join(tmpdir(), 'difft-explain-'));
    try {
      const source = path.join(work, 'source');
      const dtype = format === 'diff-v1' ? ['--dtype', 'float16'] : [];
      await run(path.join(REPO, 'scripts', 'python.sh'), ['-m', 'model', 'hf-checkpoint', '--format', format, '--out', source, ...dtype], { cwd: REPO });
      const { dir } = await importModel({ source, destination: path.join(work, 'package') });
      const expected: Golden = JSON.parse(await readFile(path.join(source, 'expected.json'), 'utf8'));
      const engine = await Engine.load(dir, 'cpu');
      const { tokens } = await engine.inspect(expected.text);
      assert.equal(tokens.length, expected.ids.length);
      await checkLastPrediction(engine, tokens.length, expected.outputs.last_logits.data, format);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
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
