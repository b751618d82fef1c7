// Loads a byte-level BPE tokenizer.json (this project's own, written by model/tokenizer.py, or an
// imported model's: GPT-2, GPT-NeoX, Llama 3, Qwen 2, SmolLM, DeepSeek) and encodes text with exact
// UTF-16 offsets. Plain TypeScript: no vscode, no file system, so it also runs in a browser.
//
// Ids come from Hugging Face tokenizers.js (model/tests/test_tokenizer.py checks the Python encoder
// gives the same ids for the project's format). Offsets are computed here, because tokenizers.js
// does not return them: each token's bytes are walked against the text's UTF-8 bytes (after NFC,
// for tokenizers that normalize).

import { Tokenizer } from '@huggingface/tokenizers';

export const EOT_TOKEN = '<|endoftext|>';

export interface Encoding {
  ids: number[];
  /**
   * One [start, end) UTF-16 range per token. Ranges are contiguous, in order, and cover the text.
   * A character split over several tokens belongs to the token holding its first byte; the tokens
   * holding only its later bytes get an empty range at the character's end. Where NFC changes the
   * text, read "character" as a letter with the marks after it, or jamo forming one Hangul syllable.
   */
  offsets: Array<[number, number]>;
}

export interface TextTokenizer {
  /** Max id + 1 over the vocab and the added tokens; an id no token has decodes to nothing. */
  readonly vocabSize: number;
  /** The id of <|endoftext|>; undefined for a tokenizer without one (imported models may have none). */
  readonly eotId: number | undefined;
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

interface ValidTokenizer {
  /** What tokenizers.js gets: the file with merges as pairs and no post-processor. */
  hfJson: object;
  /** Each id's bytes; empty for an id no token has. */
  tokenBytes: Uint8Array[];
  /** Added tokens by id; `raw` ones are matched in the text before the normalizer, the others after it. */
  added: Map<number, { content: string; raw: boolean }>;
  nfc: boolean;
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
const utf8 = new TextEncoder();

/** [end, bytes]: a code point (or a piece NFC rewrites as a whole) ending at UTF-16 index `end`, and its UTF-8 bytes. */
type Unit = [number, number];

class ByteLevelBpeTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  private readonly hf: Tokenizer;
  readonly eotId: number | undefined;

  constructor(private readonly valid: ValidTokenizer) {
    // clean_up_tokenization_spaces defaults to true in tokenizers.js and would rewrite " ." to "."
    this.hf = new Tokenizer(valid.hfJson, { clean_up_tokenization_spaces: false });
    this.vocabSize = valid.tokenBytes.length;
    this.eotId = [...valid.added].find(([, token]) => token.content === EOT_TOKEN)?.[0];
  }

  encode(text: string): Encoding {
    // The post-processor is never run: the engine puts the model's own bos_token_id first.
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
    return this.valid.added.get(id)?.content ?? displayUtf8(this.valid.tokenBytes[id]);
  }

  /** Walks the tokens' byte lengths against the text's units. */
  private offsetsOf(text: string, ids: number[]): Array<[number, number]> {
    const units = this.unitsOf(text, ids);
    const offsets: Array<[number, number]> = [];
    let unit = 0;
    let position = 0; // UTF-16 index of the first unit no token has claimed yet
    let claimedBytesAhead = 0; // bytes of an already claimed unit that later tokens still hold
    for (const id of ids) {
      const start = position;
      let bytes = this.valid.tokenBytes[id].length;
      const fromClaimed = Math.min(bytes, claimedBytesAhead);
      claimedBytesAhead -= fromClaimed;
      bytes -= fromClaimed;
      while (bytes > 0) {
        if (unit >= units.length) throw new Error('tokenizer: token bytes run past the end of the text');
        const [end, unitBytes] = units[unit++];
        position = end;
        if (unitBytes > bytes) claimedBytesAhead = unitBytes - bytes;
        bytes -= Math.min(bytes, unitBytes);
      }
      offsets.push([start, position]);
    }
    if (unit !== units.length || claimedBytesAhead !== 0) throw new Error('tokenizer: tokens do not cover the text exactly');
    return offsets;
  }

