// Entry point: makes the host's parts, hands each its collaborators, and wires them to the
// commands, the side panel, the hover and document changes. The work itself happens in ../core
// (no vscode import) and in the engine child processes.

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { NeedleTestOptions } from '../../shared/needleTest';
import { parseWebviewMessage } from '../../shared/protocol';
import type { ActiveInspection } from './activeInspection';
import { ContinueTextFlow, type ContinueTextOptions, type GeneratedRun } from './continueText';
import { EditorHighlights } from './editorHighlights';
import { ModelEngines } from './engines';
import { ExplainFlow } from './explainFlow';
import { GeneratedTexts } from './generatedTexts';
import { InspectionHover } from './hover';
import { InspectionRunner } from './inspections';
import { ModelJobs } from './modelJobs';
import { ModelImporter, type ImportCommandOptions } from './importModel';
import { watchModelSettings } from './modelSetting';
import { modelChoices, selectModel, type ModelChoice } from './modelPicker';
import { NeedleTestFlow, type NeedleTestRun } from './needleFlow';
import { InspectorPanel, PANEL_VIEW_ID, type PanelRequest } from './panel';
import { PanelSession } from './panelSession';
import { InspectorSettings } from './settings';
import { LiveMode } from './liveMode';
import { InspectorStatusBar } from './statusBar';
import { ViewExporter } from './viewExport';
import { WhatIfFlow } from './whatIf';
import { FlowRequests } from './flowRequests';

/** What the extension exports: read-only views for tests and other extensions. */
export interface InspectorApi {
  lastInspection(): ActiveInspection | undefined;
  highlights(uri: vscode.Uri): { query?: vscode.Range; ranges: vscode.Range[]; strengths: number[] } | undefined;
  modelDir(): string;
  baselineDir(): string;
  lastNeedleTest(): NeedleTestRun | undefined;
  /** The last Continue Text run, and the ranges the editor marks as generated in its document. */
  lastGeneration(): GeneratedRun | undefined;
  generatedMarks(uri: vscode.Uri): vscode.Range[] | undefined;
  /** The last what-if posted to the panel. */
  lastWhatIf(): WhatIfFlow['last'];
  /** The last explanation posted to the panel. */
  lastExplanation(): ExplainFlow['last'];
  /** An explained head's source tokens as marked in a document: added through A1, cancelled by A2. */
  sourceHighlights(uri: vscode.Uri): { added: vscode.Range[]; cancelled: vscode.Range[] } | undefined;
  /** Map, key-span, logit lens, outlier and quantisation requests each model's engine has had so far. */
  engineRequests(): ReturnType<ModelEngines['requests']>;
  /** The entries Select Model… offers now (bundled and imported packages, then its actions). */
  modelChoices(): Promise<ModelChoice[]>;
  /** Acts on `message` as if the panel had sent it (validated the same way); settles when the work
   *  it started is done. For the tests, which cannot click in the panel. */
  panelMessage(message: unknown): Promise<void>;
}

