// Continue Text's generation: tokens after a prompt, one at a time, each chosen from the logits
// after the sequence so far. The packages' graphs keep no key/value cache, so every step is a
// forward over the whole sequence (only the graph's last_logits is fetched; runtime.ts
// runNextTokenLogits). Greedy picks the most likely token; sampling draws from the softmax of the
// logits over a temperature, optionally among the top k, with a seeded generator of our own
// (seededRandom) so that a seed gives the same text on every machine.

import type { TextTokenizer } from './tokenizer';

export const GENERATION_MODES = ['greedy', 'sample'] as const;
export type GenerationMode = (typeof GENERATION_MODES)[number];

export interface GenerateOptions {
  /** How many tokens to generate (fewer if the context fills up or the run is cancelled). */
  tokens: number;
  mode: GenerationMode;
  /** Sampling only: the generator's seed (an unsigned 32-bit integer; default 0). */
  seed?: number;
  /** Sampling only: logits are divided by it before the softmax (default 1). */
  temperature?: number;
  /** Sampling only: draw among the k most likely tokens (default: all). */
  topK?: number;
}

/** One generated token and why it was chosen. */
export interface GeneratedToken {
  id: number;
  /** The token's own text (bytes that are no whole character shown as \xHH). */
  piece: string;
  /** Its UTF-16 range in Generation.text; a character split over several tokens belongs to the
   *  first, the others get an empty range at its end (as the tokenizer's offsets do). */
  start: number;
  end: number;
  /** The model's probability of it (softmax of the logits, temperature 1). */
  prob: number;
  /** The most likely other token, with the model's probability of it. */
  runnerUp: { piece: string; prob: number } | null;
}

export type GenerationStop = 'tokens' | 'context' | 'cancelled';

export interface Generation {
  /** The prompt followed by the generated ids decoded as one sequence. */
  text: string;
  /** The ids the model ran before the first generated token: BOS, then the prompt's. */
  promptIds: number[];
  tokens: GeneratedToken[];
  mode: GenerationMode;
  seed: number;
  /** Why generation stopped: all tokens asked for, the model's context full, or cancelled. */
  stop: GenerationStop;
  /** Mean time of one step (a forward over the sequence so far and the choice). */
  msPerToken: number;
}

/** What generation runs: the logits after the last of a sequence's ids, and the most ids one run takes. */
export interface NextTokenModel {
  bosId: number;
  context: number;
  nextTokenLogits(ids: readonly number[]): Promise<Float32Array>;
}

/** Generates up to options.tokens tokens after `prompt`. `onToken(done)` after each; `isCancelled`
 *  is asked before each step, so a cancel stops within one token. Ids past the tokenizer's
 *  vocabulary (rows imported models pad their embedding with) have no text and are never chosen. */
export async function generate(
  model: NextTokenModel,
  tokenizer: TextTokenizer,
  prompt: string,
  options: GenerateOptions,
  onToken: (done: number) => void = () => {},
  isCancelled: () => boolean = () => false,
): Promise<Generation> {
  const { tokens: wanted, mode, seed = 0 } = checkOptions(options);
  const promptIds = [model.bosId, ...tokenizer.encode(prompt).ids];
  const random = seededRandom(seed);
  const ids = [...promptIds];
  const steps: Array<Omit<GeneratedToken, 'start' | 'end'>> = [];
  let stop: GenerationStop = 'tokens';
  const started = performance.now();
  while (steps.length < wanted) {
    if (isCancelled()) {
      stop = 'cancelled';
      break;
    }
    if (ids.length >= model.context) {
      stop = 'context';
      break;
    }
    const logits = (await model.nextTokenLogits(ids)).subarray(0, tokenizer.vocabSize);
    const id = mode === 'greedy' ? argmax(logits) : sample(logits, options.temperature ?? 1, options.topK, random);
    const { prob, runnerUp } = choiceOdds(logits, id);
    ids.push(id);
    steps.push({ id, piece: tokenizer.tokenText(id), prob, runnerUp: runnerUp === null ? null : { piece: tokenizer.tokenText(runnerUp.id), prob: runnerUp.prob } });
    onToken(steps.length);
  }
  const msPerToken = steps.length ? (performance.now() - started) / steps.length : 0;
  const { text, ranges } = decodeContinuation(tokenizer, prompt, promptIds.slice(1), steps.map((s) => s.id));
  const generated = steps.map((step, k) => ({ ...step, start: ranges[k][0], end: ranges[k][1] }));
  return { text, promptIds, tokens: generated, mode, seed, stop, msPerToken };
}

