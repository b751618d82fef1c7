// npm run bench: how long each step of an inspection takes with every bundled model package, on
// this machine's CPU (or the provider named by BENCH_PROVIDER). Prints a table; asserts nothing.

import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Engine } from '../../extension/core/engine';
import { loadTokenizer } from '../../extension/core/tokenizer';
import type { ProviderSetting } from '../../extension/core/runtime';

const REPO = path.resolve(__dirname, '..', '..', '..');
const REPEATS = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

async function time(run: () => unknown): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  return median(times);
}

async function main(): Promise<void> {
  const provider = (process.env.BENCH_PROVIDER ?? 'cpu') as ProviderSetting;
  const sample = readFileSync(path.join(REPO, 'test', 'fixtures', 'tokenizer-sample.txt'), 'utf8');
  const text = sample.repeat(Math.ceil(200_000 / sample.length));
  console.log(`provider ${provider}, median of ${REPEATS} runs, ms`);
  console.log('package | tokens | load | inspect (model + thumbnails) | one map | spans | outliers (+ quantisation) | needle test (5 documents, N1R1) | tokenise MB/s');
  for (const name of readdirSync(path.join(REPO, 'models'))) {
    const dir = path.join(REPO, 'models', name);
    const loadStart = performance.now();
    const engine = await Engine.load(dir, provider);
    const load = performance.now() - loadStart;
    const result = await engine.inspect(text);
    const inspect = await time(() => engine.inspect(text));
    const view = engine.info.kind === 'diff' ? 'diff' : 'a1';
    const map = await time(() => engine.map(engine.info.nLayer - 1, 0, view));
    const spans = await time(() => engine.spans(0, undefined, result.query, 5));
    const outliers = await time(() => engine.outliers());
    const needles = await time(() => engine.needleTest(sample, { needles: 1, queries: 1, trials: 5 }));
    const tokenizer = loadTokenizer(readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
    const tokenise = await time(() => tokenizer.encode(text));
    const mbPerSecond = text.length / 1e6 / (tokenise / 1000);
    const row = [name, result.tokens.length, load, inspect, map, spans, outliers, needles, mbPerSecond];
    console.log(row.map((v) => (typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(1) : v)).join(' | '));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
