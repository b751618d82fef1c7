// Command line: the extension's own engine on a file, without VS Code. `cli.js --help` and
// `cli.js COMMAND --help` describe the commands; HELP below is that text.

import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { NeedleForm } from '../../shared/needleTest';
import { Engine } from './engine';
import { EXPLAIN_HELP, explainCommand } from './explainCommand';
import { importModel } from './import/importModel';
import { codeStyleFor, NEEDLES } from './needleDefinitions';
import { PROVIDER_SETTINGS, type ProviderSetting } from './runtime';

const { needles, queries, trials, seed } = NEEDLES.defaults;
const PROVIDERS = `--provider ${PROVIDER_SETTINGS.join('|')}`;
const HELP: Record<string, string> = {
  inspect: [
    'usage: cli.js inspect FILE [options]',
    'Runs the text in FILE through a model package and prints what its heads attend to and the next tokens.',
    '  --package DIR        the model package (default: models/tiny-diff)',
    `  ${PROVIDERS}   where the model runs (default: cpu)`,
    '  --top N              spans and next tokens listed (default: 5)',
    '  --json               print the whole report as JSON',
    'example: node out/extension/core/cli.js inspect src/app.ts --package models/code-diff --json',
  ].join('\n'),
  'needle-test': [
    'usage: cli.js needle-test FILE [options]',
    'Hides needles in the text of FILE and asks each package for them; prints JSON, one result per package.',
    '  --package DIR        a model package; repeat to compare several on the same needles (default: models/tiny-diff)',
    `  ${PROVIDERS}   where the models run (default: cpu)`,
    '  --form code|prose    the needles\' form (default: code)',
    '  --language LANG      the VS Code language id whose code style the needles take, e.g. python (default: a style at random)',
    `  --needles N          needles in each document (default: ${needles})`,
    `  --queries R          needles asked for (default: ${queries})`,
    `  --trials T           depths at each length (default: ${trials})`,
    '  --lengths L1,L2,...  document lengths in tokens (default: the whole context)',
    `  --seed S             (default: ${seed})`,
    `  the paper's settings (N, R): ${NEEDLES.configs.map((c) => c.name).join(', ')}`,
    'example: node out/extension/core/cli.js needle-test filler.py --language python --trials 3 --package models/code-diff',
  ].join('\n'),
  explain: EXPLAIN_HELP,
  import: [
    'usage: cli.js import FOLDER --out DIR [options]',
    'Turns a Hugging Face-layout model folder into a model package (docs/import.md).',
    '  --out DIR            the package folder to create; it must not exist yet (required)',
    "  --name NAME          the package's name (default: FOLDER's name)",
    '  --allow-non-finite   import weights holding NaN or Inf, listing them in config.json (default: refuse them)',
    'example: node out/extension/core/cli.js import ~/models/DiffLlama-375M --out models/diffllama-375m',
  ].join('\n'),
};
const USAGE = ['usage: cli.js COMMAND ARGS [options]; cli.js COMMAND --help describes one', ...Object.values(HELP).map((help) => help.split('\n')[0].replace('usage: ', '  '))].join('\n');

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
      language: { type: 'string' },
      query: { type: 'string' },
      target: { type: 'string' },
      versus: { type: 'string' },
      'allow-non-finite': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, file] = positionals;
  if (values.help) {
    console.log(command && Object.hasOwn(HELP, command) ? HELP[command] : `${USAGE}\n\n${Object.values(HELP).join('\n\n')}`);
    return 0;
  }
  if (command === 'import' && file && values.out) {
    let reported = -1;
    const result = await importModel({
      source: file,
      destination: values.out,
      name: values.name,
      allowNonFinite: values['allow-non-finite'],
      onProgress: ({ fraction, message }) => {
        const percent = Math.floor(fraction * 100);
        if (percent !== reported) console.error(`${percent}% ${message}`);
        reported = percent;
      },
    });
    console.log(JSON.stringify({ ...result, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
    return 0;
  }
  if (!['inspect', 'explain', 'needle-test'].includes(command) || !file) {
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
    if (values.language !== undefined && !codeStyleFor(values.language)) {
      console.error(`--language takes a VS Code language id that a code needle style is written in, such as python, typescript or c; got ${values.language} (leave it out for a style at random)`);
      return 2;
    }
    const options = {
      form: values.form as NeedleForm | undefined, language: values.language, needles: number(values.needles), queries: number(values.queries), trials: number(values.trials), lengths, seed: number(values.seed),
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
    console.error(`${command} runs one package; give --package once`);
    return 2;
  }
  const top = Number(values.top);
  const engine = await Engine.load(values.package[0], values.provider as ProviderSetting, (m) => console.error(m));
  if (command === 'explain') {
    console.log(await explainCommand(engine, await readFile(file, 'utf8'), { ...values, top }));
    return 0;
  }
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
