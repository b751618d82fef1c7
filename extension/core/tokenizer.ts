// Loads the project's byte-level BPE tokenizer.json (written by model/tokenizer.py) and encodes text
// with exact UTF-16 offsets. Plain TypeScript: no vscode, no file system, so it also runs in a browser.
//
// Ids come from Hugging Face tokenizers.js; the Python encoder is written to give the same ids, and
// model/tests/test_tokenizer.py checks that on a shared sample. Offsets are computed here, because
// tokenizers.js does not return them: each token's bytes are walked against the input's UTF-8 bytes.

import { Tokenizer } from '@huggingface/tokenizers';

export const EOT_TOKEN = '<|endoftext|>';

export interface Encoding {
  ids: number[];
  /**
   * One [start, end) UTF-16 range per token. Ranges are contiguous, in order, and cover the text.
   * A character split over several tokens belongs to the token holding its first byte; the tokens
   * holding only its later bytes get an empty range at the character's end.
   */
  offsets: Array<[number, number]>;
}

export interface TextTokenizer {
  readonly vocabSize: number;
  readonly eotId: number;
  encode(text: string): Encoding;
  decode(ids: readonly number[]): string;
  /** The token's text; bytes that do not form whole UTF-8 characters are shown as \xHH. */
  tokenText(id: number): string;
}

/** A tokenizer.json this project cannot use. The message names the field and what was expected. */
export class TokenizerFormatError extends Error {
  override name = 'TokenizerFormatError';
}

/** Parses and validates a tokenizer.json (its text, or the already parsed object). */
export function loadTokenizer(tokenizerJson: string | object): TextTokenizer {
  let data: unknown = tokenizerJson;
  if (typeof tokenizerJson === 'string') {
    try {
      data = JSON.parse(tokenizerJson);
    } catch (err) {
      throw new TokenizerFormatError(`tokenizer.json is not valid JSON: ${(err as Error).message}`);
    }
  }
  return new ByteLevelBpeTokenizer(validateTokenizerJson(data));
}

interface AddedTokenJson {
  id: number;
  content: string;
}

interface TokenizerJson {
  added_tokens: AddedTokenJson[];
  model: { vocab: Record<string, number>; merges: Array<string | [string, string]> };
}

/** GPT-2's byte -> printable character map (the same table tokenizers.js and model/tokenizer.py use). */
const BYTE_TO_SYMBOL: string[] = (() => {
  const printable = (from: string, to: string) =>
    Array.from({ length: to.charCodeAt(0) - from.charCodeAt(0) + 1 }, (_, i) => from.charCodeAt(0) + i);
  const kept = new Set([...printable('!', '~'), ...printable('¡', '¬'), ...printable('®', 'ÿ')]);
  let nextCodePoint = 256;
  return Array.from({ length: 256 }, (_, b) => String.fromCharCode(kept.has(b) ? b : nextCodePoint++));
})();
const SYMBOL_TO_BYTE = new Map(BYTE_TO_SYMBOL.map((symbol, b) => [symbol, b]));

class ByteLevelBpeTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly eotId: number;
  private readonly hf: Tokenizer;
  private readonly tokenBytes: Uint8Array[];
  private readonly specialContent = new Map<number, string>();

  constructor(json: TokenizerJson) {
    // clean_up_tokenization_spaces defaults to true in tokenizers.js and would rewrite " ." to "."
    this.hf = new Tokenizer(json, { clean_up_tokenization_spaces: false });
    for (const added of json.added_tokens) this.specialContent.set(added.id, added.content);
    const utf8 = new TextEncoder();
    this.tokenBytes = [];
    for (const [token, id] of Object.entries(json.model.vocab)) {
      const special = this.specialContent.get(id);
      this.tokenBytes[id] =
        special !== undefined ? utf8.encode(special) : Uint8Array.from(token, (symbol) => SYMBOL_TO_BYTE.get(symbol)!);
    }
    this.vocabSize = this.tokenBytes.length;
    this.eotId = json.model.vocab[EOT_TOKEN];
  }

  encode(text: string): Encoding {
    const ids = text.length === 0 ? [] : this.hf.encode(text, { add_special_tokens: false }).ids;
    return { ids, offsets: this.offsetsOf(text, ids) };
  }

  decode(ids: readonly number[]): string {
    ids.forEach((id) => this.checkId(id));
    // tokenizers.js throws on an empty list rather than returning ''.
    return ids.length === 0 ? '' : this.hf.decode([...ids], { clean_up_tokenization_spaces: false });
  }

  tokenText(id: number): string {
    this.checkId(id);
    return this.specialContent.get(id) ?? displayUtf8(this.tokenBytes[id]);
  }

  /** Walks the tokens' byte lengths against the text's UTF-8 encoding, character by character. */
  private offsetsOf(text: string, ids: number[]): Array<[number, number]> {
    const offsets: Array<[number, number]> = [];
    let position = 0; // UTF-16 index of the first character no token has claimed yet
    let claimedBytesAhead = 0; // bytes of an already claimed character that later tokens still hold
    for (const id of ids) {
      const start = position;
      let bytes = this.tokenBytes[id].length;
      const fromClaimed = Math.min(bytes, claimedBytesAhead);
      claimedBytesAhead -= fromClaimed;
      bytes -= fromClaimed;
      while (bytes > 0) {
        if (position >= text.length) throw new Error('tokenizer: token bytes run past the end of the text');
        const codePoint = text.codePointAt(position)!;
        const charBytes = utf8Length(codePoint);
        position += codePoint > 0xffff ? 2 : 1; // never split a surrogate pair
        if (charBytes > bytes) claimedBytesAhead = charBytes - bytes;
        bytes -= Math.min(bytes, charBytes);
      }
      offsets.push([start, position]);
    }
    if (position !== text.length || claimedBytesAhead !== 0) {
      throw new Error('tokenizer: tokens do not cover the text exactly');
    }
    return offsets;
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new RangeError(`token id ${id} is outside the vocabulary (size ${this.vocabSize})`);
    }
  }
}

/** Bytes TextEncoder writes for one code point; a lone surrogate becomes U+FFFD, 3 bytes. */
function utf8Length(codePoint: number): number {
  if (codePoint < 0x80) return 1;
  if (codePoint < 0x800) return 2;
  if (codePoint < 0x10000) return 3;
  return 4;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function displayUtf8(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    // Part of a multi-byte character: decode the whole characters, escape the stray bytes.
  }
  let text = '';
  let i = 0;
  while (i < bytes.length) {
    const length = utf8SequenceLength(bytes[i]);
    if (length > 0 && i + length <= bytes.length) {
      try {
        text += strictUtf8.decode(bytes.subarray(i, i + length));
        i += length;
        continue;
      } catch {
        // Not a valid sequence: fall through and escape the lead byte.
      }
    }
    text += `\\x${bytes[i].toString(16).toUpperCase().padStart(2, '0')}`;
    i += 1;
  }
  return text;
}

/** Sequence length announced by a UTF-8 lead byte, or 0 for a continuation or invalid byte. */
function utf8SequenceLength(leadByte: number): number {
  if (leadByte < 0x80) return 1;
  if (leadByte >= 0xc2 && leadByte < 0xe0) return 2;
  if (leadByte >= 0xe0 && leadByte < 0xf0) return 3;
  if (leadByte >= 0xf0 && leadByte < 0xf5) return 4;
  return 0;
}

// ---------------------------------------------------------------------------------- validation
// The same checks as ByteLevelBPE.from_json in model/tokenizer.py: accept only the settings whose
// encoding the Python side reproduces, so ids never silently diverge.

