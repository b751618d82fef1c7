// The status bar item: the model, its execution provider and the last run's latency, or the last
// error. Clicking it shows the panel.

import * as vscode from 'vscode';
import type { EngineInfo, InspectionResult } from '../core/engine';

export class InspectorStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('difftransformer.status', vscode.StatusBarAlignment.Right, 100);

  constructor() {
    this.item.name = 'DiffTransformer Inspector';
    this.item.command = 'difftransformer.showPanel';
    this.show('$(pulse) DiffTransformer', 'DiffTransformer Inspector: no model loaded yet');
    this.item.show();
  }

  showModel(model: EngineInfo): void {
    this.show(`$(pulse) DiffTransformer: ${model.name} · ${model.provider}`, `Model ${model.dir}`);
  }

  showRun(model: EngineInfo, result: InspectionResult): void {
    this.show(
      `$(pulse) DiffTransformer: ${model.name} · ${model.provider} · ${result.latencyMs.toFixed(0)} ms`,
      `Last run: ${result.tokens.length} tokens in ${result.latencyMs.toFixed(1)} ms on ${model.provider}${result.window ? `\n${result.window.note}` : ''}`,
    );
  }

  showError(message: string): void {
    this.show('$(error) DiffTransformer', message);
  }

  private show(text: string, tooltip: string): void {
    this.item.text = text;
    this.item.tooltip = tooltip;
  }

  dispose(): void {
    this.item.dispose();
  }
}
