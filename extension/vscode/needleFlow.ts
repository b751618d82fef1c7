// The Needle Test command: needles generated into scratch copies of the document (or the
// selection), at each depth and document length asked for, and run through the model and its
// baseline a document at a time (needleTrials.ts), so that the notification and the panel's Needle
// Test tab say how far the run is and Cancel stops it between documents; accuracy and attention
// shares go to the panel, and the middle depth's scratch copy at the longest length opens,
// read-only, beside the document with the needles' values highlighted. The user's file is never
// edited. Code needles take the style of the document's language where shared/needles.json has
// one (needleDefinitions.ts, codeStyleFor).

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ModelInfo } from '../../shared/model';
import type { NeedleForm, NeedleTestOptions, NeedleTestResult } from '../../shared/needleTest';
import { NEEDLES } from '../core/needleDefinitions';
import type { EngineClient } from '../core/engineClient';
import { documentLengths, offeredLengths, summariseNeedleTest } from '../core/needles';
import { describeNeedleTrial, runNeedleTrials, type NeedleTrialDone } from '../core/needleTrials';
import type { EditorHighlights } from './editorHighlights';
import type { ModelEngines } from './engines';
import type { ModelJobs } from './modelJobs';
import type { PanelSession } from './panelSession';
import { ScratchDocuments } from './scratchDocuments';

/** Languages whose documents get prose-form needles ("The secret number of … is …"). */
const PROSE_LANGUAGES = new Set(['markdown', 'plaintext', 'restructuredtext', 'latex', 'asciidoc']);

export interface NeedleTestRun {
  model: NeedleTestResult;
  baseline: NeedleTestResult;
  /** The read-only virtual document holding the middle trial's text. */
  scratch: vscode.TextDocument;
}

export class NeedleTestFlow implements vscode.Disposable {
  private lastRun: NeedleTestRun | undefined;
  private readonly scratchCopies = new ScratchDocuments();

  constructor(
    private readonly engines: ModelEngines,
    private readonly jobs: ModelJobs,
    private readonly session: PanelSession,
    private readonly highlights: EditorHighlights,
  ) {}

  get last(): NeedleTestRun | undefined {
    return this.lastRun;
  }

  async run(editor: vscode.TextEditor, options: NeedleTestOptions): Promise<void> {
    const document = editor.document;
    const filler = editor.selection.isEmpty ? document.getText() : document.getText(editor.selection);
    if (this.jobs.refuses(filler)) return;
    const form: NeedleForm = options.form ?? (PROSE_LANGUAGES.has(document.languageId) ? 'prose' : 'code');
    await this.jobs.run('DiffTransformer: Needle Test', `Needle Test on ${path.basename(document.fileName)}…`, async (progress, signal, superseded) => {
      progress.report({ message: 'loading the models' });
      const [model, baseline] = await Promise.all([this.engines.ensureModel(), this.engines.ensureBaseline()]);
      // Checked against the model's context before anything runs; without lengths each model runs its own whole context.
      const settings = { ...options, form, language: document.languageId, lengths: options.lengths && documentLengths(options.lengths, model.maxSeqLen) };
      const run = (engine: EngineClient, { name, maxSeqLen }: ModelInfo) => {
        progress.report({ message: `running ${name}` });
        const reportTrial = (trial: NeedleTrialDone) => {
          const message = describeNeedleTrial(name, trial);
          progress.report({ message });
          this.session.post({ type: 'needleProgress', message });
        };
        return runNeedleTrials(engine, maxSeqLen, filler, settings, reportTrial, signal);
      };
      const modelResult = await run(this.engines.model, model);
      const baselineResult = await run(this.engines.baseline, baseline);
      if (superseded()) return;
      const longest = modelResult.trials.filter((trial) => trial.length === Math.max(...modelResult.lengths));
      const shown = longest[Math.floor(longest.length / 2)];
      const scratch = await this.scratchCopies.open(shown.text, document);
      this.lastRun = { model: modelResult, baseline: baselineResult, scratch };
      // The column after the document's, not ViewColumn.Beside: from a maximised panel, Beside
      // splits the hidden editor area twice and leaves an empty group between the two.
      const besideDocument = (editor.viewColumn ?? vscode.ViewColumn.One) + 1;
      const scratchEditor = await vscode.window.showTextDocument(scratch, { viewColumn: besideDocument, preview: true, preserveFocus: true });
      this.highlights.showNeedles(scratchEditor, shown.queries);
      this.session.post({
        type: 'needles',
        report: {
          form,
          needles: modelResult.needles,
          queries: modelResult.queries,
          trials: modelResult.trials.length,
          tokens: Math.max(...modelResult.trials.map((t) => t.tokens)),
          lengths: modelResult.lengths,
          source: path.basename(document.fileName),
          models: [summariseNeedleTest(modelResult), summariseNeedleTest(baselineResult)],
        },
      });
    });
  }

  /** Asks for one of the paper's multi-needle settings (Table 2, from shared/needles.json): N needles
   *  in the text, R of them queried; then λ as trained or 0; then the document lengths (presets up
   *  to the model's context, the whole context picked). Trials and seed are the file's defaults. */
  async pickSettings(): Promise<NeedleTestOptions | undefined> {
    const counts = await pickNeedleCounts();
    const picked = counts && (await this.pickLengths());
    if (!counts || !picked) return undefined;
    // The whole context alone (or nothing picked) is the default: each model then runs its own.
    const wholeContextOnly = picked.every((choice) => choice.wholeContext);
    return { ...counts, lengths: wholeContextOnly ? undefined : picked.map((choice) => choice.length) };
  }

  /** Preset document lengths up to the model's context; undefined if the pick was dismissed. */
  private async pickLengths(): Promise<readonly { length: number; wholeContext: boolean }[] | undefined> {
    const choices = this.engines.ensureModel().then(({ maxSeqLen: context }) =>
      offeredLengths(context).map((length) => {
        const label = `${length.toLocaleString('en-US')} tokens`;
        return length < context
          ? { label, length, wholeContext: false }
          : { label, description: 'the whole context', length, wholeContext: true, picked: true };
      }),
    );
    return vscode.window.showQuickPick(choices, {
      title: 'DiffTransformer: Needle Test',
      placeHolder: 'Document lengths to run every depth at (a length × depth grid)',
      canPickMany: true,
    });
  }

  dispose(): void {
    this.scratchCopies.dispose();
  }
}

/** N needles and R queries, and whether λ is as trained or 0. */
async function pickNeedleCounts(): Promise<NeedleTestOptions | undefined> {
  const choices = NEEDLES.configs.map((c) => ({
    ...c,
    label: `N = ${c.needles}, R = ${c.queries}`,
    description: `${c.needles} needle${c.needles > 1 ? 's' : ''}, ${c.queries} quer${c.queries > 1 ? 'ies' : 'y'}`,
  }));
  const picked = await vscode.window.showQuickPick(choices, {
    title: 'DiffTransformer: Needle Test',
    placeHolder: 'Needles to hide in a scratch copy of this document, and how many to ask for',
  });
  if (!picked) return undefined;
  const lambda = await vscode.window.showQuickPick(
    [
      { label: 'λ as trained', lambdaZero: false },
      { label: 'λ = 0 in every head', description: 'no noise cancellation: each differential head a plain softmax of A1', lambdaZero: true },
    ],
    { title: 'DiffTransformer: Needle Test', placeHolder: 'Run the DiffTransformer as trained, or without its subtraction' },
  );
  return lambda && { needles: picked.needles, queries: picked.queries, lambdaZero: lambda.lambdaZero };
}
