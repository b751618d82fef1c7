// The panel's header: the source line (which text, model and run the panel shows) and the status
// line (a run in progress, or the error that stopped it).

import type { InspectionMeta } from '../shared/protocol';
import type { PanelState } from './state';
import { element, type PanelView } from './view';

export class PanelHeader implements PanelView {
  readonly element = element('div', 'panel-header');
  private readonly source = element('div', 'source-line', 'source');
  private readonly status = element('div', 'status', 'status');

  constructor() {
    this.status.setAttribute('role', 'status');
    this.element.append(this.source, this.status);
  }

  render({ meta, status }: PanelState): void {
    this.source.textContent = sourceLine(meta);
    this.status.textContent = status.text;
    this.status.dataset.kind = status.kind;
  }
}

function sourceLine(meta: InspectionMeta | undefined): string {
  if (!meta) return 'Select text and run “DiffTransformer: Inspect Selection” to see its attention.';
  const { source, model, tokens, window: textWindow } = meta;
  const parts = [
    `${source.fileName}:${source.startLine + 1}–${source.endLine + 1}`,
    `${model.name} (${model.kind}, ${model.provider})`,
    `${tokens.length} tokens`,
    `${Math.round(meta.latencyMs)} ms`,
  ];
  if (textWindow) parts.push(textWindow.note);
  return parts.join(' · ');
}
