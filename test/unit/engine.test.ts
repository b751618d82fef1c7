// The extension's model runtime and analyses, in plain Node, against the fixture packages and
// their golden outputs (computed by PyTorch).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { RunAnalysis } from '../../extension/core/analysis';
import { AnalysisGraphs } from '../../extension/core/analysisGraphs';
import { Engine } from '../../extension/core/engine';
import { EngineClient, engineEnv } from '../../extension/core/engineClient';
import { CancelledError, EmptyTextError, PackageError } from '../../extension/core/errors';
import { loadModelPackage } from '../../extension/core/modelPackage';
import { computeOutliers, computeQuantisation, HISTOGRAM_BINS } from '../../extension/core/outliers';
import { createSession, runModel } from '../../extension/core/runtime';
import { wholeMap } from '../../shared/inspection';
import { MAP_VIEWS, MODEL_KINDS, QUANT_BITS, type ModelKind } from '../../shared/model';
import { assertClose } from '../support/tolerance';

const REPO = path.resolve(__dirname, '..', '..', '..');
const PACKAGES = { diff: path.join(REPO, 'models', 'tiny-diff'), baseline: path.join(REPO, 'models', 'tiny-baseline') };
const ENGINE_PROCESS = path.join(REPO, 'out', 'extension', 'core', 'engineWorker.js');

interface GoldenTensor {
  dims: number[];
  data: number[];
}
interface Golden {
  text: string;
  ids: number[];
  outputs: Record<string, GoldenTensor>;
  /** PyTorch's attention maps [B, L, H_maps, T, T] (attn_a2 for DIFF only). */
  maps: Record<string, GoldenTensor>;
}

async function golden(kind: ModelKind): Promise<Golden> {
  return JSON.parse(await readFile(path.join(REPO, 'test', 'fixtures', 'golden', `tiny-${kind}.json`), 'utf8'));
}

const graphs = new AnalysisGraphs();

async function analysisOf(kind: ModelKind, ids: number[]) {
  const pkg = await loadModelPackage(PACKAGES[kind]);
  const { session } = await createSession(pkg.modelPath, 'cpu');
  return new RunAnalysis(pkg.config, await runModel(session, ids, pkg.config), graphs);
}

/** Lets every graph run go ahead (the engine's hook also stops superseded jobs). */
const always = () => {};

for (const kind of MODEL_KINDS) {
  test(`${kind}: the engine reproduces PyTorch's golden outputs`, async () => {
    const g = await golden(kind);
    const engine = await Engine.load(PACKAGES[kind], 'cpu');
    const result = await engine.inspect(g.text);
    assert.deepEqual(result.tokens.length, g.ids.length);
    assertClose(result.tokenLogprob, g.outputs.token_logprob.data, 'token_logprob');
    const [, T, K] = g.outputs.top_probs.dims;
    for (let t = 0; t < T; t++) {
      assertClose(engine.predictions(t).map((p) => p.prob), g.outputs.top_probs.data.slice(t * K, t * K + 5), `top_probs[${t}]`);
    }
    if (kind === 'diff') {
      const [, L, , H] = g.outputs.lambda.dims;
      assertClose(result.lambda, Array.from({ length: L }, (_, l) => g.outputs.lambda.data[l * T * H]), 'lambda');
    }
    // Every map computed on demand equals PyTorch's (row-major [L, H, T, T]), in every view.
    const { attn_a1: a1, attn_a2: a2 } = g.maps;
    const [, L, H] = a1.dims; // [B, L, H, T, T]
    for (let layer = 0; layer < L; layer++) {
      for (let head = 0; head < H; head++) {
        const at = (layer * H + head) * T * T;
        const golden1 = a1.data.slice(at, at + T * T);
        assertClose(await engine.map(layer, head, 'a1'), golden1, `A1 L${layer} H${head}`);
        if (kind === 'baseline') continue;
        const golden2 = a2.data.slice(at, at + T * T);
        const lam = result.lambda[layer];
        assertClose(await engine.map(layer, head, 'a2'), golden2, `A2 L${layer} H${head}`);
        assertClose(await engine.map(layer, head, 'lambdaA2'), golden2.map((v) => lam * v), `lambda A2 L${layer} H${head}`);
        assertClose(await engine.map(layer, head, 'diff'), golden1.map((v, n) => v - lam * golden2[n]), `A1 - lambda A2 L${layer} H${head}`);
      }
    }
  });

  test(`${kind}: thumbnails are the maps average-pooled, every view from the pooled A1 and A2`, async () => {
    const g = await golden(kind);
    const engine = await Engine.load(PACKAGES[kind], 'cpu');
    const result = await engine.inspect(g.text);
    const { T, size } = { T: g.ids.length, size: result.thumbnailSize };
    const [, L, H] = g.maps.attn_a1.dims;
    const bin = (i: number) => Math.floor((i * size) / T);
    const pool = (map: number[]) => {
      const sums = new Array<number>(size * size).fill(0);
      const hits = new Array<number>(size * size).fill(0);
      map.forEach((v, n) => {
        const cell = bin(Math.floor(n / T)) * size + bin(n % T);
        sums[cell] += v;
        hits[cell]++;
      });
      return sums.map((v, c) => (hits[c] ? v / hits[c] : 0));
    };
    for (const view of Object.keys(result.thumbnails) as (keyof typeof result.thumbnails)[]) {
      const expected: number[] = [];
      for (let layer = 0; layer < L; layer++) {
        for (let head = 0; head < H; head++) expected.push(...pool(Array.from(await engine.map(layer, head, view))));
      }
      assertClose(result.thumbnails[view]!, expected, `${view} thumbnails`);
    }
  });
}

