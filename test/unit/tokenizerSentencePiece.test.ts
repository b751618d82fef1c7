// SentencePiece-style BPE tokenizers (Llama 2, Mistral, TinyLlama), in both layouts Hugging Face
// writes: Llama 2's normalizer (put ▁ first, spaces to ▁) and the newer Metaspace pre-tokenizer.
// test/support/sentencePiece.ts trains a small vocabulary on the sample text, so no download is
// needed: whole-word pieces with ▁, and byte tokens for every character outside the vocabulary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { TokenizerFormatError } from '../../extension/core/errors';
import { loadTokenizer, type TextTokenizer } from '../../extension/core/tokenizer';
import { BYTE_TOKENS, llama2Json, MARKER, metaspaceJson } from '../support/sentencePiece';
import { assertTokensEndAtTheirLastByte, codePointEnds } from '../support/tokenOffsets';

const fixtures = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures');
const sample = fs.readFileSync(path.join(fixtures, 'tokenizer-sample.txt'), 'utf8');

function withEdit(json: any, edit: (json: any) => void): any {
  edit(json);
  return json;
}

/** Each id's bytes in the normalized text: a byte token is one byte, any other piece its UTF-8 (▁ is 3). */
function tokenByteLengths(json: any): Map<number, number> {
  const lengths = new Map<number, number>();
  for (const [piece, id] of Object.entries(json.model.vocab as Record<string, number>)) lengths.set(id, BYTE_TOKENS.includes(piece) ? 1 : Buffer.byteLength(piece));
  return lengths;
}

/**
 * Checks the offsets tile the text and are exact: counted in bytes of the normalized text (spaces as
 * ▁, and a ▁ first when `markerFirst`), each token ends at the end of the character holding its last
 * byte, or at 0 when it holds only the ▁ put first.
 */
function assertExactOffsets(json: any, tok: TextTokenizer, text: string, markerFirst: boolean): void {
  const lengths = tokenByteLengths(json);
  // Each character's end, and the bytes of the normalized text up to it; the ▁ put first ends at 0.
  const ends = [0, ...codePointEnds(text)];
  const bytesTo = ends.map((end) => Buffer.byteLength((markerFirst ? MARKER : '') + text.slice(0, end).replaceAll(' ', MARKER)));
  assertTokensEndAtTheirLastByte(tok, text, (id) => lengths.get(id)!, ends, bytesTo);
}

const texts: Record<string, string> = {
  sample,
  'words and indentation': 'def f(x):\n    return x  # two spaces',
  'a leading space': ' leading and trailing ',
  'spaces only': '   ',
  'characters outside the vocabulary (byte tokens)': 'λ = 0.8 … 注意力 😀👍🏽 ok',
  'a ▁ typed in the text': 'a ▁b ▁',
  crlf: 'line one\r\nline two\r\n',
};

const llama2 = llama2Json(sample);
const llama2Tokenizer = loadTokenizer(llama2);

for (const [name, text] of Object.entries(texts)) {
  test(`Llama 2 layout: exact offsets and decode round-trips: ${name}`, () => {
    assertExactOffsets(llama2, llama2Tokenizer, text, true);
    // The decoder's Strip takes off the ▁ the normalizer put first; a typed ▁ comes back as a space.
    assert.equal(llama2Tokenizer.decode(llama2Tokenizer.encode(text).ids), text.replaceAll(MARKER, ' '));
  });
}

test('Llama 2 layout: whole words are pieces, rare characters are byte tokens', () => {
  const { ids, offsets } = llama2Tokenizer.encode('return λ');
  assert.equal(llama2Tokenizer.tokenText(ids[0]), ' return', 'the ▁ put first is shown as a space');
  assert.deepEqual(offsets[0], [0, 6], 'and holds no character of the text');
  const lambdaBytes = ids.slice(-2).map((id) => llama2Tokenizer.tokenText(id));
  assert.deepEqual(lambdaBytes, ['\\xCE', '\\xBB'], 'λ is two byte tokens, shown as bytes');
  assert.deepEqual(offsets.slice(-2), [[7, 8], [8, 8]], 'the first byte token holds λ, the second an empty range after it');
});

