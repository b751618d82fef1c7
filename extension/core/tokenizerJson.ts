// Validates a tokenizer.json for tokenizer.ts. Accepts only settings that tokenizers.js encodes as
// Hugging Face's tokenizers library does and that tokenizer.ts can give exact offsets for; anything
// else is refused with the field named. Two families:
// - byte-level BPE (GPT-2, GPT-NeoX, Llama 3, Qwen 2, SmolLM; this project's own, whose subset
//   ByteLevelBPE.from_json in model/tokenizer.py also reads);
// - SentencePiece-style BPE (Llama 2, Mistral, TinyLlama): spaces become the marker ▁, a ▁ is put
//   before the text, and a character no vocab token holds is spelled in byte tokens <0x00>…<0xFF>.
import { Tokenizer } from '@huggingface/tokenizers';
import { TokenizerFormatError } from './errors';

/** SentencePiece's word marker: a space in the text, or the one put before it. */
export const MARKER = '▁';

/**
 * Where a SentencePiece tokenizer puts a ▁ that is not in the text, in each section of it (the text
 * between the added tokens matched in it, which are sections of their own):
 * - 'always': before every section (Llama 2's Prepend normalizer);
 * - 'unlessSpace': before every section that does not start with a space or ▁ (Metaspace "always");
 * - 'firstUnlessSpace': the same, only when it is the first section (Metaspace "first");
 * - 'never'.
 */
export type MarkerPrefix = 'always' | 'unlessSpace' | 'firstUnlessSpace' | 'never';

