// Continue Text's generation (extension/core/generate.ts) through ONNX Runtime: greedy decoding
// equals PyTorch's (model/generate.py, `python -m model generate`) token for token on the bundled
// packages and on imported Hugging Face checkpoints of every format; a seed reproduces a sample; a
// cancel stops within a token, in process and through the engine process; the context stops it; a
// character whose bytes the tokens split comes out whole.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { Engine } from '../../extension/core/engine';
import { EngineClient } from '../../extension/core/engineClient';
import { generate, type Generation } from '../../extension/core/generate';
import { importModel } from '../../extension/core/import/importModel';
import { loadModelPackage } from '../../extension/core/modelPackage';
import { loadTokenizer } from '../../extension/core/tokenizer';

const REPO = path.resolve(__dirname, '..', '..', '..');
const PYTHON = path.join(REPO, 'scripts', 'python.sh');
const run = promisify(execFile);
const PROMPT = 'def area(r):\n    return 3.14159 * r * r\n\nprint(area(';
const TOKENS = 12;

let work: string | undefined;
after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** PyTorch's greedy continuation of the ids the engine ran before its first generated token. */
async function pytorchGreedy(source: string[], generation: Generation, vocab: number): Promise<{ ids: number[]; margins: number[] }> {
  const args = ['-m', 'model', 'generate', ...source, '--ids', JSON.stringify(generation.promptIds), '--tokens', String(TOKENS), '--vocab', String(vocab)];
  const { stdout } = await run(PYTHON, args, { cwd: REPO });
  return JSON.parse(stdout);
}

/** The tokenizer of a package folder. */
async function packageTokenizer(dir: string) {
  return loadTokenizer((await loadModelPackage(dir)).tokenizerJson);
}

async function assertGreedyMatches(dir: string, source: string[], about: string): Promise<void> {
  const engine = await Engine.load(dir, 'cpu');
  const generation = await engine.generate(PROMPT, { tokens: TOKENS, mode: 'greedy' });
  assert.equal(generation.stop, 'tokens');
  const tokenizer = await packageTokenizer(dir);
  const expected = await pytorchGreedy(source, generation, tokenizer.vocabSize);
  assert.deepEqual(generation.tokens.map((t) => t.id), expected.ids, `${about}: greedy ids (smallest gap between the top two logits ${Math.min(...expected.margins)})`);
  // The text is the prompt and the generated ids decoded as one sequence; the tokens' ranges tile it.
  const generatedText = generation.text.slice(PROMPT.length);
  assert.ok(generation.text.startsWith(PROMPT));
  assert.equal(generatedText, tokenizer.decode([...generation.promptIds.slice(1), ...expected.ids]).slice(tokenizer.decode(generation.promptIds.slice(1)).length));
  assert.equal(generation.tokens[0].start, PROMPT.length);
  generation.tokens.forEach((token, k) => {
    if (k > 0) assert.equal(token.start, generation.tokens[k - 1].end, `${about}: token ${k} starts where ${k - 1} ends`);
    assert.ok(token.prob > 0 && token.prob <= 1 && token.runnerUp !== null && token.runnerUp.prob <= token.prob, `${about}: the greedy choice is at least as likely as the runner-up`);
  });
  assert.equal(generation.tokens.at(-1)!.end, generation.text.length);
}

for (const name of ['tiny-diff', 'code-diff', 'tiny-baseline']) {
  test(`greedy generation on ${name} equals PyTorch's greedy decoding token for token`, async () => {
    const dir = path.join(REPO, 'models', name);
    await assertGreedyMatches(dir, ['--package', dir], name);
  });
}

for (const format of ['diffllama', 'llama', 'mistral', 'diff-v1', 'diff-v2']) {
  test(`greedy generation on an imported random ${format} checkpoint equals its PyTorch reference's`, async () => {
    work ??= await mkdtemp(path.join(os.tmpdir(), 'generate-'));
    const source = path.join(work, `${format}-src`);
    await run(PYTHON, ['-m', 'model', 'hf-checkpoint', '--format', format, '--out', source], { cwd: REPO });
    const destination = path.join(work, `${format}-pkg`);
    await importModel({ source, destination });
    await assertGreedyMatches(destination, ['--checkpoint', source, '--format', format], format);
  });
}

