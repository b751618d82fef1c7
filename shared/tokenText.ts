// How a token's text is shown wherever it is shown (the panel's labels, lists and readout, the
// editor's hover): whitespace, control characters and byte fragments become signs, so that a token
// made of them is never blank and the same token reads the same in the hover and the panel.

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
 *  where token and span texts are made visible (canvas labels, readout, span and outlier lists,
 *  the hover). */
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

/** A token's text as one string with whitespace and bytes made visible (canvas labels, readout,
 *  the hover). */
export function visibleText(text: string, maxLength = 24): string {
  return visiblePieces(text, maxLength)
    .map((piece) => piece.text)
    .join('');
}
