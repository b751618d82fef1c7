// Import Model against folders that lie: a config.json whose sizes the weights cannot hold (a billion
// layers must be refused at once, not after the importer runs out of memory), weights too big for this
// machine, NaN and Inf weights, and optional fields left out as transformers allows. And the CLI's
// --help and needle-test --language.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir, totalmem } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Engine } from '../../extension/core/engine';
import { ImportError } from '../../extension/core/errors';
import { importModel } from '../../extension/core/import/importModel';
import { CheckpointWeights } from '../../extension/core/import/safetensors';
import { plantNonFinite, writeRawSafetensors } from '../support/safetensors';

const REPO = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(REPO, 'out', 'extension', 'core', 'cli.js');
const run = promisify(execFile);

let work: string;
before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'hostile-import-test-'));
  for (const [format, dtype] of [['diffllama', 'float32'], ['llama', 'bfloat16']]) {
    await run(path.join(REPO, 'scripts', 'python.sh'), ['-m', 'model', 'hf-checkpoint', '--format', format, '--dtype', dtype, '--out', path.join(work, format)], { cwd: REPO });
  }
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

interface Hostility {
  /** Changes config.json. */
  config?: (config: Record<string, unknown>) => void;
  /** Changes the folder's files (after config.json). */
  files?: (folder: string) => Promise<void>;
}

/** A copy of a good tiny checkpoint (diffllama float32, or llama bfloat16), made hostile. */
async function hostileCopy(name: string, format: 'diffllama' | 'llama', { config, files }: Hostility): Promise<string> {
  const folder = path.join(work, name);
  await cp(path.join(work, format), folder, { recursive: true });
  if (config) {
    const configFile = path.join(folder, 'config.json');
    const edited = JSON.parse(await readFile(configFile, 'utf8'));
    config(edited);
    await writeFile(configFile, JSON.stringify(edited));
  }
  await files?.(folder);
  return folder;
}

/** Imports `source`, expecting an ImportError whose message matches every pattern, and nothing left behind. */
async function assertRefused(source: string, mentions: RegExp[]): Promise<void> {
  const destination = path.join(work, `out-${path.basename(source)}`);
  await assert.rejects(importModel({ source, destination }), (err: Error) => {
    assert.ok(err instanceof ImportError, `${err.name}: ${err.message}`);
    for (const mention of mentions) assert.match(err.message, mention);
    return true;
  });
  assert.deepEqual((await readdir(work)).filter((f) => f.startsWith(path.basename(destination))), [], 'nothing written');
}

test('a config.json that claims a billion layers is refused within a second, naming the field and the layers the weights hold', async () => {
  const source = await hostileCopy('billion-layers', 'diffllama', { config: (c) => (c.num_hidden_layers = 1_000_000_000) });
  const started = performance.now();
  await assertRefused(source, [/config\.json/, /'num_hidden_layers' is 1000000000/, /hold 2 layers/]);
  assert.ok(performance.now() - started < 1000, `refused after ${performance.now() - started} ms`);
});

const DISAGREEING: Array<[string, (config: Record<string, unknown>) => void, RegExp[]]> = [
  ['more heads than q_proj holds', (c) => (c.num_attention_heads = 16), [/'num_attention_heads' \(16\) and 'head_dim' \(8\) give 128/, /hold 64/, /q_proj\.weight/]],
  ['a head_dim wider than q_proj holds', (c) => (c.head_dim = 16), [/'head_dim' \(16\)/, /q_proj\.weight/]],
  ['fewer key-value heads than k_proj holds', (c) => (c.num_key_value_heads = 2), [/'num_key_value_heads' \(2\)/, /k_proj\.weight/, /hold 32/]],
  ['a hidden_size wider than the embedding', (c) => (c.hidden_size = 128), [/'hidden_size' is 128/, /hold 64/, /embed_tokens/]],
  ['a vocabulary larger than the embedding', (c) => (c.vocab_size = 1000), [/'vocab_size' is 1000/, /hold 416/, /embed_tokens/]],
];

for (const [what, edit, mentions] of DISAGREEING) {
  test(`a config.json with ${what} is refused, naming config.json, the field and what the weights hold`, async () => {
    const source = await hostileCopy(what.replace(/\W+/g, '-'), 'diffllama', { config: edit });
    await assertRefused(source, [/config\.json/, ...mentions]);
  });
}

