// The "Compare" tab (Compare with Baseline): the model and its matched baseline side by side, each
// column with its map, the key spans of the locked query, its quantisation what-if and its outlier
// histograms, and under them both models' attention sinks (sinkViews.ts). Layer, head and query
// are the host's one selection for both; a layer's histograms share one |value| axis in both
// columns, so the model with the larger outliers is the one whose bars reach further. Beside a
// DiffLlama model (A1 = softmax head h, A2 = h + H), a baseline that numbers its heads as Llama
// does shows both counterparts of head h: its heads h and h + H.

import type { LayerOutliers, LayerQuantisation, MapViewport } from '../shared/inspection';
import type { QuantBits } from '../shared/model';
import type { InspectionMeta, Pane } from '../shared/protocol';
import type { LayerSinks } from '../shared/sinks';
import type { Theme } from './colors';
import { createIndexSelect, type IndexSelect } from './controls';
import { VIEW_LABELS } from './format';
import { headLambda, mapCaption } from './heads';
import { HeatmapView } from './heatmap';
import { HistogramsView } from './histograms';
import { renderQuantisationTable } from './quantisation';
import { renderSinkTable } from './sinkViews';
import { SpanList } from './spans';
import { failureOf } from './state';
import type { Comparison, PanelState, ViewportRequest } from './types';
import { element, fitHeatmapToPanel, whenChanged, type HostRequests, type PanelView } from './view';
import { targetViewport } from './viewport';

export class CompareTab implements PanelView {
  readonly element = element('div', 'tab-content');
  private readonly note = element('div', 'compare-note', 'compare-note');
  private readonly controls = element('div', 'map-controls');
  private readonly layerSelect: IndexSelect;
  private readonly headSelect: IndexSelect;
  private readonly layout = element('div', 'compare-layout');
  private readonly columns: Record<Pane, CompareColumn>;
  private readonly sinkTable = element('table', 'data-table', 'compare-sinks');

  constructor(theme: Theme, host: HostRequests) {
    this.layerSelect = createIndexSelect('compare-layer-select', 'Layer', (layer) => host.select({ layer }));
    this.headSelect = createIndexSelect('compare-head-select', 'Head', (head) => host.select({ head }));
    this.controls.append(this.layerSelect.element, this.headSelect.element);
    this.columns = { main: new CompareColumn('main', theme, host), compare: new CompareColumn('compare', theme, host) };
    this.layout.append(this.columns.main.element, this.columns.compare.element);
    // The note under the maps, so that they get the panel's height.
    this.element.append(this.controls, this.layout, this.sinkTable, this.note);
  }

  render(state: PanelState): void {
    const { comparison, meta, selection } = state;
    this.layout.hidden = this.controls.hidden = this.sinkTable.hidden = !comparison;
    if (!comparison || !meta) {
      this.note.textContent = 'Select text and run “DiffTransformer: Compare with Baseline” to see the model and its matched standard Transformer side by side.';
      return;
    }
    const { nLayer, nHead } = comparison.meta.model;
    const heads = comparison.pairedMap
      ? `DiffLlama pairing: the DIFF model's head h sits beside the baseline's heads h and h + ${meta.model.nHead}, the softmax heads of its A1 and A2 (the baseline has ${nLayer} layers × ${nHead} heads, numbered as in Llama)`
      : `Same layer, head and locked query token in both models (the baseline has ${nLayer} layers × ${nHead} heads; larger indices are clamped)`;
    this.note.textContent = `${heads}. Click a row of either map to lock a query. A layer's histograms share one |value| axis in both columns.`;
    this.layerSelect.show(Array.from({ length: meta.model.nLayer }, (_, i) => String(i)), selection.layer);
    this.headSelect.show(Array.from({ length: meta.model.nHead }, (_, i) => String(i)), selection.head);
    const main = { meta, map: state.map, pairedMap: undefined, spans: state.spans, outliers: state.outliers, quantisation: state.quantisation, sinks: state.sinks };
    const failure = failureOf(state.status);
    this.columns.main.render(main, state.query, state.quantBits, state.viewportRequest, failure);
    this.columns.compare.render(comparison, comparison.spans?.query ?? 0, state.quantBits, state.viewportRequest, failure);
    this.shareAxes(state.outliers, comparison.outliers);
    this.fillSinks(meta, state.sinks, comparison.meta, comparison.sinks);
  }

  private readonly fillSinks = whenChanged((meta: InspectionMeta, sinks: LayerSinks[] | undefined, baseline: InspectionMeta, baselineSinks: LayerSinks[] | undefined) =>
    renderSinkTable(this.sinkTable, [{ meta, sinks }, { meta: baseline, sinks: baselineSinks }]),
  );

  setTheme(theme: Theme): void {
    for (const column of Object.values(this.columns)) column.setTheme(theme);
  }

