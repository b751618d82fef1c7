// npm run bench:import (also the last part of npm run bench): what opening a user's model costs.
// DiffLlamas with random bfloat16 weights, of about 110M parameters and of 1.0B laid out as the
// public DiffLlama-1B, are written by `python -m model hf-checkpoint --size 100m|1b`, imported by the
// CLI (its own process, so its peak memory is its own), loaded by the engine process the extension
// uses (right after the import, with no remembered hash, and again) and inspected at several lengths.
// Writes docs/import-performance.md and .json. Asserts nothing: the tests hold the behaviour.

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { EngineClient } from '../../extension/core/engineClient';
import { loadTokenizer } from '../../extension/core/tokenizer';
import { machine, memory, timed } from './measure';
import { checkTarget, overTarget, renderTargets, type Target } from './report';

const REPO = path.resolve(__dirname, '..', '..', '..');
const ENGINE_PROCESS = path.join(REPO, 'out', 'extension', 'core', 'engineWorker.js');
const run = promisify(execFile);
const MiB = 1024 * 1024;

interface BenchModel {
  size: '100m' | '1b';
  model: string;
  lengths: number[];
  repeats: number;
}

const MODELS: BenchModel[] = [
  { size: '100m', model: 'diffllama, 8 layers, hidden 1024, 16 softmax heads, random bfloat16 weights', lengths: [128, 512, 1024], repeats: 3 },
  {
    size: '1b',
    model: 'diffllama laid out as DiffLlama-1B: 16 layers, hidden 2048, 32 heads (64 softmax heads), 8 KV heads, a 131,072-token context, random bfloat16 weights',
    lengths: [1024, 2048],
    repeats: 2,
  },
];

interface Inspection {
  tokens: number;
  inspectMs: number[];
  mapMs: number;
  /** The engine's peak so far (this length's runs and the shorter ones before). */
  peakMiB: number;
}

