// The model path settings said wrong at once: when difftransformer.modelPath or baselineModelPath
// changes to a folder that cannot run, a message says why then, not at the next run; and every
// message about a model that failed offers the way out, Import Model… for a Hugging Face checkpoint
// folder, Select Model… otherwise.

import * as vscode from 'vscode';
import { modelFolderKind, modelFolderProblem } from '../core/modelPath';
import type { InspectorSettings } from './settings';

/** Shows `message` as an error with the buttons that fix the configured model, and acts on them. */
export async function offerModelFix(message: string, settings: InspectorSettings, log: vscode.LogOutputChannel): Promise<void> {
  const checkpoint = modelFolderKind(settings.modelDir()) === 'checkpoint' ? settings.modelDir() : undefined;
  const fix = checkpoint ? 'Import Model…' : 'Select Model…';
  const choice = await vscode.window.showErrorMessage(`DiffTransformer: ${message}`, fix, 'Show Log');
  if (choice === 'Import Model…') await vscode.commands.executeCommand('difftransformer.importModel', vscode.Uri.file(checkpoint!));
  if (choice === 'Select Model…') await vscode.commands.executeCommand('difftransformer.selectModel');
  if (choice === 'Show Log') log.show();
}

/** Checks the folder a model path setting names whenever that setting changes. */
export function watchModelSettings(settings: InspectorSettings, log: vscode.LogOutputChannel): vscode.Disposable {
  return vscode.workspace.onDidChangeConfiguration((event) => {
    const checks = [
      ['difftransformer.modelPath', () => settings.modelDir()],
      ['difftransformer.baselineModelPath', () => settings.baselineDir()],
    ] as const;
    for (const [setting, dir] of checks) {
      const problem = event.affectsConfiguration(setting) ? modelFolderProblem(dir(), setting) : undefined;
      if (!problem) continue;
      log.warn(problem);
      void offerModelFix(problem, settings, log);
    }
  });
}