test('on-demand rows (recomputed from q and k) equal the rows of the on-demand maps', async () => {
  const g = await golden('diff');
  const analysis = await analysisOf('diff', g.ids);
  const { T } = analysis;
  for (const view of MAP_VIEWS) {
    const map = await analysis.pooledMap(1, 1, view, wholeMap(T, T, 'mean'));
    for (let i = 0; i < T; i++) assertClose(analysis.row(1, 1, view, i), map.subarray(i * T, (i + 1) * T), `${view} row ${i}`);
  }
});

test('differential rows sum to 1 - lambda, are causal and can be negative', async () => {
  const g = await golden('diff');
  const analysis = await analysisOf('diff', g.ids);
  let negatives = 0;
  for (let layer = 0; layer < analysis.nLayer; layer++) {
    for (let head = 0; head < analysis.nHead; head++) {
      for (let i = 0; i < analysis.T; i++) {
        const row = analysis.row(layer, head, 'diff', i);
        const sum = row.reduce((a, b) => a + b, 0);
        assertClose(sum, 1 - analysis.lambda(layer), `layer ${layer} head ${head} row ${i} sum`);
        assert.ok(row.subarray(i + 1).every((v) => v === 0), 'zero above the diagonal');
        negatives += row.filter((v) => v < 0).length;
      }
    }
  }
  assert.ok(negatives > 0);
});

test('key spans: top-k keys of the effective map, BOS excluded, adjacent keys merged', async () => {
  const g = await golden('diff');
  const analysis = await analysisOf('diff', g.ids);
  const query = analysis.T - 1;
  const row = analysis.effectiveRow(1, 0, query);
  const spans = analysis.keySpans(1, 0, query, 6, (i) => `<${i}>`);
  const covered = spans.flatMap((s) => Array.from({ length: s.endToken - s.firstToken }, (_, n) => s.firstToken + n));
  const expected = Array.from({ length: query }, (_, j) => j + 1).filter((j) => row[j] > 0).sort((a, b) => row[b] - row[a]).slice(0, 6);
  assert.deepEqual([...covered].sort((a, b) => a - b), [...expected].sort((a, b) => a - b));
  for (let i = 1; i < spans.length; i++) assert.ok(spans[i - 1].score >= spans[i].score, 'sorted by score');
  for (const s of spans) {
    assert.ok(!covered.includes(s.endToken) || spans.some((o) => o.firstToken === s.endToken) === false, 'adjacent keys are one span');
    assert.equal(s.text, Array.from({ length: s.endToken - s.firstToken }, (_, n) => `<${s.firstToken + n}>`).join(''));
    assertClose([s.score], [Array.from({ length: s.endToken - s.firstToken }, (_, n) => row[s.firstToken + n]).reduce((a, b) => a + b)], 'score');
  }
});