export function activate(context: vscode.ExtensionContext): InspectorApi {
  const log = vscode.window.createOutputChannel('DiffTransformer', { log: true });
  const settings = new InspectorSettings(context.extensionPath, path.join(context.globalStorageUri.fsPath, 'models'), log);
  const status = new InspectorStatusBar();
  const engines = new ModelEngines(path.join(context.extensionPath, 'dist', 'engineWorker.js'), settings, status, log);
  const highlights = new EditorHighlights();
  const panel = new InspectorPanel(context.extensionUri, log);
  const session = new PanelSession(panel, engines, settings, highlights, log);
  const jobs = new ModelJobs(session, settings, status, log);
  const generatedTexts = new GeneratedTexts();
  const inspections = new InspectionRunner(engines, jobs, session, status, log, generatedTexts);
  const continueText = new ContinueTextFlow(engines, jobs, session, inspections, generatedTexts);
  const needleTest = new NeedleTestFlow(engines, jobs, session, highlights);
  const exporter = new ViewExporter(panel, session, settings, log, () => explain.shownOnTab(), () => flow.shownOnTab());
  const whatIf = new WhatIfFlow(session, engines, settings, panel, log);
  const flow = new FlowRequests(session, engines, log);
  const importer = new ModelImporter(settings, engines, log);
  /** A what-if of the shown run goes to its flow, an explain request to its own; everything else
   *  to the session (and a new viewport to the what-if's maps too, and what the panel shows to the
   *  explanation's). */
  const onPanelMessage = async (message: PanelRequest): Promise<void> => {
    if (message.type === 'whatIf') {
      if (message.runId === session.inspection?.runId) await whatIf.run(message.spec, message.whatIfId);
      return;
    }
    if (message.type === 'flow') return flow.trace(message);
    flow.followView(message);
    if (message.type !== 'explain' && message.type !== 'explainSources') await session.onWebviewMessage(message);
    if (message.type === 'mapViewport') await whatIf.followViewport();
    await explain.onPanelMessage(message);
  };

  const command = (name: string, run: (...args: any[]) => unknown) =>
    vscode.commands.registerCommand(`difftransformer.${name}`, async (...args: unknown[]) => {
      try {
        return await run(...args);
      } catch (err) {
        log.error((err as Error).message);
        void vscode.window.showErrorMessage(`DiffTransformer: ${(err as Error).message}`);
        return undefined;
      }
    });
  /** The editor to run on. Without one (a binary file, the Welcome page) the reason goes to the
   *  panel's banner too, in place of what it said before, not only to a notification. */
  const activeEditor = async (): Promise<vscode.TextEditor> => {
    const editor = vscode.window.activeTextEditor;
    if (editor) return editor;
    const problem = noTextEditorProblem();
    await panel.reveal();
    session.post({ type: 'error', message: problem });
    throw new Error(problem);
  };
  const inspect = async (editor: vscode.TextEditor, range: vscode.Range | undefined, compare: boolean) => {
    await panel.reveal();
    await inspections.inspect(editor, range, compare);
  };
  const explain = new ExplainFlow(session, engines, settings, highlights, panel, (editor) => inspect(editor, undefined, false), log);

  context.subscriptions.push(
    log,
    status,
    engines,
    highlights,
    jobs,
    needleTest,
    generatedTexts,
    continueText,
    panel,
    new LiveMode(session, inspections, settings),
    watchModelSettings(settings, log),
    panel.onDidReceiveMessage((message) => void onPanelMessage(message)),
    engines.onDidSelectModel((model) => {
      session.discardRun(model);
      highlights.clear();
    }),
    vscode.window.registerWebviewViewProvider(PANEL_VIEW_ID, panel),
    vscode.languages.registerHoverProvider('*', new InspectionHover(session)),
    command('inspectSelection', async () => {
      const editor = await activeEditor();
      return inspect(editor, editor.selection, false);
    }),
    command('inspectFile', async () => inspect(await activeEditor(), undefined, false)),
    command('compareWithBaseline', async () => {
      const editor = await activeEditor();
      return inspect(editor, editor.selection, true);
    }),
    command('needleTest', async (options?: NeedleTestOptions) => {
      const editor = await activeEditor();
      const chosen = options ?? (await needleTest.pickSettings());
      if (!chosen) return;
      await panel.reveal();
      await needleTest.run(editor, chosen);
    }),
    command('continueText', async (options?: ContinueTextOptions) => {
      const editor = await activeEditor();
      await panel.reveal();
      await continueText.run(editor, options);
    }),
    command('nextGeneratedToken', () => continueText.step(1)),
    command('previousGeneratedToken', () => continueText.step(-1)),
    command('whatIf', () => whatIf.pickAndRun()),
    command('selectModel', () => selectModel(settings, engines)),
    // From the explorer's context menu the second argument is the selected resources, not options.
    command('importModel', (folder?: vscode.Uri, options?: ImportCommandOptions | vscode.Uri[]) =>
      importer.run(folder instanceof vscode.Uri ? folder : undefined, Array.isArray(options) ? {} : options),
    ),
    command('showPanel', () => panel.reveal(true)),
    command('clearHighlights', () => highlights.clear()),
    command('exportView', (target?: vscode.Uri) => exporter.export(target)),
    command('cancel', () => jobs.cancel()),
    command('openSample', async () => {
      // The walkthrough's sample ships in the extension's folder: read-only, so that copy stays as shipped.
      // From the walkthrough (no text editor's tab active) it opens beside it: the walkthrough stays open
      // for its next steps.
      const fromWalkthrough = !(vscode.window.tabGroups.activeTabGroup.activeTab?.input instanceof vscode.TabInputText);
      const sample = vscode.Uri.joinPath(context.extensionUri, 'media', 'walkthrough', 'sample.py');
      await vscode.window.showTextDocument(sample, { viewColumn: fromWalkthrough ? vscode.ViewColumn.Beside : undefined, preview: false });
      await vscode.commands.executeCommand('workbench.action.files.setActiveEditorReadonlyInSession');
    }),
    command('explainPrediction', (runId?: number, token?: number, target?: number) => explain.explainPrediction(runId, token, target)),
    command('revealTokens', (runId: number, first: number, end: number) => highlights.reveal(session.inspection, runId, first, end)),
    vscode.workspace.onDidChangeTextDocument((event) => highlights.onDocumentChanged(session.inspection, event.document)),
  );

  return {
    lastInspection: () => session.inspection,
    highlights: (uri) => {
      const applied = highlights.highlighter.applied.get(uri.toString());
      return applied && { query: applied.query, ranges: applied.highlights.map((h) => h.range), strengths: applied.highlights.map((h) => h.strength) };
    },
    modelDir: () => settings.modelDir(),
    baselineDir: () => settings.baselineDir(),
    lastNeedleTest: () => needleTest.last,
    lastGeneration: () => continueText.last,
    generatedMarks: (uri) => generatedTexts.marked.get(uri.toString()),
    lastWhatIf: () => whatIf.last,
    lastExplanation: () => explain.last,
    sourceHighlights: (uri) => {
      const applied = highlights.sources.applied.get(uri.toString());
      return applied && { added: applied.added.map((mark) => mark.range), cancelled: applied.cancelled.map((mark) => mark.range) };
    },
    engineRequests: () => engines.requests(),
    modelChoices: () => modelChoices(settings),
    panelMessage: async (data) => {
      const message = parseWebviewMessage(data);
      if (message.type !== 'exportImage') await onPanelMessage(message);
    },
  };
}

/** Why there is no text editor to run on: the active tab's file is not shown as text (binary, or
 *  an encoding VS Code cannot read), or no file is open at all. */
function noTextEditorProblem(): string {
  const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
  if (tab?.input instanceof vscode.TabInputText) {
    return `${path.basename(tab.input.uri.fsPath)} is not shown as text (a binary file, or an encoding VS Code cannot read): open a text file to inspect.`;
  }
  return 'no active editor: open a file and select code or text to inspect';
}
