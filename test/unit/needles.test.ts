// The Needle Test: documents in model/retrieval.py's format, fitted to the context with the model's
// tokenizer, scored like model/evaluate.py (greedy match, attention shares), through the real
// engine, its child process and the CLI, with the fixture packages.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { RunAnalysis } from '../../extension/core/analysis';
import { AnalysisGraphs } from '../../extension/core/analysisGraphs';
import { Engine } from '../../extension/core/engine';
import { EngineClient } from '../../extension/core/engineClient';
import { loadModelPackage } from '../../extension/core/modelPackage';
import { fillTemplate, NEEDLES, parseNeedleDefinitions } from '../../extension/core/needleDefinitions';
import { continuationOf, documentLengths, makeNeedleDocument, mergeNeedleTestResults, needleTestSettings, offeredLengths, summariseNeedleTest, type NeedleDocumentOptions } from '../../extension/core/needles';
import { greedyMatch, locateQuery, type NeedleRun } from '../../extension/core/needleScoring';
import { createSession, runModel } from '../../extension/core/runtime';
import { loadTokenizer, type TextTokenizer } from '../../extension/core/tokenizer';
import { MODEL_KINDS, type ModelKind } from '../../shared/model';
import { NEEDLE_FORMS, type NeedleAnswer, type NeedleTestResult, type NeedleTrial } from '../../shared/needleTest';
import { assertClose } from '../support/tolerance';

const REPO = path.resolve(__dirname, '..', '..', '..');
const PACKAGES = { diff: path.join(REPO, 'models', 'tiny-diff'), baseline: path.join(REPO, 'models', 'tiny-baseline') };

// retrieval.py's needle and query lines; the filler below never matches them.
const NEEDLE_LINE = {
  code: /^(?:[A-Z]+_[A-Z]+_[a-z]{4} = \d{4,5}|const [a-z]+[A-Z][a-z]+_[a-z]{4} = (?:\d{4,5}|"[a-z]{5}");|#define [A-Z]+_[A-Z]+_[a-z]{4} \d{4,5})$/,
  prose: /^The (?:secret number|magic number|hidden code|lucky number|special number) of the [a-z]+ [a-z]+ is \d{4,5}\.$/,
};
const QUERY_LINE = {
  code: (key: string, value: string) => [`assert ${key} == ${value}`, `console.assert(${key} === ${value});`, `static_assert(${key} == ${value});`],
  prose: (key: string, value: string) => [`The ${key} is ${value}.`],
};

/** Short lines of varied length, CRLF line ends, no final line break. */
const FILLER = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? `// step ${i}` : `total = total + ${i} * factor`)).join('\r\n');
const FILLER_LINES = FILLER.split('\r\n');

async function tiny(kind: ModelKind): Promise<{ tokenizer: TextTokenizer; maxSeqLen: number; bos: number }> {
  const pkg = await loadModelPackage(PACKAGES[kind]);
  return { tokenizer: loadTokenizer(pkg.tokenizerJson), maxSeqLen: pkg.config.max_seq_len, bos: pkg.config.bos_token_id };
}

/** The text before the first query line, and the query lines. */
function split(text: string, answers: NeedleAnswer[]): { haystack: string; queryLines: string[] } {
  const firstQuery = Math.min(...answers.map((a) => a.querySpan[0]));
  return { haystack: text.slice(0, firstQuery), queryLines: text.slice(firstQuery).split('\n').slice(0, -1) };
}