test("outlier statistics equal a direct computation (Table 5's top-1, top-10, median)", async () => {
  for (const kind of MODEL_KINDS) {
    const g = await golden(kind);
    const analysis = await analysisOf(kind, g.ids);
    const E = analysis.config.n_embd;
    const T = analysis.T;
    for (const { layer, hidden, logits } of await computeOutliers(analysis, graphs, always)) {
      const values = Array.from(analysis.out.hidden[layer], Math.abs).sort((a, b) => a - b);
      const n = values.length;
      assertClose([hidden.top1, hidden.top10], [values[n - 1], values[n - 10]], 'hidden top-1, top-10');
      // Both medians come from fine bins: within one fine bin of the exact value.
      assertClose(hidden.median, values[n >> 1], 'hidden median', { atol: hidden.top1 / 64_000 });
      assert.equal(hidden.counts.reduce((a, b) => a + b), T * E);
      assert.equal(hidden.outliers[0].value, hidden.top1);

      const direct = directLogits(analysis, layer);
      const magnitudes = direct.flat(2).map(Math.abs).sort((a, b) => a - b);
      const m = magnitudes.length;
      assert.equal(m, (analysis.S * T * (T + 1)) / 2);
      assertClose([logits.top1, logits.top10], [magnitudes[m - 1], magnitudes[m - 10]], `layer ${layer} logit top-1, top-10`);
      assertClose(logits.median, magnitudes[m >> 1], `layer ${layer} logit median`, { atol: logits.top1 / 64_000 });
      const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
      for (const v of magnitudes) counts[Math.min(HISTOGRAM_BINS - 1, Math.floor((v / logits.top1) * HISTOGRAM_BINS))]++;
      assert.equal(logits.counts.reduce((a, b) => a + b), m, 'every visible pair counted once');
      // A value on a bin edge may fall either side in float32: allow a handful of moves.
      const moved = logits.counts.reduce((sum, c, b) => sum + Math.abs(c - counts[b]), 0);
      assert.ok(moved <= 4, `layer ${layer}: ${moved} counts differ from a direct count`);
      for (const { value, token, detail } of logits.outliers) {
        const [, s, key] = /^sub-head (\d+), key (\d+)$/.exec(detail)!.map(Number);
        assertClose(value, Math.abs(direct[s][token][key]), `outlier at sub-head ${s} (${token}, ${key})`);
      }
    }
  }
});

/** A layer's attention logits recomputed here from q and k as docs/model-package.md defines them
 *  (float32, as the graph's): logits[s][i][j], j <= i. */
function directLogits(analysis: RunAnalysis, layer: number): number[][][] {
  const { T, config, out } = analysis;
  const S = config.n_softmax_heads;
  const d = config.head_dim;
  const group = S / config.n_kv_softmax_heads;
  return Array.from({ length: S }, (_, s) =>
    Array.from({ length: T }, (_, i) =>
      Array.from({ length: i + 1 }, (_, j) => {
        let dot = 0;
        for (let c = 0; c < d; c++) dot += out.q[layer][(s * T + i) * d + c] * out.k[layer][(Math.floor(s / group) * T + j) * d + c];
        return Math.fround(dot * config.attention_scale);
      }),
    ),
  );
}

function softmax(row: number[]): number[] {
  const max = Math.max(...row);
  const exps = row.map((x) => Math.exp(x - max));
  const sum = exps.reduce((a, b) => a + b);
  return exps.map((e) => e / sum);
}