test('Llama 2 layout: a text starting with a space gets the ▁ put first and its own ▁', () => {
  const { ids, offsets } = llama2Tokenizer.encode(' x');
  const bytes = ids.reduce((sum, id) => sum + tokenByteLengths(llama2).get(id)!, 0);
  assert.equal(bytes, 3 + 3 + 1, '▁▁x');
  assert.equal(offsets.at(-1)![1], 2);
});

test('Llama 2 layout: special tokens in the text are cut out, and each piece after one gets a ▁ first', () => {
  const text = '<s>return x</s>return';
  const { ids, offsets } = llama2Tokenizer.encode(text);
  assert.equal(ids[0], 1);
  assert.deepEqual(offsets[0], [0, 3]);
  const end = ids.indexOf(2);
  assert.deepEqual(offsets[end], [11, 15]);
  // "return x" and "return", each spelled from a ▁ put first: the same pieces as on their own.
  assert.deepEqual(ids.slice(1, end), llama2Tokenizer.encode('return x').ids);
  assert.deepEqual(ids.slice(end + 1), llama2Tokenizer.encode('return').ids);
  assert.deepEqual(offsets.slice(end + 1).map(([s, e]) => text.slice(s, e)).join(''), 'return');
  assert.equal(offsets.at(-1)![1], text.length);
});

test("Llama 2 layout: the normalizer is read by its fields, whatever their order in the file", () => {
  const json = withEdit(llama2Json(sample), (json) => {
    json.normalizer = { normalizers: [{ prepend: MARKER, type: 'Prepend' }, { content: MARKER, pattern: { String: ' ' }, type: 'Replace' }], type: 'Sequence' };
  });
  assert.deepEqual(loadTokenizer(json).encode(sample).ids, llama2Tokenizer.encode(sample).ids);
});

for (const scheme of ['always', 'first', 'never']) {
  const json = metaspaceJson(sample, scheme);
  const tok = loadTokenizer(json);
  for (const [name, text] of Object.entries(texts)) {
    test(`Metaspace "${scheme}": exact offsets: ${name}`, () => {
      // Metaspace puts no ▁ first where the text starts with a space (or a ▁).
      assertExactOffsets(json, tok, text, scheme !== 'never' && !/^[ ▁]/.test(text));
    });
  }
}

test('Metaspace: "always" spells text as Llama 2 does, except that a leading space is not doubled', () => {
  const always = loadTokenizer(metaspaceJson(sample, 'always'));
  assert.deepEqual(always.encode(sample).ids, llama2Tokenizer.encode(sample).ids);
  assert.notDeepEqual(always.encode(' x').ids, llama2Tokenizer.encode(' x').ids);
});

test('Metaspace: "first" puts a ▁ before the first section only; "always" before each', () => {
  const text = '</s>return';
  const [first, always] = ['first', 'always'].map((scheme) => loadTokenizer(metaspaceJson(sample, scheme)));
  const [afterFirst, afterAlways] = [first, always].map((tok) => tok.encode(text).ids[1]);
  assert.ok(always.tokenText(afterAlways).startsWith(' '), '"always": the piece after </s> starts with ▁');
  assert.ok(!first.tokenText(afterFirst).startsWith(' '), '"first": it does not');
  for (const tok of [first, always]) assert.equal(tok.encode(text).offsets.map(([s, e]) => text.slice(s, e)).join(''), text);
});

test('every layout: exact offsets on random text, special tokens cut out where they are typed', () => {
  const pieces = [' ', '  ', 'a', 'return', 'def', '▁', 'λ', '😀', '\n', '\t', 'x(', '</s>', '<s>'];
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const layouts: Array<[string, any]> = [['Llama 2', llama2], ...['always', 'first', 'never'].map((scheme) => [`Metaspace ${scheme}`, metaspaceJson(sample, scheme)] as [string, any])];
  for (const [name, json] of layouts) {
    const tok = loadTokenizer(json);
    for (let round = 0; round < 150; round++) {
      const text = Array.from({ length: 1 + Math.floor(random() * 8) }, () => pieces[Math.floor(random() * pieces.length)]).join('');
      const { ids, offsets } = tok.encode(text);
      const what = `${name}: ${JSON.stringify(text)}`;
      assert.equal(offsets.map(([s, e]) => text.slice(s, e)).join(''), text, `${what}: the offsets tile the text`);
      const specials = ids.flatMap((id, t) => (id === 1 || id === 2 ? [text.slice(...offsets[t])] : []));
      assert.deepEqual(specials, text.match(/<\/?s>/g) ?? [], `${what}: each special token holds its own text`);
      // Without special tokens the text is one section: exact to the byte.
      const prefix = name === 'Llama 2' || (!name.endsWith('never') && !/^[ ▁]/.test(text));
      if (specials.length === 0) assertExactOffsets(json, tok, text, prefix);
    }
  }
});

