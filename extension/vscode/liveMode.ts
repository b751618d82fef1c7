// Live mode (setting difftransformer.liveMode, off by default): while the cursor moves inside the
// inspected range, the panel follows the token under it (locks that query row: its key spans and
// logit lens, answered from the run already computed, no model run); an edit inside the range says
// in the panel that what it shows is of the text before the edit, and runs the edited range again
// once the edits pause (a newer run cancels one in flight; a run whose text changed while it ran
// is never shown, see InspectionRunner). With live mode off, the first edit of the inspected
// document says in the panel that the run shown is of the text before it.

import * as vscode from 'vscode';
import { isInspected, sameFile } from './activeInspection';
import type { InspectionRunner } from './inspections';
import type { PanelSession } from './panelSession';
import type { InspectorSettings } from './settings';

/** How long the edits must pause before the range runs again. */
export const LIVE_RERUN_DELAY_MS = 600;

export class LiveMode implements vscode.Disposable {
  private readonly subscriptions: vscode.Disposable[];
  private rerun: NodeJS.Timeout | undefined;
  /** The inspected range in the edited document, as character offsets, kept through the edits
   *  since the run it came from (runId). */
  private tracked: { runId: number; uri: vscode.Uri; start: number; end: number } | undefined;
  /** The run the panel was last told is stale, with live mode off (told once, not per keystroke). */
  private toldStale: number | undefined;

  constructor(
    private readonly session: PanelSession,
    private readonly inspections: InspectionRunner,
    private readonly settings: InspectorSettings,
  ) {
    this.subscriptions = [
      vscode.window.onDidChangeTextEditorSelection((event) => void this.followCursor(event.textEditor)),
      vscode.workspace.onDidChangeTextDocument((event) => this.onEdit(event)),
    ];
  }

  /** Locks the query row on the token under the cursor, when it is in the unchanged inspected range. */
  private async followCursor(editor: vscode.TextEditor): Promise<void> {
    const current = this.session.inspection;
    if (!this.settings.liveMode() || !isInspected(current, editor.document)) return;
    const offset = editor.document.offsetAt(editor.selection.active) - current.baseOffset;
    const { tokens } = current.result;
    let token = tokens.findIndex((t, i) => i > 0 && t.start <= offset && offset < t.end);
    if (token < 0 && tokens.length > 1 && offset === tokens[tokens.length - 1].end) token = tokens.length - 1; // the cursor after the last
    if (token < 1 || token === this.session.panelSelection.query) return;
    await this.session.onWebviewMessage({ type: 'lockQuery', pane: 'main', runId: current.runId, query: token });
  }

  private onEdit(event: vscode.TextDocumentChangeEvent): void {
    const current = this.session.inspection;
    if (!current || !sameFile(event.document.uri, current.uri) || event.contentChanges.length === 0) return;
    if (!this.settings.liveMode()) {
      if (this.toldStale === current.runId) return;
      this.toldStale = current.runId;
      this.session.post({ type: 'stale', runId: current.runId, message: 'The file changed since this run: the panel shows the text as it was; inspect it again to see the edit.' });
      return;
    }
    if (this.tracked?.runId !== current.runId) {
      const start = current.baseOffset;
      this.tracked = { runId: current.runId, uri: current.uri, start, end: start + (current.result.tokens.at(-1)?.end ?? 0) };
    }
    const range = this.tracked;
    let touched = false;
    // The changes' offsets are in the document before the event: the last one first keeps them valid.
    for (const change of [...event.contentChanges].sort((a, b) => b.rangeOffset - a.rangeOffset)) {
      const delta = change.text.length - change.rangeLength;
      const changeEnd = change.rangeOffset + change.rangeLength;
      if (changeEnd < range.start || (changeEnd === range.start && change.rangeOffset < range.start)) {
        range.start += delta;
        range.end += delta;
      } else if (change.rangeOffset <= range.end) {
        touched = true;
        range.start = Math.min(range.start, change.rangeOffset);
        range.end = Math.max(range.start, range.end + delta);
      }
    }
    if (!touched) return;
    this.session.post({ type: 'stale', runId: current.runId, message: 'The text changed: the panel shows it as it was before the edit, and runs it again when you pause typing.' });
    clearTimeout(this.rerun);
    this.rerun = setTimeout(() => void this.runAgain(event.document), LIVE_RERUN_DELAY_MS);
  }

  private async runAgain(document: vscode.TextDocument): Promise<void> {
    const range = this.tracked;
    const editor = vscode.window.visibleTextEditors.find((e) => e.document === document);
    if (!range || !editor || document.isClosed) return;
    await this.inspections.inspect(editor, new vscode.Range(document.positionAt(range.start), document.positionAt(range.end)));
  }

  dispose(): void {
    clearTimeout(this.rerun);
    for (const subscription of this.subscriptions) subscription.dispose();
  }
}