test('weights bigger than this machine\'s memory are refused before anything is converted', async () => {
  const rows = Math.ceil(totalmem() / (64 * 4)) + 1;
  const source = await hostileCopy('too-big', 'diffllama', {
    config: (c) => Object.assign(c, { vocab_size: rows, tie_word_embeddings: true }),
    files: async (folder) => {
      // The embedding claims more rows than memory can hold; the file is extended sparsely, so the disk holds none of them.
      const file = path.join(folder, 'model.safetensors');
      const weights = await CheckpointWeights.open(folder);
      const header: Record<string, unknown> = {};
      const data: Uint8Array[] = [];
      let offset = 0;
      for (const name of weights.names().filter((n) => n !== 'model.embed_tokens.weight' && n !== 'lm_head.weight')) {
        const bytes = await weights.readStored(name);
        header[name] = { dtype: weights.entry(name).dtype, shape: weights.entry(name).shape, data_offsets: [offset, offset + bytes.length] };
        data.push(bytes);
        offset += bytes.length;
      }
      header['model.embed_tokens.weight'] = { dtype: 'F32', shape: [rows, 64], data_offsets: [offset, offset + rows * 64 * 4] };
      writeRawSafetensors(file, header, data);
      const headerBytes = (await readFile(file)).readBigUInt64LE(0);
      await truncate(file, 8 + Number(headerBytes) + offset + rows * 64 * 4);
    },
  });
  const started = performance.now();
  await assertRefused(source, [/config\.json/, /GiB/, /memory/]);
  assert.ok(performance.now() - started < 1000, `refused after ${performance.now() - started} ms`);
});

const NON_FINITE: Array<['diffllama' | 'llama', string, string]> = [
  ['diffllama', 'model.layers.1.mlp.up_proj.weight', 'float32'],
  ['llama', 'model.layers.0.self_attn.k_proj.weight', 'bfloat16 (kept 16-bit)'],
];

for (const [format, tensor, about] of NON_FINITE) {
  test(`NaN and Inf in ${about} weights are refused naming the tensor and the counts, and imported with allowNonFinite`, async () => {
    const source = await hostileCopy(`non-finite-${format}`, format, { files: (f) => plantNonFinite(f, tensor, [0, 5, 17], [3, 40]) });
    await assertRefused(source, [/model\.safetensors/, new RegExp(`'${tensor.replace(/\./g, '\\.')}'`), /3 NaN and 2 infinite/, /allowNonFinite/]);

    const destination = path.join(work, `allowed-${format}`);
    await importModel({ source, destination, allowNonFinite: true });
    const config = JSON.parse(await readFile(path.join(destination, 'config.json'), 'utf8'));
    assert.deepEqual(config.non_finite_weights, [{ tensor, nan: 3, inf: 2 }]);
    // Every run of it says so: the model's info carries the warning the panel and the status bar show.
    const { weightWarning } = (await Engine.load(destination, 'cpu')).info;
    assert.ok(weightWarning?.includes(`${tensor}: 3 NaN, 2 Inf`), `the warning names the tensor and its counts: ${weightWarning}`);
  });
}

test('a clean import records no non_finite_weights', async () => {
  const destination = path.join(work, 'clean');
  await importModel({ source: path.join(work, 'diffllama'), destination });
  assert.equal(JSON.parse(await readFile(path.join(destination, 'config.json'), 'utf8')).non_finite_weights, undefined);
  assert.equal((await Engine.load(destination, 'cpu')).info.weightWarning, undefined, 'no warning on its runs');
});

test("a config.json without bos_token_id or eos_token_id imports with the tokenizer's BOS token", async () => {
  const source = await hostileCopy('no-bos', 'diffllama', {
    config: (c) => {
      delete c.bos_token_id;
      delete c.eos_token_id;
    },
  });
  const destination = path.join(work, 'no-bos-pkg');
  await importModel({ source, destination });
  // The test tokenizer's only special token, <|endoftext|>, is its BOS (as GPT-2's is).
  assert.equal(JSON.parse(await readFile(path.join(destination, 'config.json'), 'utf8')).bos_token_id, 0);
});

for (const command of ['', 'inspect', 'needle-test', 'import']) {
  test(`cli.js ${command || '(no command)'} --help describes the options with an example and exits 0`, async () => {
    const { stdout } = await run(process.execPath, [CLI, ...(command ? [command] : []), '--help']);
    assert.match(stdout, /usage: /);
    assert.match(stdout, /--\w+/);
    assert.match(stdout, /example: /);
    if (command) assert.match(stdout, new RegExp(`cli\\.js ${command} `));
  });
}

test('cli.js needle-test --language takes the needle style of a language, and refuses one without a style', async () => {
  const filler = path.join(REPO, 'test', 'fixtures', 'tokenizer-sample.txt');
  const tiny = path.join(REPO, 'models', 'tiny-diff');
  const { stdout } = await run(process.execPath, [CLI, 'needle-test', filler, '--package', tiny, '--language', 'c', '--trials', '1']);
  const [result] = JSON.parse(stdout);
  assert.match(result.trials[0].text, /^#define \w+ \d+$/m, 'the needles are C definitions');
  await assert.rejects(run(process.execPath, [CLI, 'needle-test', filler, '--package', tiny, '--language', 'klingon']), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 2);
    assert.match(err.stderr, /--language/);
    assert.match(err.stderr, /klingon/);
    return true;
  });
});