interface ModelResult {
  model: string;
  parameters: number;
  sourceMiB: number;
  packageWeightsMiB: number;
  importMs: number;
  importPeakMiB: number;
  /** Loads in a fresh engine process: right after the import (which remembered the weights' hash),
   *  with no remembered hash (weights.bin read and hashed), and once more (the hash remembered). */
  loadMs: { afterImport: number; hashing: number; again: number };
  engineLoadedMiB: number;
  inspections: Inspection[];
  lensMs: number;
  lensAnonMiB: number;
  enginePeakMiB: number;
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'difft-import-bench-'));
  // The hash cache in the bench's folder, so that the loads measure what they say.
  process.env.XDG_CACHE_HOME = path.join(work, 'cache');
  try {
    const results: ModelResult[] = [];
    for (const model of MODELS) results.push(await measure(model, work));
    const result = { ...machine(), models: results };
    writeFileSync(path.join(REPO, 'docs', 'import-performance.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(path.join(REPO, 'docs', 'import-performance.md'), render(result));
    console.log(render(result));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function measure({ size, model, lengths, repeats }: BenchModel, work: string): Promise<ModelResult> {
  const source = path.join(work, `diffllama-${size}`);
  const packageDir = path.join(work, `package-${size}`);
  try {
    await run(path.join(REPO, 'scripts', 'python.sh'), ['-m', 'model', 'hf-checkpoint', '--format', 'diffllama', '--size', size, '--dtype', 'bfloat16', '--out', source], { cwd: REPO });
    const [imported, importMs] = await timed(() => run('node', [path.join(REPO, 'out', 'extension', 'core', 'cli.js'), 'import', source, '--out', packageDir]));
    const { parameters, maxRssBytes } = JSON.parse(imported.stdout);
    const sourceMiB = fileMiB(path.join(source, 'model.safetensors'));
    rmSync(source, { recursive: true }); // the 1B checkpoint's 2 GB are not needed any more

    const client = new EngineClient(ENGINE_PROCESS);
    try {
      const [, afterImport] = await timed(() => client.load(packageDir, 'cpu'));
      const engineLoadedMiB = memory(client.pid!, 'VmRSS');
      const sample = readFileSync(path.join(REPO, 'test', 'fixtures', 'tokenizer-sample.txt'), 'utf8');
      const longText = sample.repeat(Math.ceil((12 * Math.max(...lengths)) / sample.length));
      const { offsets } = loadTokenizer(readFileSync(path.join(packageDir, 'tokenizer.json'), 'utf8')).encode(longText);
      /** A text of exactly `tokens` tokens with BOS, starting at token `from` of the long text. */
      const textOf = (tokens: number, from: number) => longText.slice(offsets[from][0], offsets[from + tokens - 2][1]);
      const inspections: Inspection[] = [];
      for (const tokens of lengths) {
        const times: number[] = [];
        let mapMs = 0;
        let ran = 0;
        for (let round = 0; round < repeats; round++) {
          const text = textOf(tokens, round * 101); // each round a different text
          const [inspection, ms] = await timed(() => client.request({ op: 'inspect', text }));
          times.push(ms);
          ran = inspection.tokens.length;
          [, mapMs] = await timed(() => client.request({ op: 'map', layer: 0, head: 0, view: 'diff' }));
        }
        inspections.push({ tokens: ran, inspectMs: times, mapMs, peakMiB: memory(client.pid!, 'VmHWM') });
      }
      // The logit lens at the last inspection's last token: its session opens on first use.
      const anonBeforeLens = memory(client.pid!, 'RssAnon');
      const [, lensMs] = await timed(() => client.request({ op: 'lens', token: 1 }));
      const lensAnonMiB = memory(client.pid!, 'RssAnon') - anonBeforeLens;
      const enginePeakMiB = memory(client.pid!, 'VmHWM');
      client.dispose();

      process.env.XDG_CACHE_HOME = path.join(work, `cache-${size}`);
      mkdirSync(process.env.XDG_CACHE_HOME);
      const hashing = await loadTime(packageDir);
      const again = await loadTime(packageDir);
      process.env.XDG_CACHE_HOME = path.join(work, 'cache');
      return {
        model, parameters, sourceMiB, packageWeightsMiB: fileMiB(path.join(packageDir, 'weights.bin')), importMs, importPeakMiB: maxRssBytes / MiB,
        loadMs: { afterImport, hashing, again }, engineLoadedMiB, inspections, lensMs, lensAnonMiB, enginePeakMiB,
      };
    } finally {
      client.dispose();
    }
  } finally {
    rmSync(source, { recursive: true, force: true });
    rmSync(packageDir, { recursive: true, force: true });
  }
}

/** How long a fresh engine process takes to load the package. */
async function loadTime(packageDir: string): Promise<number> {
  const client = new EngineClient(ENGINE_PROCESS);
  try {
    return (await timed(() => client.load(packageDir, 'cpu')))[1];
  } finally {
    client.dispose();
  }
}

function fileMiB(file: string): number {
  return statSync(file).size / MiB;
}

function render(r: { date: string; cpus: number; cpuModel: string; models: ModelResult[] }): string {
  return [
    '# Opening your own model: measured',
    '',
    `\`npm run bench:import\`, ${r.date.slice(0, 10)}, ${r.cpus} × ${r.cpuModel}, ONNX Runtime on the CPU.`,
    ...r.models.flatMap(renderModel),
    ...renderTargets(r.models.flatMap(billionTargets)),
  ].join('\n');
}

/** The issue's targets for the 1B model: a cold load (no remembered hash) within 5 s, and the
 *  engine's peak at 1,024 tokens within 1.5x the checkpoint's own weights. */
function billionTargets(r: ModelResult): Target[] {
  if (r.parameters < 1e9) return [];
  const first = r.inspections[0];
  const limit = 1.5 * r.sourceMiB;
  const model = `${(r.parameters / 1e6).toFixed(0)}M`;
  return [
    checkTarget(model, 'cold load (no remembered hash), s', '<= 5', r.loadMs.hashing / 1000, r.loadMs.hashing <= 5000, overTarget(r.loadMs.hashing / 1000, 5),
      'the load reads and hashes the whole weights file before ONNX Runtime opens the session'),
    checkTarget(model, `engine peak at ${first.tokens} tokens, MiB`, `<= ${Math.round(limit)} (1.5x the checkpoint's ${Math.round(r.sourceMiB)} MiB)`, first.peakMiB, first.peakMiB <= limit, overTarget(first.peakMiB, Math.round(limit)),
      `the weights stay 16-bit in the package (${Math.round(r.packageWeightsMiB)} MiB, mapped); the rest is the run: every layer's q, k and hidden states (the graph's outputs, one per layer, which ONNX Runtime holds to the end of the run and the engine then copies), each layer's weights widened to float32 while it runs (in ONNX Runtime's arena, reused layer after layer), and the blocks of attention scores (on top of ${Math.round(r.engineLoadedMiB)} MiB for a loaded engine)`),
  ];
}

function renderModel(r: ModelResult): string[] {
  const f = (n: number, digits = 0) => n.toFixed(digits);
  const s = (ms: number) => `${f(ms / 1000, 1)} s`;
  const rows = r.inspections.map(
    ({ tokens, inspectMs, mapMs, peakMiB }) => `| ${tokens} | ${f(inspectMs[0])} | ${f(Math.min(...inspectMs.slice(1)))} | ${f(mapMs, 1)} | ${f(peakMiB)} |`,
  );
  return [
    '',
    `## ${(r.parameters / 1e6).toFixed(1)}M parameters`,
    '',
    `Model: ${r.model} (${f(r.sourceMiB)} MiB of safetensors; ${f(r.packageWeightsMiB)} MiB of weights in the package).`,
    '',
    '| step | time | memory |',
    '| --- | --- | --- |',
    `| import (CLI process: read, write the package, hash it) | ${s(r.importMs)} | peak ${f(r.importPeakMiB)} MiB |`,
    `| load in a fresh engine process right after the import (the import remembered the weights' hash; ONNX Runtime session) | ${s(r.loadMs.afterImport)} | ${f(r.engineLoadedMiB)} MiB resident |`,
    `| load with no remembered hash (weights.bin read and hashed) | ${s(r.loadMs.hashing)} | |`,
    `| load again (the hash remembered) | ${s(r.loadMs.again)} | |`,
    `| the logit lens at a token (first use opens its session) | ${f(r.lensMs)} ms | ${Math.round(r.lensAnonMiB) >= 0 ? `${f(Math.max(0, r.lensAnonMiB))} MiB more` : `${f(-r.lensAnonMiB)} MiB less (it fell meanwhile)`} of the engine's own memory |`,
    `| peak of the engine process over all inspections below and the lens (the mapped weights file included) | | ${f(r.enginePeakMiB)} MiB |`,
    '',
    '| tokens | first inspection, ms | later inspections (min), ms | a whole map (layer 0, head 0), ms | engine peak so far, MiB |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ];
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
