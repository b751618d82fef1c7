// Editor highlights of the retrieved key spans: five strengths, chosen by each span's score
// relative to the strongest, plus an outline on the query token. A span that is only a line break
// (a "\r" or "\r\n" token) has no character to colour: it gets a ⏎ mark at the end of its line.

import * as vscode from 'vscode';

const LEVELS = 5;
const LINE_BREAK_MARK = '⏎';
const QUERY_BORDER = { border: '1px solid', borderColor: new vscode.ThemeColor('editorCursor.foreground') };

/** The background of highlight level `level` (0: the weakest). */
function levelColor(level: number): string {
  return `rgba(255, 166, 0, ${(0.12 + (0.48 * (level + 1)) / LEVELS).toFixed(2)})`;
}

export interface Highlight {
  range: vscode.Range;
  /** Score relative to the strongest span, in (0, 1]. */
  strength: number;
  hoverMessage: string;
}

export class SpanHighlighter implements vscode.Disposable {
  private readonly levels = Array.from({ length: LEVELS }, (_, level) =>
    vscode.window.createTextEditorDecorationType({
      backgroundColor: levelColor(level),
      overviewRulerColor: 'rgba(255, 166, 0, 0.8)',
      overviewRulerLane: vscode.OverviewRulerLane.Center,
      rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
    }),
  );
  private readonly query = vscode.window.createTextEditorDecorationType(QUERY_BORDER);
  /** What is applied now, per editor, for tests and for re-applying when an editor is shown again. */
  readonly applied = new Map<string, { query?: vscode.Range; highlights: Highlight[] }>();

  show(editor: vscode.TextEditor, query: vscode.Range | undefined, highlights: Highlight[]): void {
    this.applied.set(editor.document.uri.toString(), { query, highlights });
    const byLevel = this.levels.map(() => [] as vscode.DecorationOptions[]);
    for (const h of highlights) {
      const level = Math.min(LEVELS - 1, Math.max(0, Math.ceil(h.strength * LEVELS) - 1));
      const mark = isLineBreak(editor.document, h.range) ? { before: { contentText: LINE_BREAK_MARK, backgroundColor: levelColor(level) } } : undefined;
      byLevel[level].push({ range: h.range, hoverMessage: h.hoverMessage, renderOptions: mark });
    }
    this.levels.forEach((type, level) => editor.setDecorations(type, byLevel[level]));
    const queryMark = query && isLineBreak(editor.document, query) ? { before: { contentText: LINE_BREAK_MARK, ...QUERY_BORDER } } : undefined;
    editor.setDecorations(this.query, query ? [{ range: query, renderOptions: queryMark }] : []);
  }

  /** Applies to `editor` what was last shown for its document, if anything (an editor shown anew
   *  starts without decorations). */
  restore(editor: vscode.TextEditor): void {
    const applied = this.applied.get(editor.document.uri.toString());
    if (applied) this.show(editor, applied.query, applied.highlights);
  }

  clear(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      for (const type of [...this.levels, this.query]) editor.setDecorations(type, []);
    }
    this.applied.clear();
  }

  dispose(): void {
    for (const type of [...this.levels, this.query]) type.dispose();
  }
}

/** Whether `range` holds only the break at the end of a line (nothing the editor draws). */
function isLineBreak(document: vscode.TextDocument, range: vscode.Range): boolean {
  const { start, end } = range;
  return end.line === start.line + 1 && end.character === 0 && start.character === document.lineAt(start.line).text.length;
}
