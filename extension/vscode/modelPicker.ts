// Select Model…: a bundled package or any package folder, validated by loading it before it
// becomes the model.

import * as vscode from 'vscode';
import type { ModelEngines } from './engines';
import type { InspectorSettings } from './settings';

export async function selectModel(settings: InspectorSettings, engines: ModelEngines): Promise<void> {
  const browse = '$(folder-opened) Choose a package folder…';
  const current = settings.modelDir();
  const items = [
    ...settings.bundledModels().map((dir) => ({ label: dir.split(/[\\/]/).pop()!, description: dir === current ? 'current' : 'bundled', detail: dir })),
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
  const info = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `DiffTransformer: loading ${dir}` }, () => engines.useModel(dir));
  void vscode.window.showInformationMessage(`DiffTransformer: now running ${info.name} (${info.kind}) on ${info.provider}.`);
}