function validateTokenizerJson(data: unknown): TokenizerJson {
  check(isObject(data), 'top level', 'a JSON object', data);
  checkField(data, '', 'normalizer', (v) => v === null, 'null (no normalizer)');
  checkField(
    data,
    '',
    'pre_tokenizer',
    (v) => isObject(v) && v.type === 'ByteLevel' && v.add_prefix_space === false && (v.use_regex ?? true) === true,
    '{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}',
  );
  checkField(data, '', 'post_processor', (v) => v === null, 'null (no post-processor)');
  checkField(data, '', 'decoder', (v) => isObject(v) && v.type === 'ByteLevel', '{"type": "ByteLevel"}');
  checkField(data, '', 'model', isObject, 'an object');
  const model = data.model as Record<string, unknown>;
  checkField(model, 'model.', 'type', (v) => v === 'BPE', '"BPE"');
  const requiredOptions: Array<[string, unknown]> = [
    ['dropout', null],
    ['continuing_subword_prefix', null],
    ['end_of_word_suffix', null],
    ['byte_fallback', false],
    ['ignore_merges', false],
  ];
  for (const [option, expected] of requiredOptions) {
    check((model[option] ?? expected) === expected, `model.${option}`, JSON.stringify(expected), model[option]);
  }

  checkField(
    model,
    'model.',
    'vocab',
    (v) => isObject(v) && Object.keys(v).length > 0,
    'a non-empty object mapping token strings to ids',
  );
  const vocab = model.vocab as Record<string, unknown>;
  for (const [token, id] of Object.entries(vocab)) {
    check(Number.isInteger(id) && (id as number) >= 0, `model.vocab[${show(token)}]`, 'a non-negative integer id', id);
  }
  const ids = (Object.values(vocab) as number[]).sort((a, b) => a - b);
  const gap = ids.findIndex((id, index) => id !== index);
  if (gap !== -1) {
    const got = ids[gap] === ids[gap - 1] ? `id ${ids[gap]} used twice` : `no token with id ${gap}`;
    fail('model.vocab', `ids 0..${ids.length - 1}, each used once`, got);
  }
  BYTE_TO_SYMBOL.forEach((symbol, b) => {
    if (!(symbol in vocab)) {
      const hex = b.toString(16).toUpperCase().padStart(2, '0');
      fail('model.vocab', `a token for every byte (byte 0x${hex} is ${show(symbol)})`, `no ${show(symbol)}`);
    }
  });

  checkField(model, 'model.', 'merges', Array.isArray, 'a list of "left right" strings');
  (model.merges as unknown[]).forEach((merge, index) => {
    const field = `model.merges[${index}]`;
    const parts = typeof merge === 'string' ? merge.split(' ') : merge;
    check(
      Array.isArray(parts) && parts.length === 2 && parts.every((p) => typeof p === 'string'),
      field,
      'a "left right" string or a [left, right] pair',
      merge,
    );
    const [left, right] = parts as [string, string];
    for (const token of [left, right, left + right]) {
      if (!(token in vocab)) {
        fail(field, 'a merge of two vocab tokens into a vocab token', `${show(merge)}, and ${show(token)} is not in model.vocab`);
      }
    }
  });

  checkField(data, '', 'added_tokens', Array.isArray, 'a list');
  const added = data.added_tokens as unknown[];
  added.forEach((token, index) => {
    const field = `added_tokens[${index}]`;
    check(
      isObject(token) && typeof token.content === 'string' && Number.isInteger(token.id),
      field,
      'an object with "id" (integer) and "content" (string)',
      token,
    );
    const { id, content } = token as Record<string, unknown> & AddedTokenJson;
    check(id === vocab[content], `${field}.id`, `${vocab[content]}, the id model.vocab gives ${show(content)}`, id);
    // Stripping/normalising options change how text around the token is split.
    for (const option of ['single_word', 'lstrip', 'rstrip', 'normalized']) {
      check((token[option] ?? false) === false, `${field}.${option}`, 'false', token[option]);
    }
  });
  if (!added.some((token) => (token as AddedTokenJson).content === EOT_TOKEN)) {
    fail('added_tokens', `an entry for the end-of-text token ${EOT_TOKEN}`, 'none');
  }
  return data as unknown as TokenizerJson;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  return (JSON.stringify(value) ?? String(value)).slice(0, 200);
}

function fail(field: string, expected: string, got: string): never {
  throw new TokenizerFormatError(`${field}: expected ${expected}, got ${got}`);
}

function check(ok: boolean, field: string, expected: string, value: unknown): asserts ok {
  if (!ok) fail(field, expected, show(value));
}

function checkField(
  obj: Record<string, unknown>,
  prefix: string,
  key: string,
  isValid: (value: unknown) => boolean,
  expected: string,
): void {
  if (!(key in obj)) fail(prefix + key, expected, 'nothing (the field is missing)');
  check(isValid(obj[key]), prefix + key, expected, obj[key]);
}
