// The editor range of a piece of text as the user sees it. Tokens are bytes, not characters: one
// can end inside a grapheme (a letter before its combining accent, an emoji sequence joined by
// U+200D), hold only some bytes of a character (an empty offset range), or be the "\r" of a CRLF,
// which the editor shows as no character at all. Highlighting exactly their offsets would mark
// part of a character, or nothing.

import * as vscode from 'vscode';

const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** The range of document offsets [from, to), widened to whole graphemes; an empty range (a byte
 *  fragment) becomes the character its bytes belong to, the one before `from`; a range inside a
 *  line break (a lone "\r" of a CRLF) becomes that whole line break. */
export function visibleRange(document: vscode.TextDocument, from: number, to: number): vscode.Range {
  const start = document.positionAt(from === to ? Math.max(0, from - 1) : from);
  const end = document.positionAt(to);
  const widened = new vscode.Range(
    start.with({ character: graphemeStart(document.lineAt(start.line).text, start.character) }),
    end.with({ character: graphemeEnd(document.lineAt(end.line).text, end.character) }),
  );
  if (!widened.isEmpty || end.line + 1 >= document.lineCount) return widened;
  return new vscode.Range(widened.start, new vscode.Position(end.line + 1, 0));
}

/** The start of the grapheme that holds `character` of `line` (the line's end stays there). */
function graphemeStart(line: string, character: number): number {
  return graphemes.segment(line).containing(character)?.index ?? character;
}

/** The end of the grapheme that holds the character before `character` of `line`. */
function graphemeEnd(line: string, character: number): number {
  if (character === 0) return 0;
  const grapheme = graphemes.segment(line).containing(character - 1);
  return grapheme ? grapheme.index + grapheme.segment.length : character;
}
