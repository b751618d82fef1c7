// npm run bench:long (also part of npm run bench): what a whole long context costs. The 32K-context
// test model (a DiffLlama of 4 layers, hidden 256, 8 heads of 32, random weights, written by
// `python -m model hf-checkpoint --size long32k`) is imported with its bare forward (bare.onnx: the
// model's logits alone, built by the importer's own graph code). At each length the bare forward
// runs in a fresh session, then a fresh engine process runs the text whole: the run, the first map
// (the whole context pooled to the panel's canvas), the key spans, and up to EVERYTHING_UP_TO
// tokens the Outliers view's statistics and quantisation what-if; its peak resident memory is read
// after each. Then a real VS Code and Chromium time the first map painted at BROWSER_LENGTHS.
// Writes docs/long-context.md and .json, with the targets on the bare forward. Asserts nothing: the
// tests hold the behaviour.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { EngineClient } from '../../extension/core/engineClient';
import { importModel } from '../../extension/core/import/importModel';
import { loadModelPackage, type ModelPackage, type PackageConfig } from '../../extension/core/modelPackage';
import { createSession } from '../../extension/core/runtime';
import { loadTokenizer } from '../../extension/core/tokenizer';
import { wholeMap } from '../../shared/inspection';
import { DEFAULT_MAP_CELLS } from '../../shared/protocol';
import { THUMBNAIL_SIZE } from '../../shared/model';
import { measureLongFirstMaps } from './browser';
import { machine, memory, timed } from './measure';
import { checkTarget, mdTable, overTarget, renderTargets, round, type Target } from './report';

const REPO = path.resolve(__dirname, '..', '..', '..');
const ENGINE_PROCESS = path.join(REPO, 'out', 'extension', 'core', 'engineWorker.js');
const LENGTHS = (process.env.LONG_LENGTHS ?? '1024,2048,4096,8192,16384,32768').split(',').map(Number);
/** The statistics cost as much as several forward passes: measured up to this length. */
const EVERYTHING_UP_TO = Number(process.env.LONG_EVERYTHING_UP_TO ?? 8192);
/** Lengths at which the first map painted in the browser is timed ('' for none). */
const BROWSER_LENGTHS = (process.env.LONG_BROWSER_LENGTHS ?? '8192,32768').split(',').filter(Boolean).map(Number);
/** The untimed first run in the browser: about this many tokens. */
const BROWSER_WARM_UP = 256;
const MODEL_NAME = 'diffllama-32k';
const run = promisify(execFile);

interface LengthResult {
  tokens: number;
  /** The bare forward: a fresh session's first run at this length, as the engine's run is. */
  bareMs: number;
  loadMs: number;
  loadedMiB: number;
  inspectMs: number;
  firstMapMs: number;
  spansMs: number;
  statisticsMs?: number;
  /** The engine process's peak after the first view (run, map, spans), and after everything. */
  firstViewPeakMiB: number;
  peakMiB: number;
  /** (run + first map + spans) / bare, and with the statistics (measured up to EVERYTHING_UP_TO). */
  first_map_over_bare: number;
  all_over_bare?: number;
}

