// The "What-if" tab: the user picks a layer (or all) and a λ (presets or a value of their own), or
// ablates a head or its A2 from the overview's context menu; the host runs the same text again with
// that intervention and this tab shows both runs side by side (the map of the chosen layer and head
// over the viewport Maps & spans shows, zoomed and panned together, with its λ strip for DIFF V2 as
// on Maps & spans, the locked query's key spans and next-token
// predictions), then the per-token surprisal difference along the text. The shown parts carry the
// request they show (data-what-if-id; the page's body says which one was asked for last,
// data-what-if-requested).

import type { InspectionMeta } from '../shared/protocol';
import type { Theme } from './colors';
import { formatValue, visibleTextElement } from './format';
import { hasLambda, layerLambda, mapCaption } from './heads';
import { HeatmapView } from './heatmap';
import { SpanList } from './spans';
import { SurprisalStrip } from './surprisalStrip';
import type { PanelState, ShownMap, ViewportRequest, WhatIfShown } from './types';
import { describeElement, element, textElement, whenChanged, type HostRequests, type PanelView } from './view';
import { targetViewport } from './viewport';

/** The λ presets: λ becomes λ·scale + shift. */
const PRESETS: { id: string; label: string; title: string; scale: number; shift: number }[] = [
  { id: 'zero', label: 'λ = 0', title: 'Plain softmax of A1: no noise cancellation', scale: 0, shift: 0 },
  { id: 'one', label: 'λ = 1', title: 'Pure difference A1 − A2', scale: 0, shift: 1 },
  { id: 'half', label: 'λ × 0.5', title: 'Half of the learned λ', scale: 0.5, shift: 0 },
  { id: 'own', label: 'Own value', title: 'The learned λ: the what-if reproduces the run', scale: 1, shift: 0 },
];

export class WhatIfTab implements PanelView {
  readonly element = element('div', 'tab-content what-if');
  private readonly layerSelect = element('select', 'what-if-layer', 'whatif-layer');
  private readonly lambdaInput = element('input', 'what-if-lambda', 'whatif-lambda');
  private readonly controls = element('div', 'map-controls what-if-controls');
  private readonly title = element('p', 'compare-title', 'whatif-title');
  private readonly layout = element('div', 'compare-layout');
  private readonly sides: Record<'main' | 'whatIf', WhatIfSide>;
  private readonly strip = new SurprisalStrip();
  private offeredLayers = '';

  constructor(
    private theme: Theme,
    private readonly host: HostRequests,
  ) {
    this.layerSelect.setAttribute('aria-label', 'Layers whose λ changes');
    this.lambdaInput.type = 'number';
    this.lambdaInput.step = '0.05';
    this.lambdaInput.value = '0';
    this.lambdaInput.setAttribute('aria-label', 'λ of your own');
    const presets = PRESETS.map(({ id, label, title, scale, shift }) => this.button(`whatif-preset-${id}`, label, title, () => this.askLambda(scale, shift)));
    const own = this.button('whatif-run', 'Run with this λ', 'Run with the λ typed here', () => {
      const value = Number(this.lambdaInput.value);
      if (this.lambdaInput.value.trim() !== '' && Number.isFinite(value)) this.askLambda(0, value);
    });
    this.controls.append(textElement('span', 'Layers', 'control-label'), this.layerSelect, ...presets, this.lambdaInput, own);
    this.sides = { main: new WhatIfSide('Unmodified', 'whatif-main-', theme, host), whatIf: new WhatIfSide('What-if', 'whatif-changed-', theme, host) };
    this.layout.append(this.sides.main.element, this.sides.whatIf.element);
    const hint = textElement('p', 'Right-click a thumbnail on Maps & spans to ablate a head or only its A2.', 'note');
    this.element.append(this.controls, this.title, this.strip.element, this.layout, hint);
  }

  render(state: PanelState): void {
    const { meta } = state;
    this.controls.hidden = !meta;
    if (meta) this.offerLayers(meta);
    this.show(state.whatIf, meta, this.theme);
    if (state.whatIf) for (const side of Object.values(this.sides)) side.renderMap(state.viewportRequest);
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    for (const side of Object.values(this.sides)) side.setTheme(theme);
  }

  private askLambda(scale: number, shift: number): void {
    const layer = this.layerSelect.value === 'all' ? null : Number(this.layerSelect.value);
    this.host.whatIf({ kind: 'lambda', layer, scale, shift });
  }