for (const form of NEEDLE_FORMS) {
  test(`${form} needle documents have retrieval.py's format, with answers pointing at their text`, () => {
    for (const [seed, depth] of [[1, 0], [2, 0.5], [3, 1], [4, undefined]] as const) {
      const options: NeedleDocumentOptions = { form, needles: 4, queries: 2, seed, depth };
      const { text, answers, fillerLines, totalFillerLines } = makeNeedleDocument(FILLER, options);
      assert.equal(fillerLines, FILLER_LINES.length);
      assert.equal(totalFillerLines, FILLER_LINES.length);
      assert.equal(answers.length, 2);
      assert.equal(new Set(answers.map((a) => a.key)).size, 2, 'distinct keys');

      // The haystack is the filler's lines, in order, with 4 whole needle lines inserted.
      const { haystack, queryLines } = split(text, answers);
      assert.ok(haystack.endsWith('\n'));
      const lines = haystack.split('\n').slice(0, -1);
      const needleLines = lines.filter((line) => NEEDLE_LINE[form].test(line));
      assert.equal(needleLines.length, 4, `needle lines in\n${text}`);
      assert.deepEqual(lines.filter((line) => !NEEDLE_LINE[form].test(line)), FILLER_LINES);

      // Each query is a whole line at the end, completed by its value; the spans point at the text.
      assert.equal(queryLines.length, 2);
      answers.forEach((answer, i) => {
        const [valueStart, valueEnd] = answer.valueSpan;
        assert.equal(text.slice(valueStart, valueEnd), answer.value);
        const needleStart = text.lastIndexOf('\n', valueStart) + 1;
        const needleLine = text.slice(needleStart, text.indexOf('\n', valueEnd));
        assert.ok(needleLines.includes(needleLine) && needleLine.includes(answer.key), `needle line ${needleLine}`);
        assert.ok(QUERY_LINE[form](answer.key, answer.value).includes(queryLines[i]), `query line ${queryLines[i]}`);
        const [queryStart, queryEnd] = answer.querySpan;
        assert.equal(text[queryStart - 1], '\n');
        assert.ok(queryLines[i].startsWith(text.slice(queryStart, queryEnd)));
        assert.equal(text.slice(queryEnd, queryEnd + 1 + answer.value.length), ` ${answer.value}`);
        assert.equal(answer.depth, needleStart / haystack.length);
        if (depth !== undefined) {
          // At the first line boundary after depth * the filler, pushed on by the needle lines before
          // it: the method's resolution is a line and the needle lines.
          const slack = (Math.max(...FILLER_LINES.map((l) => l.length)) + 2 + 2 * needleLines.join('\n').length) / haystack.length;
          assertClose(answer.depth, depth, `depth for ${depth}`, { atol: slack });
        }
      });
    }
  });
}

test('needle documents are deterministic by seed', () => {
  const options: NeedleDocumentOptions = { form: 'code', needles: 3, queries: 2, seed: 42, depth: 0.5 };
  assert.deepEqual(makeNeedleDocument(FILLER, options), makeNeedleDocument(FILLER, options));
  assert.notEqual(makeNeedleDocument(FILLER, options).text, makeNeedleDocument(FILLER, { ...options, seed: 43 }).text);
  // Lines as Python's splitlines cuts them: a final line break adds no empty line.
  assert.deepEqual(makeNeedleDocument(`${FILLER}\r\n`, options), makeNeedleDocument(FILLER, options));
});

test('documents for a seed are the ones the extension has always made', () => {
  // Made before the definitions moved to shared/needles.json: every style, both forms.
  const filler = 'The quick brown fox.\nJumps over\n\nthe lazy dog.\n';
  const expected: [NeedleDocumentOptions['form'], number, string][] = [
    ['code', 7, 'CONFIG_CODE_snkm = 24752\nUSER_VERSION_getn = 20516\n\nthe lazy dog.\nassert CONFIG_CODE_snkm == 24752\nassert USER_VERSION_getn == 20516\n'],
    ['code', 1, 'const cacheCount_zzhp = 43153;\nconst layoutSecret_mdkg = "mbkth";\n\nthe lazy dog.\nconsole.assert(cacheCount_zzhp === 43153);\nconsole.assert(layoutSecret_mdkg === "mbkth");\n'],
    ['code', 2, '#define DEFAULT_TIMEOUT_nwqm 36367\n#define WORKER_TOKEN_uflv 58550\n\nthe lazy dog.\nstatic_assert(DEFAULT_TIMEOUT_nwqm == 36367);\nstatic_assert(WORKER_TOKEN_uflv == 58550);\n'],
    ['prose', 7, 'The secret number of the restless bridge is 52623.\nThe hidden code of the hidden lantern is 55779.\n\nthe lazy dog.\nThe hidden code of the hidden lantern is 55779.\nThe secret number of the restless bridge is 52623.\n'],
  ];
  for (const [form, seed, tail] of expected) {
    assert.equal(makeNeedleDocument(filler, { form, needles: 2, queries: 2, seed, depth: 0.5 }).text, `The quick brown fox.\nJumps over\n${tail}`, `${form}, seed ${seed}`);
  }
});

