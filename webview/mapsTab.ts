// The "Maps & spans" tab: the large heatmap of the selected head (sized to the panel's height), and
// beside it (under it when narrow) the view switch and the layer and head pickers, the overview grid
// of every layer × head with λ (right-click a thumbnail to ablate it: headMenu.ts; its Sinks toggle
// shows each head's attention share on the first token under it: sinkViews.ts) and the key spans and logit lens (lensTable.ts) of the locked query. It renders the panel state; what the user picks goes to the host, which owns the
// selection and answers with the map and spans that the state then holds.

import { mapViews, type MapView } from '../shared/model';
import type { ExportFormat, InspectionMeta } from '../shared/protocol';
import type { Theme } from './colors';
import { createIndexSelect, createViewSwitch, type IndexSelect, type ViewSwitch } from './controls';
import { VIEW_LABELS } from './format';
import { hasLambda, mapCaption, layerLambda } from './heads';
import { HeadMenu } from './headMenu';
import { HeatmapView } from './heatmap';
import { LensTable } from './lensTable';
import { OverviewGrid } from './overview';
import { SinkOverview } from './sinkViews';
import { SpanList } from './spans';
import type { PanelState } from './types';
import { element, fitHeatmapToPanel, whenChanged, type HostRequests, type PanelView } from './view';
import { targetViewport } from './viewport';

export class MapsTab implements PanelView {
  readonly element = element('div', 'tab-content');
  private readonly viewSwitch: ViewSwitch;
  private readonly layerSelect: IndexSelect;
  private readonly headSelect: IndexSelect;
  private readonly overview: OverviewGrid;
  private readonly sinks: SinkOverview;
  private readonly spans: SpanList;
  private readonly heatmap: HeatmapView;
  private readonly lens = new LensTable();
  /** The run shown (the head menu offers "Ablate A2 only" only for a model with λ). */
  private meta: InspectionMeta | undefined;

  constructor(
    private theme: Theme,
    host: HostRequests,
    onShowSinks: (on: boolean) => void,
  ) {
    this.viewSwitch = createViewSwitch((view) => host.select({ view }));
    this.layerSelect = createIndexSelect('layer-select', 'Layer', (layer) => host.select({ layer }));
    this.headSelect = createIndexSelect('head-select', 'Head', (head) => host.select({ head }));
    const controls = element('div', 'map-controls');
    this.sinks = new SinkOverview(onShowSinks);
    controls.append(this.viewSwitch.element, this.layerSelect.element, this.headSelect.element, this.sinks.toggle);

    const lambdaLine = element('div', 'lambda-line', 'lambda');
    const grid = element('div', 'overview', 'overview');
    const headMenu = new HeadMenu((spec) => host.whatIf(spec));
    this.overview = new OverviewGrid(
      grid,
      lambdaLine,
      (layer, head) => host.select({ layer, head }),
      (layer, head, x, y) => headMenu.open(layer, head, x, y, this.meta !== undefined && hasLambda(this.meta)),
    );
    // The key spans sit under the overview (not in a tab of their own): locking a row shows its spans at once.
    this.spans = new SpanList('spans', (first, end) => host.reveal('main', first, end), (query, chosen) => host.explain(`#${chosen}`, undefined, query));
    const overviewArea = element('div', 'overview-area');
    // The pickers sit beside the map (above the overview), not above it: the map gets the height.
    overviewArea.append(controls, lambdaLine, grid, this.sinks.element, this.spans.element, this.lens.element);
    const heatmapArea = element('div', 'heatmap-area');
    this.heatmap = new HeatmapView(heatmapArea, theme, {
      lockQuery: (query) => host.lockQuery('main', query),
      viewport: (viewport) => host.viewport('main', viewport),
      cells: (cells) => host.mapCells(cells),
    });
    fitHeatmapToPanel(heatmapArea);
    // The map first: at the top of the tab (beside the overview, or above it when narrow), it is in
    // view without scrolling at any panel height.
    const layout = element('div', 'maps-layout');
    layout.append(heatmapArea, overviewArea);
    this.element.append(layout, headMenu.element);
  }

  render(state: PanelState): void {
    const { meta, selection } = state;
    this.meta = meta;
    if (meta) this.renderControls(meta, selection);
    this.drawOverview(meta, meta && state.thumbnails[selection.view], selection.view, this.theme);
    this.overview.select(selection.layer, selection.head);
    this.sinks.render(meta, state.sinks, state.showSinks, this.theme);
    const map = meta && state.map;
    this.heatmap.render(map, meta?.tokens ?? [], state.query, meta && map ? mapCaption(meta, map) : '', targetViewport(map, state.viewportRequest));
    this.spans.render(state.spans, meta);
    this.lens.render(state.lens, meta);
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.heatmap.setTheme(theme);
  }

  /** A PNG of the heatmap, titled with what it shows. */
  exportImage({ meta, map, query }: PanelState, format: ExportFormat): string {
    const title = meta && map ? `${meta.source.fileName} · ${meta.model.name} · ${VIEW_LABELS[map.view]} · layer ${map.layer} head ${map.head} · query ${query}` : 'DiffTransformer Inspector';
    return this.heatmap.exportImage(title, format);
  }

  private renderControls(meta: InspectionMeta, selection: PanelState['selection']): void {
    const { nLayer, nHead } = meta.model;
    this.viewSwitch.show(mapViews(meta.model.kind), selection.view);
    this.layerSelect.show(
      Array.from({ length: nLayer }, (_, layer) => (layerLambda(meta, layer) ? `${layer} (${layerLambda(meta, layer)})` : String(layer))),
      selection.layer,
    );
    this.headSelect.show(Array.from({ length: nHead }, (_, head) => String(head)), selection.head);
  }

  /** The thumbnails of the chosen view, painted again only for new values, view or theme. */
  private readonly drawOverview = whenChanged((meta: InspectionMeta | undefined, values: Float32Array | undefined, view: MapView, theme: Theme) => {
    if (meta) this.overview.show(meta, values, view, theme);
    else this.overview.clear();
  });
}