function checkOptions(options: GenerateOptions): GenerateOptions {
  const { tokens, seed = 0, temperature = 1, topK } = options;
  if (!Number.isInteger(tokens) || tokens < 1) throw new RangeError(`tokens must be a whole number of at least 1; got ${tokens}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`seed must be a whole number from 0 to 4294967295; got ${seed}`);
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new RangeError(`temperature must be a number above 0; got ${temperature}`);
  if (topK !== undefined && (!Number.isInteger(topK) || topK < 1)) throw new RangeError(`top-k must be a whole number of at least 1; got ${topK}`);
  return options;
}

/** The text after `prompt` is the generated ids decoded as one sequence (a character whose UTF-8
 *  bytes span several tokens comes out whole), after the prompt's own ids, so that a decoder which
 *  drops a sequence's leading space (SentencePiece's ▁) keeps the one between prompt and generation.
 *  Each token's [start, end) in the text follows the tokenizer's offsets (tokenizer.ts Encoding): a
 *  character split over several tokens belongs to the token holding its first byte, the tokens with
 *  its later bytes get an empty range at its end. A decoded prefix that ends inside a character
 *  ends in U+FFFD, so is no prefix of the whole text: that is how such a token is told. */
function decodeContinuation(tokenizer: TextTokenizer, prompt: string, promptIds: number[], generated: number[]): { text: string; ranges: Array<[number, number]> } {
  const promptText = tokenizer.decode(promptIds);
  const continuation = (count: number) => {
    const whole = tokenizer.decode([...promptIds, ...generated.slice(0, count)]);
    return whole.startsWith(promptText) ? whole.slice(promptText.length) : tokenizer.decode(generated.slice(0, count));
  };
  const generatedText = continuation(generated.length);
  // ends[m]: where the first m tokens' whole characters end; whole[m]: whether they end between characters.
  const prefixes = generated.map((_, k) => continuation(k));
  const ends = prefixes.map((prefix) => prompt.length + commonPrefixLength(prefix, generatedText));
  const whole = prefixes.map((prefix) => generatedText.startsWith(prefix));
  ends.push(prompt.length + generatedText.length);
  whole.push(true);
  const ranges: Array<[number, number]> = [];
  for (let k = 0; k < generated.length; ) {
    let last = k; // the token that completes the character token k starts
    while (!whole[last + 1]) last++;
    ranges.push([ends[k], ends[last + 1]]);
    for (let m = k + 1; m <= last; m++) ranges.push([ends[last + 1], ends[last + 1]]);
    k = last + 1;
  }
  return { text: prompt + generatedText, ranges };
}

function commonPrefixLength(a: string, b: string): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/** The index of the largest logit; the lowest on a tie. */
export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** The model's probability of `chosen` and of the most likely other token (softmax, in float64). */
function choiceOdds(logits: Float32Array, chosen: number): { prob: number; runnerUp: { id: number; prob: number } | null } {
  const peak = logits[argmax(logits)];
  let sum = 0;
  let other = -1;
  for (let i = 0; i < logits.length; i++) {
    sum += Math.exp(logits[i] - peak);
    if (i !== chosen && (other < 0 || logits[i] > logits[other])) other = i;
  }
  const prob = (i: number) => Math.exp(logits[i] - peak) / sum;
  return { prob: prob(chosen), runnerUp: other < 0 ? null : { id: other, prob: prob(other) } };
}

/** Draws an id from softmax(logits / temperature), among the topK largest logits if given (ties
 *  broken towards the lower id): one draw u in [0, 1), then the first id, in order of id, at which
 *  the running sum of the weights passes u times their total. */
function sample(logits: Float32Array, temperature: number, topK: number | undefined, random: () => number): number {
  let candidates = Array.from(logits.keys());
  if (topK !== undefined && topK < candidates.length) {
    candidates = candidates.sort((a, b) => logits[b] - logits[a] || a - b).slice(0, topK).sort((a, b) => a - b);
  }
  const peak = logits[argmax(logits)]; // the largest logit is always a candidate
  const weights = candidates.map((i) => Math.exp((logits[i] - peak) / temperature));
  const target = random() * weights.reduce((a, b) => a + b, 0);
  let sum = 0;
  for (let n = 0; n < candidates.length; n++) {
    sum += weights[n];
    if (sum > target) return candidates[n];
  }
  return candidates[candidates.length - 1];
}

/** Mulberry32 (Tommy Ettinger's 32-bit generator): a 32-bit state advanced by 0x6D2B79F5 and mixed
 *  with 32-bit integer multiplies (Math.imul) and shifts, so its numbers are the same on every
 *  machine; each draw is the mixed state / 2^32, in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
