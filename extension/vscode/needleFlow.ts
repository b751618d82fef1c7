// The Needle Test command: needles generated into scratch copies of the document (or the
// selection) and run through the model and its baseline; accuracy and attention shares go to the
// panel, and the middle trial's scratch copy opens, read-only, beside the document with the
// needles' values highlighted. The user's file is never edited. Code needles take the style of the
// document's language where shared/needles.json has one (needleDefinitions.ts, codeStyleFor).

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { NeedleForm, NeedleTestOptions, NeedleTestResult } from '../../shared/needleTest';
import { NEEDLES } from '../core/needleDefinitions';
import { summariseNeedleTest } from '../core/needles';
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
    const settings = { ...options, form, language: document.languageId };
    await this.jobs.run('DiffTransformer: Needle Test', `Needle Test on ${path.basename(document.fileName)}…`, async (progress, signal, superseded) => {
      progress.report({ message: 'loading the models' });
      const [model, baseline] = await Promise.all([this.engines.ensureModel(), this.engines.ensureBaseline()]);
      progress.report({ message: `running ${model.name}` });
      const modelResult = await this.engines.model.request({ op: 'needleTest', filler, options: settings }, signal);
      progress.report({ message: `running ${baseline.name}` });
      const baselineResult = await this.engines.baseline.request({ op: 'needleTest', filler, options: settings }, signal);
      if (superseded()) return;
      const shown = modelResult.trials[Math.floor(modelResult.trials.length / 2)];
      const scratch = await this.scratchCopies.open(shown.text, document);
      this.lastRun = { model: modelResult, baseline: baselineResult, scratch };
      const scratchEditor = await vscode.window.showTextDocument(scratch, { viewColumn: vscode.ViewColumn.Beside, preview: true, preserveFocus: true });
      this.highlights.showNeedles(scratchEditor, shown.queries);
      this.session.post({
        type: 'needles',
        report: {
          form,
          needles: modelResult.needles,
          queries: modelResult.queries,
          trials: modelResult.trials.length,
          tokens: Math.max(...modelResult.trials.map((t) => t.tokens)),
          source: path.basename(document.fileName),
          models: [summariseNeedleTest(modelResult), summariseNeedleTest(baselineResult)],
        },
      });
    });
  }

  dispose(): void {
    this.scratchCopies.dispose();
  }
}

/** Asks for one of the paper's multi-needle settings (Table 2, from shared/needles.json): N needles
 *  in the text, R of them queried. Trials and seed are the file's defaults. */
export async function pickNeedleSettings(): Promise<NeedleTestOptions | undefined> {
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
