// Editor highlights of the retrieved key spans: five strengths, chosen by each span's score
// relative to the strongest, plus an outline on the query token.

import * as vscode from 'vscode';

const LEVELS = 5;

export interface Highlight {
  range: vscode.Range;
  /** Score relative to the strongest span, in (0, 1]. */
  strength: number;
  hoverMessage: string;
}

export class SpanHighlighter implements vscode.Disposable {
  private readonly levels = Array.from({ length: LEVELS }, (_, level) =>
    vscode.window.createTextEditorDecorationType({
      backgroundColor: `rgba(255, 166, 0, ${(0.12 + (0.48 * (level + 1)) / LEVELS).toFixed(2)})`,
      overviewRulerColor: 'rgba(255, 166, 0, 0.8)',
      overviewRulerLane: vscode.OverviewRulerLane.Center,
      rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
    }),
  );
  private readonly query = vscode.window.createTextEditorDecorationType({
    borderColor: new vscode.ThemeColor('editorCursor.foreground'),
    borderStyle: 'solid',
    borderWidth: '1px',
  });
  /** What is applied now, per editor, for tests and for re-applying when an editor is shown again. */
  readonly applied = new Map<string, { query?: vscode.Range; highlights: Highlight[] }>();

  show(editor: vscode.TextEditor, query: vscode.Range | undefined, highlights: Highlight[]): void {
    this.applied.set(editor.document.uri.toString(), { query, highlights });
    const byLevel = this.levels.map(() => [] as vscode.DecorationOptions[]);
    for (const h of highlights) {
      const level = Math.min(LEVELS - 1, Math.max(0, Math.ceil(h.strength * LEVELS) - 1));
      byLevel[level].push({ range: h.range, hoverMessage: h.hoverMessage });
    }
    this.levels.forEach((type, level) => editor.setDecorations(type, byLevel[level]));
    editor.setDecorations(this.query, query ? [query] : []);
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
