// The panel's header: the source line (which text, model and run the panel shows) and the status
// line (a run in progress, or text edited since the run, in live mode). An error that stopped a run is not in the header, which scrolls away,
// but in the ErrorBanner: sticky at the top of the panel, announced (role="alert"), and saying that
// the maps still shown are the last inspection's, which the page then greys (body[data-stale]).

import { formatParameterCount } from '../shared/model';
import type { InspectionMeta } from '../shared/protocol';
import type { PanelState } from './types';
import { element, textElement, type PanelView } from './view';

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
    this.status.textContent = status.kind === 'busy' || status.kind === 'stale' ? status.text : '';
    this.status.dataset.kind = status.kind; // stale: what the panel shows is of text edited since
    document.body.classList.toggle('edited', status.kind === 'stale');
  }
}

/** The error of the last run (#error-banner), until the next run starts or the user dismisses it. */
export class ErrorBanner implements PanelView {
  readonly element = element('div', 'error-banner', 'error-banner');
  private readonly message = element('div', 'error-message');
  private readonly staleNote = element('div', 'error-stale');
  private shownStatus: PanelState['status'] | undefined;
  private dismissed = false;

  constructor() {
    this.element.setAttribute('role', 'alert');
    const dismiss = textElement('button', '×', 'error-dismiss');
    dismiss.type = 'button';
    dismiss.title = 'Dismiss the error';
    dismiss.setAttribute('aria-label', 'Dismiss the error');
    dismiss.addEventListener('click', () => {
      this.dismissed = true;
      this.show(undefined, undefined);
    });
    this.element.append(this.message, this.staleNote, dismiss);
    this.element.hidden = true;
  }

  render({ meta, status }: PanelState): void {
    if (status !== this.shownStatus) this.dismissed = false;
    this.shownStatus = status;
    this.show(status.kind === 'error' && !this.dismissed ? status.text : undefined, meta);
  }

  private show(error: string | undefined, meta: InspectionMeta | undefined): void {
    this.element.hidden = error === undefined;
    this.message.textContent = error ?? '';
    const stale = error !== undefined && meta !== undefined;
    this.staleNote.textContent = stale
      ? `The maps below (greyed) are still those of the last inspection that succeeded, ${sourceLine(meta)}; run the inspection again once this is fixed.`
      : '';
    if (stale) document.body.dataset.stale = 'true';
    else delete document.body.dataset.stale;
  }
}

function sourceLine(meta: InspectionMeta | undefined): string {
  if (!meta) return 'Select text and run “DiffTransformer: Inspect Selection” to see its attention.';
  const { source, model, tokens, window: textWindow } = meta;
  const parts = [
    `${source.fileName}:${source.startLine + 1}–${source.endLine + 1}`,
    `${model.name} (${model.kind}, ${model.parameters ? `${formatParameterCount(model.parameters)} parameters, ` : ''}${model.provider})`,
    `${tokens.length} tokens`,
    `${Math.round(meta.latencyMs)} ms`,
  ];
  if (textWindow) parts.push(textWindow.note);
  if (model.weightWarning) parts.push(`⚠ ${model.name} ${model.weightWarning}`);
  return parts.join(' · ');
}
