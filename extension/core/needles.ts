// The Needle Test: multi-needle retrieval documents in model/retrieval.py's format, built around the
// user's own text, and the test's results (scored by needleScoring.ts as model/evaluate.py scores), so
// the extension's accuracy and attention shares mean what docs/evaluation.md's mean.
//
// The documents have retrieval.py's format (word lists, code styles, value shapes, needles as whole
// lines at line boundaries, queries at the end each completed by its value), all read from
// shared/needles.json (needleDefinitions.ts), but not its documents: the random generator is a
// small seeded one, not Python's, and the filler is the user's text from its top, cut by whole
// lines to fit each document length (at most the model's context), rather than random cuts of a
// corpus.

import {
  NEEDLE_FORMS, type NeedleAnswer, type NeedleForm, type NeedleQueryResult, type NeedleSummary, type NeedleTestOptions, type NeedleTestResult, type NeedleTrial,
} from '../../shared/needleTest';
import { codeStyleFor, fillTemplate, KEY_CASES, NEEDLES, type CodeStyle } from './needleDefinitions';

/** Give up drawing keys after this many draws per needle: the filler may contain nearly every prose
 *  key (there are 1620), or more needles than keys may be asked for. */
const KEY_DRAWS_PER_NEEDLE = 1000;

/** The line breaks Python's str.splitlines splits on: retrieval.py's filler went through it. */
const LINE_BREAK = /\r\n|[\n\v\f\r\x1c-\x1e\x85\u2028\u2029]/;

/** mulberry32: small, fast and deterministic; only the sequence for a seed matters here. */
class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  random(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [low, high], both included (Python's randint). */
  int(low: number, high: number): number {
    return low + Math.floor(this.random() * (high - low + 1));
  }

  choice<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }

  /** k distinct integers of [0, n) in random order (Python's sample(range(n), k)). */
  sample(n: number, k: number): number[] {
    const pool = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = this.int(i, n - 1);
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    return pool.slice(0, k);
  }

  lowercaseTag(length: number): string {
    return Array.from({ length }, () => String.fromCharCode(97 + this.int(0, 25))).join('');
  }
}

export interface NeedleDocumentOptions {
  form: NeedleForm;
  /** Needles (key/value definition lines) placed in the filler. */
  needles: number;
  /** How many of them are queried at the end (1..needles); the rest are distractors. */
  queries: number;
  /** Any integer; the same seed, filler and options give the same document. */
  seed: number;
  /** 0..1: where the queried needles go, as a fraction of the filler (distractors go anywhere);
   *  omitted: every needle at a random depth. */
  depth?: number;
  /** The filler's language id: picks the code style written in it (codeStyleFor). */
  language?: string;
}

export interface NeedleDocument {
  text: string;
  answers: NeedleAnswer[];
  /** Lines of the filler kept (from its top) and the filler's line count. */
  fillerLines: number;
  totalFillerLines: number;
}

/** How the document must fit: its token count, BOS included, at most maxTokens (the length asked
 *  for, at most the model's context). */
export interface ContextFit {
  countTokens: (text: string) => number;
  maxTokens: number;
}

interface Needle {
  key: string;
  value: string;
  line: string;
  /** Where the value starts inside `line`. */
  valueOffset: number;
}

/** The needles, which are queried (in query order) and every needle's depth: all drawn before the
 *  filler is cut, so each cut of the same seed has the same needles. */
interface NeedlePlan {
  needles: Needle[];
  queried: number[];
  depths: number[];
  /** The form's needle line and query templates. */
  lines: { needle: string; query: string; queryClose: string };
}

/**
 * A retrieval document in retrieval.py's format: `options.needles` definition lines inserted into
 * the filler at line boundaries and `options.queries` queries appended, each completed by its value.
 * Keys never occur in the filler. With `fit`, the filler is cut to its first lines so the whole
 * document fits fit.maxTokens (the queries are never cut); without it, the whole filler is used.
 */
