// Editor marks of an explained prediction's source tokens for one head (Explain tab): a solid green
// background where the head's A1 pushed the target up, a dashed blue outline with a line through
// where its A2 cancelled such a push. Both styles differ from the key spans' orange levels, and a
// token can carry both. What is applied is kept per document, for the tests.

import * as vscode from 'vscode';

export interface SourceMark {
  range: vscode.Range;
  hoverMessage: string;
}

export interface SourceMarks {
  added: SourceMark[];
  cancelled: SourceMark[];
}

export class SourceHighlighter implements vscode.Disposable {
  private readonly added = vscode.window.createTextEditorDecorationType({
    backgroundColor: 'rgba(80, 200, 120, 0.35)',
    overviewRulerColor: 'rgba(80, 200, 120, 0.8)',
    overviewRulerLane: vscode.OverviewRulerLane.Left,
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  private readonly cancelled = vscode.window.createTextEditorDecorationType({
    border: '1px dashed rgba(55, 148, 255, 0.9)',
    textDecoration: 'line-through rgba(55, 148, 255, 0.9)',
    overviewRulerColor: 'rgba(55, 148, 255, 0.8)',
    overviewRulerLane: vscode.OverviewRulerLane.Right,
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  /** What is applied now, per document URI. */
  readonly applied = new Map<string, SourceMarks>();

  show(editor: vscode.TextEditor, marks: SourceMarks): void {
    this.applied.set(editor.document.uri.toString(), marks);
    editor.setDecorations(this.added, marks.added);
    editor.setDecorations(this.cancelled, marks.cancelled);
  }

  clear(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      for (const type of [this.added, this.cancelled]) editor.setDecorations(type, []);
    }
    this.applied.clear();
  }

  dispose(): void {
    this.added.dispose();
    this.cancelled.dispose();
  }
}