test('the definitions and defaults come from shared/needles.json, and a bad field is named', () => {
  assert.deepEqual(needleTestSettings({}), { form: 'code', ...NEEDLES.defaults });
  assert.equal(continuationOf('42'), `${NEEDLES.scoring.continuationPrefix}42`);
  const badStyle = { ...NEEDLES.code.styles[0], keyCase: 'kebab' };
  assert.throws(() => parseNeedleDefinitions({ ...NEEDLES, code: { ...NEEDLES.code, styles: [badStyle] } }), /shared\/needles\.json: code\.styles\.0\.keyCase: .*fix that field/);
  assert.throws(() => fillTemplate('{key} = {size}', { key: 'K' }), /uses \{size\}, which is not one of key/);
});

test('keys never occur in the filler', () => {
  // Every prose key but those about the last noun is in the filler, so a key drawn without the
  // check would almost surely be one of them.
  const { key, attributes, adjectives, nouns } = NEEDLES.prose;
  const keys: string[] = [];
  for (const attribute of attributes) {
    for (const adjective of adjectives) {
      for (const noun of nouns.slice(0, -1)) keys.push(`We never learned the ${fillTemplate(key, { attribute, adjective, noun })}.`);
    }
  }
  const filler = keys.join('\n');
  for (let seed = 0; seed < 5; seed++) {
    const { answers } = makeNeedleDocument(filler, { form: 'prose', needles: 4, queries: 4, seed });
    for (const { key } of answers) assert.ok(!filler.includes(key), `${key} is in the filler`);
  }
});

test('a fitted document fills the context with whole filler lines and keeps every query', async () => {
  const { tokenizer, maxSeqLen } = await tiny('diff');
  const countTokens = (text: string) => tokenizer.encode(text).ids.length + 1;
  const fillerLineCounts = new Set<number>();
  for (const form of NEEDLE_FORMS) {
    // Contexts smaller than the model's too, so the kept line counts vary.
    for (const maxTokens of [maxSeqLen, maxSeqLen - 7, maxSeqLen - 13, maxSeqLen - 20]) {
      const options: NeedleDocumentOptions = { form, needles: 1, queries: 1, seed: 5, depth: 0.5 };
      const fitted = makeNeedleDocument(FILLER, options, { countTokens, maxTokens });
      const what = `${form}, ${maxTokens} tokens, ${fitted.fillerLines} filler lines`;
      assert.ok(countTokens(fitted.text) <= maxTokens, `${what}: ${countTokens(fitted.text)} tokens`);
      assert.ok(fitted.fillerLines > 0 && fitted.fillerLines < FILLER_LINES.length, what);
      assert.equal(fitted.totalFillerLines, FILLER_LINES.length);
      // The first fillerLines lines of the filler, unchanged, and one more would not fit.
      const cut = (lines: number) => makeNeedleDocument(FILLER_LINES.slice(0, lines).join('\n'), options);
      assert.deepEqual(cut(fitted.fillerLines), { ...fitted, totalFillerLines: fitted.fillerLines }, what);
      assert.ok(countTokens(cut(fitted.fillerLines + 1).text) > maxTokens, `${what}: one more line would still fit`);
      const [answer] = fitted.answers;
      assert.ok(QUERY_LINE[form](answer.key, answer.value).includes(fitted.text.slice(answer.querySpan[0], -1)), `${what}: the query line is whole`);
      fillerLineCounts.add(fitted.fillerLines);
    }
  }
  assert.ok(fillerLineCounts.size >= 3, `kept line counts ${[...fillerLineCounts]}`);
  const short = FILLER_LINES.slice(0, 3).join('\n');
  const whole = makeNeedleDocument(short, { form: 'code', needles: 1, queries: 1, seed: 5 }, { countTokens, maxTokens: maxSeqLen });
  assert.deepEqual([whole.fillerLines, whole.totalFillerLines], [3, 3], 'a filler that fits is kept whole');
  assert.throws(
    () => makeNeedleDocument(FILLER, { form: 'prose', needles: 6, queries: 4, seed: 1 }, { countTokens, maxTokens: maxSeqLen }),
    /6 needles and 4 queries alone take \d+ tokens, more than a document of 128 tokens holds; use fewer needles or queries, or longer documents/,
  );
  assert.throws(() => makeNeedleDocument('', { form: 'code', needles: 1, queries: 1, seed: 1 }), /needs filler text/);
  assert.throws(() => makeNeedleDocument(FILLER, { form: 'code', needles: 1, queries: 2, seed: 1 }), /1 <= queries <= needles/);
  assert.throws(() => makeNeedleDocument(FILLER, { form: 'prose', needles: 1700, queries: 1, seed: 1 }), /cannot draw 1700 distinct prose keys/);
});

