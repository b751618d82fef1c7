// npm run bench:long (also part of npm run bench): what a whole long context costs. The 32K-context
// test model (a DiffLlama of 4 layers, hidden 256, 8 heads of 32, random weights, written by
// `python -m model hf-checkpoint --size long32k`) is imported by the CLI, then a fresh engine
// process per length runs the text whole: the run, the first map (the whole context pooled to the
// panel's canvas), the key spans, and up to EVERYTHING_UP_TO tokens the Outliers view's statistics
// and quantisation what-if; its peak resident memory is read after each. Writes
// docs/long-context.md and .json. Asserts nothing: the tests hold the behaviour.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { EngineClient } from '../../extension/core/engineClient';
import { loadTokenizer } from '../../extension/core/tokenizer';
import { wholeMap } from '../../shared/inspection';
import { machine, memory, timed } from './measure';

const REPO = path.resolve(__dirname, '..', '..', '..');
const ENGINE_PROCESS = path.join(REPO, 'out', 'extension', 'core', 'engineProcess.js');
const LENGTHS = (process.env.LONG_LENGTHS ?? '1024,2048,4096,8192,16384,32768').split(',').map(Number);
/** The statistics cost as much as several forward passes: measured up to this length. */
const EVERYTHING_UP_TO = Number(process.env.LONG_EVERYTHING_UP_TO ?? 8192);
/** The panel's canvas, in cells a side, for the first map. */
const CANVAS_CELLS = 512;
const run = promisify(execFile);

interface LengthResult {
  tokens: number;
  loadMs: number;
  loadedMiB: number;
  inspectMs: number;
  firstMapMs: number;
  spansMs: number;
  statisticsMs?: number;
  /** The engine process's peak after the first view (run, map, spans), and after everything. */
  firstViewPeakMiB: number;
  peakMiB: number;
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'difft-long-bench-'));
  try {
    const source = path.join(work, 'diffllama-32k');
    await run(path.join(REPO, 'scripts', 'python.sh'), ['-m', 'model', 'hf-checkpoint', '--format', 'diffllama', '--size', 'long32k', '--out', source], { cwd: REPO });
    const packageDir = path.join(work, 'package');
    const imported = await run('node', [path.join(REPO, 'out', 'extension', 'core', 'cli.js'), 'import', source, '--out', packageDir]);
    const { parameters } = JSON.parse(imported.stdout);
    const sample = readFileSync(path.join(REPO, 'test', 'fixtures', 'tokenizer-sample.txt'), 'utf8');
    const tokenizer = loadTokenizer(readFileSync(path.join(packageDir, 'tokenizer.json'), 'utf8'));
    const longest = Math.max(...LENGTHS);
    let longText = sample;
    while (tokenizer.encode(longText).ids.length < longest) longText += sample;
    const { offsets } = tokenizer.encode(longText);
    /** A text of exactly `tokens` tokens with BOS. */
    const textOf = (tokens: number) => longText.slice(0, offsets[tokens - 2][1]);

    const results: LengthResult[] = [];
    for (const tokens of LENGTHS) {
      const client = new EngineClient(ENGINE_PROCESS);
      try {
        const [, loadMs] = await timed(() => client.load(packageDir, 'cpu'));
        const loadedMiB = memory(client.pid!, 'VmRSS');
        const [inspection, inspectMs] = await timed(() => client.request({ op: 'inspect', text: textOf(tokens) }));
        const T = inspection.tokens.length;
        const [, firstMapMs] = await timed(() => client.request({ op: 'map', layer: 0, head: 0, view: 'diff', viewport: wholeMap(T, CANVAS_CELLS, 'max') }));
        const [, spansMs] = await timed(() => client.request({ op: 'spans', layer: 0, head: 0, query: inspection.query, k: 5 }));
        const firstViewPeakMiB = memory(client.pid!, 'VmHWM');
        let statisticsMs: number | undefined;
        if (tokens <= EVERYTHING_UP_TO) {
          [, statisticsMs] = await timed(async () => {
            await client.request({ op: 'outliers' });
            await client.request({ op: 'quantisation' });
          });
        }
        results.push({ tokens: T, loadMs, loadedMiB, inspectMs, firstMapMs, spansMs, statisticsMs, firstViewPeakMiB, peakMiB: memory(client.pid!, 'VmHWM') });
        console.error(`${T} tokens: run ${inspectMs.toFixed(0)} ms, first view peak ${firstViewPeakMiB.toFixed(0)} MiB, peak ${results.at(-1)!.peakMiB.toFixed(0)} MiB`);
      } finally {
        client.dispose();
      }
    }
    const result = {
      ...machine(),
      model: 'diffllama, 4 layers, hidden 256, 8 heads of 32, 32,768-token context, random float32 weights',
      parameters,
      results,
      slopes: memorySlopes(results),
    };
    writeFileSync(path.join(REPO, 'docs', 'long-context.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(path.join(REPO, 'docs', 'long-context.md'), render(result));
    console.log(render(result));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Peak memory of the first view added per 1,000 tokens between each pair of neighbouring lengths
 *  (the first view is measured at every length; the statistics only up to EVERYTHING_UP_TO). */
function memorySlopes(results: LengthResult[]): { from: number; to: number; miBPerThousand: number }[] {
  return results.slice(1).map((r, n) => ({
    from: results[n].tokens,
    to: r.tokens,
    miBPerThousand: ((r.firstViewPeakMiB - results[n].firstViewPeakMiB) / (r.tokens - results[n].tokens)) * 1000,
  }));
}

function render(r: { date: string; cpus: number; cpuModel: string; model: string; parameters: number; results: LengthResult[]; slopes: ReturnType<typeof memorySlopes> }): string {
  const f = (n: number | undefined, digits = 0) => (n === undefined ? '–' : n.toFixed(digits));
  return [
    '# Long contexts: measured',
    '',
    `\`npm run bench:long\`, ${r.date.slice(0, 10)}, ${r.cpus} × ${r.cpuModel}, ONNX Runtime on the CPU.`,
    `Model: ${r.model}, ${(r.parameters / 1e6).toFixed(1)}M parameters. A fresh engine process per length; the text runs whole (no window).`,
    `The first map is the whole context of layer 0, head 0 (A1 − λ·A2) max-pooled to ${CANVAS_CELLS} × ${CANVAS_CELLS} cells; statistics = the Outliers view's histograms and the quantisation what-if (measured up to ${EVERYTHING_UP_TO} tokens).`,
    '',
    '| tokens | run, s | first map, s | key spans, ms | statistics, s | engine peak after the first view, MiB | after everything, MiB |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...r.results.map((x) => `| ${x.tokens} | ${f(x.inspectMs / 1000, 2)} | ${f(x.firstMapMs / 1000, 2)} | ${f(x.spansMs, 1)} | ${f(x.statisticsMs && x.statisticsMs / 1000, 1)} | ${f(x.firstViewPeakMiB)} | ${f(x.peakMiB)} |`),
    '',
    '| tokens | first-view peak added per 1,000 tokens, MiB |',
    '| --- | --- |',
    ...r.slopes.map((s) => `| ${s.from} → ${s.to} | ${f(s.miBPerThousand, 1)} |`),
    '',
  ].join('\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