export interface ValidTokenizer {
  /** What tokenizers.js gets: the file with merges as pairs and no post-processor. */
  hfJson: object;
  /** Each id's bytes in the normalized text (a ▁ is its 3 UTF-8 bytes); empty for an id no token has. */
  tokenBytes: Uint8Array[];
  /** Added tokens by id; `raw` ones are matched in the text before the normalizer, the others after it. */
  added: Map<number, { content: string; raw: boolean }>;
  /** How text becomes the normalized text the tokens spell. */
  normalization: { family: 'byteLevel'; nfc: boolean } | { family: 'sentencePiece'; prefix: MarkerPrefix };
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
/** SentencePiece's byte tokens, <0x00> to <0xFF>, by byte. */
const BYTE_TOKENS = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
const BYTE_TOKEN_TO_BYTE = new Map(BYTE_TOKENS.map((token, b) => [token, b]));
const utf8 = new TextEncoder();

/** A typo in an id must not allocate a huge table; the largest vocabularies have about 260,000 ids. */
const MAX_ID = 1 << 24;

export function validateTokenizerJson(data: unknown): ValidTokenizer {
  check(isObject(data), 'top level', 'a JSON object', data);
  checkField(data, '', 'model', isObject, 'an object');
  const model = data.model as Record<string, unknown>;
  checkField(model, 'model.', 'type', (v) => v === 'BPE', '"BPE"');
  check((model.dropout ?? null) === null, 'model.dropout', 'null', model.dropout);
  for (const option of ['continuing_subword_prefix', 'end_of_word_suffix']) check((model[option] ?? '') === '', `model.${option}`, 'null or ""', model[option]);
  check(typeof (model.ignore_merges ?? false) === 'boolean', 'model.ignore_merges', 'true or false', model.ignore_merges);

  check(typeof (model.byte_fallback ?? false) === 'boolean', 'model.byte_fallback', 'true or false', model.byte_fallback);
  const sentencePiece = model.byte_fallback === true;
  const [normalization, preTokenizer]: [ValidTokenizer['normalization'], unknown] = sentencePiece ? validateSentencePiece(data) : [validateByteLevel(data), data.pre_tokenizer];
  const nfc = normalization.family === 'byteLevel' && normalization.nfc;

  checkField(model, 'model.', 'vocab', (v) => isObject(v) && Object.keys(v).length > 0, 'a non-empty object mapping token strings to ids');
  const vocab = new Map<string, number>();
  const vocabTokenOf = new Map<number, string>();
  for (const [token, id] of Object.entries(model.vocab as Record<string, unknown>)) {
    if (!isId(id)) fail(`model.vocab[${show(token)}]`, `an integer id from 0 to ${MAX_ID - 1}`, show(id)); // no message built per token
    if (vocabTokenOf.has(id)) fail('model.vocab', 'each id used once', `id ${id} for ${show(vocabTokenOf.get(id))} and ${show(token)}`);
    vocab.set(token, id);
    vocabTokenOf.set(id, token);
  }
  // Every byte has a token, so no text is ever <unk> (whose length in the text nothing tells).
  const byteTokens = sentencePiece ? BYTE_TOKENS : BYTE_TO_SYMBOL;
  const missingByte = byteTokens.findIndex((token) => !vocab.has(token));
  if (missingByte >= 0) {
    const [hex, token] = [missingByte.toString(16).toUpperCase().padStart(2, '0'), show(byteTokens[missingByte])];
    fail('model.vocab', `a token for every byte (byte 0x${hex} is ${token})`, `no ${token}`);
  }
  /** The bytes a vocab token stands for in the normalized text, or undefined if it cannot be one. */
  const vocabBytes = sentencePiece ? sentencePieceBytes : symbolBytes;
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
    // tokenizers.js matches a normalized token (its default for all but special ones) in the
    // normalized text when there is a normalizer, else in the text as typed.
    const afterNormalizer = Boolean(token.normalized ?? token.special !== true) && data.normalizer != null;
    if (afterNormalizer && nfc) check(content.normalize('NFC') === content, `${field}.content`, 'text in NFC, as it is normalized', content);
    if (afterNormalizer && sentencePiece) {
      fail(`${field}.normalized`, "false with Llama 2's normalizer (tokenizers.js would match the token with the ▁ it puts first)", show(token.normalized));
    }
    const vocabId = vocab.get(content);
    check(vocabId === undefined || vocabId === id, `${field}.id`, `${vocabId}, the id model.vocab gives ${show(content)}`, id);
    const contentBytes = utf8.encode(content);
    const vocabToken = vocabTokenOf.get(id);
    const otherText = vocabToken !== undefined && vocabToken !== content && !sameBytes(vocabBytes(vocabToken), contentBytes);
    if (otherText) fail(`${field}.id`, 'an id that model.vocab gives no other text', `${id}, which is ${show(vocabToken)} in model.vocab`);
    if (added.has(id)) fail(`${field}.id`, 'an id no other added token has', String(id));
    // tokenizers.js would also give this id to the text these byte symbols spell.
    const asSymbols = sentencePiece ? undefined : symbolBytes(content);
    if (asSymbols && !sameBytes(asSymbols, contentBytes)) fail(`${field}.content`, 'text that is not byte-level symbols spelling other text', show(content));
    added.set(id, { content, raw: !afterNormalizer });
  });

  const tokenBytes: Uint8Array[] = [];
  const notSymbols = (token: string) => fail(`model.vocab[${show(token)}]`, "byte-level symbols (GPT-2's byte-to-character table)", 'other characters');
  for (const [token, id] of vocab) tokenBytes[id] = vocabBytes(token) ?? (added.has(id) ? new Uint8Array(0) : notSymbols(token));
  for (const [id, token] of added) tokenBytes[id] = utf8.encode(token.content);
  for (let id = 0; id < tokenBytes.length; id++) tokenBytes[id] ??= new Uint8Array(0);

  const hfJson = { ...data, pre_tokenizer: preTokenizer, post_processor: null, model: { ...model, merges } };
  return { hfJson, tokenBytes, added, normalization };
}

const BYTE_LEVEL_EXPECTED = 'a byte-level BPE tokenizer (GPT-2, Llama 3, Qwen) or a SentencePiece-style one with "byte_fallback": true in model (Llama 2, Mistral)';

function validateByteLevel(data: Record<string, unknown>): ValidTokenizer['normalization'] {
  const sentencePieceStep = (key: string) => /"type":"(Metaspace|Prepend|ByteFallback)"/.test(JSON.stringify(data[key]) ?? '');
  const sentencePieceField = ['normalizer', 'pre_tokenizer', 'decoder'].find(sentencePieceStep);
  if (sentencePieceField) fail(sentencePieceField, BYTE_LEVEL_EXPECTED, show(data[sentencePieceField]));

  // Other normalizers (Lowercase, NFKC, Replace…) rewrite text in ways offsets cannot be traced through.
  const normalizers = (v: unknown) => (v === null ? [] : isObject(v) && v.type === 'Sequence' ? v.normalizers : [v]);
  const isNfc = (v: unknown) => [normalizers(v)].flat().every((n) => isObject(n) && n.type === 'NFC');
  checkField(data, '', 'normalizer', isNfc, 'null, {"type": "NFC"} or a Sequence of NFC');
  checkField(data, '', 'pre_tokenizer', isObject, 'an object');
  validatePreTokenizer(data.pre_tokenizer as Record<string, unknown>);
  checkField(data, '', 'decoder', (v) => isObject(v) && v.type === 'ByteLevel', '{"type": "ByteLevel"}');
  // Any post_processor is accepted and ignored: encode() never adds special tokens.
  return { family: 'byteLevel', nfc: [normalizers(data.normalizer)].flat().length > 0 };
}