test('greedy match: teacher-forced predictions decide like evaluate.py greedy_matches', async () => {
  const { tokenizer, bos } = await tiny('diff');
  const token = (text: string) => {
    const { ids } = tokenizer.encode(text);
    assert.equal(ids.length, 1, `${JSON.stringify(text)} is one token`);
    return ids[0];
  };
  /** A run of `text` whose predictions are the document's next tokens (a perfect model), then
   *  `predict` maps a token's text to what the model predicts after it instead. */
  const decide = (text: string, prefix: string, value: string, predict: Record<number, string> = {}) => {
    const encoding = tokenizer.encode(text);
    const ids = [bos, ...encoding.ids];
    const predicted = ids.map((_, p) => (p in predict ? token(predict[p]) : (ids[p + 1] ?? bos)));
    const run: NeedleRun = { ids, offsets: [[0, 0], ...encoding.offsets], predicted };
    const queryStart = text.lastIndexOf(prefix);
    const valueStart = text.indexOf(value);
    const answer: NeedleAnswer = {
      key: 'K', value, valueSpan: [valueStart, valueStart + value.length], querySpan: [queryStart, queryStart + prefix.length], depth: 0,
    };
    const query = locateQuery(run, answer);
    const tokenAt = (t: number) => text.slice(...run.offsets[t]);
    assert.equal(tokenAt(query.promptEnd)[0], ' ', 'the prompt ends before the space');
    assert.ok(query.answerTokens.map(tokenAt).join('').includes(value));
    assert.equal(query.queryTokens.map(tokenAt).join(''), prefix);
    return { ...greedyMatch(run, query, continuationOf(value), (id) => tokenizer.tokenText(id)), ids, promptEnd: query.promptEnd };
  };

  const code = 'A_B_cdef = 48291\nassert A_B_cdef == 48291\n';
  const prefix = 'assert A_B_cdef ==';
  const perfect = decide(code, prefix, '48291');
  assert.deepEqual([perfect.correct, perfect.generated], [true, ' 48291\n']);
  // The document's tokens after the prompt: " ", "4", "8", "29", "1", "\n" (the tiny tokenizer's).
  const at = perfect.promptEnd; // the " " before the value
  assert.deepEqual(perfect.ids.slice(at).map((id) => tokenizer.tokenText(id)), [' ', '4', '8', '29', '1', '\n']);
  assert.equal(decide(code, prefix, '48291', { [at - 1]: '7' }).correct, false, 'wrong first token');
  assert.deepEqual(decide(code, prefix, '48291', { [at + 1]: '7' }), { ...perfect, correct: false, generated: ' 47' }, 'wrong mid-value');
  assert.equal(decide(code, prefix, '48291', { [at + 4]: '7' }).correct, false, 'a digit extends the value');
  assert.equal(decide(code, prefix, '48291', { [at + 4]: '_' }).correct, false, 'an underscore extends the value');
  assert.deepEqual(decide(code, prefix, '48291', { [at + 4]: ';' }).generated, ' 48291;');
  assert.equal(decide(code, prefix, '48291', { [at + 4]: ';' }).correct, true, 'punctuation ends the value');
  // The value ends the document: the last prediction is the next character.
  const atEnd = code.slice(0, -1);
  const last = tokenizer.encode(atEnd).ids.length;
  assert.equal(decide(atEnd, prefix, '48291').correct, true);
  assert.equal(decide(atEnd, prefix, '48291', { [last]: '7' }).correct, false);

  const quoted = 'const aB_cdef = "k3j9m";\nconsole.assert(aB_cdef === "k3j9m");\n';
  assert.equal(decide(quoted, 'console.assert(aB_cdef ===', '"k3j9m"').correct, true);
  // The closing '"' before ");\n" is document token `closing`, predicted at run position `closing`.
  const closing = tokenizer.encode(quoted).ids.length - 4;
  assert.equal(tokenizer.tokenText(tokenizer.encode(quoted).ids[closing]), '"');
  assert.equal(decide(quoted, 'console.assert(aB_cdef ===', '"k3j9m"', { [closing]: ')' }).correct, false, 'the closing quote is part of the value');
  assert.equal(decide('The lucky number of the red fox is 48291.\nThe lucky number of the red fox is 48291.\n', 'The lucky number of the red fox is', '48291').correct, true);
});