  private unitsOf(text: string, ids: number[]): Unit[] {
    const units: Unit[] = [];
    if (!this.valid.nfc) return appendCodePointUnits(units, text, 0, text.length);
    // tokenizers.js first cuts out the added tokens matched in the raw text, then normalizes each
    // piece between them on its own. The next such token in the ids is the next cut.
    let position = 0;
    for (const id of ids) {
      const token = this.valid.added.get(id);
      if (!token?.raw) continue;
      const at = text.indexOf(token.content, position);
      if (at < 0) throw new Error(`tokenizer: ${token.content} is not in the text`);
      appendNfcUnits(units, text, position, at);
      appendCodePointUnits(units, text, at, at + token.content.length);
      position = at + token.content.length;
    }
    return appendNfcUnits(units, text, position, text.length);
  }

  private checkId(id: number): void {
    if (!(Number.isInteger(id) && id >= 0 && id < this.vocabSize)) throw new RangeError(`token id ${id} is outside the vocabulary (size ${this.vocabSize})`);
  }
}

function appendCodePointUnits(units: Unit[], text: string, start: number, end: number): Unit[] {
  for (let i = start; i < end; ) {
    const codePoint = text.codePointAt(i)!;
    i += codePoint > 0xffff ? 2 : 1; // never split a surrogate pair
    // The bytes TextEncoder writes; a lone surrogate becomes U+FFFD, 3 bytes.
    units.push([i, codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4]);
  }
  return units;
}

/** Units of text[start, end) under NFC: chunks whose NFC forms, put together, are the NFC form of
 *  the whole, so a token boundary inside a chunk can be moved to the chunk's end. */
function appendNfcUnits(units: Unit[], text: string, start: number, end: number): Unit[] {
  const piece = text.slice(start, end);
  if (piece.normalize('NFC') === piece) return appendCodePointUnits(units, text, start, end);
  let chunkStart = start;
  for (let i = start; i < end; ) {
    const next = i + (text.codePointAt(i)! > 0xffff ? 2 : 1);
    if (next < end && startsNfcChunk(text.slice(chunkStart, next), String.fromCodePoint(text.codePointAt(next)!))) {
      units.push([next, utf8.encode(text.slice(chunkStart, next).normalize('NFC')).length]);
      chunkStart = next;
    }
    i = next;
  }
  units.push([end, utf8.encode(text.slice(chunkStart, end).normalize('NFC')).length]);
  return units;
}

/** Whether character c can start a new NFC chunk after `chunk`: c begins with a starter (canonical
 *  combining class 0: no later mark reorders or composes across it) that does not compose with the
 *  chunk. A starter composes only with the character just before it, so nothing after c can either. */
function startsNfcChunk(chunk: string, c: string): boolean {
  if (c < '\u0080') return true;
  // A mark reorders around U+0345 (class 240) or U+0334 (class 1); a starter does not.
  const first = String.fromCodePoint(c.normalize('NFD').codePointAt(0)!);
  const isStarter = ('\u0345' + first).normalize('NFD') === '\u0345' + first
    && (first + '\u0334').normalize('NFD') === first + '\u0334';
  return isStarter && (chunk + c).normalize('NFC') === chunk.normalize('NFC') + c.normalize('NFC');
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes whole characters and escapes stray bytes (a token may hold part of a character). */
function displayUtf8(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; ) {
    const length = utf8SequenceLength(bytes[i]);
    const character = length > 0 && i + length <= bytes.length ? decodeStrict(bytes.subarray(i, i + length)) : undefined;
    text += character ?? `\\x${bytes[i].toString(16).toUpperCase().padStart(2, '0')}`;
    i += character === undefined ? 1 : length;
  }
  return text;
}

function decodeStrict(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined; // not a valid sequence
  }
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
// Accepts only settings tokenizers.js encodes as Hugging Face's tokenizers library does, with exact
// offsets. ByteLevelBPE.from_json in model/tokenizer.py reads the subset the project writes.

const SENTENCEPIECE_NOT_SUPPORTED = 'a byte-level BPE tokenizer (GPT-2, Llama 3, Qwen); SentencePiece (Llama 2-style) tokenizers are not supported';
/** A typo in an id must not allocate a huge table; the largest vocabularies have about 260,000 ids. */
const MAX_ID = 1 << 24;

function validateTokenizerJson(data: unknown): ValidTokenizer {
  check(isObject(data), 'top level', 'a JSON object', data);
  const sentencePiece = (key: string) => /"type":"(Metaspace|Prepend|ByteFallback)"/.test(JSON.stringify(data[key]) ?? '');
  const sentencePieceField = ['normalizer', 'pre_tokenizer', 'decoder'].find(sentencePiece);
  if (sentencePieceField) fail(sentencePieceField, SENTENCEPIECE_NOT_SUPPORTED, show(data[sentencePieceField]));

  // Other normalizers (Lowercase, NFKC, Replace…) rewrite text in ways offsets cannot be traced through.
  const normalizers = (v: unknown) => (v === null ? [] : isObject(v) && v.type === 'Sequence' ? v.normalizers : [v]);
  const isNfc = (v: unknown) => [normalizers(v)].flat().every((n) => isObject(n) && n.type === 'NFC');
  checkField(data, '', 'normalizer', isNfc, 'null, {"type": "NFC"} or a Sequence of NFC');
  const nfc = [normalizers(data.normalizer)].flat().length > 0;
  checkField(data, '', 'pre_tokenizer', isObject, 'an object');
  validatePreTokenizer(data.pre_tokenizer as Record<string, unknown>);
  checkField(data, '', 'decoder', (v) => isObject(v) && v.type === 'ByteLevel', '{"type": "ByteLevel"}');
  // Any post_processor is accepted and ignored: encode() never adds special tokens.

  checkField(data, '', 'model', isObject, 'an object');
  const model = data.model as Record<string, unknown>;
  checkField(model, 'model.', 'type', (v) => v === 'BPE', '"BPE"');
  check((model.dropout ?? null) === null, 'model.dropout', 'null', model.dropout);
  for (const option of ['continuing_subword_prefix', 'end_of_word_suffix']) check((model[option] ?? '') === '', `model.${option}`, 'null or ""', model[option]);
  check((model.byte_fallback ?? false) === false, 'model.byte_fallback', `false (${SENTENCEPIECE_NOT_SUPPORTED})`, model.byte_fallback);
  check(typeof (model.ignore_merges ?? false) === 'boolean', 'model.ignore_merges', 'true or false', model.ignore_merges);

  checkField(model, 'model.', 'vocab', (v) => isObject(v) && Object.keys(v).length > 0, 'a non-empty object mapping token strings to ids');
  const vocab = new Map<string, number>();
  const vocabTokenOf = new Map<number, string>();
  for (const [token, id] of Object.entries(model.vocab as Record<string, unknown>)) {
    if (!isId(id)) fail(`model.vocab[${show(token)}]`, `an integer id from 0 to ${MAX_ID - 1}`, show(id)); // no message built per token
    if (vocabTokenOf.has(id)) fail('model.vocab', 'each id used once', `id ${id} for ${show(vocabTokenOf.get(id))} and ${show(token)}`);
    vocab.set(token, id);
    vocabTokenOf.set(id, token);
  }
  const missingByte = BYTE_TO_SYMBOL.findIndex((symbol) => !vocab.has(symbol));
  if (missingByte >= 0) {
    const [hex, symbol] = [missingByte.toString(16).toUpperCase().padStart(2, '0'), show(BYTE_TO_SYMBOL[missingByte])];
    fail('model.vocab', `a token for every byte (byte 0x${hex} is ${symbol})`, `no ${symbol}`);
  }
  const merges = validateMerges(model.merges, vocab);

  checkField(data, '', 'added_tokens', Array.isArray, 'a list');
  const added: ValidTokenizer['added'] = new Map();
  (data.added_tokens as unknown[]).forEach((token, index) => {
    const field = `added_tokens[${index}]`;
    const isToken = isObject(token) && typeof token.content === 'string' && token.content !== '' && isId(token.id);
    check(isToken, field, 'an object with "id" (an integer) and "content" (a non-empty string)', token);
    const id = token.id as number;
    const content = token.content as string;
    check((token.single_word ?? false) === false, `${field}.single_word`, 'false (tokenizers.js ignores it)', token.single_word);
    const stripped = 'false (the stripped spaces would be in no token)';
    for (const option of ['lstrip', 'rstrip']) check((token[option] ?? false) === false, `${field}.${option}`, stripped, token[option]);
    // tokenizers.js's default; such tokens are matched in the normalized text.
    const normalized = nfc && Boolean(token.normalized ?? token.special !== true);
    if (normalized) check(content.normalize('NFC') === content, `${field}.content`, 'text in NFC, as it is normalized', content);
    const vocabId = vocab.get(content);
    check(vocabId === undefined || vocabId === id, `${field}.id`, `${vocabId}, the id model.vocab gives ${show(content)}`, id);
    const contentBytes = utf8.encode(content);
    const vocabToken = vocabTokenOf.get(id);
    const otherText = vocabToken !== undefined && vocabToken !== content && !sameBytes(symbolBytes(vocabToken), contentBytes);
    if (otherText) fail(`${field}.id`, 'an id that model.vocab gives no other text', `${id}, which is ${show(vocabToken)} in model.vocab`);
    if (added.has(id)) fail(`${field}.id`, 'an id no other added token has', String(id));
    // tokenizers.js would also give this id to the text these byte symbols spell.
    const asSymbols = symbolBytes(content);
    if (asSymbols && !sameBytes(asSymbols, contentBytes)) fail(`${field}.content`, 'text that is not byte-level symbols spelling other text', show(content));
    added.set(id, { content, raw: !normalized });
  });

  const tokenBytes: Uint8Array[] = [];
  const notSymbols = (token: string) => fail(`model.vocab[${show(token)}]`, "byte-level symbols (GPT-2's byte-to-character table)", 'other characters');
  for (const [token, id] of vocab) tokenBytes[id] = symbolBytes(token) ?? (added.has(id) ? new Uint8Array(0) : notSymbols(token));
  for (const [id, token] of added) tokenBytes[id] = utf8.encode(token.content);
  for (let id = 0; id < tokenBytes.length; id++) tokenBytes[id] ??= new Uint8Array(0);

  const hfJson = { ...data, post_processor: null, model: { ...model, merges } };
  return { hfJson, tokenBytes, added, nfc };
}

/** ByteLevel, or a Sequence of Split, Digits and Punctuation steps ending in ByteLevel. */
function validatePreTokenizer(preTokenizer: Record<string, unknown>): void {
  const expected = '{"type": "ByteLevel", "add_prefix_space": false}, or a Sequence of Split, Digits and Punctuation steps ending in one';
  const isSequence = preTokenizer.type === 'Sequence';
  const steps = isSequence ? preTokenizer.pretokenizers : [preTokenizer];
  check(Array.isArray(steps) && steps.length > 0, 'pre_tokenizer.pretokenizers', 'a non-empty list', steps);
  steps.forEach((step: unknown, index) => {
    const field = isSequence ? `pre_tokenizer.pretokenizers[${index}]` : 'pre_tokenizer';
    check(isObject(step) && ['ByteLevel', 'Split', 'Digits', 'Punctuation'].includes(step.type as string), field, expected, step);
    const isLast = index === steps.length - 1;
    check((step.type === 'ByteLevel') === isLast, field, isLast ? 'ByteLevel last' : 'Split, Digits or Punctuation before ByteLevel', step);
    if (step.type === 'ByteLevel') {
      // A prefix space is text that is not in the input: no token could hold it.
      check(step.add_prefix_space === false, `${field}.add_prefix_space`, 'false', step.add_prefix_space);
      check(typeof (step.use_regex ?? true) === 'boolean', `${field}.use_regex`, 'true or false', step.use_regex);
    } else if (step.type === 'Split') {
      const { pattern } = step;
      check(isObject(pattern) && [pattern.Regex, pattern.String].some((p) => typeof p === 'string'), `${field}.pattern`, '{"Regex": …} or {"String": …}', pattern);
      // Removed drops text; tokenizers.js splits the Merged… and Contiguous behaviours as Isolated.
      check(step.behavior === 'Isolated', `${field}.behavior`, '"Isolated"', step.behavior);
      check((step.invert ?? false) === false, `${field}.invert`, 'false', step.invert);
      try {
        const empty = { model: { type: 'BPE', vocab: {}, merges: [] }, normalizer: null, post_processor: null, decoder: null, added_tokens: [] };
        new Tokenizer({ ...empty, pre_tokenizer: step }, {});
      } catch (err) {
        fail(`${field}.pattern`, 'a regular expression tokenizers.js can translate', `${show(pattern)} (${(err as Error).message})`);
      }
    } else if (step.type === 'Digits') {
      check(typeof (step.individual_digits ?? false) === 'boolean', `${field}.individual_digits`, 'true or false', step.individual_digits);
    } else {
      // tokenizers.js keeps a run of punctuation together.
      check(step.behavior === 'Contiguous', `${field}.behavior`, '"Contiguous"', step.behavior);
    }
  });
}

/** Checks each merge joins two vocab tokens into a vocab token; returns them as pairs. */
function validateMerges(value: unknown, vocab: Map<string, number>): Array<[string, string]> {
  check(Array.isArray(value), 'model.merges', 'a list of "left right" strings or [left, right] pairs', value);
  return value.map((merge: unknown, index) => {
    const parts = typeof merge === 'string' ? merge.split(' ') : merge;
    const isPair = Array.isArray(parts) && parts.length === 2 && parts.every((p) => typeof p === 'string');
    if (!isPair) fail(`model.merges[${index}]`, 'a "left right" string or a [left, right] pair', show(merge));
    const [left, right] = parts as [string, string];
    const missing = [left, right, left + right].find((token) => !vocab.has(token));
    if (missing !== undefined) {
      fail(`model.merges[${index}]`, 'a merge of two vocab tokens into a vocab token', `${show(merge)}, and ${show(missing)} is not in model.vocab`);
    }
    return [left, right];
  });
}

/** The bytes a byte-level token stands for, or undefined if a character is not a byte symbol. */
function symbolBytes(token: string): Uint8Array | undefined {
  const bytes = new Uint8Array(token.length); // every symbol is one UTF-16 code unit
  for (let i = 0; i < token.length; i++) {
    const byte = SYMBOL_TO_BYTE.get(token[i]);
    if (byte === undefined) return undefined;
    bytes[i] = byte;
  }
  return bytes;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && a.every((byte, i) => byte === b[i]);
}

const isId = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 0 && (value as number) < MAX_ID;
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const show = (value: unknown): string => (JSON.stringify(value) ?? String(value)).slice(0, 200);

function fail(field: string, expected: string, got: string): never {
  throw new TokenizerFormatError(`${field}: expected ${expected}, got ${got}`);
}

function check(ok: boolean, field: string, expected: string, value: unknown): asserts ok {
  if (!ok) fail(field, expected, show(value));
}

function checkField(obj: Record<string, unknown>, prefix: string, key: string, isValid: (value: unknown) => boolean, expected: string): void {
  if (!(key in obj)) fail(prefix + key, expected, 'nothing (the field is missing)');
  check(isValid(obj[key]), prefix + key, expected, obj[key]);
}
