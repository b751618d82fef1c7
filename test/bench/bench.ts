// npm run bench: how close an inspection comes to the cost of the model's own forward pass, for
// each bundled model at its full context, on this machine. Every figure comes from one run,
// interleaved round by round (min and median of REPEATS rounds): ONNX Runtime's matrix-multiply
// throughput (the machine's limit), the bare forward pass (the model's logits alone) at several
// lengths, what the panel shows first (the run, the first map and its spans), everything including
// the Outliers view's statistics and quantisation what-if, PyTorch eager on the same weights, map
// and span requests answered while statistics run, the engine process's peak memory, and from a
// real browser the first map painted and a hover-row update. Prints one table and writes
// docs/performance.md and docs/performance.json. Asserts nothing: the tests hold the behaviour.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { EngineClient } from '../../extension/core/engineClient';
import { createSession, openSession, type ProviderSetting } from '../../extension/core/runtime';
import { loadTokenizer } from '../../extension/core/tokenizer';
import { wholeMap, type MapViewport } from '../../shared/inspection';
import { DEFAULT_MAP_CELLS } from '../../shared/protocol';
import { measureBrowser } from './browser';
import { machine, memory } from './measure';
import { renderReport, summarise, type BenchResult, type ModelTimes } from './report';
import { TorchProcess, type TorchInfo } from './torchProcess';

const REPO = path.resolve(__dirname, '..', '..', '..');
const ENGINE_PROCESS = path.join(REPO, 'out', 'extension', 'core', 'engineWorker.js');
const REPEATS = 5;
const MODELS = ['code-diff', 'code-baseline'];
const LENGTHS = [128, 512, 1024];
/** Lengths at which a fresh engine process's peak memory is read. */
const MEMORY_LENGTHS = [256, 512, 1024];

interface Subject {
  model: string;
  provider: string;
  dir: string;
  view: 'diff' | 'a1';
  nLayer: number;
  vocab: number;
  torch?: TorchProcess;
  info: TorchInfo;
  bare: ort.InferenceSession;
  client: EngineClient;
  times: ModelTimes;
}

/** Each measurement starts on idle cores: ONNX Runtime's and OpenMP's threads spin for a while
 *  after a run, in whichever process ran last. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

async function timed(run: () => unknown): Promise<number> {
  await settle();
  const start = performance.now();
  await run();
  return performance.now() - start;
}

const sample = readFileSync(path.join(REPO, 'test', 'fixtures', 'tokenizer-sample.txt'), 'utf8');
const LONG_TEXT = sample.repeat(Math.ceil(40_000 / sample.length));

/** The long text tokenised by a package's tokenizer, once per package. */
const longTextEncodings = new Map<string, ReturnType<ReturnType<typeof loadTokenizer>['encode']>>();
function encodedLongText(dir: string) {
  let encoding = longTextEncodings.get(dir);
  if (!encoding) {
    encoding = loadTokenizer(readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')).encode(LONG_TEXT);
    longTextEncodings.set(dir, encoding);
  }
  return encoding;
}

/** The first `tokens - 1` tokens of the long text (BOS makes `tokens`), cut at a token's end. */
function textOfTokens(dir: string, tokens: number): string {
  return LONG_TEXT.slice(0, encodedLongText(dir).offsets[tokens - 2][1]);
}

function bareIds(dir: string, length: number): ort.Tensor {
  const ids = [0, ...encodedLongText(dir).ids.slice(0, length - 1)];
  return new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, length]);
}

/** Times one request. */
async function step<T>(times: Record<string, number[]> | undefined, name: string, run: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await run();
  if (times) (times[name] ??= []).push(performance.now() - start);
  return result;
}

/** The panel's first view: the run, the first map (pooled to the canvas, as the panel asks for it)
 *  and the query's spans. */