interface LongContextResult {
  date: string;
  cpus: number;
  cpuModel: string;
  model: string;
  parameters: number;
  results: LengthResult[];
  slopes: ReturnType<typeof memorySlopes>;
  /** In a real VS Code and Chromium: Inspect File's palette click -> the run's map painted. */
  browser: { firstMapPainted: { tokens: number; ms: number }[] };
  targets: Target[];
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'difft-long-bench-'));
  try {
    const source = path.join(work, 'diffllama-32k');
    await run(path.join(REPO, 'scripts', 'python.sh'), ['-m', 'model', 'hf-checkpoint', '--format', 'diffllama', '--size', 'long32k', '--out', source], { cwd: REPO });
    const packageDir = path.join(work, 'package');
    const { parameters } = await importModel({ source, destination: packageDir, name: MODEL_NAME, bareForward: true });
    const pkg = await loadModelPackage(packageDir);
    // As LF: the editor holds a document with mixed line endings as LF only, so the browser's
    // documents are the engine's texts.
    const sample = readFileSync(path.join(REPO, 'test', 'fixtures', 'tokenizer-sample.txt'), 'utf8').replace(/\r\n/g, '\n');
    const tokenizer = loadTokenizer(readFileSync(path.join(packageDir, 'tokenizer.json'), 'utf8'));
    const longest = Math.max(...LENGTHS, ...BROWSER_LENGTHS);
    let longText = sample;
    while (tokenizer.encode(longText).ids.length < longest) longText += sample;
    const { offsets } = tokenizer.encode(longText);
    /** The longest text of at most `tokens` tokens with BOS cut at a token's end, and its ids with
     *  BOS. A cut text tokenises into a few more or fewer tokens than the cut counted (the BPE's
     *  merges at the cut differ), so the cuts are tried from a few tokens past the count down. */
    const textOf = (tokens: number) => {
      for (let end = Math.min(tokens + 2, offsets.length - 1); ; end--) {
        const text = longText.slice(0, offsets[end][1]);
        const ids = [pkg.config.bos_token_id, ...tokenizer.encode(text).ids];
        if (ids.length <= tokens) return { text, ids };
      }
    };

    const results: LengthResult[] = [];
    for (const tokens of LENGTHS) {
      const { text, ids } = textOf(tokens);
      const bareMs = await timeBareForward(pkg, ids);
      const client = new EngineClient(ENGINE_PROCESS);
      try {
        const [, loadMs] = await timed(() => client.load(packageDir, 'cpu'));
        const loadedMiB = memory(client.pid!, 'VmRSS');
        const [inspection, inspectMs] = await timed(() => client.request({ op: 'inspect', text }));
        const T = inspection.tokens.length;
        if (T !== ids.length) throw new Error(`the engine ran ${T} tokens, the bare forward ${ids.length}`);
        const [, firstMapMs] = await timed(() => client.request({ op: 'map', layer: 0, head: 0, view: 'diff', viewport: wholeMap(T, DEFAULT_MAP_CELLS, 'max') }));
        const [, spansMs] = await timed(() => client.request({ op: 'spans', layer: 0, head: 0, query: inspection.query, k: 5 }));
        const firstViewPeakMiB = memory(client.pid!, 'VmHWM');
        let statisticsMs: number | undefined;
        if (tokens <= EVERYTHING_UP_TO) {
          [, statisticsMs] = await timed(async () => {
            await client.request({ op: 'outliers' });
            await client.request({ op: 'quantisation' });
          });
        }
        const firstViewMs = inspectMs + firstMapMs + spansMs;
        results.push({
          tokens: T,
          bareMs,
          loadMs,
          loadedMiB,
          inspectMs,
          firstMapMs,
          spansMs,
          statisticsMs,
          firstViewPeakMiB,
          peakMiB: memory(client.pid!, 'VmHWM'),
          first_map_over_bare: round(firstViewMs / bareMs),
          ...(statisticsMs !== undefined && { all_over_bare: round((firstViewMs + statisticsMs) / bareMs) }),
        });
        // The whole of each length, for a run stopped before its report is written.
        console.error(`${T} tokens: ${JSON.stringify(results.at(-1))}`);
      } finally {
        client.dispose();
      }
    }
    console.error(`timing the first map painted in the browser at ${BROWSER_LENGTHS.join(', ') || 'no'} tokens`);
    const firstMapPainted = BROWSER_LENGTHS.length
      ? await measureLongFirstMaps(packageDir, MODEL_NAME, textOf(BROWSER_WARM_UP).text, BROWSER_LENGTHS.map((tokens) => textOf(tokens).text))
      : [];
    const result: LongContextResult = {
      ...machine(),
      model: 'diffllama, 4 layers, hidden 256, 8 heads of 32, 32,768-token context, random float32 weights',
      parameters,
      results,
      slopes: memorySlopes(results),
      browser: { firstMapPainted },
      targets: [...results.flatMap((r) => bareTargets(r, pkg.config.value_head_dim)), ...memoryTargets(results, pkg.config)],
    };
    writeFileSync(path.join(REPO, 'docs', 'long-context.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(path.join(REPO, 'docs', 'long-context.md'), render(result));
    console.log(render(result));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The bare forward's first run on `ids` in a fresh session (released after it, so that its threads
 *  are gone before the engine runs), ms. */
async function timeBareForward(pkg: ModelPackage, ids: number[]): Promise<number> {
  const { session } = await createSession({ modelPath: path.join(pkg.dir, 'bare.onnx'), config: pkg.config }, 'cpu');
  try {
    const [, ms] = await timed(() => session.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]) }));
    return ms;
  } finally {
    await session.release();
  }
}

