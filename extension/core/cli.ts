// Command line: the extension's own engine on a file, without VS Code.
//   node dist/cli.js inspect FILE [--json] [--package DIR] [--provider auto|cpu|...] [--top N]
//   node dist/cli.js needle-test FILE [--package DIR]... [--form code|prose] [--needles N] [--queries R]
//                                [--trials T] [--lengths 1024,2048,...] [--seed S]   (prints JSON, one
//                                result per package; defaults from shared/needles.json, lengths the
//                                whole context)
//   node dist/cli.js import FOLDER --out DIR [--name NAME]   (a Hugging Face-layout folder -> a model
//                                package; docs/import.md)

import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { NeedleForm } from '../../shared/needleTest';
import { Engine } from './engine';
import { importModel } from './import/importModel';
import { NEEDLES } from './needleDefinitions';
import { PROVIDER_SETTINGS, type ProviderSetting } from './runtime';

const { needles, queries, trials, seed } = NEEDLES.defaults;
const USAGE = [
  'usage: inspect FILE [--json] [--package DIR] [--provider auto|cpu|cuda|dml|coreml|webgpu] [--top N]',
  '       needle-test FILE [--package DIR]... [--provider ...] [--form code|prose] [--needles N] [--queries R] [--trials T] [--lengths L1,L2,...] [--seed S]',
  '       import FOLDER --out DIR [--name NAME]',
  `       (needle-test defaults: code form, N = ${needles}, R = ${queries}, ${trials} trials at each length, lengths the whole context, seed ${seed}; the paper's settings: ${NEEDLES.configs.map((c) => c.name).join(', ')})`,
].join('\n');

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      package: { type: 'string', multiple: true, default: [path.join(__dirname, '..', 'models', 'tiny-diff')] },
      provider: { type: 'string', default: 'cpu' },
      top: { type: 'string', default: '5' },
      form: { type: 'string' },
      needles: { type: 'string' },
      queries: { type: 'string' },
      trials: { type: 'string' },
      lengths: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      name: { type: 'string' },
    },
  });
  const [command, file] = positionals;
  if (command === 'import' && file && values.out) {
    let reported = -1;
    const result = await importModel({
      source: file,
      destination: values.out,
      name: values.name,
      onProgress: ({ fraction, message }) => {
        const percent = Math.floor(fraction * 100);
        if (percent !== reported) console.error(`${percent}% ${message}`);
        reported = percent;
      },
    });
    console.log(JSON.stringify({ ...result, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
    return 0;
  }
  if ((command !== 'inspect' && command !== 'needle-test') || !file) {
    console.error(USAGE);
    return 2;
  }
  if (!PROVIDER_SETTINGS.includes(values.provider as ProviderSetting)) {
    console.error(`--provider must be one of ${PROVIDER_SETTINGS.join(', ')}; got ${values.provider}`);
    return 2;
  }
  if (command === 'needle-test') {
    // Each package in turn, the same seeds: both models get the same needles and depths.
    const number = (value: string | undefined) => (value === undefined ? undefined : Number(value));
    const lengths = values.lengths?.split(',').map(Number);
    if (lengths?.some((length) => !Number.isInteger(length))) {
      console.error(`--lengths takes document lengths in tokens separated by commas, e.g. 1024,2048; got ${values.lengths}`);
      return 2;
    }
    const options = {
      form: values.form as NeedleForm | undefined, needles: number(values.needles), queries: number(values.queries), trials: number(values.trials), lengths, seed: number(values.seed),
    };
    const filler = await readFile(file, 'utf8');
    const results = [];
    for (const packageDir of values.package) {
      const engine = await Engine.load(packageDir, values.provider as ProviderSetting, (m) => console.error(m));
      results.push(await engine.needleTest(filler, options));
    }
    console.log(JSON.stringify(results, null, 2));
    return 0;
  }
  if (values.package.length > 1) {
    console.error('inspect runs one package; give --package once');
    return 2;
  }
  const top = Number(values.top);
  const engine = await Engine.load(values.package[0], values.provider as ProviderSetting, (m) => console.error(m));
  const result = await engine.inspect(await readFile(file, 'utf8'));
  const { nLayer, nHead } = engine.info;
  const quantisation = await engine.quantisation();
  const report = {
    model: engine.info,
    tokens: result.tokens.length,
    window: result.window,
    query: { index: result.query, text: result.tokens[result.query].text },
    lambda: result.lambda,
    nextTokens: engine.predictions(result.tokens.length - 1, top),
    // What the query retrieves: per layer, the mean over heads, and per head.
    spans: Array.from({ length: nLayer }, (_, layer) => ({
      layer,
      meanOverHeads: engine.spans(layer, undefined, result.query, top),
      heads: Array.from({ length: nHead }, (_, head) => engine.spans(layer, head, result.query, top)),
    })),
    outliers: (await engine.outliers()).map(({ layer, hidden, logits }, n) => ({
      layer,
      hidden: { top1: hidden.top1, top10: hidden.top10, median: hidden.median },
      attentionLogits: { top1: logits.top1, top10: logits.top10, median: logits.median },
      quantisation: quantisation[n].errors,
    })),
    latencyMs: result.latencyMs,
  };
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    console.log(`${report.model.name} (${report.model.kind}) on ${report.model.provider}: ${report.tokens} tokens, ${report.latencyMs.toFixed(1)} ms`);
    if (result.window) console.log(result.window.note);
    if (report.lambda.length) console.log(`lambda per layer: ${report.lambda.map((v) => v.toFixed(4)).join(' ')}`);
    console.log(`query token ${report.query.index}: ${JSON.stringify(report.query.text)}`);
    for (const { layer, meanOverHeads } of report.spans) {
      console.log(`  L${layer}: ${meanOverHeads.map((s) => `${JSON.stringify(s.text)} ${s.score.toFixed(3)}`).join(', ')}`);
    }
    console.log(`next token: ${report.nextTokens.map((p) => `${JSON.stringify(p.text)} ${p.prob.toFixed(3)}`).join(', ')}`);
  }
  return 0;
}

if (require.main === module) {
  // exitCode, not process.exit(): exiting at once would cut off output still queued for a pipe.
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: Error) => {
      console.error(`error: ${err.message}`);
      process.exitCode = 1;
    },
  );
}