for (const kind of MODEL_KINDS) {
  test(`${kind}: quantisation errors per layer equal a direct recomputation from q and k`, async () => {
    const g = await golden(kind);
    const analysis = await analysisOf(kind, g.ids);
    const { T, nHead } = analysis;
    const outliers = await computeOutliers(analysis, graphs, always);
    const whatIf = await computeQuantisation(analysis, graphs, outliers.map((l) => l.logits.top1), always);
    for (const { layer, logits } of outliers) {
      const quantisation = whatIf[layer].errors;
      assert.deepEqual(quantisation.map((q) => q.bits), [...QUANT_BITS]);
      const exactLogits = directLogits(analysis, layer);
      const exact = exactLogits.map((rows) => rows.map(softmax));
      // The rows recomputed here are the model's own maps (A1 or A of head 0), so the errors below
      // are checked against the model, not against a second copy of the extension's code.
      for (let i = 0; i < T; i++) assertClose(exact[0][i], analysis.row(layer, 0, 'a1', i).subarray(0, i + 1), `layer ${layer} A1 row ${i}`);
      const all = exactLogits.flat(2);
      assertClose(logits.top1, Math.max(...all.map(Math.abs)), 'top-1');
      for (const { bits, scale, logitRelRmse, attentionError } of quantisation) {
        const levels = 2 ** (bits - 1) - 1;
        assertClose(scale, logits.top1 / levels, `${bits}-bit scale = top-1 / ${levels}`);
        for (const error of [logitRelRmse, attentionError]) assert.ok(Number.isFinite(error) && error >= 0, `${bits}-bit error ${error}`);
        const quantise = (x: number) => Math.max(-levels, Math.min(levels, Math.round(x / scale))) * scale;
        const rmse = Math.sqrt(all.reduce((sum, x) => sum + (quantise(x) - x) ** 2, 0) / all.reduce((sum, x) => sum + x * x, 0));
        assertClose(logitRelRmse, rmse, `layer ${layer} ${bits}-bit logit error`);
        const quantised = exactLogits.map((rows) => rows.map((row) => softmax(row.map(quantise))));
        let distance = 0;
        for (let head = 0; head < nHead; head++) {
          for (let i = 0; i < T; i++) {
            const lam = analysis.lambda(layer, i, head);
            const effective = (rows: number[][][], j: number) => (kind === 'diff' ? rows[2 * head][i][j] - lam * rows[2 * head + 1][i][j] : rows[head][i][j]);
            let total = 0;
            let mass = 0;
            for (let j = 0; j <= i; j++) {
              total += Math.abs(effective(quantised, j) - effective(exact, j));
              mass += Math.abs(effective(exact, j));
            }
            distance += (0.5 * total) / mass;
          }
        }
        const expected = distance / (nHead * T);
        assertClose(attentionError, expected, `layer ${layer} ${bits}-bit attention error`);
      }
      const fourBit = quantisation.find((q) => q.bits === 4)!;
      assert.ok(fourBit.logitRelRmse > 0 && fourBit.attentionError > 0, '7 levels change the logits and the attention');
    }
  });
}

test('a one-token run: every attention row has a single key, so quantising changes no attention', async () => {
  const pkg = await loadModelPackage(PACKAGES.diff);
  const analysis = await analysisOf('diff', [pkg.config.bos_token_id]);
  const outliers = await computeOutliers(analysis, graphs, always);
  for (const { errors } of await computeQuantisation(analysis, graphs, outliers.map((l) => l.logits.top1), always)) {
    for (const { bits, attentionError, logitRelRmse } of errors) {
      assert.equal(attentionError, 0, `${bits}-bit`);
      assert.ok(Number.isFinite(logitRelRmse) && logitRelRmse >= 0);
    }
  }
});

test('text longer than the context runs the window that ends at the query', async () => {
  const engine = await Engine.load(PACKAGES.diff, 'cpu');
  const text = Array.from({ length: 200 }, (_, i) => `line_${i} = ${i}\n`).join('');
  const result = await engine.inspect(text);
  assert.equal(result.tokens.length, engine.info.maxSeqLen);
  assert.ok(result.window && result.window.totalTokens > engine.info.maxSeqLen);
  assert.match(result.window.note, /context is 128/);
  assert.equal(result.tokens[result.tokens.length - 1].end, text.length, 'the last token ends the text');
  assert.equal(result.query, result.tokens.length - 1);
  const middle = text.indexOf('line_100');
  const early = await engine.inspect(text, middle);
  assert.ok(early.tokens[early.query].end >= middle && early.tokens[early.query].start < middle, 'query token covers the offset');
});

test('token offsets map each token to its exact characters', async () => {
  const engine = await Engine.load(PACKAGES.diff, 'cpu');
  const text = 'const s = "héllo 🙂";\r\n\tif (x) { return `<b>${s}</b>`; }\r\n';
  const result = await engine.inspect(text);
  assert.equal(result.tokens.slice(1).map((t) => text.slice(t.start, t.end)).join(''), text);
});