  /** Each layer's histograms in both columns end at the larger of the two models' top-1. */
  private readonly shareAxes = whenChanged((main: LayerOutliers[] | undefined, compared: LayerOutliers[] | undefined) => {
    const end = (layer: number, kind: 'hidden' | 'logits') => Math.max(main?.[layer]?.[kind].top1 ?? 0, compared?.[layer]?.[kind].top1 ?? 0);
    for (const column of Object.values(this.columns)) column.setAxisEnd(end);
  });
}

/** One side of the Compare tab: a model's title, map (two beside a DiffLlama model: see above), key
 *  spans, what-if and histograms (ids compare-PANE-…, the second map's compare-PANE-paired-…). */
class CompareColumn {
  readonly element: HTMLElement;
  private readonly title: HTMLElement;
  private readonly maps = element('div', 'compare-maps');
  private readonly pairedArea = element('div', 'compare-map');
  private readonly heatmap: HeatmapView;
  private readonly pairedHeatmap: HeatmapView;
  private readonly spans: SpanList;
  private readonly table: HTMLTableElement;
  private readonly histograms: HistogramsView;

  constructor(pane: Pane, theme: Theme, host: HostRequests) {
    this.element = element('div', 'compare-column', `compare-${pane}`);
    this.title = element('div', 'compare-title', `compare-${pane}-title`);
    const mapArea = element('div', 'compare-map');
    this.maps.append(mapArea, this.pairedArea);
    this.element.append(this.title, this.maps);
    const requests = { lockQuery: (query: number) => host.lockQuery(pane, query), viewport: (viewport: MapViewport) => host.viewport(pane, viewport) };
    this.heatmap = new HeatmapView(mapArea, theme, requests, `compare-${pane}-`);
    this.pairedHeatmap = new HeatmapView(this.pairedArea, theme, requests, `compare-${pane}-paired-`);
    fitHeatmapToPanel(this.element);
    const reveal = (first: number, end: number) => host.reveal(pane, first, end);
    this.spans = new SpanList(`compare-${pane}-spans`, reveal);
    this.table = element('table', 'data-table', `compare-${pane}-quantisation`);
    this.histograms = new HistogramsView(`compare-${pane}-histograms`, theme, reveal);
    this.element.append(this.spans.element, this.table, this.histograms.element);
  }

  /** Shows a run (the model's or the baseline's) and its map over the viewport the panel shows,
   *  spans, what-if and outliers. */
  render({ meta, map, pairedMap, spans, outliers, quantisation }: Comparison, query: number, quantBits: QuantBits | null, request: ViewportRequest | undefined, failure: string | undefined): void {
    this.title.textContent = title(meta, map);
    const counterpart = (shown: NonNullable<Comparison['map']>, of: 'A1' | 'A2') => `standard head ${shown.head}: the counterpart of ${of} of DIFF head ${map!.head} (softmax head ${shown.head})`;
    this.heatmap.render(map, meta.tokens, query, map && (pairedMap ? counterpart(map, 'A1') : mapCaption(meta, map)), targetViewport(map, request));
    this.maps.classList.toggle('paired', Boolean(pairedMap));
    this.pairedArea.hidden = !pairedMap;
    this.pairedHeatmap.render(pairedMap, meta.tokens, query, pairedMap && counterpart(pairedMap, 'A2'), targetViewport(pairedMap, request));
    this.spans.render(spans, meta);
    this.fillTable(meta, quantisation, quantBits, failure);
    this.histograms.setQuantBits(quantBits);
    this.histograms.render(outliers, meta, failure);
  }

  private readonly fillTable = whenChanged((meta: InspectionMeta, layers: LayerQuantisation[] | undefined, bits: QuantBits | null, failure: string | undefined) =>
    renderQuantisationTable(this.table, meta, layers, bits, failure),
  );

  setAxisEnd(end: (layer: number, kind: 'hidden' | 'logits') => number): void {
    this.histograms.setAxisEnd(end);
  }

  setTheme(theme: Theme): void {
    this.heatmap.setTheme(theme);
    this.pairedHeatmap.setTheme(theme);
    this.histograms.setTheme(theme);
  }
}

/** The model, its run and the map shown, with λ of the map's head (its range for λ per token). */
function title(meta: InspectionMeta, map: Comparison['map']): string {
  const headLambdaText = map ? headLambda(meta, map.layer, map.head) : '';
  const lambda = headLambdaText ? ` · ${headLambdaText}` : '';
  const shown = map ? ` · ${VIEW_LABELS[map.view]} · layer ${map.layer} head ${map.head}${lambda}` : '';
  return `${meta.model.name} (${meta.model.kind}) · ${meta.tokens.length} tokens · ${Math.round(meta.latencyMs)} ms${shown}`;
}
