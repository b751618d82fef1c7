// Entry point: wires commands, the side panel, hover and settings to the controller. The work
// itself happens in ../core (no vscode import) and in the engine child process.

import * as vscode from 'vscode';
import type { NeedleTestOptions } from '../../shared/needleTest';
import { InspectorController, type ActiveInspection } from './controller';
import { InspectionHover } from './hover';
import { InspectorPanel, PANEL_VIEW_ID } from './panel';

/** What the extension exports: read-only views for tests and other extensions. */
export interface InspectorApi {
  lastInspection(): ActiveInspection | undefined;
  highlights(uri: vscode.Uri): { query?: vscode.Range; ranges: vscode.Range[]; strengths: number[] } | undefined;
  modelDir(): string;
  baselineDir(): string;
  lastNeedleTest(): InspectorController['lastNeedleTest'];
  /** Map and key-span requests each model's engine has had so far. */
  engineRequests(): ReturnType<InspectorController['engineRequests']>;
}

export function activate(context: vscode.ExtensionContext): InspectorApi {
  const log = vscode.window.createOutputChannel('DiffTransformer', { log: true });
  const controller = new InspectorController(context, log);
  const panel = new InspectorPanel(context.extensionUri, (message) => controller.onWebviewMessage(message), log);
  controller.attachPanel(panel);

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
  const activeEditor = (): vscode.TextEditor => {
    const editor = vscode.window.activeTextEditor;
    if (!editor) throw new Error('no active editor: open a file and select code or text to inspect');
    return editor;
  };

  context.subscriptions.push(
    log,
    controller,
    vscode.window.registerWebviewViewProvider(PANEL_VIEW_ID, panel),
    vscode.languages.registerHoverProvider('*', new InspectionHover(controller)),
    command('inspectSelection', async () => {
      const editor = activeEditor();
      await panel.reveal();
      await controller.inspect(editor, editor.selection);
    }),
    command('inspectFile', async () => {
      await panel.reveal();
      await controller.inspect(activeEditor());
    }),
    command('needleTest', async (options?: NeedleTestOptions) => {
      const editor = activeEditor();
      const settings = options ?? (await pickNeedleSettings());
      if (!settings) return;
      await panel.reveal();
      await controller.needleTest(editor, settings);
    }),
    command('compareWithBaseline', async () => {
      const editor = activeEditor();
      await panel.reveal();
      await controller.inspect(editor, editor.selection, true);
    }),
    command('selectModel', () => selectModel(controller)),
    command('showPanel', () => panel.reveal()),
    command('clearHighlights', () => controller.clearHighlights()),
    command('exportView', (target?: vscode.Uri) => controller.exportView(target)),
    command('cancel', () => controller.cancel()),
    command('revealTokens', (runId: number, first: number, end: number) => controller.revealTokens(runId, first, end)),
    vscode.workspace.onDidChangeTextDocument((event) => controller.onDocumentChanged(event.document)),
  );

  return {
    lastInspection: () => controller.lastInspection,
    highlights: (uri) => {
      const applied = controller.highlighter.applied.get(uri.toString());
      return applied && { query: applied.query, ranges: applied.highlights.map((h) => h.range), strengths: applied.highlights.map((h) => h.strength) };
    },
    modelDir: () => controller.modelDir(),
    baselineDir: () => controller.baselineDir(),
    lastNeedleTest: () => controller.lastNeedleTest,
    engineRequests: () => controller.engineRequests(),
  };
}

async function selectModel(controller: InspectorController): Promise<void> {
  const browse = '$(folder-opened) Choose a package folder…';
  const current = controller.modelDir();
  const items = [
    ...controller.bundledModels().map((dir) => ({ label: dir.split(/[\\/]/).pop()!, description: dir === current ? 'current' : 'bundled', detail: dir })),
    { label: browse, description: '', detail: 'a folder with model.onnx, tokenizer.json, config.json and manifest.json' },
  ];
  const picked = await vscode.window.showQuickPick(items, { title: 'DiffTransformer: Select Model', placeHolder: 'Model package to run' });
  if (!picked) return;
  let dir = picked.detail;
  if (picked.label === browse) {
    const folders = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Use this model package' });
    if (!folders?.[0]) return;
    dir = folders[0].fsPath;
  }
  const info = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `DiffTransformer: loading ${dir}` }, () => controller.useModel(dir));
  void vscode.window.showInformationMessage(`DiffTransformer: now running ${info.name} (${info.kind}) on ${info.provider}.`);
}

/** The paper's multi-needle settings (Table 2): N needles in the text, R of them queried. */
async function pickNeedleSettings(): Promise<NeedleTestOptions | undefined> {
  const choices = [
    { needles: 1, queries: 1 },
    { needles: 2, queries: 2 },
    { needles: 4, queries: 2 },
    { needles: 6, queries: 2 },
  ].map((c) => ({ ...c, label: `N = ${c.needles}, R = ${c.queries}`, description: `${c.needles} needle${c.needles > 1 ? 's' : ''}, ${c.queries} quer${c.queries > 1 ? 'ies' : 'y'}` }));
  const picked = await vscode.window.showQuickPick(choices, {
    title: 'DiffTransformer: Needle Test',
    placeHolder: 'Needles to hide in a scratch copy of this document, and how many to ask for',
  });
  return picked && { needles: picked.needles, queries: picked.queries, trials: NEEDLE_TRIALS };
}

/** Documents per Needle Test: the queried needles sit at depths spread evenly over 0..1. */
const NEEDLE_TRIALS = 10;
