// The editor side of an inspection: the locked query's retrieved key spans highlighted in the
// inspected document, the Needle Test's values in its scratch copy, and revealing tokens that the
// panel or the hover points at.

import * as vscode from 'vscode';
import type { NeedleTestResult } from '../../shared/needleTest';
import type { HostMessage, Pane } from '../../shared/protocol';
import { isInspected, tokenRange, tokensOf, type ActiveInspection } from './activeInspection';
import { SpanHighlighter } from './decorations';

type NeedleQuery = NeedleTestResult['trials'][number]['queries'][number];

export class EditorHighlights implements vscode.Disposable {
  readonly highlighter = new SpanHighlighter();

  /** Highlights the main model's key spans of the locked query, in the inspected document if it
   *  is visible and unchanged. */
  showSpans(inspection: ActiveInspection, { spans, query, layer, head }: Extract<HostMessage, { type: 'spans' }>): void {
    const editor = vscode.window.visibleTextEditors.find((e) => isInspected(inspection, e.document));
    if (!editor) return;
    // A span can be empty in the editor: a lone "\r" token is inside a CRLF line break.
    const shown = spans
      .map((span) => ({ span, range: tokenRange(inspection, editor.document, span.firstToken, span.endToken) }))
      .filter(({ range }) => !range.isEmpty);
    const best = Math.max(...shown.map(({ span }) => span.score), 1e-9);
    this.highlighter.show(
      editor,
      query > 0 ? tokenRange(inspection, editor.document, query, query + 1) : undefined,
      shown.map(({ span, range }) => ({
        range,
        strength: span.score / best,
        hoverMessage: `DiffTransformer: attended by token ${query} with score ${span.score.toFixed(3)} (L${layer} H${head})`,
      })),
    );
  }

  /** Marks the needles' values (what the queries must retrieve) in a Needle Test scratch copy. */
  showNeedles(editor: vscode.TextEditor, queries: NeedleQuery[]): void {
    const at = (offset: number) => editor.document.positionAt(offset);
    this.highlighter.show(
      editor,
      undefined,
      queries.map((q) => ({
        range: new vscode.Range(at(q.valueSpan[0]), at(q.valueSpan[1])),
        strength: 1,
        hoverMessage: `Needle Test: the value of ${q.key}, which the query “${editor.document.getText(new vscode.Range(at(q.querySpan[0]), at(q.querySpan[1])))}” must retrieve`,
      })),
    );
  }

  clear(): void {
    this.highlighter.clear();
  }

  /** The document changed under an inspection: its offsets no longer hold. */
  onDocumentChanged(inspection: ActiveInspection | undefined, document: vscode.TextDocument): void {
    if (inspection && document.uri.toString() === inspection.uri.toString() && document.version !== inspection.version) this.clear();
  }

  /** Selects and reveals tokens [first, end) of a pane's run of the current inspection. */
  async reveal(inspection: ActiveInspection | undefined, runId: number, first: number, end: number, pane: Pane = 'main'): Promise<void> {
    if (!inspection || runId !== inspection.runId || end <= first || end > tokensOf(inspection, pane).length) return;
    const document = await vscode.workspace.openTextDocument(inspection.uri);
    if (!isInspected(inspection, document)) {
      void vscode.window.showInformationMessage('DiffTransformer: the document changed since it was inspected; inspect it again to reveal tokens.');
      return;
    }
    const range = tokenRange(inspection, document, Math.max(first, 1), Math.max(end, 2), pane);
    const editor = await vscode.window.showTextDocument(document, { preserveFocus: false, preview: false });
    editor.selection = new vscode.Selection(range.start, range.end);
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  dispose(): void {
    this.highlighter.dispose();
  }
}
