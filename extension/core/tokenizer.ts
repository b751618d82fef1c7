// Loads a BPE tokenizer.json (this project's own, written by model/tokenizer.py, or an imported
// model's: byte-level ones like GPT-2, GPT-NeoX, Llama 3, Qwen 2, SmolLM, DeepSeek, and
// SentencePiece-style ones like Llama 2 and Mistral; tokenizerJson.ts validates it) and encodes
// text with exact UTF-16 offsets. Plain TypeScript: no vscode, no file system, so it also runs in a
// browser.
//
// Ids come from Hugging Face tokenizers.js (model/tests/test_tokenizer.py checks the Python encoder
// gives the same ids for the project's format). Offsets are computed here, because tokenizers.js
// does not return them: each token's bytes are walked against the bytes of the normalized text
// (after NFC, for tokenizers that normalize; with spaces as ▁ and a ▁ put first, for SentencePiece).

import { Tokenizer } from '@huggingface/tokenizers';
import { TokenizerFormatError } from './errors';
import { MARKER, validateTokenizerJson, type MarkerPrefix, type ValidTokenizer } from './tokenizerJson';


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
  return new BpeTokenizer(validateTokenizerJson(data));
}

const utf8 = new TextEncoder();

/** [end, bytes]: a code point (or a piece NFC rewrites as a whole) ending at UTF-16 index `end`, and
 *  its UTF-8 bytes in the normalized text; a ▁ SentencePiece puts before a section ends where it starts. */
type Unit = [number, number];

class BpeTokenizer implements TextTokenizer {
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
    const text = this.valid.added.get(id)?.content ?? displayUtf8(this.valid.tokenBytes[id]);
    return this.valid.normalization.family === 'sentencePiece' ? text.replaceAll(MARKER, ' ') : text;
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

  /** The units of the text section by section: tokenizers.js first cuts out the added tokens
   *  matched in the raw text (the next such token in the ids is the next cut), then normalizes and
   *  pre-tokenizes each piece between them on its own. */
  private unitsOf(text: string, ids: number[]): Unit[] {
    const units: Unit[] = [];
    let position = 0;
    let section = 0; // tokenizers.js's section index: pieces and added tokens alike
    const appendPiece = (end: number) => {
      if (end > position) this.appendSectionUnits(units, text, position, end, section++);
    };
    for (const id of ids) {
      const token = this.valid.added.get(id);
      if (!token?.raw) continue;
      const at = text.indexOf(token.content, position);
      if (at < 0) throw new Error(`tokenizer: ${token.content} is not in the text`);
      appendPiece(at);
      appendCodePointUnits(units, text, at, at + token.content.length);
      section++;
      position = at + token.content.length;
    }
    appendPiece(text.length);
    return units;
  }

  private appendSectionUnits(units: Unit[], text: string, start: number, end: number, section: number): void {
    const { normalization } = this.valid;
    if (normalization.family === 'byteLevel') {
      if (normalization.nfc) appendNfcUnits(units, text, start, end);
      else appendCodePointUnits(units, text, start, end);
      return;
    }
    if (putsMarkerFirst(normalization.prefix, section, text[start])) units.push([start, MARKER_BYTES]);
    appendCodePointUnits(units, text, start, end, MARKER_BYTES);
  }

  private checkId(id: number): void {
    if (!(Number.isInteger(id) && id >= 0 && id < this.vocabSize)) throw new RangeError(`token id ${id} is outside the vocabulary (size ${this.vocabSize})`);
  }
}

/** The UTF-8 length of ▁, which stands for a space in SentencePiece's normalized text. */
const MARKER_BYTES = 3;

/** Whether SentencePiece puts a ▁ before this section of the text, which starts with `first`. */
function putsMarkerFirst(prefix: MarkerPrefix, section: number, first: string): boolean {
  const startsWithMarker = first === ' ' || first === MARKER;
  if (prefix === 'always') return true;
  if (prefix === 'unlessSpace') return !startsWithMarker;
  return prefix === 'firstUnlessSpace' && section === 0 && !startsWithMarker;
}

/** One unit per code point of text[start, end); a space is `spaceBytes` long (3 where it becomes ▁). */
function appendCodePointUnits(units: Unit[], text: string, start: number, end: number, spaceBytes = 1): Unit[] {
  for (let i = start; i < end; ) {
    const codePoint = text.codePointAt(i)!;
    i += codePoint > 0xffff ? 2 : 1; // never split a surrogate pair
    // The bytes TextEncoder writes; a lone surrogate becomes U+FFFD, 3 bytes.
    const bytes = codePoint === 0x20 ? spaceBytes : codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
    units.push([i, bytes]);
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