/** The targets on the bare forward at one length: the first view within 1.3x of it, and
 *  everything (with the statistics, where measured) within 2x. */
function bareTargets(r: LengthResult, valueWidth: number): Target[] {
  const model = `${MODEL_NAME}, ${r.tokens} tokens`;
  const s = (ms: number) => `${round(ms / 1000, 2)} s`;
  const targets = [
    checkTarget(model, 'first_map_over_bare', '<= 1.3', r.first_map_over_bare, r.first_map_over_bare <= 1.3, overTarget(r.first_map_over_bare, 1.3),
      `the bare forward takes ${s(r.bareMs)}; the first view is the inspection's run (${s(r.inspectMs)}: the forward with ${THUMBNAIL_SIZE} pooling columns appended to every head's values (${valueWidth + THUMBNAIL_SIZE} wide instead of ${valueWidth}) for the thumbnails, q, k and the hidden states of every layer kept, top-k and log-probabilities over blocks of rows; with tokenising and the reply to the host), the first map (${s(r.firstMapMs)}: layer 0, head 0's maps recomputed from q and k over blocks of query rows and max-pooled to ${DEFAULT_MAP_CELLS} x ${DEFAULT_MAP_CELLS}) and the spans (${round(r.spansMs)} ms)`),
  ];
  if (r.all_over_bare !== undefined) {
    targets.push(checkTarget(model, 'all_over_bare', '<= 2', r.all_over_bare, r.all_over_bare <= 2, overTarget(r.all_over_bare, 2),
      `the Outliers view's statistics and the quantisation what-if (${s(r.statisticsMs!)}) go over every layer's S x T^2 / 2 visible attention logits several times, recomputed from q and k block by block of query rows: the largest logits (the histogram's scale), the bins of every logit, and per bit width a softmax of every row; the forward computes each logit once`));
  }
  return targets;
}

/** The memory targets, where the sweep reached the lengths they name: the first view at
 *  32,768 tokens within 1,536 MiB, and growth linear (the slope from 16K to 32K tokens within 1.25x
 *  the slope from 8K to 16K). */
function memoryTargets(results: LengthResult[], config: PackageConfig): Target[] {
  // One result per length asked for, in LENGTHS' order (a run's tokens fall a little short of it).
  const at = (tokens: number) => results[LENGTHS.indexOf(tokens)];
  const [eight, sixteen, longest] = [at(8192), at(16384), at(32768)];
  if (!longest) return [];
  const model = `${MODEL_NAME}, ${longest.tokens} tokens`;
  const outputsKiB = (config.n_layer * ((config.n_softmax_heads + config.n_kv_softmax_heads) * config.head_dim + config.n_embd) * 4) / 1024;
  const targets = [
    checkTarget(model, 'peak_mib (first view)', '<= 1536', longest.firstViewPeakMiB, longest.firstViewPeakMiB <= 1536, overTarget(longest.firstViewPeakMiB, 1536),
      `a loaded engine holds ${round(longest.loadedMiB)} MiB; the run's outputs keep q, k and the hidden states of every layer (${outputsKiB} KiB a token: ${round((outputsKiB * longest.tokens) / 1024)} MiB), and ONNX Runtime's arena for the forward stays at its peak (each layer's q, k and hidden states, the graph's outputs, held in it to the end of the run beside the last layer's attention blocks)`),
  ];
  if (eight && sixteen) {
    const ratio = peakPerToken(sixteen, longest) / peakPerToken(eight, sixteen);
    targets.push(checkTarget(model, 'memory_slope_ratio (16K->32K over 8K->16K)', '<= 1.25', ratio, ratio <= 1.25, overTarget(ratio, 1.25),
      'the first view takes more memory per token past 16K tokens than below it'));
  }
  return targets;
}

