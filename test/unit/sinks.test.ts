// Attention sinks (extension/core/sinks.ts) against a direct recomputation: every head's whole A1
// and A2 maps from the run's q and k in plain JavaScript, their first column and |A1 − λ·A2| summed.
// On the fixture packages (through the engine's statistics workers, and over several blocks of rows
// directly) and on imported checkpoints: DiffLlama (halves pairing), DIFF V2 (λ per token and head)
// and a Llama baseline.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { RunAnalysis } from '../../extension/core/analysis';
import { AnalysisGraphs } from '../../extension/core/analysisGraphs';
import { Engine } from '../../extension/core/engine';
import { importModel } from '../../extension/core/import/importModel';
import { loadModelPackage, type PackageConfig } from '../../extension/core/modelPackage';
import { createSession, runModel, type RunOutputs } from '../../extension/core/runtime';
import { computeSinks } from '../../extension/core/sinks';
import { loadTokenizer } from '../../extension/core/tokenizer';
import type { LayerSinks } from '../../shared/sinks';
import { assertClose } from '../support/tolerance';

const REPO = path.resolve(__dirname, '..', '..', '..');
const TEXT = 'def first(xs):\n    return xs[0] if xs else None\n\nprint(first([3, 1, 2]))\n';

let work: string;
before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'sinks-test-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** The package's own run of `text` as the engine runs it (BOS first). */
async function runOf(dir: string, text: string): Promise<{ config: PackageConfig; out: RunOutputs }> {
  const pkg = await loadModelPackage(dir);
  const ids = [pkg.config.bos_token_id, ...loadTokenizer(pkg.tokenizerJson).encode(text).ids];
  const { session } = await createSession(pkg, 'cpu');
  try {
    return { config: pkg.config, out: await runModel(session, ids, pkg.config) };
  } finally {
    await session.release();
  }
}

/** Row i of softmax sub-head s's whole map: softmax_j(q_i · k_j · scale), j <= i. */
function softmaxRow(config: PackageConfig, out: RunOutputs, layer: number, s: number, i: number): Float64Array {
  const { n_softmax_heads: S, n_kv_softmax_heads: Skv, head_dim: d, attention_scale: scale } = config;
  const T = out.length;
  const kv = Math.floor(s / (S / Skv));
  const logits = Float64Array.from({ length: i + 1 }, (_, j) => {
    let dot = 0;
    for (let c = 0; c < d; c++) dot += out.q[layer][(s * T + i) * d + c] * out.k[layer][(kv * T + j) * d + c];
    return dot * scale;
  });
  const top = Math.max(...logits);
  const exps = logits.map((x) => Math.exp(x - top));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((x) => x / sum);
}

/** The shares straight from the definition (shared/sinks.ts), one whole row at a time. */
function directSinks(config: PackageConfig, out: RunOutputs): LayerSinks[] {
  const { n_layer: L, n_head: H } = config;
  const T = out.length;
  const diff = config.kind === 'diff';
  const pair = (h: number) => (config.pairing === 'halves' ? [h, h + H] : [2 * h, 2 * h + 1]);
  return Array.from({ length: L }, (_, layer) => {
    const a1: number[] = [];
    const a2: number[] = [];
    const d: number[] = [];
    for (let h = 0; h < H; h++) {
      const [s1, s2] = diff ? pair(h) : [h, h];
      let first1 = 0;
      let first2 = 0;
      let firstD = 0;
      let massD = 0;
      for (let i = 0; i < T; i++) {
        const row1 = softmaxRow(config, out, layer, s1, i);
        first1 += row1[0];
        if (!diff) continue;
        const row2 = softmaxRow(config, out, layer, s2, i);
        const lambda = out.lambda![(layer * T + i) * H + h];
        first2 += row2[0];
        row1.forEach((p, j) => {
          const magnitude = Math.abs(p - lambda * row2[j]);
          massD += magnitude;
          if (j === 0) firstD += magnitude;
        });
      }
      a1.push(first1 / T);
      a2.push(first2 / T);
      d.push(firstD / massD);
    }
    return { layer, a1, a2: diff ? a2 : null, diff: diff ? d : null };
  });
}

function assertSinksClose(actual: LayerSinks[], expected: LayerSinks[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: one entry per layer`);
  actual.forEach((layer, l) => {
    assert.equal(layer.layer, l);
    for (const share of ['a1', 'a2', 'diff'] as const) {
      assert.equal(layer[share] === null, expected[l][share] === null, `${what}: layer ${l} has ${share} shares as its kind does`);
      if (layer[share]) assertClose(layer[share]!, expected[l][share]!, `${what}: layer ${l}'s ${share} shares`);
    }
  });
}

for (const kind of ['diff', 'baseline']) {
  test(`tiny-${kind}: the engine's sink shares are the whole maps' first column`, async () => {
    const dir = path.join(REPO, 'models', `tiny-${kind}`);
    const { config, out } = await runOf(dir, TEXT);
    const expected = directSinks(config, out);
    const engine = await Engine.load(dir, 'cpu');
    const result = await engine.inspect(TEXT);
    assert.equal(result.tokens.length, out.length);
    assertSinksClose(await engine.sinks(), expected, `tiny-${kind} in the engine`);
    // Over blocks of 16 rows (the last one partial) the sums add up to the same shares.
    assert.ok(out.length % 16 !== 0 && out.length > 32, `${out.length} tokens`);
    const blocked = new RunAnalysis(config, out, new AnalysisGraphs(1), 16 * config.n_softmax_heads * out.length);
    assertSinksClose(await computeSinks(blocked, new AnalysisGraphs(1), () => {}), expected, `tiny-${kind} in blocks of 16 rows`);
  });
}

for (const [format, what] of [
  ['diffllama', "DiffLlama's halves pairing"],
  ['diff-v2', 'DIFF V2, λ per token and head'],
  ['llama', 'a Llama baseline'],
]) {
  test(`an imported ${format} package's sink shares (${what}) are the whole maps' first column`, async () => {
    const source = path.join(work, `${format}-src`);
    await promisify(execFile)(path.join(REPO, 'scripts', 'python.sh'), ['-m', 'model', 'hf-checkpoint', '--format', format, '--out', source], { cwd: REPO });
    const destination = path.join(work, `${format}-pkg`);
    await importModel({ source, destination });
    const { text } = JSON.parse(await readFile(path.join(source, 'expected.json'), 'utf8')) as { text: string };
    const { config, out } = await runOf(destination, text);
    assert.equal(config.pairing, format === 'llama' ? null : format === 'diffllama' ? 'halves' : 'adjacent');
    const engine = await Engine.load(destination, 'cpu');
    await engine.inspect(text);
    assertSinksClose(await engine.sinks(), directSinks(config, out), format);
  });
}