  private readonly show = whenChanged((whatIf: WhatIfShown | undefined, meta: InspectionMeta | undefined, theme: Theme) => {
    const shown = whatIf && meta ? whatIf : undefined;
    const described = shown && meta && { runId: meta.runId, whatIfId: shown.whatIfId, layer: shown.layer, head: shown.head, query: shown.query };
    this.layout.hidden = !shown;
    this.title.textContent = shown
      ? `${shown.description} · layer ${shown.layer} head ${shown.head} · query ${shown.query}`
      : meta
        ? 'Pick the layers and a λ above, or ablate a head from the overview, to run the text again with it.'
        : 'Inspect some code or text first.';
    describeElement(this.title, described);
    this.strip.show(shown?.surprisalDelta, meta?.tokens ?? [], theme, described);
    if (!shown || !meta) return;
    this.sides.main.show(shown, shown.main, meta);
    this.sides.whatIf.show(shown, shown.whatIf, meta);
  });

  private offerLayers(meta: InspectionMeta): void {
    const labels = hasLambda(meta) ? Array.from({ length: meta.model.nLayer }, (_, layer) => `Layer ${layer} (${layerLambda(meta, layer)})`) : [];
    if (labels.join('\n') === this.offeredLayers) return;
    this.offeredLayers = labels.join('\n');
    const option = (value: string, text: string) => Object.assign(textElement('option', text), { value });
    this.layerSelect.replaceChildren(option('all', 'All layers'), ...labels.map((text, layer) => option(String(layer), text)));
    // A baseline has no λ: only the overview's "Ablate head" applies.
    for (const control of this.controls.querySelectorAll('button, select, input')) (control as HTMLButtonElement).disabled = !hasLambda(meta);
  }

  private button(id: string, label: string, title: string, onClick: () => void): HTMLButtonElement {
    const button = textElement('button', label, 'what-if-button');
    button.id = id;
    button.type = 'button';
    button.title = title;
    button.addEventListener('click', onClick);
    return button;
  }
}

/** One run's column: its map, the locked query's key spans and its next-token predictions. */
class WhatIfSide {
  readonly element = element('div', 'compare-column');
  private readonly heatmap: HeatmapView;
  private readonly spans: SpanList;
  private readonly predictions: HTMLOListElement;
  /** The map shown and what the heatmap needs with it. */
  private shown: { map: ShownMap; tokens: InspectionMeta['tokens']; query: number; caption: string } | undefined;

  constructor(title: string, idPrefix: string, theme: Theme, host: HostRequests) {
    this.element.append(textElement('p', title, 'compare-title'));
    const area = element('div', 'heatmap-area');
    this.element.append(area);
    this.heatmap = new HeatmapView(area, theme, { lockQuery: (query) => host.lockQuery('main', query), viewport: (viewport) => host.viewport('main', viewport) }, idPrefix);
    this.spans = new SpanList(`${idPrefix}spans`, (first, end) => host.reveal('main', first, end));
    this.predictions = element('ol', 'what-if-predictions', `${idPrefix}predictions`);
    this.element.append(this.spans.element, textElement('p', 'Next-token predictions at the locked query', 'note'), this.predictions);
  }

  show(shown: WhatIfShown, side: WhatIfShown['main'], meta: InspectionMeta): void {
    const { runId } = meta;
    const { layer, head, view, query, requestId, viewport } = shown;
    const queryRow = side.queryRow && { query, data: side.queryRow };
    const map: ShownMap = { runId, layer, head, view, requestId, viewport, data: side.map, lambda: side.lambda, queryRow };
    this.shown = { map, tokens: meta.tokens, query, caption: mapCaption(meta, map) };
    this.spans.render({ layer: shown.layer, head: shown.head, query: shown.query, spans: side.spans }, meta);
    this.predictions.replaceChildren(...side.predictions.map((prediction) => {
      const item = element('li');
      item.append(visibleTextElement(prediction.text), textElement('span', ` ${formatValue(prediction.prob)}`, 'span-score'));
      return item;
    }));
    describeElement(this.predictions, { runId, whatIfId: shown.whatIfId, query: shown.query });
  }

  /** Draws the map over the viewport the panel shows (the last map scaled while its own is on its way). */
  renderMap(request: ViewportRequest | undefined): void {
    const { shown } = this;
    if (shown) this.heatmap.render(shown.map, shown.tokens, shown.query, shown.caption, targetViewport(shown.map, request));
  }

  setTheme(theme: Theme): void {
    this.heatmap.setTheme(theme);
  }
}