/** retrieval_scoring.py's answer share of the absolute mass, straight from the A1/A2 rows and lambda. */
async function answerShareOf(kind: ModelKind, text: string, answer: NeedleAnswer): Promise<number> {
  const pkg = await loadModelPackage(PACKAGES[kind]);
  const tokenizer = loadTokenizer(pkg.tokenizerJson);
  const encoding = tokenizer.encode(text);
  const { session } = await createSession(pkg.modelPath, 'cpu');
  const analysis = new RunAnalysis(pkg.config, await runModel(session, [pkg.config.bos_token_id, ...encoding.ids], pkg.config), new AnalysisGraphs());
  // The query's last token: with BOS at 0, its index is that of the value's first text token.
  const row = encoding.offsets.findIndex(([start]) => start === answer.querySpan[1]);
  const answerTokens = encoding.offsets.flatMap(([start, end], t) => (start < answer.valueSpan[1] && end > answer.valueSpan[0] ? [t + 1] : []));
  let share = 0;
  for (let layer = 0; layer < analysis.nLayer; layer++) {
    for (let head = 0; head < analysis.nHead; head++) {
      const a1 = analysis.row(layer, head, 'a1', row);
      const lam = kind === 'diff' ? analysis.lambda(layer, row, head) : 0;
      const a2 = kind === 'diff' ? analysis.row(layer, head, 'a2', row) : new Float32Array(a1.length);
      let mass = 0;
      for (let t = 0; t <= row; t++) mass += Math.abs(a1[t] - lam * a2[t]);
      for (const t of answerTokens) share += (a1[t] - lam * a2[t]) / mass;
    }
  }
  return share / (analysis.nLayer * analysis.nHead);
}

for (const kind of MODEL_KINDS) {
  test(`${kind}: needleTest runs fitted trials at spread depths and scores them like evaluate.py`, async () => {
    const { tokenizer, maxSeqLen } = await tiny(kind);
    const engine = await Engine.load(PACKAGES[kind], 'cpu');
    const inspected = await engine.inspect('x = 1\n');
    const result = await engine.needleTest(FILLER, { form: 'code', needles: 2, queries: 1, trials: 5, seed: 10 });
    assert.equal((await engine.map(0, 0, 'a1')).length, inspected.tokens.length ** 2, 'the last inspection is kept');
    assert.deepEqual([result.model, result.kind, result.form, result.needles, result.queries], [`tiny-${kind}`, kind, 'code', 2, 1]);
    assert.deepEqual(result.trials.map((t) => t.depth), [0, 0.25, 0.5, 0.75, 1]);
    assert.deepEqual(result.trials.map((t) => t.seed), [10, 11, 12, 13, 14]);
    assert.deepEqual([result.lengths, result.trials.map((t) => t.length)], [[maxSeqLen], Array(5).fill(maxSeqLen)], 'one length by default: the whole context');
    for (const trial of result.trials) {
      assert.equal(trial.tokens, tokenizer.encode(trial.text).ids.length + 1);
      assert.ok(trial.tokens <= maxSeqLen, `${trial.tokens} tokens`);
      assert.ok(trial.fillerLines > 0);
      assert.equal(trial.queries.length, 1);
      for (const q of trial.queries) {
        assert.equal(trial.text.slice(...q.valueSpan), q.value);
        assert.ok(!FILLER.includes(q.key));
        const sum = q.answerShare + q.noiseShare + q.queryShare;
        if (kind === 'baseline') assertClose(sum, 1, 'a softmax row\'s shares sum to 1');
        else assert.ok(Math.abs(sum) <= 1 + 1e-6, `shares of the absolute mass sum to at most 1 in size; got ${sum}`);
        assert.equal(q.correct, q.generated.startsWith(` ${q.value}`) && !/^[A-Za-z0-9_]/.test(q.generated.slice(q.value.length + 1)));
      }
    }
    const queries = result.trials.flatMap((t) => t.queries);
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    assert.equal(result.accuracy, mean(queries.map((q) => (q.correct ? 1 : 0))));
    assert.equal(result.meanAnswerShare, mean(queries.map((q) => q.answerShare)));
    assert.equal(result.meanNoiseShare, mean(queries.map((q) => q.noiseShare)));
    assert.equal(result.meanQueryShare, mean(queries.map((q) => q.queryShare)));
    const [first] = result.trials;
    const expected = await answerShareOf(kind, first.text, first.queries[0]);
    assertClose(first.queries[0].answerShare, expected, 'answer share, as evaluate.py computes it');
  });
}

