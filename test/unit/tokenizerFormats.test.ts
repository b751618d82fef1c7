// The byte-level BPE tokenizers of imported models (Llama 3, Qwen 2, GPT-NeoX, SmolLM), built from
// the project's small test tokenizer so the tests need no download: the same vocab and merges,
// restructured the way those models' tokenizer.json files are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { TokenizerFormatError } from '../../extension/core/errors';
import { EOT_TOKEN, loadTokenizer, type TextTokenizer } from '../../extension/core/tokenizer';
import { assertTokensEndAtTheirLastByte, codePointEnds } from '../support/tokenOffsets';

// Compiled to out/test/unit/, so the repository root is three levels up.
const fixtures = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures');
const small = JSON.parse(fs.readFileSync(path.join(fixtures, 'tokenizer-small.json'), 'utf8'));
const sample = fs.readFileSync(path.join(fixtures, 'tokenizer-sample.txt'), 'utf8');

const LLAMA3_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const BEGIN = '<|begin_of_text|>';
const END = '<|end_of_text|>';

/** A vocab token no merge reaches: only ignore_merges gives it for " qqq". */
const UNREACHABLE = 'Ġqqq';

function special(id: number, content: string) {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** Llama 3's layout: no special token in model.vocab, special tokens past it, merges as pairs. */
function llama3Json(): any {
  const vocab: Record<string, number> = {};
  for (const [token, id] of Object.entries(small.model.vocab as Record<string, number>)) {
    if (token !== EOT_TOKEN) vocab[token] = id - 1;
  }
  const firstSpecial = Object.keys(vocab).length + 1; // UNREACHABLE goes just before
  vocab[UNREACHABLE] = firstSpecial - 1;
  return {
    ...small,
    added_tokens: [special(firstSpecial, BEGIN), special(firstSpecial + 1, END), special(firstSpecial + 2, '<|eot_id|>')],
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: LLAMA3_SPLIT }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'Sequence',
      processors: [
        { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
        {
          type: 'TemplateProcessing',
          single: [{ SpecialToken: { id: BEGIN, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          pair: [{ SpecialToken: { id: BEGIN, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
          special_tokens: { [BEGIN]: { id: BEGIN, ids: [firstSpecial], tokens: [BEGIN] } },
        },
      ],
    },
    model: {
      ...small.model,
      ignore_merges: true,
      vocab,
      merges: (small.model.merges as string[]).map((merge) => merge.split(' ')),
    },
  };
}

/** Qwen 2's layout: NFC, <|endoftext|> and chat tokens past the vocab, "" prefix and suffix. */
function qwen2Json(): any {
  const json = llama3Json();
  const first = json.added_tokens[0].id;
  json.normalizer = { type: 'NFC' };
  json.added_tokens = [special(first, EOT_TOKEN), special(first + 1, '<|im_start|>'), special(first + 2, '<|im_end|>')];
  json.post_processor = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  json.model = { ...json.model, ignore_merges: false, continuing_subword_prefix: '', end_of_word_suffix: '' };
  return json;
}

function withEdit(json: any, edit: (json: any) => void): any {
  edit(json);
  return json;
}

/** Bytes of each id: a vocab token is one byte per symbol, an added token the UTF-8 of its content. */
function tokenByteLengths(json: any): Map<number, number> {
  const lengths = new Map<number, number>();
  for (const [token, id] of Object.entries(json.model.vocab as Record<string, number>)) lengths.set(id, token.length);
  for (const { id, content } of json.added_tokens) lengths.set(id, Buffer.byteLength(content));
  return lengths;
}

/**
 * Checks the offsets tile the text and are exact: a token ends at the end of the character holding
 * its last byte (for the NFC tokenizers, of the normalized piece holding it; `pieceEnds` lists them).
 */
function assertExactOffsets(json: any, tok: TextTokenizer, text: string, pieceEnds = codePointEnds(text)): void {
  const lengths = tokenByteLengths(json);
  const bytesTo = pieceEnds.map((end) => Buffer.byteLength((json.normalizer ? normalizeNfc : same)(text.slice(0, end))));
  assertTokensEndAtTheirLastByte(tok, text, (id) => lengths.get(id)!, pieceEnds, bytesTo);
}

const same = (text: string) => text;
const normalizeNfc = (text: string) => text.normalize('NFC');

const texts: Record<string, string> = {
  crlf: 'line one\r\nline two  \r\n\r\nlast\n',
  tabs: '\tif (x) {\n\t\treturn y;\t// trailing tab\t\n\t}\n',
  emoji: '😀 👍🏽 👩🏿‍💻 👨‍👩‍👧‍👦 🏳️‍🌈 🇯🇵🇫🇷🇧🇷 ❤️ 1️⃣',
  cjk: '注意力机制很有用。東京は雨です。한국어',
  'combining marks (already NFC)': 'e\u0301 a\u0308 o\u0302\u0323 Z\u0351\u0324a\u0350\u0325l\u0337g\u0358o',
  digits: 'year 2024, pi 3.14159, 1234567',
  contractions: "It's WE'LL they'RE",
  sample,
};

const llama3 = llama3Json();
const llama3Tokenizer = loadTokenizer(llama3);

for (const [name, text] of Object.entries(texts)) {
  test(`Llama 3 style: exact offsets and decode round-trips: ${name}`, () => {
    assertExactOffsets(llama3, llama3Tokenizer, text);
    assert.equal(llama3Tokenizer.decode(llama3Tokenizer.encode(text).ids), text);
  });
}

test('Llama 3 style: the Split regex is applied (digits in groups of three)', () => {
  const { offsets } = llama3Tokenizer.encode('1234567');
  const ends = offsets.map(([, end]) => end);
  for (const groupEnd of [3, 6, 7]) assert.ok(ends.includes(groupEnd), `a token ends after digit ${groupEnd}`);
});

test('Llama 3 style: ignore_merges gives a whole vocab token no merge reaches', () => {
  const id = llama3.model.vocab[UNREACHABLE];
  assert.deepEqual(llama3Tokenizer.encode(' qqq').ids, [id]);
  const withMerges = loadTokenizer(withEdit(llama3Json(), (json) => (json.model.ignore_merges = false)));
  assert.ok(withMerges.encode(' qqq').ids.length > 1);
});

test('Llama 3 style: special tokens past the vocab', () => {
  const [begin, end] = llama3.added_tokens.map((token: { id: number }) => token.id);
  assert.equal(llama3Tokenizer.vocabSize, begin + 3);
  assert.equal(llama3Tokenizer.tokenText(begin), BEGIN);
  const text = `${BEGIN}Hello, world${END}\n`;
  const { ids, offsets } = llama3Tokenizer.encode(text);
  assert.equal(ids[0], begin, 'the special token in the text, and no BOS from the post-processor');
  assert.deepEqual(offsets[0], [0, BEGIN.length]);
  const endAt = ids.indexOf(end);
  assert.deepEqual(offsets[endAt], [text.indexOf(END), text.indexOf(END) + END.length]);
  assert.equal(llama3Tokenizer.decode(ids), text);
  assertExactOffsets(llama3, llama3Tokenizer, text);
});

test('Llama 3 style: no <|endoftext|>, so no eotId', () => {
  assert.equal(llama3Tokenizer.eotId, undefined);
});

test('ids between the vocab and a later added token have no text', () => {
  const json = withEdit(llama3Json(), (json) => json.added_tokens.push(special(json.added_tokens[2].id + 5, '<|far|>')));
  const tok = loadTokenizer(json);
  const gap = json.added_tokens[2].id + 1;
  assert.equal(tok.vocabSize, gap + 5);
  assert.equal(tok.tokenText(gap), '');
  assert.equal(tok.decode([gap]), '');
  assert.equal(tok.tokenText(gap + 4), '<|far|>');
  assert.throws(() => tok.tokenText(gap + 5), RangeError);
});

test('any post_processor is accepted and never adds tokens', () => {
  const tok = loadTokenizer(withEdit(llama3Json(), (json) => (json.post_processor = { type: 'SomethingNew' })));
  assert.deepEqual(tok.encode('Hello').ids, llama3Tokenizer.encode('Hello').ids);
});

// ------------------------------------------------------------------------------------- NFC (Qwen 2)

const qwen2 = qwen2Json();
const qwen2Tokenizer = loadTokenizer(qwen2);

/** Ends of the pieces NFC rewrites as a whole, written out by hand for each text below. */
const nfcTexts: Array<[string, string, number[] | undefined]> = [
  ['decomposed accents', 'cafe\u0301 nai\u0308ve', [1, 2, 3, 5, 6, 7, 8, 10, 11, 12]],
  ['marks out of canonical order', 'a\u0301\u0323b', [3, 4]],
  ['Hangul jamo', '\u1100\u1161\u11a8 \u1100\u1161', [3, 4, 6]],
  ['a mark right after a special token', `x${EOT_TOKEN}\u0301y`, undefined],
  ['already NFC', texts.cjk, undefined],
  ['sample', sample, undefined],
];

for (const [name, text, pieceEnds] of nfcTexts) {
  test(`Qwen 2 style (NFC): exact offsets, decode gives the NFC text: ${name}`, () => {
    const { ids } = qwen2Tokenizer.encode(text);
    if (!text.includes(EOT_TOKEN)) {
      assertExactOffsets(qwen2, qwen2Tokenizer, text, pieceEnds);
      assert.deepEqual(ids, qwen2Tokenizer.encode(text.normalize('NFC')).ids);
    }
    const expected = text.split(EOT_TOKEN).map(normalizeNfc).join(EOT_TOKEN);
    assert.equal(qwen2Tokenizer.decode(ids), expected);
  });
}

test('Qwen 2 style: offsets stay exact on random text that NFC rewrites', () => {
  // Letters, marks that compose with them or reorder (classes 220, 230, 240), Hangul jamo, a special token.
  const pieces = ['a', 'e', 'u', 'x', ' ', '\u0301', '\u0308', '\u0323', '\u0316', '\u0345', '\u0344', '\u1100', '\u1161', '\u11a8', 'é', 'ü', '😀', EOT_TOKEN];
  let seed = 1;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const bytesOf = (text: string) => Buffer.byteLength(text.normalize('NFC'));
  const lengths = tokenByteLengths(qwen2);
  for (let round = 0; round < 300; round++) {
    const text = Array.from({ length: 1 + Math.floor(random() * 10) }, () => pieces[Math.floor(random() * pieces.length)]).join('');
    const { ids, offsets } = qwen2Tokenizer.encode(text);
    assert.equal(qwen2Tokenizer.decode(ids), text.split(EOT_TOKEN).map(normalizeNfc).join(EOT_TOKEN));
    if (text.includes(EOT_TOKEN)) continue; // sections are normalized separately; covered above
    let bytes = 0;
    let position = 0;
    ids.forEach((id, t) => {
      const [start, end] = offsets[t];
      assert.equal(start, position);
      bytes += lengths.get(id)!;
      const cut = `${JSON.stringify(text)}: token ${t}`;
      assert.equal(normalizeNfc(text.slice(0, end)) + normalizeNfc(text.slice(end)), normalizeNfc(text), `${cut} ends where NFC can cut`);
      assert.ok(bytesOf(text.slice(0, end)) >= bytes, `${cut} ends after its last byte`);
      if (end > start) assert.ok(bytesOf(text.slice(0, start)) < bytes, `${cut} starts before one of its bytes`);
      position = end;
    });
    assert.equal(position, text.length);
  }
});

test('Qwen 2 style: a mark after a special token stays its own piece', () => {
  // tokenizers.js normalizes the text on each side of a special token separately.
  const text = `x${EOT_TOKEN}\u0301y`;
  const { ids, offsets } = qwen2Tokenizer.encode(text);
  const at = ids.indexOf(qwen2Tokenizer.eotId!);
  assert.deepEqual(offsets[at], [1, 1 + EOT_TOKEN.length]);
  assert.equal(offsets.at(-1)![1], text.length);
  assert.equal(offsets.map(([start, end]) => text.slice(start, end)).join(''), text);
});

test('Qwen 2 style: <|endoftext|> past the vocab is the eotId', () => {
  assert.equal(qwen2Tokenizer.eotId, qwen2.added_tokens[0].id);
  assert.equal(qwen2Tokenizer.tokenText(qwen2Tokenizer.eotId!), EOT_TOKEN);
});

test('GPT-NeoX style: NFC, and a normalized added token for spaces with the id of their vocab token', () => {
  const json = withEdit(JSON.parse(JSON.stringify(small)), (json) => {
    json.normalizer = { type: 'NFC' };
    json.added_tokens.push({ id: json.model.vocab['ĠĠĠĠ'], content: '    ', normalized: true, special: false });
  });
  const tok = loadTokenizer(json);
  const text = 'a    e\u0301    c';
  assertExactOffsets(json, tok, text, [1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12]);
  assert.equal(tok.decode(tok.encode(text).ids), text.normalize('NFC'));
});

test('SmolLM style: Digits then ByteLevel with its regex', () => {
  const json = withEdit(JSON.parse(JSON.stringify(small)), (json) => {
    json.pre_tokenizer = {
      type: 'Sequence',
      pretokenizers: [{ type: 'Digits', individual_digits: true }, { type: 'ByteLevel', add_prefix_space: false, use_regex: true }],
    };
  });
  const tok = loadTokenizer(json);
  assert.deepEqual(tok.encode('2024').offsets, [[0, 1], [1, 2], [2, 3], [3, 4]]);
  assertExactOffsets(json, tok, sample);
});

test('Punctuation with Contiguous behaviour', () => {
  const json = withEdit(llama3Json(), (json) => json.pre_tokenizer.pretokenizers.splice(1, 0, { type: 'Punctuation', behavior: 'Contiguous' }));
  assertExactOffsets(json, loadTokenizer(json), texts.tabs);
});

// --------------------------------------------------------------------------------------- refusals

const refused: Array<[string, any, RegExp]> = [
  [
    "Llama 2's normalizer without byte fallback",
    withEdit(llama3Json(), (json) => {
      json.normalizer = { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] };
    }),
    /^normalizer: expected a byte-level BPE tokenizer \(GPT-2, Llama 3, Qwen\) or a SentencePiece-style one with "byte_fallback": true in model \(Llama 2, Mistral\), got/,
  ],
  [
    'a Metaspace pre-tokenizer without byte fallback',
    withEdit(llama3Json(), (json) => (json.pre_tokenizer = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false })),
    /^pre_tokenizer: expected .*SentencePiece-style one with "byte_fallback": true.*, got \{"type":"Metaspace"/,
  ],
  [
    'byte fallback with a byte-level vocabulary',
    withEdit(llama3Json(), (json) => (json.model.byte_fallback = true)),
    /^decoder: expected a Metaspace decoder, or a Sequence of Replace, ByteFallback, Fuse and Strip steps, got \{"type":"ByteLevel"/,
  ],
  ['a lowercasing normalizer', withEdit(llama3Json(), (json) => (json.normalizer = { type: 'Lowercase' })), /^normalizer: expected null, \{"type": "NFC"\}/],
  [
    'a prefix space',
    withEdit(llama3Json(), (json) => (json.pre_tokenizer.pretokenizers[1].add_prefix_space = true)),
    /^pre_tokenizer\.pretokenizers\[1\]\.add_prefix_space: expected false, got true/,
  ],
  [
    'a Split that removes text',
    withEdit(llama3Json(), (json) => (json.pre_tokenizer.pretokenizers[0].behavior = 'Removed')),
    /^pre_tokenizer\.pretokenizers\[0\]\.behavior: expected "Isolated", got "Removed"/,
  ],
  [
    'an inverted Split',
    withEdit(llama3Json(), (json) => (json.pre_tokenizer.pretokenizers[0].invert = true)),
    /^pre_tokenizer\.pretokenizers\[0\]\.invert: expected false, got true/,
  ],
  [
    'a Split regex that does not compile',
    withEdit(llama3Json(), (json) => (json.pre_tokenizer.pretokenizers[0].pattern = { Regex: '(unclosed' })),
    /^pre_tokenizer\.pretokenizers\[0\]\.pattern: expected a regular expression tokenizers\.js can translate/,
  ],
  [
    'ByteLevel not last',
    withEdit(llama3Json(), (json) => json.pre_tokenizer.pretokenizers.reverse()),
    /^pre_tokenizer\.pretokenizers\[0\]: expected Split, Digits or Punctuation before ByteLevel/,
  ],
  [
    'an unsupported step',
    withEdit(llama3Json(), (json) => (json.pre_tokenizer.pretokenizers[0] = { type: 'Whitespace' })),
    /^pre_tokenizer\.pretokenizers\[0\]: expected \{"type": "ByteLevel"/,
  ],
  [
    'Punctuation split into single characters',
    withEdit(llama3Json(), (json) => json.pre_tokenizer.pretokenizers.unshift({ type: 'Punctuation', behavior: 'Isolated' })),
    /^pre_tokenizer\.pretokenizers\[0\]\.behavior: expected "Contiguous", got "Isolated"/,
  ],
  ['lstrip', withEdit(llama3Json(), (json) => (json.added_tokens[1].lstrip = true)), /^added_tokens\[1\]\.lstrip: expected false/],
  ['rstrip', withEdit(llama3Json(), (json) => (json.added_tokens[1].rstrip = true)), /^added_tokens\[1\]\.rstrip: expected false/],
  ['single_word', withEdit(llama3Json(), (json) => (json.added_tokens[0].single_word = true)), /^added_tokens\[0\]\.single_word: expected false/],
  [
    'an added token on a vocab id with other text',
    withEdit(llama3Json(), (json) => (json.added_tokens[0].id = json.model.vocab.A)),
    /^added_tokens\[0\]\.id: expected an id that model\.vocab gives no other text, got \d+, which is "A" in model\.vocab/,
  ],
  [
    'an added token whose text has another vocab id',
    withEdit(llama3Json(), (json) => (json.added_tokens[0].content = 'A')),
    /^added_tokens\[0\]\.id: expected \d+, the id model\.vocab gives "A"/,
  ],
  [
    'two added tokens with one id',
    withEdit(llama3Json(), (json) => (json.added_tokens[1].id = json.added_tokens[0].id)),
    /^added_tokens\[1\]\.id: expected an id no other added token has/,
  ],
  [
    'an added token spelled in byte symbols',
    withEdit(llama3Json(), (json) => (json.added_tokens[2].content = 'Ġhello')),
    /^added_tokens\[2\]\.content: expected text that is not byte-level symbols spelling other text, got "Ġhello"/,
  ],
  [
    'a normalized added token that NFC would change',
    withEdit(qwen2Json(), (json) => json.added_tokens.push({ ...special(json.added_tokens[2].id + 1, 'e\u0301'), normalized: true })),
    /^added_tokens\[3\]\.content: expected text in NFC/,
  ],
  [
    'one id for two vocab tokens',
    withEdit(llama3Json(), (json) => (json.model.vocab.B = json.model.vocab.A)),
    /^model\.vocab: expected each id used once, got id \d+ for "A" and "B"/,
  ],
  [
    'a vocab token that is not byte symbols',
    withEdit(llama3Json(), (json) => (json.model.vocab['▁the'] = 999)),
    /^model\.vocab\["▁the"\]: expected byte-level symbols/,
  ],
  ['BPE dropout', withEdit(llama3Json(), (json) => (json.model.dropout = 0.1)), /^model\.dropout: expected null, got 0\.1/],
  ['an end-of-word suffix', withEdit(llama3Json(), (json) => (json.model.end_of_word_suffix = '</w>')), /^model\.end_of_word_suffix: expected null or ""/],
  ['a WordPiece model', withEdit(llama3Json(), (json) => (json.model.type = 'WordPiece')), /^model\.type: expected "BPE"/],
];

for (const [name, json, message] of refused) {
  test(`refused, naming the field: ${name}`, () => {
    assert.throws(() => loadTokenizer(json), (err: unknown) => {
      assert.ok(err instanceof TokenizerFormatError);
      assert.match(err.message, message);
      return true;
    });
  });
}