export function makeNeedleDocument(filler: string, options: NeedleDocumentOptions, fit?: ContextFit): NeedleDocument {
  const lines = splitLines(filler);
  if (lines.length === 0) throw new Error('the needle test needs filler text: open a file that is not empty');
  const plan = planNeedles(options, filler);
  if (!fit) return { ...assemble(plan, lines.join('\n')), fillerLines: lines.length, totalFillerLines: lines.length };
  const tokensWith = (count: number) => fit.countTokens(assemble(plan, lines.slice(0, count).join('\n')).text);
  const bare = tokensWith(0);
  if (bare > fit.maxTokens) {
    throw new Error(`${options.needles} needles and ${options.queries} queries alone take ${bare} tokens, more than a document of ${fit.maxTokens} tokens holds; use fewer needles or queries, or longer documents`);
  }
  // The most whole lines that fit (more lines, more tokens): double the count until it does not
  // fit, then bisect, so a long file costs about as much as the part of it that fits.
  let fits = 0;
  let tooMany = 1;
  while (tooMany <= lines.length && tokensWith(tooMany) <= fit.maxTokens) [fits, tooMany] = [tooMany, 2 * tooMany];
  tooMany = Math.min(tooMany, lines.length + 1);
  while (tooMany - fits > 1) {
    const middle = (fits + tooMany) >> 1;
    if (tokensWith(middle) <= fit.maxTokens) fits = middle;
    else tooMany = middle;
  }
  return { ...assemble(plan, lines.slice(0, fits).join('\n')), fillerLines: fits, totalFillerLines: lines.length };
}