async function firstView(subject: Subject, text: string, steps?: Record<string, number[]>): Promise<{ query: number; viewport: MapViewport }> {
  const run = await step(steps, 'inspect', () => subject.client.request({ op: 'inspect', text }));
  // Pooled to the canvas, as the panel asks for every map.
  const viewport = wholeMap(run.tokens.length, DEFAULT_MAP_CELLS, 'mean');
  await step(steps, 'map', () => subject.client.request({ op: 'map', layer: 0, head: 0, view: subject.view, viewport }));
  await step(steps, 'spans', () => subject.client.request({ op: 'spans', layer: 0, head: 0, query: run.query, k: 5 }));
  return { query: run.query, viewport };
}

/** Everything the panel shows, the Outliers view's statistics and what-if included. */
async function everything(subject: Subject, text: string, steps?: Record<string, number[]>): Promise<void> {
  await firstView(subject, text, steps);
  await step(steps, 'outliers', () => subject.client.request({ op: 'outliers' }));
  await step(steps, 'quantisation', () => subject.client.request({ op: 'quantisation' }));
}

/** A layer/head switch (map) and a row change (spans) while the statistics are computed. */
async function whileBusy(subject: Subject, text: string): Promise<void> {
  const { query, viewport } = await firstView(subject, text);
  const busy = subject.client.request({ op: 'quantisation' });
  subject.times.mapWhileBusy.push(await timed(() => subject.client.request({ op: 'map', layer: subject.nLayer - 1, head: 1, view: subject.view, viewport })));
  subject.times.spansWhileBusy.push(await timed(() => subject.client.request({ op: 'spans', layer: subject.nLayer - 1, head: 1, query, k: 5 })));
  await busy;
}

/** A fresh engine process's memory once the model is loaded, and its peak after everything at
 *  `tokens` tokens. */