test('sampling with a seed is reproducible and another seed gives another text', async () => {
  const engine = await Engine.load(path.join(REPO, 'models', 'tiny-diff'), 'cpu');
  const ids = async (seed: number, topK?: number) => (await engine.generate(PROMPT, { tokens: 16, mode: 'sample', seed, topK })).tokens.map((t) => t.id);
  const first = await ids(7);
  assert.deepEqual(await ids(7), first, 'the same seed, the same tokens');
  assert.notDeepEqual(await ids(8), first, 'another seed, other tokens');
  // With top-k 1 a sample is the greedy choice, whatever the seed.
  const greedy = (await engine.generate(PROMPT, { tokens: 16, mode: 'greedy' })).tokens.map((t) => t.id);
  assert.deepEqual(await ids(7, 1), greedy);
  assert.deepEqual(await ids(8, 1), greedy);
});

test('a cancel stops generation within a token, in process and through the engine process', async () => {
  const dir = path.join(REPO, 'models', 'tiny-diff');
  const engine = await Engine.load(dir, 'cpu');
  let done = 0;
  const stopped = await engine.generate(PROMPT, { tokens: 20, mode: 'greedy' }, (n) => (done = n), () => done >= 3);
  assert.equal(stopped.stop, 'cancelled');
  assert.equal(stopped.tokens.length, 3);

  // code-diff's longer steps leave the stop time to cross to the engine process before the tokens run out.
  const client = new EngineClient(path.join(REPO, 'out', 'extension', 'core', 'engineWorker.js'));
  try {
    await client.load(path.join(REPO, 'models', 'code-diff'), 'cpu');
    const controller = new AbortController();
    const reported: number[] = [];
    const generation = await client.generate(PROMPT, { tokens: 200, mode: 'greedy' }, (n) => {
      reported.push(n);
      if (n === 2) controller.abort();
    }, controller.signal);
    assert.equal(generation.stop, 'cancelled');
    assert.ok(generation.tokens.length >= 2 && generation.tokens.length < 200, `stopped after ${generation.tokens.length} tokens`);
    assert.deepEqual(reported, Array.from({ length: generation.tokens.length }, (_, k) => k + 1), 'one progress message per token');
    // The process lives on: the next request is answered by it.
    assert.equal((await client.generate(PROMPT, { tokens: 2, mode: 'greedy' }, () => {})).tokens.length, 2);
  } finally {
    client.dispose();
  }
});

test("generation stops at the model's context and says so", async () => {
  const dir = path.join(REPO, 'models', 'tiny-diff');
  const engine = await Engine.load(dir, 'cpu');
  const context = engine.info.maxSeqLen;
  const tokenizer = await packageTokenizer(dir);
  let prompt = PROMPT;
  while (tokenizer.encode(prompt).ids.length + 1 < context - 5) prompt += ' r';
  const generation = await engine.generate(prompt, { tokens: 20, mode: 'greedy' });
  assert.equal(generation.stop, 'context');
  assert.equal(generation.promptIds.length + generation.tokens.length, context);
});

test('a character whose UTF-8 bytes span several generated tokens is decoded whole and belongs to its first token', async () => {
  // Which ids the model picks cannot be steered, so this one's logits pick a fixed sequence: a
  // space, the four byte tokens of 𝔘 (U+1D518) and "x", ids taken from the tokenizer itself.
  const tokenizer = await packageTokenizer(path.join(REPO, 'models', 'code-diff'));
  const forced = tokenizer.encode(' 𝔘x').ids;
  assert.equal(forced.length, 6, 'the tokenizer splits 𝔘 into its four bytes');
  const prompt = 'label =';
  const model = {
    bosId: 0,
    context: 64,
    nextTokenLogits: async (ids: readonly number[]) => {
      const logits = new Float32Array(tokenizer.vocabSize);
      logits[forced[ids.length - 1 - tokenizer.encode(prompt).ids.length]] = 10;
      return logits;
    },
  };
  const generation = await generate(model, tokenizer, prompt, { tokens: forced.length, mode: 'greedy' });
  assert.deepEqual(generation.tokens.map((t) => t.id), forced);
  assert.equal(generation.text, 'label = 𝔘x');
  const at = prompt.length;
  assert.deepEqual(generation.tokens.map((t) => [t.start, t.end]), [[at, at + 1], [at + 1, at + 3], [at + 3, at + 3], [at + 3, at + 3], [at + 3, at + 3], [at + 3, at + 4]]);
  assert.deepEqual(generation.tokens.map((t) => generation.text.slice(t.start, t.end)).join(''), ' 𝔘x');
});