/**
 * The two layouts Hugging Face writes for SentencePiece BPE models: Llama 2's (a normalizer that puts
 * ▁ first and turns spaces into ▁, no pre-tokenizer) and the newer one (no normalizer, a Metaspace
 * pre-tokenizer that does both and does not split at ▁).
 */
function validateSentencePiece(data: Record<string, unknown>): [ValidTokenizer['normalization'], preTokenizerForTokenizersJs: unknown] {
  const legacyNormalizer = [{ type: 'Prepend', prepend: MARKER }, { type: 'Replace', pattern: { String: ' ' }, content: MARKER }];
  const isLegacy = (v: unknown) => {
    const steps = isObject(v) && v.type === 'Sequence' && Array.isArray(v.normalizers) ? v.normalizers : [];
    const [prepend, replace] = steps.filter(isObject);
    return steps.length === 2 && prepend?.type === 'Prepend' && prepend.prepend === MARKER
      && replace?.type === 'Replace' && isObject(replace.pattern) && replace.pattern.String === ' ' && replace.content === MARKER;
  };
  const normalizerExpected = `null (with a Metaspace pre-tokenizer) or Llama 2's ${JSON.stringify({ type: 'Sequence', normalizers: legacyNormalizer })}`;
  checkField(data, '', 'normalizer', (v) => v === null || isLegacy(v), normalizerExpected);
  checkField(data, '', 'decoder', isSentencePieceDecoder, 'a Metaspace decoder, or a Sequence of Replace, ByteFallback, Fuse and Strip steps');
  if (data.normalizer !== null) {
    check((data.pre_tokenizer ?? null) === null, 'pre_tokenizer', "null with Llama 2's normalizer", data.pre_tokenizer);
    return [{ family: 'sentencePiece', prefix: 'always' }, null];
  }
  const field = 'pre_tokenizer';
  const step = data.pre_tokenizer;
  check(isObject(step) && step.type === 'Metaspace', field, `{"type": "Metaspace", "replacement": "${MARKER}", "split": false, …} without Llama 2's normalizer`, step);
  check(step.replacement === MARKER, `${field}.replacement`, `"${MARKER}"`, step.replacement);
  // tokenizers.js never splits at ▁; Hugging Face's tokenizers does unless told not to.
  check(step.split === false, `${field}.split`, 'false (tokenizers.js does not split the text at ▁)', step.split);
  // Files written before prepend_scheme existed say add_prefix_space instead.
  const scheme = step.prepend_scheme ?? (step.add_prefix_space === false ? 'never' : step.add_prefix_space === true ? 'always' : undefined);
  const prefixes: Record<string, MarkerPrefix> = { always: 'unlessSpace', first: 'firstUnlessSpace', never: 'never' };
  check(typeof scheme === 'string' && scheme in prefixes, `${field}.prepend_scheme`, '"always", "first" or "never"', step.prepend_scheme);
  // tokenizers.js reads only prepend_scheme, and takes "always" when it is missing.
  return [{ family: 'sentencePiece', prefix: prefixes[scheme] }, { ...step, prepend_scheme: scheme }];
}

function isSentencePieceDecoder(decoder: unknown): boolean {
  if (isObject(decoder) && decoder.type === 'Metaspace') return true;
  const steps = isObject(decoder) && decoder.type === 'Sequence' ? decoder.decoders : undefined;
  return Array.isArray(steps) && steps.every((step) => isObject(step) && ['Replace', 'ByteFallback', 'Fuse', 'Strip'].includes(step.type as string));
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

/** The bytes a SentencePiece token stands for: a byte token's byte, else its UTF-8 (▁ included). */
function sentencePieceBytes(token: string): Uint8Array {
  const byte = BYTE_TOKEN_TO_BYTE.get(token);
  return byte === undefined ? utf8.encode(token) : Uint8Array.of(byte);
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