test('Metaspace: with no normalizer, a normalized added token is matched in the text as typed', () => {
  const json = withEdit(metaspaceJson(sample, 'first'), (json) => (json.added_tokens[2].normalized = true));
  const text = 'x</s> y';
  const { ids, offsets } = loadTokenizer(json).encode(text);
  assert.deepEqual(offsets[ids.indexOf(2)], [1, 5]);
  assert.equal(offsets.map(([s, e]) => text.slice(s, e)).join(''), text);
});

test('Metaspace written before prepend_scheme: add_prefix_space false means no ▁ first', () => {
  const json = withEdit(metaspaceJson(sample, 'always'), (json) => {
    delete json.pre_tokenizer.prepend_scheme;
    json.pre_tokenizer.add_prefix_space = false;
  });
  const tok = loadTokenizer(json);
  assertExactOffsets(json, tok, 'return x', false);
  assert.deepEqual(tok.encode('return x').ids, loadTokenizer(metaspaceJson(sample, 'never')).encode('return x').ids);
});

// --------------------------------------------------------------------------------------- refusals

const refused: Array<[string, any, RegExp]> = [
  ['Metaspace that splits at ▁', withEdit(metaspaceJson(sample, 'first'), (json) => (json.pre_tokenizer.split = true)), /^pre_tokenizer\.split: expected false/],
  ['Metaspace without a prepend scheme', withEdit(metaspaceJson(sample, 'first'), (json) => delete json.pre_tokenizer.prepend_scheme), /^pre_tokenizer\.prepend_scheme: expected "always", "first" or "never"/],
  ['another replacement', withEdit(metaspaceJson(sample, 'first'), (json) => (json.pre_tokenizer.replacement = '_')), /^pre_tokenizer\.replacement: expected "▁", got "_"/],
  ['no pre-tokenizer and no normalizer', withEdit(metaspaceJson(sample, 'first'), (json) => (json.pre_tokenizer = null)), /^pre_tokenizer: expected \{"type": "Metaspace"/],
  ["Llama 2's normalizer and a Metaspace pre-tokenizer", withEdit(llama2Json(sample), (json) => (json.pre_tokenizer = metaspaceJson(sample, 'first').pre_tokenizer)), /^pre_tokenizer: expected null with Llama 2's normalizer/],
  ['another normalizer', withEdit(llama2Json(sample), (json) => (json.normalizer = { type: 'NFKC' })), /^normalizer: expected null \(with a Metaspace pre-tokenizer\) or Llama 2's/],
  ['a missing byte token', withEdit(llama2Json(sample), (json) => delete json.model.vocab['<0x0A>']), /^model\.vocab: expected a token for every byte \(byte 0x0A is "<0x0A>"\), got no "<0x0A>"/],
  ['a byte-level decoder', withEdit(llama2Json(sample), (json) => (json.decoder = { type: 'ByteLevel' })), /^decoder: expected a Metaspace decoder, or a Sequence of Replace, ByteFallback, Fuse and Strip steps/],
  [
    "a normalized added token with Llama 2's normalizer",
    withEdit(llama2Json(sample), (json) => (json.added_tokens[2].normalized = true)),
    /^added_tokens\[2\]\.normalized: expected false with Llama 2's normalizer \(tokenizers\.js would match the token with the ▁ it puts first\), got true/,
  ],
  ['byte_fallback that is not a boolean', withEdit(llama2Json(sample), (json) => (json.model.byte_fallback = 'yes')), /^model\.byte_fallback: expected true or false, got "yes"/],
];

for (const [name, json, message] of refused) {
  test(`SentencePiece refused, naming the field: ${name}`, () => {
    assert.throws(() => loadTokenizer(json), (err: unknown) => {
      assert.ok(err instanceof TokenizerFormatError, String(err));
      assert.match(err.message, message);
      return true;
    });
  });
}
