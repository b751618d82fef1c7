// Inspect Selection, Inspect File and Compare with Baseline: run the model (and the baseline) on a
// range of a document and hand the result to the panel session.

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ActiveInspection } from './activeInspection';
import type { ModelEngines } from './engines';
import type { GeneratedTexts } from './generatedTexts';
import type { ModelJobs } from './modelJobs';
import type { PanelSession } from './panelSession';
import { formatDuration, type InspectorStatusBar } from './statusBar';

export class InspectionRunner {
  constructor(
    private readonly engines: ModelEngines,
    private readonly jobs: ModelJobs,
    private readonly session: PanelSession,
    private readonly status: InspectorStatusBar,
    private readonly log: vscode.LogOutputChannel,
    private readonly generatedTexts: GeneratedTexts,
  ) {}

  /** Inspects a range of a document (the whole document when the range is empty, its query the
   *  token at the cursor); with compare, also runs the baseline on the same text and shows both side
   *  by side. */
  async inspect(editor: vscode.TextEditor, range?: vscode.Range, compare = false): Promise<void> {
    const document = editor.document;
    const wholeDocument = !range || range.isEmpty;
    const target = wholeDocument ? new vscode.Range(document.positionAt(0), document.positionAt(document.getText().length)) : range;
    const text = document.getText(target);
    const queryOffset = wholeDocument ? queryOffsetAtCursor(text, document.offsetAt(editor.selection.active)) : undefined;
    if (this.jobs.refuses(text)) return;
    const runId = this.session.nextRunId();
    const version = document.version;
    await this.jobs.run('DiffTransformer: inspecting', `Running the model on ${path.basename(document.fileName)}…`, async (progress, signal, superseded) => {
      progress.report({ message: 'loading the model' });
      const model = await this.engines.ensureModel();
      const estimate = await this.engines.model.request({ op: 'estimate', text }, signal);
      progress.report({ message: `running ${model.name} on ${estimate.tokens.toLocaleString('en-US')} tokens${estimate.seconds === undefined ? '' : `, about ${formatDuration(estimate.seconds)}`}` });
      const result = await this.engines.model.request({ op: 'inspect', text, queryOffset }, signal);
      let comparison: ActiveInspection['comparison'];
      if (compare) {
        progress.report({ message: 'loading the baseline' });
        const baseline = await this.engines.ensureBaseline();
        progress.report({ message: `running ${baseline.name}` });
        comparison = { result: await this.engines.baseline.request({ op: 'inspect', text, queryOffset }, signal), model: baseline };
      }
      if (superseded()) return; // a newer run started: draw nothing stale
      if (document.version !== version) {
        // Its offsets no longer hold; live mode runs the edited text again by itself.
        this.session.post({ type: 'busy', message: 'The text changed while the model ran: inspect it again.' });
        return;
      }
      this.status.showRun(model, result);
      if (result.window) this.log.info(result.window.note);
      const baseOffset = document.offsetAt(target.start);
      const generated = this.generatedTexts.notesFor(document, baseOffset, result.tokens);
      const inspection = { runId, uri: document.uri, version, baseOffset, range: target, result, model, comparison, generated };
      await this.session.show(inspection, signal);
    });
  }
}

/** Where a whole document's query is: the token before the cursor, past any whitespace before it
 *  (a cursor on the empty last line sits after the trailing newline, no query a user means); a
 *  cursor at the start (where a file opens) means the last token. */
function queryOffsetAtCursor(text: string, cursor: number): number {
  const beforeCursor = text.slice(0, cursor).trimEnd().length;
  return beforeCursor > 0 ? beforeCursor : text.trimEnd().length;
}
