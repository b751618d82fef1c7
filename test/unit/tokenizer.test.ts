import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { TokenizerFormatError } from '../../extension/core/errors';
import { EOT_TOKEN, loadTokenizer, type TextTokenizer } from '../../extension/core/tokenizer';

// Compiled to out/test/unit/, so the repository root is three levels up.
const fixtures = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures');
// Trained by model/tokenizer.py on tokenizer-sample.txt with vocab 400 (see model/tests/test_tokenizer.py).
const smallTokenizerJson = fs.readFileSync(path.join(fixtures, 'tokenizer-small.json'), 'utf8');
const sample = fs.readFileSync(path.join(fixtures, 'tokenizer-sample.txt'), 'utf8');
const tokenizer = loadTokenizer(smallTokenizerJson);

/** Checks the offsets tile the text: contiguous, in order, never inside a surrogate pair. */
function assertOffsetsTile(tok: TextTokenizer, text: string): void {
  const { ids, offsets } = tok.encode(text);
  assert.equal(offsets.length, ids.length);
  let position = 0;
  for (const [start, end] of offsets) {
    assert.equal(start, position, 'offsets must be contiguous');
    assert.ok(end >= start);
    assert.ok(!splitsSurrogatePair(text, end), `offset ${end} splits a surrogate pair`);
    position = end;
  }
  assert.equal(position, text.length, 'offsets must cover the text');
  assert.equal(offsets.map(([start, end]) => text.slice(start, end)).join(''), text);
  assert.equal(tok.decode(ids), text);
}

function splitsSurrogatePair(text: string, index: number): boolean {
  const before = text.charCodeAt(index - 1);
  const after = text.charCodeAt(index);
  return before >= 0xd800 && before < 0xdc00 && after >= 0xdc00 && after < 0xe000;
}

const cases: Record<string, string> = {
  empty: '',
  'lone space': ' ',
  crlf: 'line one\r\nline two  \r\n\r\nlast\n',
  tabs: '\tif (x) {\n\t\treturn y;\t// trailing tab\t\n\t}\n',
  emoji: '😀 👍🏽 👩🏿‍💻 👨‍👩‍👧‍👦 🏳️‍🌈 🇯🇵🇫🇷🇧🇷 ❤️ 1️⃣',
  'combining marks': 'e\u0301 a\u0308 o\u0302\u0323 Z\u0351\u0324a\u0350\u0325l\u0337g\u0358o',
  cjk: '注意力机制很有用。東京は雨です。한국어',
  'special token': `before${EOT_TOKEN}after`,
  'long line': 'alpha λ 😀 42 '.repeat(500),
  sample,
};

for (const [name, text] of Object.entries(cases)) {
  test(`offsets tile the text and decode round-trips: ${name}`, () => assertOffsetsTile(tokenizer, text));
}

test('the sample keeps its CRLF line endings (see .gitattributes)', () => {
  assert.ok(sample.includes('\r\n'));
});

test('vocabulary layout: end-of-text first, then the 256 bytes', () => {
  assert.equal(tokenizer.vocabSize, 400);
  assert.equal(tokenizer.eotId, 0);
  assert.equal(tokenizer.tokenText(0), EOT_TOKEN);
  assert.equal(tokenizer.tokenText(1 + 'A'.charCodeAt(0)), 'A');
  assert.equal(tokenizer.tokenText(1 + 0x20), ' ');
});

test('a special token is one id whose range covers its text', () => {
  const text = `a${EOT_TOKEN}b`;
  const { ids, offsets } = tokenizer.encode(text);
  const index = ids.indexOf(tokenizer.eotId!);
  assert.notEqual(index, -1);
  assert.deepEqual(offsets[index], [1, 1 + EOT_TOKEN.length]);
});

test('a character split over tokens goes to the token holding its first byte', () => {
  // With this small vocabulary an emoji (4 UTF-8 bytes) is several tokens.
  const { ids, offsets } = tokenizer.encode('😀');
  assert.ok(ids.length > 1);
  assert.deepEqual(offsets[0], [0, 2]);
  for (const range of offsets.slice(1)) assert.deepEqual(range, [2, 2]);
});

test('tokenText escapes bytes that are not whole characters', () => {
  const { ids } = tokenizer.encode('😀');
  const shown = ids.map((id) => tokenizer.tokenText(id)).join('');
  assert.equal(shown, '\\xF0\\x9F\\x98\\x80');
  assert.equal(tokenizer.tokenText(1 + 0xc3), '\\xC3');
});

test('decode rejects ids outside the vocabulary', () => {
  assert.throws(() => tokenizer.decode([400]), RangeError);
  assert.throws(() => tokenizer.decode([-1]), RangeError);
  assert.equal(tokenizer.decode([]), '');
});

test('decode keeps spaces before punctuation (no clean-up)', () => {
  const text = 'a , b . c ?';
  assert.equal(tokenizer.decode(tokenizer.encode(text).ids), text);
});

test('loads a parsed object as well as JSON text', () => {
  const fromObject = loadTokenizer(JSON.parse(smallTokenizerJson));
  assert.deepEqual(fromObject.encode(sample).ids, tokenizer.encode(sample).ids);
});

test('<|endoftext|> is optional: without it the tokenizer loads and has no eotId', () => {
  const json = JSON.parse(smallTokenizerJson);
  json.added_tokens = [];
  const withoutEot = loadTokenizer(json);
  assert.equal(withoutEot.eotId, undefined);
  const text = cases.crlf + cases.emoji + cases.cjk;
  assert.deepEqual(withoutEot.encode(text).ids, tokenizer.encode(text).ids);
});

function brokenTokenizer(edit: (json: any) => void): string {
  const json = JSON.parse(smallTokenizerJson);
  edit(json);
  return JSON.stringify(json);
}

const badTokenizers: Array<[string, string, RegExp]> = [
  ['not JSON', '{"model": ', /not valid JSON/],
  [
    'missing model.vocab',
    brokenTokenizer((json) => delete json.model.vocab),
    /^model\.vocab: expected a non-empty object mapping token strings to ids, got nothing/,
  ],
  [
    'merge of an unknown token',
    brokenTokenizer((json) => json.model.merges.unshift('Ġ nosuchtoken')),
    /^model\.merges\[0\]: .*"nosuchtoken" is not in model\.vocab/,
  ],
  [
    'byte symbol missing',
    brokenTokenizer((json) => {
      json.model.vocab['not-a-byte'] = json.model.vocab.A;
      delete json.model.vocab.A;
    }),
    /^model\.vocab: expected a token for every byte \(byte 0x41 is "A"\)/,
  ],
  [
    'wrong pre-tokenizer',
    brokenTokenizer((json) => (json.pre_tokenizer = { type: 'Whitespace' })),
    /^pre_tokenizer: expected \{"type": "ByteLevel"/,
  ],
];

for (const [name, text, message] of badTokenizers) {
  test(`a bad tokenizer.json is explained: ${name}`, () => {
    assert.throws(() => loadTokenizer(text), (err: unknown) => {
      assert.ok(err instanceof TokenizerFormatError);
      assert.match(err.message, message);
      return true;
    });
  });
}