async function memoryAt(subject: Subject, tokens: number): Promise<{ loaded: number; peak: number }> {
  const client = new EngineClient(ENGINE_PROCESS);
  try {
    await client.load(subject.dir, subject.provider as ProviderSetting);
    const loaded = memory(client.pid!, 'VmRSS');
    await everything({ ...subject, client }, textOfTokens(subject.dir, tokens));
    return { loaded, peak: memory(client.pid!, 'VmHWM') };
  } finally {
    client.dispose();
  }
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'difft-bench-'));
  const auto = await createSession(path.join(REPO, 'models', MODELS[0], 'model.onnx'), 'auto');
  const providers = [...new Set(['cpu', auto.info.provider])];
  const subjects: Subject[] = [];
  for (const model of MODELS) {
    const dir = path.join(REPO, 'models', model);
    const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    const { torch, info } = await TorchProcess.start(REPO, dir, work, LENGTHS);
    for (const provider of providers) {
      const client = new EngineClient(ENGINE_PROCESS);
      await client.load(dir, provider as ProviderSetting);
      subjects.push({
        model,
        provider,
        dir,
        view: config.kind === 'diff' ? 'diff' : 'a1',
        nLayer: config.n_layer,
        vocab: config.vocab_size,
        torch: provider === 'cpu' ? torch : undefined,
        info,
        bare: (await createSession(info.bare, provider as ProviderSetting)).session,
        client,
        times: { bare: {}, bareFaults: {}, torch: {}, firstView: [], everything: [], steps: {}, mapWhileBusy: [], spansWhileBusy: [] },
      });
    }
  }
  const matmul = await openSession(subjects[0].info.matmul, 'cpu');
  const square = () => new ort.Tensor('float32', Float32Array.from({ length: 2048 * 2048 }, (_, i) => ((i * 7919) % 1000) / 1000), [2048, 2048]);
  const [a, b] = [square(), square()];
  const matmulTimes: number[] = [];
  const ids = Object.fromEntries(MODELS.map((model) => [model, LENGTHS.map((n) => bareIds(path.join(REPO, 'models', model), n))]));
  // Exactly each model's context: the bare forward it is compared with tokenises nothing, so a
  // longer text's extra tokenising (about 20 ms for 40,000 characters) is left out.
  const fullText = Object.fromEntries(subjects.map((s) => [s.model, textOfTokens(s.dir, Math.max(...LENGTHS))]));

  for (let round = 0; round <= REPEATS; round++) {
    const keep = round > 0; // round 0 warms every session up
    const matmulMs = await timed(() => matmul.run({ a, b }));
    if (keep) matmulTimes.push(matmulMs);
    for (const subject of subjects) {
      for (const [n, length] of LENGTHS.entries()) {
        const faultsBefore = process.resourceUsage().minorPageFault;
        const bareMs = await timed(() => subject.bare.run({ input_ids: ids[subject.model][n] }));
        const faults = process.resourceUsage().minorPageFault - faultsBefore;
        const torchMs = subject.torch ? await subject.torch.time(length) : undefined;
        if (!keep) continue;
        (subject.times.bare[length] ??= []).push(bareMs);
        (subject.times.bareFaults[length] ??= []).push(faults);
        if (torchMs !== undefined) (subject.times.torch[length] ??= []).push(torchMs);
      }
      const text = fullText[subject.model];
      const firstMs = await timed(() => firstView(subject, text));
      const allMs = await timed(() => everything(subject, text, keep ? subject.times.steps : undefined));
      if (keep) subject.times.firstView.push(firstMs);
      if (keep) subject.times.everything.push(allMs);
      await whileBusy(subject, text);
    }
    console.error(`round ${round} of ${REPEATS} done`);
  }
  for (const subject of subjects) {
    subject.times.peakMemory = memory(subject.client.pid!, 'VmHWM');
    subject.times.peakByTokens = {};
    for (const tokens of MEMORY_LENGTHS) {
      const { loaded, peak } = await memoryAt(subject, tokens);
      subject.times.peakByTokens[tokens] = peak;
      subject.times.loadedMemory = loaded;
    }
    subject.client.dispose();
    subject.torch?.stop();
  }
  console.error('measuring in the browser');
  const browser = await measureBrowser(REPEATS);

  const result: BenchResult = summarise({
    ...machine(),
    // Paths relative to the repository: the report is committed.
    auto: { provider: auto.info.provider, fallbackReason: auto.info.fallbackReason?.replaceAll(REPO, '.') },
    repeats: REPEATS,
    matmul: { ms: matmulTimes, flops: subjects[0].info.matmul_flops },
    torchThreads: subjects[0].info.threads,
    subjects: subjects.map(({ model, provider, info, vocab, times }) => ({ model, provider, flops: info.flops, vocab, times })),
    browser,
  });
  const { table, markdown } = renderReport(result);
  console.log(table);
  writeFileSync(path.join(REPO, 'docs', 'performance.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(path.join(REPO, 'docs', 'performance.md'), markdown);
}

/** The bench process's C allocator keeps freed blocks up to 64 MiB for reuse (glibc reads this at
 *  start). Each bare forward returns the logits of every position ([1, T, 8192] float32: 32 MiB at
 *  1,024 tokens), which onnxruntime-node copies into a new array; by default glibc maps an array
 *  that large fresh from the kernel every run, and its 8,200 page faults took about 40% of the
 *  run. The reference is the model's forward, not that. The engine and every other child start
 *  with the environment they would have had anyway. */
const REFERENCE_ALLOCATOR = 'glibc.malloc.mmap_threshold=67108864:glibc.malloc.trim_threshold=268435456';
const OUTER_TUNABLES = 'BENCH_OUTER_GLIBC_TUNABLES';

/** Runs the bench in a child process with REFERENCE_ALLOCATOR; in that child, restores the
 *  environment's own GLIBC_TUNABLES for the processes it starts. False in the parent. */
function inReferenceAllocator(): boolean {
  const outer = process.env[OUTER_TUNABLES];
  if (outer === undefined) {
    const own = process.env.GLIBC_TUNABLES ?? '';
    const env = { ...process.env, [OUTER_TUNABLES]: own, GLIBC_TUNABLES: [own, REFERENCE_ALLOCATOR].filter(Boolean).join(':') };
    process.exitCode = spawnSync(process.execPath, [...process.execArgv, __filename], { stdio: 'inherit', env }).status ?? 1;
    return false;
  }
  delete process.env[OUTER_TUNABLES];
  if (outer) process.env.GLIBC_TUNABLES = outer;
  else delete process.env.GLIBC_TUNABLES;
  return true;
}

if (inReferenceAllocator()) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
