// The status bar item: the model, its execution provider and the last run's latency, or the last
// error. Clicking it shows the panel.

import * as vscode from 'vscode';
import { formatParameterCount } from '../../shared/model';
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
    this.show(`${icon(model)} DiffTransformer: ${model.name}${sizeOf(model, ' · ')} · ${model.provider}`, describeModel(model));
  }

  showRun(model: EngineInfo, result: InspectionResult): void {
    this.show(
      `${icon(model)} DiffTransformer: ${model.name}${sizeOf(model, ' · ')} · ${model.provider} · ${formatDuration(result.latencyMs / 1000)}`,
      `${describeModel(model)}\nLast run: ${result.tokens.length.toLocaleString('en-US')} tokens in ${formatDuration(result.latencyMs / 1000)} on ${model.provider}${result.window ? `\n${result.window.note}` : ''}`,
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

/** A warning sign for a model whose weights hold NaN or Inf, else the inspector's pulse. */
function icon(model: EngineInfo): string {
  return model.weightWarning ? '$(warning)' : '$(pulse)';
}

/** "6.8M params" (with the separator before it), or nothing for a model that does not say. */
function sizeOf(model: EngineInfo, separator: string): string {
  return model.parameters ? `${separator}${formatParameterCount(model.parameters)} params` : '';
}

function describeModel(model: EngineInfo): string {
  const weights = model.weightBytes ? `, ${(model.weightBytes / 2 ** 20).toFixed(0)} MiB of weights` : '';
  const warning = model.weightWarning ? `\n⚠ ${model.weightWarning}` : '';
  return `Model ${model.dir}${model.parameters ? `\n${formatParameterCount(model.parameters)} parameters${weights}` : ''}; runs up to ${model.maxSeqLen.toLocaleString('en-US')} tokens at once${warning}`;
}

/** "93 ms", "4.2 s", "2 min 5 s". */
export function formatDuration(seconds: number): string {
  if (seconds < 1) return `${(seconds * 1000).toFixed(0)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}