test('needleTest runs every depth at every length, each document fitted to its length', async () => {
  const { tokenizer, maxSeqLen } = await tiny('diff');
  const countTokens = (text: string) => tokenizer.encode(text).ids.length + 1;
  const engine = await Engine.load(PACKAGES.diff, 'cpu');
  const options = { form: 'code', needles: 1, queries: 1, trials: 3, seed: 7 } as const;
  const lengths = [maxSeqLen, 64, 96, 64]; // sorted, each once
  const result = await engine.needleTest(FILLER, { ...options, lengths });
  assert.deepEqual(result.lengths, [64, 96, maxSeqLen]);
  assert.deepEqual(result.trials.map((t) => [t.length, t.depth, t.seed]), [64, 96, maxSeqLen].flatMap((length) => [[length, 0, 7], [length, 0.5, 8], [length, 1, 9]]));
  for (const trial of result.trials) {
    const what = `${trial.length} tokens, depth ${trial.depth}`;
    // The fit rules at the trial's length: whole filler lines from the top, as many as fit.
    const documentOptions: NeedleDocumentOptions = { ...options, seed: trial.seed, depth: trial.depth };
    assert.equal(trial.text, makeNeedleDocument(FILLER, documentOptions, { countTokens, maxTokens: trial.length }).text, what);
    assert.ok(trial.tokens <= trial.length, `${what}: ${trial.tokens} tokens`);
    const oneLineMore = makeNeedleDocument(FILLER_LINES.slice(0, trial.fillerLines + 1).join('\n'), documentOptions);
    assert.ok(countTokens(oneLineMore.text) > trial.length, `${what}: one more filler line would still fit`);
  }
  // The same seed at every length: the same needles, only the cut differs.
  const keysAt = (length: number) => result.trials.filter((t) => t.length === length).map((t) => t.queries[0].key);
  assert.deepEqual(keysAt(64), keysAt(maxSeqLen));
  // Run in parts (a length each here; the panel runs a trial at a time) and merged, the same as one run.
  const parts = [await engine.needleTest(FILLER, { ...options, lengths: [64, 96] }), await engine.needleTest(FILLER, { ...options, lengths: [maxSeqLen] })];
  assert.deepEqual(mergeNeedleTestResults(parts), result);

  await assert.rejects(engine.needleTest(FILLER, { ...options, lengths: [64, maxSeqLen + 1] }), /lengths: 129 tokens is more than the model's context of 128 tokens; use lengths up to 128/);
  await assert.rejects(engine.needleTest(FILLER, { ...options, lengths: [16] }), /alone take \d+ tokens, more than a document of 16 tokens holds/);
  assert.throws(() => documentLengths([], maxSeqLen), /at least one document length/);
  assert.throws(() => documentLengths([64.5], maxSeqLen), /whole numbers of tokens; got 64.5/);
  assert.deepEqual(documentLengths(undefined, maxSeqLen), [maxSeqLen]);
});

test('the lengths offered double from 256 up to the model\'s context, whatever it is', () => {
  assert.deepEqual(offeredLengths(1024), [256, 512, 1024]);
  assert.deepEqual(offeredLengths(4096), [256, 512, 1024, 2048, 4096]);
  assert.deepEqual(offeredLengths(32768).slice(-3), [8192, 16384, 32768], 'an imported model with a long context');
  assert.deepEqual(offeredLengths(3000), [256, 512, 1024, 2048, 3000], 'a context that is not a power of two comes last');
  assert.deepEqual(offeredLengths(128), [128], 'a context shorter than 256 tokens offers itself alone');
});

test('the summary aggregates by depth, by length and on the length x depth grid', () => {
  const query = (correct: boolean, answerShare: number) => ({
    key: 'K', value: '1', valueSpan: [0, 1] as [number, number], querySpan: [2, 3] as [number, number], depth: 0, correct, generated: '', answerShare, noiseShare: 0, queryShare: 0,
  });
  const trial = (length: number, depth: number, ...queries: ReturnType<typeof query>[]): NeedleTrial => ({ seed: 0, depth, length, text: '', tokens: length, fillerLines: 1, totalFillerLines: 1, queries });
  // Two queries per document; accuracy per cell: 1 and 0.5 at 64 tokens, 0.5 and 0 at 128.
  const trials = [
    trial(128, 1, query(false, 0), query(false, 0.2)),
    trial(64, 0, query(true, 0.4), query(true, 0.6)),
    trial(128, 0, query(true, 0.8), query(false, 0)),
    trial(64, 1, query(true, 1), query(false, 0)),
  ];
  const result: NeedleTestResult = { model: 'm', kind: 'diff', form: 'code', needles: 2, queries: 2, lengths: [64, 128], trials, accuracy: 0, meanAnswerShare: 0, meanNoiseShare: 0, meanQueryShare: 0 };
  const summary = summariseNeedleTest(result);
  const accuracies = (scores: { accuracy: number }[]) => scores.map((s) => s.accuracy);
  assert.deepEqual([summary.queries, summary.correct, summary.overall.accuracy], [8, 4, 0.5]);
  assert.deepEqual(summary.byDepth.map((d) => d.depth), [0, 1]);
  assert.deepEqual(accuracies(summary.byDepth), [0.75, 0.25]);
  assert.deepEqual(summary.byLength.map((l) => l.length), [64, 128]);
  assert.deepEqual(accuracies(summary.byLength), [0.75, 0.25]);
  assert.deepEqual(summary.byLength.map((l) => l.answerShare), [0.5, 0.25]);
  assert.deepEqual(summary.grid.map((c) => [c.length, c.depth, c.accuracy]), [[64, 0, 1], [64, 1, 0.5], [128, 0, 0.5], [128, 1, 0]]);
  assertClose(summary.grid[3].answerShare, 0.1, 'a cell\'s mean answer share');
});

test('needleTest crosses the engine process and the CLI unchanged', async () => {
  const options = { form: 'prose', needles: 1, queries: 1, trials: 2, lengths: [96, 128], seed: 3 } as const;
  const expected = {
    diff: await (await Engine.load(PACKAGES.diff, 'cpu')).needleTest(FILLER, options),
    baseline: await (await Engine.load(PACKAGES.baseline, 'cpu')).needleTest(FILLER, options),
  };
  const client = new EngineClient(path.join(REPO, 'out', 'extension', 'core', 'engineWorker.js'));
  try {
    await client.load(PACKAGES.diff, 'cpu');
    assert.deepEqual(await client.request({ op: 'needleTest', filler: FILLER, options }), expected.diff);
  } finally {
    client.dispose();
  }
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'needles-')), 'filler.txt');
  await writeFile(file, FILLER);
  const { stdout } = await promisify(execFile)('node', [
    path.join(REPO, 'out', 'extension', 'core', 'cli.js'), 'needle-test', file, '--package', PACKAGES.diff, '--package', PACKAGES.baseline,
    '--form', 'prose', '--needles', '1', '--queries', '1', '--trials', '2', '--lengths', '128,96', '--seed', '3',
  ]);
  assert.deepEqual(JSON.parse(stdout), [expected.diff, expected.baseline]);
});
