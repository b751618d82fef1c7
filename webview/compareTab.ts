// The "Compare" tab (Compare with Baseline): the model and its matched baseline side by side, each
// column with its map, the key spans of the locked query, its quantisation what-if and its outlier
// histograms. Layer, head and query are the host's one selection for both; a layer's histograms
// share one |value| axis in both columns, so the model with the larger outliers is the one whose
// bars reach further.

import type { LayerOutliers, LayerQuantisation } from '../shared/inspection';
import type { QuantBits } from '../shared/model';
import type { InspectionMeta, Pane } from '../shared/protocol';
import type { Theme } from './colors';
import { createIndexSelect, type IndexSelect } from './controls';
import { formatLambda, VIEW_LABELS } from './format';
import { HeatmapView } from './heatmap';
import { HistogramsView } from './histograms';
import { renderQuantisationTable } from './quantisation';
import { SpanList } from './spans';
import type { Comparison, PanelState } from './state';
import { element, fitHeatmapToPanel, whenChanged, type HostRequests, type PanelView } from './view';

export class CompareTab implements PanelView {
  readonly element = element('div', 'tab-content');
  private readonly note = element('div', 'compare-note', 'compare-note');
  private readonly controls = element('div', 'map-controls');
  private readonly layerSelect: IndexSelect;
  private readonly headSelect: IndexSelect;
  private readonly layout = element('div', 'compare-layout');
  private readonly columns: Record<Pane, CompareColumn>;

  constructor(theme: Theme, host: HostRequests) {
    this.layerSelect = createIndexSelect('compare-layer-select', 'Layer', (layer) => host.select({ layer }));
    this.headSelect = createIndexSelect('compare-head-select', 'Head', (head) => host.select({ head }));
    this.controls.append(this.layerSelect.element, this.headSelect.element);
    this.columns = { main: new CompareColumn('main', theme, host), compare: new CompareColumn('compare', theme, host) };
    this.layout.append(this.columns.main.element, this.columns.compare.element);
    // The note under the maps, so that they get the panel's height.
    this.element.append(this.controls, this.layout, this.note);
  }

  render(state: PanelState): void {
    const { comparison, meta, selection } = state;
    this.layout.hidden = this.controls.hidden = !comparison;
    if (!comparison || !meta) {
      this.note.textContent = 'Select text and run “DiffTransformer: Compare with Baseline” to see the model and its matched standard Transformer side by side.';
      return;
    }
    const { nLayer, nHead } = comparison.meta.model;
    this.note.textContent = `Same layer, head and locked query token in both models (the baseline has ${nLayer} layers × ${nHead} heads; larger indices are clamped). Click a row of either map to lock a query. A layer's histograms share one |value| axis in both columns.`;
    this.layerSelect.show(Array.from({ length: meta.model.nLayer }, (_, i) => String(i)), selection.layer);
    this.headSelect.show(Array.from({ length: meta.model.nHead }, (_, i) => String(i)), selection.head);
    const main = { meta, map: state.map, spans: state.spans, outliers: state.outliers, quantisation: state.quantisation };
    this.columns.main.render(main, state.query, state.quantBits);
    this.columns.compare.render(comparison, comparison.spans?.query ?? 0, state.quantBits);
    this.shareAxes(state.outliers, comparison.outliers);
  }

  setTheme(theme: Theme): void {
    for (const column of Object.values(this.columns)) column.setTheme(theme);
  }

  /** Each layer's histograms in both columns end at the larger of the two models' top-1. */
  private readonly shareAxes = whenChanged((main: LayerOutliers[] | undefined, compared: LayerOutliers[] | undefined) => {
    const end = (layer: number, kind: 'hidden' | 'logits') => Math.max(main?.[layer]?.[kind].top1 ?? 0, compared?.[layer]?.[kind].top1 ?? 0);
    for (const column of Object.values(this.columns)) column.setAxisEnd(end);
  });
}

/** One side of the Compare tab: a model's title, map, key spans, what-if and histograms (ids compare-PANE-…). */
class CompareColumn {
  readonly element: HTMLElement;
  private readonly title: HTMLElement;
  private readonly heatmap: HeatmapView;
  private readonly spans: SpanList;
  private readonly table: HTMLTableElement;
  private readonly histograms: HistogramsView;

  constructor(pane: Pane, theme: Theme, host: HostRequests) {
    this.element = element('div', 'compare-column', `compare-${pane}`);
    this.title = element('div', 'compare-title', `compare-${pane}-title`);
    this.element.append(this.title);
    this.heatmap = new HeatmapView(this.element, theme, (query) => host.lockQuery(pane, query), `compare-${pane}-`);
    fitHeatmapToPanel(this.element);
    const reveal = (first: number, end: number) => host.reveal(pane, first, end);
    this.spans = new SpanList(`compare-${pane}-spans`, reveal);
    this.table = element('table', 'data-table', `compare-${pane}-quantisation`);
    this.histograms = new HistogramsView(`compare-${pane}-histograms`, theme, reveal);
    this.element.append(this.spans.element, this.table, this.histograms.element);
  }

  /** Shows a run (the model's or the baseline's) and its map, spans, what-if and outliers. */
  render({ meta, map, spans, outliers, quantisation }: Comparison, query: number, quantBits: QuantBits | null): void {
    this.title.textContent = title(meta, map);
    this.heatmap.render(map, meta.tokens, query);
    this.spans.render(spans, meta);
    this.fillTable(meta, quantisation, quantBits);
    this.histograms.setQuantBits(quantBits);
    this.histograms.render(outliers, meta);
  }

  private readonly fillTable = whenChanged((meta: InspectionMeta, layers: LayerQuantisation[] | undefined, bits: QuantBits | null) =>
    renderQuantisationTable(this.table, meta, layers, bits),
  );

  setAxisEnd(end: (layer: number, kind: 'hidden' | 'logits') => number): void {
    this.histograms.setAxisEnd(end);
  }

  setTheme(theme: Theme): void {
    this.heatmap.setTheme(theme);
    this.histograms.setTheme(theme);
  }
}

/** The model, its run and the map shown, with λ of the map's layer. */
function title(meta: InspectionMeta, map: Comparison['map']): string {
  const lambda = map && meta.lambda.length > map.layer ? ` · λ ${formatLambda(meta.lambda[map.layer])}` : '';
  const shown = map ? ` · ${VIEW_LABELS[map.view]} · layer ${map.layer} head ${map.head}${lambda}` : '';
  return `${meta.model.name} (${meta.model.kind}) · ${meta.tokens.length} tokens · ${Math.round(meta.latencyMs)} ms${shown}`;
}
