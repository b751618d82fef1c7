// Text helpers shared by the views. Token texts are untrusted: they only ever reach the page through
// textContent or canvas fillText, and these helpers only make whitespace, control characters and
// byte fragments visible (as signs, styled .token-escape in the DOM).

import type { MapView } from '../shared/model';

export const VIEW_LABELS: Record<MapView, string> = {
  a1: 'A1',
  a2: 'A2',
  lambdaA2: 'λ·A2',
  diff: 'A1−λ·A2',
};

/** Signs for whitespace and control characters, so that a token made of them is never blank. A
 *  carriage return is its escape \r: common fonts (DejaVu) lack the sign U+240D and draw a box. */
const VISIBLE_WHITESPACE: Record<string, string> = { '\n': '⏎', '\r': '\\r', '\t': '→' };
/** Spaces are shown as themselves inside text, as · in a token that is only whitespace. */
const SPACE_SIGN = '·';
/** A byte that does not form a whole UTF-8 character: the tokenizer writes it as \xHH. */
const BYTE_FRAGMENT = /(\\x[0-9A-F]{2})/;

/** A piece of a shown token text: plain text, or a sign standing for something else (whitespace,
 *  a control character, a byte fragment), which the DOM shows in a distinct style. */
export interface TextPiece {
  text: string;
  sign: boolean;
}

/** A text split into plain pieces and signs, shortened to maxLength characters: the one place
 *  where token and span texts are made visible (canvas labels, readout, span and outlier lists). */
export function visiblePieces(text: string, maxLength = 24): TextPiece[] {
  const onlyWhitespace = /^\s*$/.test(text);
  const pieces: TextPiece[] = [];
  const push = (shown: string, sign: boolean) => {
    const last = pieces[pieces.length - 1];
    if (last && last.sign === sign && !sign) last.text += shown;
    else pieces.push({ text: shown, sign });
  };
  for (const part of text.split(BYTE_FRAGMENT)) {
    if (BYTE_FRAGMENT.test(part)) {
      push(part, true);
      continue;
    }
    for (const char of part) {
      const code = char.codePointAt(0) ?? 0;
      if (char === ' ') push(onlyWhitespace ? SPACE_SIGN : ' ', onlyWhitespace);
      else if (VISIBLE_WHITESPACE[char]) push(VISIBLE_WHITESPACE[char], true);
      else if (code < 0x20 || code === 0x7f) push(`\\x${code.toString(16).toUpperCase().padStart(2, '0')}`, true);
      else push(char, false);
    }
  }
  if (pieces.length === 0) return [{ text: '∅', sign: true }];
  return shortened(pieces, maxLength);
}

/** The pieces cut to maxLength characters (code points) with an ellipsis; a sign stays whole. */
function shortened(pieces: TextPiece[], maxLength: number): TextPiece[] {
  const length = pieces.reduce((sum, piece) => sum + [...piece.text].length, 0);
  if (length <= maxLength) return pieces;
  const kept: TextPiece[] = [];
  let room = maxLength - 1;
  for (const piece of pieces) {
    const chars = [...piece.text];
    if (chars.length <= room) kept.push(piece);
    else if (!piece.sign && room > 0) kept.push({ text: chars.slice(0, room).join(''), sign: false });
    room -= chars.length;
    if (room <= 0) break;
  }
  kept.push({ text: '…', sign: false });
  return kept;
}

/** A token's text as one string with whitespace and bytes made visible (canvas labels, readout). */
export function visibleText(text: string, maxLength = 24): string {
  return visiblePieces(text, maxLength)
    .map((piece) => piece.text)
    .join('');
}

/** A token's text as a <span class="token-text"> whose signs are <span class="token-escape">
 *  (whitespace, byte fragments): text only, never parsed as HTML. */
export function visibleTextElement(text: string, maxLength = 24, className = 'token-text'): HTMLSpanElement {
  const shown = document.createElement('span');
  shown.className = className;
  for (const piece of visiblePieces(text, maxLength)) {
    if (!piece.sign) {
      shown.append(piece.text);
      continue;
    }
    const sign = document.createElement('span');
    sign.className = 'token-escape';
    sign.textContent = piece.text;
    shown.append(sign);
  }
  return shown;
}

/** A value with 4 significant digits and a real minus sign. */
export function formatValue(value: number): string {
  const text = Math.abs(value) >= 1e-4 || value === 0 ? value.toPrecision(4) : value.toExponential(2);
  return text.replace('-', '−');
}

/** lambda with 3 decimals, as the model card and the CLI print it. */
export function formatLambda(lambda: number): string {
  return lambda.toFixed(3);
}
