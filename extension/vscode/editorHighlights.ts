// The editor side of an inspection: the locked query's retrieved key spans highlighted in the
// inspected document, an explained head's source tokens, the Needle Test's values in its scratch
// copy, and revealing tokens that the panel or the hover points at.

import * as vscode from 'vscode';
import type { KeySpan } from '../../shared/inspection';
import type { NeedleTestResult } from '../../shared/needleTest';
import type { HostMessage, Pane } from '../../shared/protocol';
import { isInspected, sameFile, tokenRange, tokensOf, type ActiveInspection } from './activeInspection';
import { SpanHighlighter } from './decorations';
import { SourceHighlighter } from './sourceDecorations';

type NeedleQuery = NeedleTestResult['trials'][number]['queries'][number];

export class EditorHighlights implements vscode.Disposable {
  readonly highlighter = new SpanHighlighter();
  readonly sources = new SourceHighlighter();

  /** The spans with the line and column each starts at, while the inspected document is open and
   *  unchanged (a far-away span then says where it is before it is revealed); else as they are. */
  located(inspection: ActiveInspection, spans: KeySpan[], pane: Pane): KeySpan[] {
    const document = vscode.workspace.textDocuments.find((d) => isInspected(inspection, d));
    if (!document) return spans;
    return spans.map((span) => {
      const { start } = tokenRange(inspection, document, span.firstToken, span.endToken, pane);
      return { ...span, line: start.line + 1, column: start.character + 1 };
    });
  }

  /** Highlights the main model's key spans of the locked query, in each visible editor of the
   *  inspected document if it is unchanged. */
  showSpans(inspection: ActiveInspection, { spans, query, layer, head }: Extract<HostMessage, { type: 'spans' }>): void {
    const best = Math.max(...spans.map((span) => span.score), 1e-9);
    for (const editor of vscode.window.visibleTextEditors.filter((e) => isInspected(inspection, e.document))) {
      this.highlighter.show(
        editor,
        query > 0 ? tokenRange(inspection, editor.document, query, query + 1) : undefined,
        spans.map((span) => ({
          range: tokenRange(inspection, editor.document, span.firstToken, span.endToken),
          strength: span.score / best,
          hoverMessage: `DiffTransformer: attended by token ${query} with score ${span.score.toFixed(3)} (L${layer} H${head})`,
        })),
      );
    }
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

  /** Marks an explained head's source tokens (token indices of the main run) in each visible
   *  editor of the inspected document if it is unchanged; `describe` words a token's hover. */
  showSources(inspection: ActiveInspection, tokens: { added: number[]; cancelled: number[] }, describe: (token: number) => string): void {
    for (const editor of vscode.window.visibleTextEditors.filter((e) => isInspected(inspection, e.document))) {
      const marks = (list: number[]) => list.map((token) => ({ range: tokenRange(inspection, editor.document, token, token + 1), hoverMessage: describe(token) }));
      this.sources.show(editor, { added: marks(tokens.added), cancelled: marks(tokens.cancelled) });
    }
  }

  clearSources(): void {
    this.sources.clear();
  }

  clear(): void {
    this.highlighter.clear();
    this.sources.clear();
  }

  /** The document changed under an inspection: its offsets no longer hold. */
  onDocumentChanged(inspection: ActiveInspection | undefined, document: vscode.TextDocument): void {
    if (inspection && sameFile(document.uri, inspection.uri) && document.version !== inspection.version) this.clear();
  }

  /** Selects and reveals tokens [first, end) of a pane's run of the current inspection, in the
   *  editor that shows the document if one does (opening it by URI again could open a second tab:
   *  see sameFile), else in a newly shown one with the highlights. The keyboard stays where it is,
   *  as when a result in one of VS Code's own views is clicked. */
  async reveal(inspection: ActiveInspection | undefined, runId: number, first: number, end: number, pane: Pane = 'main'): Promise<void> {
    if (!inspection || runId !== inspection.runId || end <= first || end > tokensOf(inspection, pane).length) return;
    const visible = vscode.window.visibleTextEditors.find((e) => sameFile(e.document.uri, inspection.uri));
    const document = visible?.document ?? (await vscode.workspace.openTextDocument(inspection.uri));
    if (!isInspected(inspection, document)) {
      void vscode.window.showInformationMessage('DiffTransformer: the document changed since it was inspected; inspect it again to reveal tokens.');
      return;
    }
    const range = tokenRange(inspection, document, Math.max(first, 1), Math.max(end, 2), pane);
    const editor = visible ?? (await vscode.window.showTextDocument(document, { preserveFocus: true, preview: false }));
    if (!visible) this.highlighter.restore(editor);
    editor.selection = new vscode.Selection(range.start, range.end);
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  dispose(): void {
    this.highlighter.dispose();
    this.sources.dispose();
  }
}