test('a tampered or incomplete package is refused with the file and field named', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'pkg-'));
  await cp(PACKAGES.diff, dir, { recursive: true });
  const configPath = path.join(dir, 'config.json');
  const config = await readFile(configPath, 'utf8');
  await writeFile(configPath, config.replace('"n_layer": 2', '"n_layer": 3'));
  await assert.rejects(loadModelPackage(dir), (err: Error) => err instanceof PackageError && /config\.json: sha256 is .* but manifest\.json says/.test(err.message));
  await writeFile(path.join(dir, 'manifest.json'), '{"format_version": 1, "files": {}}');
  await assert.rejects(loadModelPackage(dir), /manifest\.json: field 'files' has no entry for model\.onnx/);
  await assert.rejects(loadModelPackage(path.join(dir, 'nope')), /manifest\.json: cannot be read \(ENOENT\)/);
});

test('an unavailable GPU provider falls back to CPU and says why', async () => {
  const { info } = await createSession(path.join(PACKAGES.diff, 'model.onnx'), 'cuda');
  assert.equal(info.provider, 'cpu');
  assert.match(info.fallbackReason ?? '', /^cuda could not load/);
});

test("the engine process runs with glibc's allocator settings for growing blocks, a user's own after them", async () => {
  const client = new EngineClient(ENGINE_PROCESS);
  try {
    await client.load(PACKAGES.diff, 'cpu');
    const environment = (await readFile(`/proc/${client.pid}/environ`, 'utf8')).split('\0');
    const tunables = environment.find((entry) => entry.startsWith('GLIBC_TUNABLES='));
    // (glibc 2.36 rewrites the variable in place as it reads it, keeping only its first setting.)
    assert.match(tunables ?? 'none', /^GLIBC_TUNABLES=glibc\.malloc\.mmap_threshold=\d+/);
  } finally {
    client.dispose();
  }
  const own = 'glibc.malloc.mmap_threshold=65536';
  assert.ok(engineEnv({ GLIBC_TUNABLES: own }).GLIBC_TUNABLES!.endsWith(`:${own}`), "the user's own setting comes last, so it wins");
});

test('engine child process: runs, cancels by killing the run, recovers, reports errors as their own class', async () => {
  const logs: string[] = [];
  const client = new EngineClient(ENGINE_PROCESS, (m) => logs.push(m));
  try {
    const info = await client.load(PACKAGES.diff, 'cpu');
    assert.equal(info.kind, 'diff');
    const result = await client.request({ op: 'inspect', text: 'x = 1\n' });
    assert.ok(result.tokenLogprob instanceof Float32Array);
    assert.ok(result.thumbnails.diff instanceof Float32Array);
    const controller = new AbortController();
    const cancelled = client.request({ op: 'inspect', text: 'y = 2\n'.repeat(20) }, controller.signal);
    controller.abort();
    await assert.rejects(cancelled, CancelledError);
    const again = await client.request({ op: 'inspect', text: 'z = 3\n' });
    assert.equal(again.tokens.length, 5);
    const map = await client.request({ op: 'map', layer: 0, head: 1, view: 'diff' });
    assert.equal(map.length, again.tokens.length ** 2);
    await assert.rejects(client.request({ op: 'inspect', text: '' }), EmptyTextError);
    await assert.rejects(client.load(path.join(REPO, 'models', 'missing'), 'cpu'), PackageError);
    const stillThere = await client.request({ op: 'map', layer: 0, head: 1, view: 'diff' });
    assert.deepEqual(stillThere, map, 'a failed load keeps the loaded model and its last run');
  } finally {
    client.dispose();
  }
});

test('the CLI prints a JSON report', async () => {
  const file = path.join(REPO, 'test', 'fixtures', 'tokenizer-sample.txt');
  const { stdout } = await promisify(execFile)('node', [path.join(REPO, 'out', 'extension', 'core', 'cli.js'), 'inspect', file, '--json', '--package', PACKAGES.diff]);
  const report = JSON.parse(stdout);
  assert.equal(report.model.kind, 'diff');
  assert.equal(report.lambda.length, 2);
  assert.equal(report.tokens, 128);
  assert.equal(report.spans.length, 2);
  assert.ok(report.outliers[0].hidden.top1 >= report.outliers[0].hidden.top10);
  assert.deepEqual(report.outliers[0].quantisation.map((q: { bits: number }) => q.bits), [...QUANT_BITS], 'the quantisation what-if per layer');
});
