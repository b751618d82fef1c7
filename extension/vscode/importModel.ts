// Import Model…: a Hugging Face-layout model folder (config.json, *.safetensors, tokenizer.json)
// converted into a model package (docs/import.md), by default into the extension's global storage,
// where Select Model… lists it. The conversion runs in a worker thread (importClient.ts) under a
// cancellable progress notification; cancelling leaves nothing behind. Weights holding NaN or Inf
// are refused unless the user, asked, imports them anyway (the CLI's --allow-non-finite). Afterwards
// the user can make the package the model or the comparison (baseline) model.

import { mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ImportCancelledError, NonFiniteWeightsError } from '../core/errors';
import type { ImportResult } from '../core/import/importModel';
import { importInWorker } from '../core/importClient';
import type { ModelEngines } from './engines';
import { useModel } from './modelPicker';
import { formatCount, unusedFolder } from './packageList';
import type { InspectorSettings } from './settings';

/** What a package is used as after its import: the model, the comparison model, or neither. */
export type ImportUse = 'model' | 'baseline' | 'none';

/** The command's second argument, which skips the questions (the explorer's context menu passes
 *  only the folder; tests pass these too). */
export interface ImportCommandOptions {
  /** 'storage' (the extension's global storage) or a folder to write the package into. */
  destination?: string;
  /** Use the package without asking. */
  use?: ImportUse;
  /** Cancels the import, as the notification's Cancel does. */
  signal?: AbortSignal;
  /** Whether weights holding NaN or Inf are imported (with a warning on every run) or refused;
   *  unset, a refused import asks. */
  allowNonFinite?: boolean;
}

export class ModelImporter {
  constructor(
    private readonly settings: InspectorSettings,
    private readonly engines: ModelEngines,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** Imports a model folder (asked for when not given); resolves with the package, or undefined when
   *  the user stopped. An ImportError's message names the file and the field or tensor. */
  async run(folder?: vscode.Uri, options: ImportCommandOptions = {}): Promise<ImportResult | undefined> {
    const source = folder?.fsPath ?? (await pickModelFolder());
    if (!source) return undefined;
    const parent = options.destination === undefined ? await this.pickParent() : options.destination === 'storage' ? this.settings.importedModelsDir : options.destination;
    if (!parent) return undefined;
    await mkdir(parent, { recursive: true });
    const destination = unusedFolder(parent, path.basename(source));
    const started = performance.now();
    let result: ImportResult;
    try {
      result = await this.convert(source, destination, options.allowNonFinite ?? false, options.signal);
    } catch (err) {
      if (err instanceof NonFiniteWeightsError && options.allowNonFinite === undefined && (await askAllowNonFinite(err))) {
        return this.run(vscode.Uri.file(source), { ...options, destination: parent, allowNonFinite: true });
      }
      if (!(err instanceof ImportCancelledError)) throw err;
      this.log.info(`import of ${source} cancelled; nothing was written`);
      void vscode.window.showInformationMessage(`DiffTransformer: the import of ${path.basename(source)} was cancelled; nothing was written.`);
      return undefined;
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    this.log.info(`imported ${source} into ${result.dir} (${result.kind}, ${result.parameters} parameters) in ${seconds} s`);
    // The package stays imported whatever happens next: a package that fails to load says why.
    const use = options.use ?? this.askUse(result);
    const using = (typeof use === 'string' ? this.use(result, use) : use.then((chosen) => this.use(result, chosen))).catch((err: Error) => this.showError(err));
    if (typeof use === 'string') await using;
    return result;
  }

  /** Converts `source` into `destination` in the worker thread under a cancellable progress notification. */
  private convert(source: string, destination: string, allowNonFinite: boolean, signal: AbortSignal | undefined): Thenable<ImportResult> {
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `DiffTransformer: importing ${path.basename(source)}`, cancellable: true },
      (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        if (signal?.aborted) abort.abort();
        signal?.addEventListener('abort', () => abort.abort(), { once: true });
        let percent = 0;
        return importInWorker({
          source,
          destination,
          name: path.basename(destination),
          allowNonFinite,
          signal: abort.signal,
          onProgress: ({ fraction, message }) => {
            const now = Math.round(fraction * 100);
            progress.report({ increment: now - percent, message });
            percent = now;
          },
        });
      },
    );
  }

  /** Asks where to write the package: the extension's storage, or a folder the user picks. */
  private async pickParent(): Promise<string | undefined> {
    const storage = this.settings.importedModelsDir;
    const picked = await vscode.window.showQuickPick(
      [
        { label: '$(database) Extension storage', description: 'listed by Select Model…', detail: storage, parent: storage },
        { label: '$(folder) Choose a folder…', detail: 'the package is written into a new folder inside it', parent: undefined },
      ],
      // It opens as the folder dialog closes and focus returns to where it was (often the panel's
      // webview): without ignoreFocusOut that late focus would close the question unanswered.
      { title: 'DiffTransformer: Import Model — where to write the package', ignoreFocusOut: true },
    );
    if (!picked) return undefined;
    if (picked.parent) return picked.parent;
    const folders = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, openLabel: 'Write the package here' });
    return folders?.[0]?.fsPath;
  }

  /** Offers to use the package; the command does not wait for the answer. */
  private async askUse(result: ImportResult): Promise<ImportUse> {
    const asModel = 'Use as Model';
    const asBaseline = 'Use as Comparison Model';
    const choices = result.kind === 'diff' ? [asModel, asBaseline] : [asBaseline, asModel];
    const chosen = await vscode.window.showInformationMessage(
      `DiffTransformer: imported ${result.name} (${result.kind}, ${formatCount(result.parameters)} parameters) into ${result.dir}. Select Model… lists it.`,
      ...choices,
    );
    return chosen === asModel ? 'model' : chosen === asBaseline ? 'baseline' : 'none';
  }

  private async use(result: ImportResult, use: ImportUse): Promise<void> {
    if (use === 'model') await useModel(this.engines, result.dir);
    if (use === 'baseline') {
      const info = await this.engines.useBaseline(result.dir);
      void vscode.window.showInformationMessage(`DiffTransformer: Compare with Baseline now runs ${info.name} (${info.kind}) beside the model.`);
    }
  }

  private showError(err: Error): void {
    this.log.error(err.message);
    void vscode.window.showErrorMessage(`DiffTransformer: ${err.message}`);
  }
}

/** Asks whether to import weights that hold NaN or Inf after all, as the CLI's --allow-non-finite
 *  does: to look at a broken checkpoint, whose every run then warns and fails naming the layer. */
async function askAllowNonFinite(refusal: Error): Promise<boolean> {
  const importAnyway = 'Import Anyway';
  const chosen = await vscode.window.showWarningMessage(
    'DiffTransformer: the checkpoint holds NaN or infinite weights',
    {
      modal: true,
      detail: `${refusal.message}\n\nImported anyway, the package warns on every run, and a run that goes non-finite fails naming the first layer that did.`,
    },
    importAnyway,
  );
  return chosen === importAnyway;
}

/** Asks for a model folder in the Hugging Face layout. */
async function pickModelFolder(): Promise<string | undefined> {
  const folders = await vscode.window.showOpenDialog({
    canSelectFolders: true,
    canSelectFiles: false,
    canSelectMany: false,
    openLabel: 'Import this model',
    title: 'DiffTransformer: a model folder with config.json, *.safetensors and tokenizer.json',
  });
  return folders?.[0]?.fsPath;
}
