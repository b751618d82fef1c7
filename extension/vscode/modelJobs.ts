// Runs the long jobs on the models (Inspect, Compare, the Needle Test) one at a time: a new job or
// Cancel aborts the running one, each shows a cancellable progress notification, a text that
// cannot be run is refused up front, and a failure is reported in the panel, the status bar and a
// message that offers the way out.

import * as vscode from 'vscode';
import { CancelledError } from '../core/errors';
import { offerModelFix } from './modelSetting';
import type { PanelSession } from './panelSession';
import type { InspectorSettings } from './settings';
import type { InspectorStatusBar } from './statusBar';

export type ModelJob = (progress: vscode.Progress<{ message?: string }>, signal: AbortSignal, superseded: () => boolean) => Promise<void>;

export class ModelJobs implements vscode.Disposable {
  private running: AbortController | undefined;

  constructor(
    private readonly session: PanelSession,
    private readonly settings: InspectorSettings,
    private readonly status: InspectorStatusBar,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** Says why a text cannot be run (panel and a warning) and returns true, or returns false. */
  refuses(text: string): boolean {
    const problem = this.problemWith(text);
    if (!problem) return false;
    this.session.post({ type: 'error', message: problem });
    void vscode.window.showWarningMessage(`DiffTransformer: ${problem}`);
    return true;
  }

  /** Runs one job with a cancellable progress notification. Starting a job (or Cancel) aborts the
   *  one before; `superseded()` tells a job that a newer one started, so that it draws nothing. */
  async run(title: string, busyMessage: string, job: ModelJob): Promise<void> {
    this.running?.abort();
    const abort = new AbortController();
    this.running = abort;
    const superseded = () => this.running !== abort;
    void vscode.commands.executeCommand('setContext', 'difftransformer.running', true);
    this.session.post({ type: 'busy', message: busyMessage });
    try {
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) => {
        token.onCancellationRequested(() => abort.abort());
        return job(progress, abort.signal, superseded);
      });
    } catch (err) {
      if (superseded()) return;
      if (err instanceof CancelledError || abort.signal.aborted) {
        this.session.post({ type: 'busy', message: 'Cancelled.' });
        return;
      }
      this.reportError(err as Error);
    } finally {
      if (!superseded()) {
        this.running = undefined;
        void vscode.commands.executeCommand('setContext', 'difftransformer.running', false);
      }
    }
  }

  cancel(): void {
    this.running?.abort();
  }

  private problemWith(text: string): string | undefined {
    if (text.length === 0) return 'there is no text to inspect: select some code or text (or open a file that is not empty).';
    if (text.trim().length === 0) return 'the text is only whitespace (spaces, tabs, line breaks): select some code or text for the model to attend to.';
    if (text.includes('\u0000')) return 'this looks like a binary file (it contains NUL characters); inspect a text file.';
    const limit = this.settings.maxFileBytes();
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > limit) return `the text is ${bytes} bytes, over the difftransformer.maxFileBytes limit (${limit}); select a smaller part.`;
    return undefined;
  }

  private reportError(err: Error): void {
    this.log.error(err.message);
    this.session.post({ type: 'error', message: err.message });
    this.status.showError(err.message);
    void offerModelFix(err.message, this.settings, this.log);
  }

  dispose(): void {
    this.cancel();
  }
}
