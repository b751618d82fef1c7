// Select Model…: a bundled package, one Import Model… wrote into the extension's storage, any
// package folder, or a model folder to import; a package is validated by loading it before it
// becomes the model.

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ModelEngines } from './engines';
import { listPackages, type PackageSummary } from './packageList';
import type { InspectorSettings } from './settings';

/** An entry of the list: a package (dir) or an action. */
export interface ModelChoice extends vscode.QuickPickItem {
  dir?: string;
  action?: 'browse' | 'import';
}

/** The list Select Model… shows: bundled packages, imported packages, the test fixtures (random
 *  weights, apart and labelled so), then the two actions. */
export async function modelChoices(settings: InspectorSettings): Promise<ModelChoice[]> {
  const current = settings.modelDir();
  const group = (label: string, packages: PackageSummary[]): ModelChoice[] => {
    if (packages.length === 0) return [];
    const items = packages.map((p) => ({ label: p.name, description: p.dir === current ? `current · ${p.description}` : p.description, detail: p.dir, dir: p.dir }));
    return [{ label, kind: vscode.QuickPickItemKind.Separator }, ...items];
  };
  const packages = [...(await listPackages(settings.bundledModelsDir())), ...(await listPackages(settings.importedModelsDir))];
  const bundled = (p: PackageSummary) => path.dirname(p.dir) === path.resolve(settings.bundledModelsDir());
  return [
    ...group('bundled', packages.filter((p) => bundled(p) && !p.untrained)),
    ...group('imported', packages.filter((p) => !bundled(p) && !p.untrained)),
    ...group('test fixtures (untrained)', packages.filter((p) => p.untrained)),
    { label: '', kind: vscode.QuickPickItemKind.Separator },
    { label: '$(cloud-download) Import Model…', detail: 'convert a Hugging Face-layout folder (config.json, *.safetensors, tokenizer.json) into a package', action: 'import' },
    { label: '$(folder-opened) Choose a package folder…', detail: 'a folder with model.onnx, tokenizer.json, config.json and manifest.json', action: 'browse' },
  ];
}

export async function selectModel(settings: InspectorSettings, engines: ModelEngines): Promise<void> {
  const picked = await vscode.window.showQuickPick(await modelChoices(settings), { title: 'DiffTransformer: Select Model', placeHolder: 'Model package to run', matchOnDescription: true });
  if (!picked) return;
  if (picked.action === 'import') {
    await vscode.commands.executeCommand('difftransformer.importModel');
    return;
  }
  let dir = picked.dir;
  if (picked.action === 'browse') {
    const folders = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Use this model package' });
    dir = folders?.[0]?.fsPath;
  }
  if (dir) await useModel(engines, dir);
}

/** Loads a package (validating it) and makes it the model. */
export async function useModel(engines: ModelEngines, dir: string): Promise<void> {
  const info = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `DiffTransformer: loading ${dir}` }, () => engines.useModel(dir));
  void vscode.window.showInformationMessage(`DiffTransformer: now running ${info.name} (${info.kind}) on ${info.provider}.`);
}