/** The first view's peak memory added per token from a shorter run to a longer one, MiB. */
function peakPerToken(shorter: LengthResult, longer: LengthResult): number {
  return (longer.firstViewPeakMiB - shorter.firstViewPeakMiB) / (longer.tokens - shorter.tokens);
}

/** Peak memory of the first view added per 1,000 tokens between each pair of neighbouring lengths
 *  (the first view is measured at every length; the statistics only up to EVERYTHING_UP_TO). */
function memorySlopes(results: LengthResult[]): { from: number; to: number; miBPerThousand: number }[] {
  return results.slice(1).map((r, n) => ({
    from: results[n].tokens,
    to: r.tokens,
    miBPerThousand: peakPerToken(results[n], r) * 1000,
  }));
}

function render(r: LongContextResult): string {
  const f = (n: number | undefined, digits = 0) => (n === undefined ? '–' : n.toFixed(digits));
  return [
    '# Long contexts: measured',
    '',
    `\`npm run bench:long\`, ${r.date.slice(0, 10)}, ${r.cpus} × ${r.cpuModel}, ONNX Runtime on the CPU.`,
    `Model: ${r.model}, ${(r.parameters / 1e6).toFixed(1)}M parameters. A fresh engine process per length; the text runs whole (no window).`,
    `The bare forward is the model's logits alone (the importer's graph without the inspection outputs), a fresh session's first run at each length as the engine's run is. The first map is the whole context of layer 0, head 0 (A1 − λ·A2) max-pooled to ${DEFAULT_MAP_CELLS} × ${DEFAULT_MAP_CELLS} cells; statistics = the Outliers view's histograms and the quantisation what-if (measured up to ${EVERYTHING_UP_TO} tokens).`,
    '',
    mdTable([
      ['tokens', 'bare forward, s', 'run, s', 'first map, s', 'key spans, ms', 'statistics, s', 'engine peak after the first view, MiB', 'after everything, MiB'],
      ...r.results.map((x) => [x.tokens, f(x.bareMs / 1000, 2), f(x.inspectMs / 1000, 2), f(x.firstMapMs / 1000, 2), f(x.spansMs, 1), f(x.statisticsMs && x.statisticsMs / 1000, 1), f(x.firstViewPeakMiB), f(x.peakMiB)].map(String)),
    ]),
    '',
    mdTable([['tokens', 'first-view peak added per 1,000 tokens, MiB'], ...r.slopes.map((s) => [`${s.from} → ${s.to}`, f(s.miBPerThousand, 1)])]),
    '',
    'In a real VS Code (code-server) and Chromium with `difftransformer.modelPath` set to the imported package: from the click that runs Inspect File on a document of that many tokens to the animation frame that paints the run\'s map; one run each, after an untimed run of a short document (which starts the engine, loads the model and opens the panel).',
    '',
    mdTable([['tokens', 'browser: first map painted, s'], ...r.browser.firstMapPainted.map((b) => [String(b.tokens), f(b.ms / 1000, 2)])]),
    '',
    ...renderTargets(r.targets),
  ].join('\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