/** Python's str.splitlines: no trailing empty line for a final line break. */
function splitLines(text: string): string[] {
  const lines = text.split(LINE_BREAK);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function planNeedles(options: NeedleDocumentOptions, forbiddenText: string): NeedlePlan {
  const { form, needles: count, queries, seed, depth, language } = options;
  if (!NEEDLE_FORMS.includes(form)) throw new Error(`form must be one of ${NEEDLE_FORMS.join(', ')}; got ${form}`);
  if (!Number.isInteger(count) || !Number.isInteger(queries) || queries < 1 || queries > count) {
    throw new Error(`needs whole numbers with 1 <= queries <= needles; got ${queries} queries and ${count} needles`);
  }
  if (!Number.isSafeInteger(seed)) throw new Error(`seed must be an integer; got ${seed}`);
  if (depth !== undefined && !(depth >= 0 && depth <= 1)) throw new Error(`depth must be within [0, 1]; got ${depth}`);
  const rng = new SeededRandom(seed);
  const drawn = rng.choice(NEEDLES.code.styles); // drawn for prose and known languages too: the sequence for a seed stays as it was
  const style = codeStyleFor(language) ?? drawn;
  const lines = form === 'code' ? style : NEEDLES.prose;
  const needles: Needle[] = [];
  const keys = new Set<string>();
  for (let draws = 0; needles.length < count; draws++) {
    if (draws === KEY_DRAWS_PER_NEEDLE * count) {
      throw new Error(`cannot draw ${count} distinct ${form} keys that the text does not contain; use fewer needles or the other form`);
    }
    const { key, value } = form === 'code' ? codeKeyAndValue(rng, style) : proseKeyAndValue(rng);
    // A key also in the filler would appear where the document did not put it.
    if (keys.has(key) || forbiddenText.includes(key)) continue;
    keys.add(key);
    const valueOffset = fillTemplate(lines.needle.split('{value}')[0], { key }).length;
    needles.push({ key, value, line: fillTemplate(lines.needle, { key, value }), valueOffset });
  }
  const queried = rng.sample(count, queries);
  const depths = needles.map((_, i) => (depth !== undefined && queried.includes(i) ? depth : rng.random()));
  return { needles, queried, depths, lines };
}

function codeKeyAndValue(rng: SeededRandom, style: CodeStyle): { key: string; value: string } {
  const { keyWordsFirst, keyWordsSecond, keyTagLength } = NEEDLES.code;
  const first = rng.choice(keyWordsFirst);
  const second = rng.choice(keyWordsSecond);
  const key = KEY_CASES[style.keyCase](first, second, rng.lowercaseTag(keyTagLength));
  const quoted = style.quotedValues && rng.random() < NEEDLES.values.quotedShare;
  return { key, value: quoted ? `"${rng.lowercaseTag(NEEDLES.values.quotedTagLength)}"` : randomNumber(rng) };
}

function proseKeyAndValue(rng: SeededRandom): { key: string; value: string } {
  const { key, attributes, adjectives, nouns } = NEEDLES.prose;
  const fields = { attribute: rng.choice(attributes), adjective: rng.choice(adjectives), noun: rng.choice(nouns) };
  return { key: fillTemplate(key, fields), value: randomNumber(rng) };
}

function randomNumber(rng: SeededRandom): string {
  const [low, high] = NEEDLES.values.numberRange;
  return String(rng.int(low, high));
}

/** The start of the first line at or after `position` (or the end of the text). */
function lineStartAt(text: string, position: number): number {
  if (position <= 0) return 0;
  const newline = text.indexOf('\n', position - 1);
  return newline === -1 ? text.length : newline + 1;
}

/** retrieval.py's make_document from the insertion on: each needle as its own line at the line
 *  boundary at or after its depth, then the queries, each completed by its value. */
function assemble(plan: NeedlePlan, filler: string): { text: string; answers: NeedleAnswer[] } {
  const insertions = plan.depths
    .map((depth, index) => ({ position: lineStartAt(filler, Math.round(depth * filler.length)), index }))
    .sort((a, b) => a.position - b.position || a.index - b.index);
  let text = '';
  const needleStarts: number[] = [];
  let cursor = 0;
  const withNewline = (chunk: string) => (chunk && !chunk.endsWith('\n') ? chunk + '\n' : chunk); // the filler's last line has none
  for (const { position, index } of insertions) {
    text += withNewline(filler.slice(cursor, position));
    needleStarts[index] = text.length;
    text += plan.needles[index].line + '\n';
    cursor = position;
  }
  text += withNewline(filler.slice(cursor));
  const haystackChars = text.length;
  const answers = plan.queried.map((index) => {
    const needle = plan.needles[index];
    const prefix = fillTemplate(plan.lines.query, { key: needle.key });
    const valueStart = needleStarts[index] + needle.valueOffset;
    const answer: NeedleAnswer = {
      key: needle.key,
      value: needle.value,
      valueSpan: [valueStart, valueStart + needle.value.length],
      querySpan: [text.length, text.length + prefix.length],
      depth: needleStarts[index] / haystackChars,
    };
    text += `${prefix}${continuationOf(needle.value)}${plan.lines.queryClose}\n`;
    return answer;
  });
  return { text, answers };
}

/** What a model should produce after a query: the continuation prefix (a space), then the value. */
export function continuationOf(value: string): string {
  return NEEDLES.scoring.continuationPrefix + value;
}

// -------------------------------------------------------------------------- the test's results

/** The options with the code form and shared/needles.json's defaults filled in (lengths: documentLengths). */
export function needleTestSettings(options: NeedleTestOptions): Required<Omit<NeedleTestOptions, 'language' | 'lambdaZero' | 'lengths' | 'trial'>> {
  const { defaults } = NEEDLES;
  const trials = options.trials ?? defaults.trials;
  if (!Number.isInteger(trials) || trials < 1) throw new Error(`trials must be a whole number of at least 1; got ${trials}`);
  const { trial } = options;
  if (trial !== undefined && !(Number.isInteger(trial) && trial >= 0 && trial < trials)) throw new Error(`trial must be one of 0..${trials - 1} (of ${trials} trials); got ${trial}`);
  return { form: options.form ?? 'code', needles: options.needles ?? defaults.needles, queries: options.queries ?? defaults.queries, trials, seed: options.seed ?? defaults.seed };
}

/** The document lengths the Needle Test offers for a model: shared/needles.json's shortest length
 *  and its doublings below the context, then the whole context (a 4,096-token model: 256 … 4,096).
 *  The evaluation's default grid (model/retrieval_scoring.py lengths_up_to) runs the same. */
export function offeredLengths(context: number): number[] {
  const lengths: number[] = [];
  for (let length = NEEDLES.lengths.shortest; length < context; length *= 2) lengths.push(length);
  return [...lengths, context];
}

/** The document lengths to run, ascending and each once: `lengths`, or the whole context. */
export function documentLengths(lengths: readonly number[] | undefined, context: number): number[] {
  if (lengths === undefined) return [context];
  if (lengths.length === 0) throw new Error('lengths must name at least one document length in tokens');
  for (const length of lengths) {
    if (!Number.isInteger(length) || length < 1) throw new Error(`lengths must be whole numbers of tokens; got ${length}`);
    if (length > context) throw new Error(`lengths: ${length} tokens is more than the model's context of ${context} tokens; use lengths up to ${context}`);
  }
  return [...new Set(lengths)].sort((a, b) => a - b);
}

/** The depth of trial `trial` of `trials`: evenly spread over 0..1 (Figure 5's depths for 5). */
export function trialDepth(trial: number, trials: number): number {
  return trials === 1 ? 0.5 : trial / (trials - 1);
}

/** One document of a Needle Test: its length, which of the depths (0-based) and that depth, and its seed. */
export interface PlannedTrial {
  length: number;
  trial: number;
  depth: number;
  seed: number;
}

/** Every depth at every length, by length then depth. A depth has the same seed at every length,
 *  so each length cuts the same needles at the same depth: only the length differs along a row. */
export function planTrials(lengths: readonly number[], trials: number, seed: number): PlannedTrial[] {
  return lengths.flatMap((length) => Array.from({ length: trials }, (_, trial) => ({ length, trial, depth: trialDepth(trial, trials), seed: seed + trial })));
}

/** One model's Needle Test run in parts (a trial each, for progress), as one run of them all. */
export function mergeNeedleTestResults(parts: readonly NeedleTestResult[]): NeedleTestResult {
  const trials = parts.flatMap((part) => part.trials);
  return { ...parts[0], lengths: [...new Set(parts.flatMap((part) => part.lengths))], trials, ...summariseNeedleTrials(trials) };
}

/** The means over every query of every trial. */
export function summariseNeedleTrials(trials: readonly NeedleTrial[]): Pick<NeedleTestResult, 'accuracy' | 'meanAnswerShare' | 'meanNoiseShare' | 'meanQueryShare'> {
  const queries = trials.flatMap((trial) => trial.queries);
  const mean = (value: (q: NeedleQueryResult) => number) => queries.reduce((sum, q) => sum + value(q), 0) / queries.length;
  return {
    accuracy: mean((q) => (q.correct ? 1 : 0)),
    meanAnswerShare: mean((q) => q.answerShare),
    meanNoiseShare: mean((q) => q.noiseShare),
    meanQueryShare: mean((q) => q.queryShare),
  };
}

/** What the panel shows of a Needle Test: accuracy and attention shares overall, per depth, per
 *  length and per (length, depth) cell of the grid. */
export function summariseNeedleTest(result: NeedleTestResult): NeedleSummary {
  const score = (trials: readonly NeedleTrial[]) => {
    const { accuracy, meanAnswerShare, meanNoiseShare, meanQueryShare } = summariseNeedleTrials(trials);
    return { accuracy, answerShare: meanAnswerShare, noiseShare: meanNoiseShare, queryShare: meanQueryShare };
  };
  const depthOf = (trial: NeedleTrial) => trial.depth;
  const lengthOf = (trial: NeedleTrial) => trial.length;
  const queries = result.trials.flatMap((trial) => trial.queries);
  return {
    model: result.model,
    kind: result.kind,
    queries: queries.length,
    correct: queries.filter((q) => q.correct).length,
    overall: score(result.trials),
    byDepth: groupTrials(result.trials, [depthOf]).map((trials) => ({ depth: trials[0].depth, ...score(trials) })),
    byLength: groupTrials(result.trials, [lengthOf]).map((trials) => ({ length: trials[0].length, ...score(trials) })),
    grid: groupTrials(result.trials, [lengthOf, depthOf]).map((trials) => ({ length: trials[0].length, depth: trials[0].depth, ...score(trials) })),
  };
}

/** The trials grouped where every key is equal, the groups in ascending order of the keys (the first key first). */
function groupTrials(trials: readonly NeedleTrial[], keys: readonly ((trial: NeedleTrial) => number)[]): NeedleTrial[][] {
  const compare = (a: NeedleTrial, b: NeedleTrial) => keys.reduce((order, key) => order || key(a) - key(b), 0);
  const groups: NeedleTrial[][] = [];
  for (const trial of [...trials].sort(compare)) {
    const last = groups.at(-1);
    if (last && compare(last[0], trial) === 0) last.push(trial);
    else groups.push([trial]);
  }
  return groups;
}
