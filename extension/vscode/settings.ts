// The extension's settings (difftransformer.*), read in one place: which model packages to run (a
// workspace's paths are ignored in Restricted Mode), the execution provider and the limits.

import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { chooseModelPath, DEFAULT_BASELINE, DEFAULT_MODEL, matchedBaseline } from '../core/modelPath';
import type { ProviderSetting } from '../core/runtime';

export class InspectorSettings {
  constructor(
    private readonly extensionPath: string,
    /** Where Import Model… writes packages by default (the extension's global storage). */
    readonly importedModelsDir: string,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  private get values(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration('difftransformer');
  }

  /** The model folder the settings ask for. */
  modelDir(): string {
    return this.configuredDir('modelPath', this.bundled(DEFAULT_MODEL));
  }

  /** The baseline package Compare with Baseline and the Needle Test run. */
  baselineDir(): string {
    const matched = matchedBaseline(this.modelDir(), this.bundled(DEFAULT_BASELINE), (dir) => existsSync(path.join(dir, 'manifest.json')));
    return this.configuredDir('baselineModelPath', matched);
  }

  /** Makes `dir` the model (a user setting). */
  async setModelDir(dir: string): Promise<void> {
    await this.values.update('modelPath', dir, vscode.ConfigurationTarget.Global);
  }

  /** Makes `dir` the baseline that Compare with Baseline runs (a user setting). */
  async setBaselineDir(dir: string): Promise<void> {
    await this.values.update('baselineModelPath', dir, vscode.ConfigurationTarget.Global);
  }

  /** The extension's models/ folder, which holds the bundled packages. */
  bundledModelsDir(): string {
    return this.bundled('');
  }

  provider(): ProviderSetting {
    return this.values.get<ProviderSetting>('executionProvider', 'auto');
  }

  /** Key spans shown and highlighted. */
  topSpans(): number {
    return this.values.get<number>('topSpans', 5);
  }

  /** Whether the panel follows the cursor and re-runs an edited range (liveMode.ts). */
  liveMode(): boolean {
    return this.values.get<boolean>('liveMode', false);
  }

  /** The largest text (UTF-8 bytes) that is run. */
  maxFileBytes(): number {
    return this.values.get<number>('maxFileBytes', 1_000_000);
  }

  private bundled(name: string): string {
    return path.join(this.extensionPath, 'models', name);
  }

  /** A package folder from a path setting, or `fallback` when it names none. */
  private configuredDir(key: 'modelPath' | 'baselineModelPath', fallback: string): string {
    const values = this.values.inspect<string>(key) ?? { key };
    const choice = chooseModelPath(values, vscode.workspace.isTrusted, fallback);
    if (choice.ignoredWorkspaceValue) {
      this.log.warn(`Restricted Mode: ignoring difftransformer.${key} "${choice.ignoredWorkspaceValue}" from workspace settings; using ${choice.dir}`);
    }
    return choice.dir;
  }
}
