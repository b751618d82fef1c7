// npm run bench:import (also the last part of npm run bench): what opening a user's model costs.
// A DiffLlama of about 120M parameters with random bfloat16 weights is written by
// `python -m model hf-checkpoint --size 100m`, imported by the CLI (its own process, so its peak
// memory is its own), loaded by the engine process the extension uses, and inspected at several
// lengths. Writes docs/import-performance.md and .json. Asserts nothing: the tests hold the behaviour.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { EngineClient } from '../../extension/core/engineClient';
import { loadTokenizer } from '../../extension/core/tokenizer';
import { machine, memory, timed } from './measure';

const REPO = path.resolve(__dirname, '..', '..', '..');
const ENGINE_PROCESS = path.join(REPO, 'out', 'extension', 'core', 'engineProcess.js');
const LENGTHS = [128, 512, 1024];
const REPEATS = 3;
const run = promisify(execFile);
const MiB = 1024 * 1024;

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'difft-import-bench-'));
  try {
    const source = path.join(work, 'diffllama-100m');
    const python = path.join(REPO, 'scripts', 'python.sh');
    await run(python, ['-m', 'model', 'hf-checkpoint', '--format', 'diffllama', '--size', '100m', '--dtype', 'bfloat16', '--out', source], { cwd: REPO });
    const packageDir = path.join(work, 'package');
    const [imported, importMs] = await timed(() => run('node', [path.join(REPO, 'out', 'extension', 'core', 'cli.js'), 'import', source, '--out', packageDir]));
    const { parameters, maxRssBytes } = JSON.parse(imported.stdout);

    const client = new EngineClient(ENGINE_PROCESS);
    try {
      const [, loadMs] = await timed(() => client.load(packageDir, 'cpu'));
      const loadedMiB = memory(client.pid!, 'VmRSS');
      const sample = readFileSync(path.join(REPO, 'test', 'fixtures', 'tokenizer-sample.txt'), 'utf8');
      const longText = sample.repeat(Math.ceil(40_000 / sample.length));
      const { offsets } = loadTokenizer(readFileSync(path.join(packageDir, 'tokenizer.json'), 'utf8')).encode(longText);
      /** A text of exactly `tokens` tokens with BOS, starting at token `from` of the long text. */
      const textOf = (tokens: number, from: number) => longText.slice(offsets[from][0], offsets[from + tokens - 2][1]);
      const inspections = [];
      for (const tokens of LENGTHS) {
        const times: number[] = [];
        let mapMs = 0;
        let ran = 0;
        for (let round = 0; round < REPEATS; round++) {
          const text = textOf(tokens, round * 101); // each round a different text
          const [inspection, ms] = await timed(() => client.request({ op: 'inspect', text }));
          times.push(ms);
          ran = inspection.tokens.length;
          [, mapMs] = await timed(() => client.request({ op: 'map', layer: 0, head: 0, view: 'diff' }));
        }
        inspections.push({ tokens: ran, inspectMs: times, mapMs });
      }
      // The logit lens at the last inspection's last token: its session opens on first use.
      const anonBeforeLens = memory(client.pid!, 'RssAnon');
      const [, lensMs] = await timed(() => client.request({ op: 'lens', token: 1 }));
      const lensAnonMiB = memory(client.pid!, 'RssAnon') - anonBeforeLens;
      const result = {
        ...machine(),
        model: 'diffllama, 8 layers, hidden 1024, 16 softmax heads, random bfloat16 weights',
        parameters,
        sourceMiB: fileMiB(path.join(source, 'model.safetensors')),
        packageWeightsMiB: fileMiB(path.join(packageDir, 'weights.bin')),
        importMs,
        importPeakMiB: maxRssBytes / MiB,
        engineLoadMs: loadMs,
        engineLoadedMiB: loadedMiB,
        inspections,
        lensMs,
        lensAnonMiB,
        enginePeakMiB: memory(client.pid!, 'VmHWM'),
      };
      writeFileSync(path.join(REPO, 'docs', 'import-performance.json'), `${JSON.stringify(result, null, 2)}\n`);
      writeFileSync(path.join(REPO, 'docs', 'import-performance.md'), render(result));
      console.log(render(result));
    } finally {
      client.dispose();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function fileMiB(file: string): number {
  return statSync(file).size / MiB;
}

function render(r: {
  date: string; cpus: number; cpuModel: string; model: string; parameters: number; sourceMiB: number; packageWeightsMiB: number;
  importMs: number; importPeakMiB: number; engineLoadMs: number; engineLoadedMiB: number; enginePeakMiB: number;
  lensMs: number; lensAnonMiB: number;
  inspections: Array<{ tokens: number; inspectMs: number[]; mapMs: number }>;
}): string {
  const f = (n: number, digits = 0) => n.toFixed(digits);
  const rows = r.inspections.map(({ tokens, inspectMs, mapMs }) => `| ${tokens} | ${f(inspectMs[0])} | ${f(Math.min(...inspectMs.slice(1)))} | ${f(mapMs, 1)} |`);
  return [
    '# Opening your own model: measured',
    '',
    `\`npm run bench:import\`, ${r.date.slice(0, 10)}, ${r.cpus} × ${r.cpuModel}, ONNX Runtime on the CPU.`,
    `Model: ${r.model}, ${(r.parameters / 1e6).toFixed(1)}M parameters (${f(r.sourceMiB)} MiB of safetensors; ${f(r.packageWeightsMiB)} MiB as float32 in the package).`,
    '',
    '| step | time | memory |',
    '| --- | --- | --- |',
    `| import (CLI process: read, convert to float32, write the package) | ${f(r.importMs / 1000, 1)} s | peak ${f(r.importPeakMiB)} MiB |`,
    `| load in the engine process (hash check, ONNX Runtime session) | ${f(r.engineLoadMs / 1000, 1)} s | ${f(r.engineLoadedMiB)} MiB resident |`,
    `| the logit lens at a token (first use opens its session) | ${f(r.lensMs)} ms | ${f(r.lensAnonMiB)} MiB more of the engine's own memory |`,
    `| peak of the engine process over all inspections below and the lens | | ${f(r.enginePeakMiB)} MiB |`,
    '',
    '| tokens | first inspection, ms | later inspections (min), ms | a whole map (layer 0, head 0), ms |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
