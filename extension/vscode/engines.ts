// The two engine child processes: one for the model, one for the baseline it is compared with, so
// that both stay loaded. Each loads the package the settings name on first use, and again only
// when the settings change.

import * as vscode from 'vscode';
import type { EngineInfo } from '../core/engine';
import { EngineClient } from '../core/engineClient';
import { modelFolderProblem } from '../core/modelPath';
import type { ProviderSetting } from '../core/runtime';
import type { InspectorSettings } from './settings';
import type { InspectorStatusBar } from './statusBar';

/** The engine requests the panel makes, which the tests count per inspection. */
const PANEL_OPS = ['map', 'spans', 'lens', 'outliers', 'quantisation', 'sinks'] as const;
export type EngineRequests = Record<(typeof PANEL_OPS)[number], number>;

/** An engine process and the package loaded (or loading) in it. */
class EngineSlot {
  readonly client: EngineClient;
  private loaded: { dir: string; provider: ProviderSetting; info: Promise<EngineInfo> } | undefined;

  constructor(enginePath: string, log: (message: string) => void) {
    this.client = new EngineClient(enginePath, log);
  }

  /** Loads `dir` unless it is loaded (or loading) with `provider`; `onLoaded` runs after a fresh
   *  load succeeds. Errors name the file and field. */
  load(dir: string, provider: ProviderSetting, onLoaded?: (info: EngineInfo) => void): Promise<EngineInfo> {
    if (this.loaded?.dir === dir && this.loaded.provider === provider) return this.loaded.info;
    const info = this.client.load(dir, provider);
    const loaded = { dir, provider, info };
    this.loaded = loaded;
    info.then(onLoaded, () => {
      if (this.loaded === loaded) this.loaded = undefined; // the next run tries again
    });
    return info;
  }

  /** Makes the next load run even for the folder loaded now. */
  forget(): void {
    this.loaded = undefined;
  }

  /** Requests so far of the kinds the panel makes. */
  requests(): EngineRequests {
    return Object.fromEntries(PANEL_OPS.map((op) => [op, this.client.requestCount(op)])) as EngineRequests;
  }
}

export class ModelEngines implements vscode.Disposable {
  private readonly modelSlot: EngineSlot;
  private readonly baselineSlot: EngineSlot;
  private readonly modelSelected = new vscode.EventEmitter<EngineInfo>();
  /** Fires when the user made another package the model: the engine holds none of the old runs. */
  readonly onDidSelectModel = this.modelSelected.event;

  constructor(
    enginePath: string,
    private readonly settings: InspectorSettings,
    private readonly status: InspectorStatusBar,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.modelSlot = new EngineSlot(enginePath, (m) => log.info(m));
    this.baselineSlot = new EngineSlot(enginePath, (m) => log.info(`baseline: ${m}`));
  }

  get model(): EngineClient {
    return this.modelSlot.client;
  }

  get baseline(): EngineClient {
    return this.baselineSlot.client;
  }

  /** Loads the configured model unless it is already loaded. A folder that is no package (a
   *  Hugging Face checkpoint to import, a path that does not exist) is refused saying so. */
  async ensureModel(): Promise<EngineInfo> {
    const dir = this.settings.modelDir();
    const problem = modelFolderProblem(dir, 'difftransformer.modelPath');
    if (problem) throw new Error(problem);
    return this.modelSlot.load(dir, this.settings.provider(), (loaded) => {
      if (loaded.fallbackReason) this.log.warn(`using ${loaded.provider}: ${loaded.fallbackReason}`);
      this.log.info(`loaded ${loaded.name} (${loaded.kind}, sha256 ${loaded.sha256.slice(0, 12)}) on ${loaded.provider}`);
      this.status.showModel(loaded);
    });
  }

  async ensureBaseline(): Promise<EngineInfo> {
    const dir = this.settings.baselineDir();
    const problem = modelFolderProblem(dir, 'difftransformer.baselineModelPath');
    if (problem) throw new Error(problem);
    return this.baselineSlot.load(dir, this.settings.provider());
  }

  /** Validates a package by loading it; on success makes it the model (a user setting). */
  async useModel(dir: string): Promise<EngineInfo> {
    this.modelSlot.forget(); // validate it even if it is the folder loaded now
    const info = await this.modelSlot.load(dir, this.settings.provider());
    await this.settings.setModelDir(dir);
    this.status.showModel(info);
    this.modelSelected.fire(info);
    return info;
  }

  /** Validates a package by loading it as the baseline; on success makes it the baseline (a user setting). */
  async useBaseline(dir: string): Promise<EngineInfo> {
    this.baselineSlot.forget();
    const info = await this.baselineSlot.load(dir, this.settings.provider());
    await this.settings.setBaselineDir(dir);
    return info;
  }

  /** The panel's requests each engine has had (the tests count them per inspection). */
  requests(): Record<'model' | 'baseline', EngineRequests> {
    return { model: this.modelSlot.requests(), baseline: this.baselineSlot.requests() };
  }

  dispose(): void {
    this.modelSelected.dispose();
    this.model.dispose();
    this.baseline.dispose();
  }
}
