// Entry of the side-panel webview: builds the page, keeps the panel state, talks to the extension
// host (every incoming message is validated; messages of another run are stale and ignored) and
// saves the state with setState so the panel survives being hidden and reloaded.

import './zodConfig'; // before any module creates schemas
import type { Thumbnails } from '../shared/inspection';
import { mapViews, type MapView } from '../shared/model';
import { parseHostMessage, type HostMessage, type InspectionMeta, type Pane, type PanelSelection, type WebviewMessage } from '../shared/protocol';
import { readTheme, watchTheme } from './colors';
import { createIndexSelect, createQuantSwitch, createTabs, createViewSwitch, registerToolkit } from './controls';
import { formatLambda, VIEW_LABELS } from './format';
import { HeatmapView } from './heatmap';
import { HistogramsView } from './histograms';
import { NeedlesView } from './needles';
import { OverviewGrid } from './overview';
import { renderQuantisationTable } from './quantisation';
import { renderSpans, type ShownSpans } from './spans';
import { emptyState, restoreState, saveState, type Comparison, type SavedState, type Selection, type TabId } from './state';

const vscode = acquireVsCodeApi<SavedState>();
registerToolkit();

let theme = readTheme();
let state = restoreState(vscode.getState());

function post(message: WebviewMessage): void {
  vscode.postMessage(message);
}

function save(): void {
  vscode.setState(saveState(state));
}

// ---- Page -----------------------------------------------------------------------------------

function div(className: string, id?: string): HTMLDivElement {
  const created = document.createElement('div');
  created.className = className;
  if (id) created.id = id;
  return created;
}

const header = div('panel-header');
const sourceLine = div('source-line', 'source');
const statusLine = div('status', 'status');
statusLine.setAttribute('role', 'status');
header.append(sourceLine, statusLine);

const viewSwitch = createViewSwitch((view) => select({ view }));
const layerSelect = createIndexSelect('layer-select', 'Layer', (layer) => select({ layer }));
const headSelect = createIndexSelect('head-select', 'Head', (head) => select({ head }));
const controlsRow = div('map-controls');
controlsRow.append(viewSwitch.element, layerSelect.element, headSelect.element);

const lambdaLine = div('lambda-line', 'lambda');
const overviewGrid = div('overview', 'overview');
const overview = new OverviewGrid(overviewGrid, lambdaLine, (layer, head) => select({ layer, head }));
// The key spans sit under the overview (not in a tab of their own): locking a row shows its spans at once.
const spansList = div('span-list', 'spans');
const overviewArea = div('overview-area');
overviewArea.append(lambdaLine, overviewGrid, spansList);
const heatmapArea = div('heatmap-area');
const heatmap = new HeatmapView(heatmapArea, theme, lockQuery);
const mapsLayout = div('maps-layout');
mapsLayout.append(overviewArea, heatmapArea);
const mapsTab = div('tab-content');
mapsTab.append(controlsRow, mapsLayout);

const histogramsContainer = div('histograms', 'histograms');
const histograms = new HistogramsView(histogramsContainer, theme, (first, end) => reveal(first, end, 'main'));
const quantSwitch = createQuantSwitch((bits) => {
  state.quantBits = bits;
  renderQuantisation();
  save();
});
const quantisationTable = document.createElement('table');
quantisationTable.id = 'quantisation';
quantisationTable.className = 'data-table';
const outliersTab = div('tab-content');
outliersTab.append(quantSwitch.element, quantisationTable, histogramsContainer);

/** One side of the Compare tab: a model's map, key spans and histograms (ids compare-PANE-…). */
function compareColumn(pane: Pane) {
  const column = div('compare-column', `compare-${pane}`);
  const title = div('compare-title', `compare-${pane}-title`);
  column.append(title);
  const heatmap = new HeatmapView(column, theme, (query) => lockQuery(query, pane), `compare-${pane}-`);
  const spans = div('span-list', `compare-${pane}-spans`);
  const histogramsBox = div('histograms', `compare-${pane}-histograms`);
  column.append(spans, histogramsBox);
  const histograms = new HistogramsView(histogramsBox, theme, (first, end) => reveal(first, end, pane));
  return { column, title, heatmap, spans, histograms };
}
const compareLayerSelect = createIndexSelect('compare-layer-select', 'Layer', (layer) => select({ layer }));
const compareHeadSelect = createIndexSelect('compare-head-select', 'Head', (head) => select({ head }));
const compareControls = div('map-controls');
compareControls.append(compareLayerSelect.element, compareHeadSelect.element);
const compareNote = div('compare-note', 'compare-note');
const compareColumns = { main: compareColumn('main'), compare: compareColumn('compare') };
const compareLayout = div('compare-layout');
compareLayout.append(compareColumns.main.column, compareColumns.compare.column);
const compareTab = div('tab-content');
compareTab.append(compareNote, compareControls, compareLayout);

const needlesTab = div('tab-content needles', 'needles');
const needles = new NeedlesView(needlesTab, theme);

const tabs = createTabs<TabId>(
  [
    { id: 'maps', title: 'Maps & spans', content: mapsTab },
    { id: 'outliers', title: 'Outliers', content: outliersTab },
    { id: 'compare', title: 'Compare', content: compareTab },
    { id: 'needles', title: 'Needle Test', content: needlesTab },
  ],
  (tab) => {
    state.tab = tab;
    save();
  },
);
document.body.append(header, tabs.element);

// ---- Rendering from state ---------------------------------------------------------------------

function viewsOf(meta: InspectionMeta): readonly MapView[] {
  return mapViews(meta.model.kind);
}

function setStatus(text: string, kind: 'busy' | 'error' | 'idle'): void {
  statusLine.textContent = text;
  statusLine.dataset.kind = kind;
}

function renderSource(meta: InspectionMeta | undefined): void {
  if (!meta) {
    sourceLine.textContent = 'Select text and run “DiffTransformer: Inspect Selection” to see its attention.';
    return;
  }
  const { source, model, tokens, window: textWindow } = meta;
  const parts = [
    `${source.fileName}:${source.startLine + 1}–${source.endLine + 1}`,
    `${model.name} (${model.kind}, ${model.provider})`,
    `${tokens.length} tokens`,
    `${Math.round(meta.latencyMs)} ms`,
  ];
  if (textWindow) parts.push(textWindow.note);
  sourceLine.textContent = parts.join(' · ');
}

function renderControls(meta: InspectionMeta): void {
  const { selection } = state;
  viewSwitch.show(viewsOf(meta), selection.view);
  layerSelect.show(
    Array.from({ length: meta.model.nLayer }, (_, layer) => (meta.lambda.length > layer ? `${layer} (λ ${formatLambda(meta.lambda[layer])})` : String(layer))),
    selection.layer,
  );
  headSelect.show(Array.from({ length: meta.model.nHead }, (_, head) => String(head)), selection.head);
}

function renderOverview(meta: InspectionMeta): void {
  overview.show(meta, state.thumbnails[state.selection.view], state.selection.view, theme);
  overview.select(state.selection.layer, state.selection.head);
}

function renderMap(): void {
  const { map, meta } = state;
  if (!map || !meta) return;
  heatmap.show(map, meta.tokens, state.query);
  Object.assign(document.body.dataset, {
    view: map.view,
    layer: String(map.layer),
    head: String(map.head),
    query: String(state.query),
  });
}

function renderSpanList(): void {
  renderSpans(spansList, state.spans, state.meta?.tokens ?? [], (first, end) => reveal(first, end, 'main'));
}

/** What one side of the Compare tab shows. */
function paneData(pane: Pane): Omit<Comparison, 'meta'> & { meta: InspectionMeta | undefined } {
  if (pane === 'main') return { meta: state.meta, map: state.map, spans: state.spans, outliers: state.outliers };
  return state.comparison ?? { meta: undefined, map: undefined, spans: undefined, outliers: undefined };
}

function renderCompareTitle(pane: Pane): void {
  const { meta, map } = paneData(pane);
  const { title } = compareColumns[pane];
  if (!meta) return void (title.textContent = '');
  const lambda = map && meta.lambda.length > map.layer ? ` · λ ${formatLambda(meta.lambda[map.layer])}` : '';
  const shown = map ? ` · ${VIEW_LABELS[map.view]} · layer ${map.layer} head ${map.head}${lambda}` : '';
  title.textContent = `${meta.model.name} (${meta.model.kind}) · ${meta.tokens.length} tokens · ${Math.round(meta.latencyMs)} ms${shown}`;
}

function renderComparePane(pane: Pane, parts: { map?: boolean; spans?: boolean; outliers?: boolean } = { map: true, spans: true, outliers: true }): void {
  const { meta, map, spans, outliers } = paneData(pane);
  const column = compareColumns[pane];
  if (!meta || !state.comparison) return;
  renderCompareTitle(pane);
  if (parts.map) {
    if (map) column.heatmap.show(map, meta.tokens, spans?.query ?? (pane === 'main' ? state.query : 0));
    else column.heatmap.clear();
  }
  if (parts.spans) {
    renderSpans(column.spans, spans, meta.tokens, (first, end) => reveal(first, end, pane));
    if (spans) column.heatmap.setQuery(spans.query);
  }
  if (parts.outliers) {
    if (outliers) column.histograms.show(outliers, meta.tokens);
    else column.histograms.clear();
    // A layer's histograms share one |value| axis in both columns, so the larger outliers show.
    const ends = (layer: number, kind: 'hidden' | 'logits') => Math.max(state.outliers?.[layer]?.[kind].top1 ?? 0, state.comparison?.outliers?.[layer]?.[kind].top1 ?? 0);
    for (const side of Object.values(compareColumns)) side.histograms.setAxisEnd(ends);
  }
}

function renderCompare(): void {
  const { comparison, meta } = state;
  compareLayout.hidden = compareControls.hidden = !comparison;
  document.body.dataset.comparing = String(Boolean(comparison));
  if (!comparison || !meta) {
    compareNote.textContent = 'Select text and run “DiffTransformer: Compare with Baseline” to see the model and its matched standard Transformer side by side.';
    return;
  }
  compareNote.textContent = `Same layer, head and locked query token in both models (the baseline has ${comparison.meta.model.nLayer} layers × ${comparison.meta.model.nHead} heads; larger indices are clamped). Click a row of either map to lock a query. A layer's histograms share one |value| axis in both columns.`;
  const { layer, head } = state.selection;
  compareLayerSelect.show(Array.from({ length: meta.model.nLayer }, (_, i) => String(i)), layer);
  compareHeadSelect.show(Array.from({ length: meta.model.nHead }, (_, i) => String(i)), head);
  renderComparePane('main');
  renderComparePane('compare');
}

/** The quantisation grid over the logit histograms and the per-layer error table. */
function renderQuantisation(): void {
  quantSwitch.show(state.quantBits);
  histograms.setQuantBits(state.quantBits);
  for (const column of Object.values(compareColumns)) column.histograms.setQuantBits(state.quantBits);
  renderQuantisationTable(quantisationTable, state.outliers, state.quantBits);
  document.body.dataset.quantBits = state.quantBits === null ? 'off' : String(state.quantBits);
}

function renderAll(): void {
  const { meta } = state;
  renderSource(meta);
  tabs.select(state.tab);
  needles.show(state.needles);
  renderQuantisation();
  if (!meta) {
    overview.clear();
    heatmap.clear();
    histograms.clear();
    renderSpanList();
    renderCompare();
    for (const key of ['view', 'layer', 'head', 'query']) delete document.body.dataset[key];
    return;
  }
  renderControls(meta);
  renderOverview(meta);
  if (state.map) renderMap();
  else heatmap.clear();
  renderSpanList();
  if (state.outliers) histograms.show(state.outliers, meta.tokens);
  else histograms.clear();
  renderCompare();
}

// ---- User actions -----------------------------------------------------------------------------

/** Tells the host the user picked a layer, head or view; the panel shows the selection that comes
 *  back with the map (the host owns it). */
function select(change: Partial<Selection>): void {
  if (state.meta) post({ type: 'select', runId: state.meta.runId, ...change });
}

/** Tells the host the user locked a query row, given as a token of a pane's run (the host carries
 *  it to the other pane). The row is marked at once so that ↑/↓ step from it. */
function lockQuery(query: number, pane: Pane = 'main'): void {
  const { meta } = state;
  if (!meta) return;
  compareColumns[pane].heatmap.setQuery(query);
  if (pane === 'main') heatmap.setQuery(query);
  post({ type: 'lockQuery', pane, runId: meta.runId, query });
}

function reveal(firstToken: number, endToken: number, pane: Pane): void {
  if (state.meta) post({ type: 'reveal', pane, runId: state.meta.runId, firstToken, endToken });
}

// ---- Host messages ----------------------------------------------------------------------------

function isCurrentRun(runId: number): boolean {
  return state.meta !== undefined && state.meta.runId === runId;
}

/** Shows the layer, head and view the host computed a map for, if they are not shown already. */
function showSelection(selection: Selection): void {
  const { meta } = state;
  const { layer, head, view } = state.selection;
  if (!meta || (selection.layer === layer && selection.head === head && selection.view === view)) return;
  state.selection = selection;
  renderControls(meta);
  if (selection.view !== view) renderOverview(meta);
  else overview.select(selection.layer, selection.head);
  if (state.comparison) renderCompare();
}

function onInspection(meta: InspectionMeta, thumbnails: Thumbnails, { query, ...selection }: PanelSelection): void {
  const sameRun = state.meta?.runId === meta.runId;
  state = sameRun ? { ...state, meta, thumbnails, selection, query } : { ...emptyState({ ...state, selection }), meta, thumbnails, query };
  setStatus('', 'idle');
  renderAll();
  save();
}

function handle(message: HostMessage): void {
  switch (message.type) {
    case 'busy':
      setStatus(message.message, 'busy');
      return;
    case 'error':
      setStatus(message.message, 'error');
      return;
    case 'cleared':
      state = emptyState(state);
      setStatus('', 'idle');
      renderAll();
      save();
      return;
    case 'inspection':
      onInspection(message.meta, message.thumbnails, message.selection);
      return;
    case 'comparison':
      if (!isCurrentRun(message.meta.runId)) return;
      state.comparison = { meta: message.meta, map: undefined, spans: undefined, outliers: undefined };
      state.tab = 'compare';
      tabs.select('compare');
      renderCompare();
      save();
      return;
    case 'map': {
      const { pane, runId, layer, head, view, size, data } = message;
      if (data.length !== size * size) {
        console.warn(`ignoring map: ${data.length} values for size ${size}`);
        return;
      }
      const map = { runId, layer, head, view, size, data };
      if (!isCurrentRun(runId)) return;
      if (pane === 'compare') {
        if (!state.comparison) return;
        state.comparison.map = map;
      } else {
        showSelection({ layer, head, view });
        state.map = map;
        state.query = Math.min(state.query, size - 1);
        renderMap();
      }
      if (state.comparison) renderComparePane(pane, { map: true });
      save();
      return;
    }
    case 'spans': {
      const shown: ShownSpans = { layer: message.layer, head: message.head, query: message.query, spans: message.spans };
      if (!isCurrentRun(message.runId)) return;
      if (message.pane === 'compare') {
        if (!state.comparison) return;
        state.comparison.spans = shown;
      } else {
        state.spans = shown;
        state.query = message.query;
        heatmap.setQuery(message.query);
        document.body.dataset.query = String(message.query);
        renderSpanList();
      }
      if (state.comparison) renderComparePane(message.pane, { spans: true });
      save();
      return;
    }
    case 'outliers':
      if (!isCurrentRun(message.runId) || !state.meta) return;
      if (message.pane === 'compare') {
        if (!state.comparison) return;
        state.comparison.outliers = message.layers;
      } else {
        state.outliers = message.layers;
        histograms.show(message.layers, state.meta.tokens);
        renderQuantisation();
      }
      if (state.comparison) renderComparePane(message.pane, { outliers: true });
      save();
      return;
    case 'needles':
      state.needles = message.report;
      state.tab = 'needles';
      tabs.select('needles');
      needles.show(message.report);
      setStatus('', 'idle');
      save();
      return;
    case 'exportRequest':
      post({ type: 'exportImage', requestId: message.requestId, pngDataUrl: heatmap.exportPng(exportTitle()) });
      return;
  }
}

function exportTitle(): string {
  const { meta, map } = state;
  if (!meta || !map) return 'DiffTransformer Inspector';
  return `${meta.source.fileName} · ${meta.model.name} · ${VIEW_LABELS[map.view]} · layer ${map.layer} head ${map.head} · query ${state.query}`;
}

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  let message: HostMessage;
  try {
    message = parseHostMessage(event.data);
  } catch (error) {
    console.warn('ignoring message from the host:', error instanceof Error ? error.message : error);
    return;
  }
  handle(message);
});

watchTheme(() => {
  theme = readTheme();
  heatmap.setTheme(theme);
  histograms.setTheme(theme);
  needles.setTheme(theme);
  for (const column of Object.values(compareColumns)) {
    column.heatmap.setTheme(theme);
    column.histograms.setTheme(theme);
  }
  if (state.meta) renderOverview(state.meta);
});

// A restored panel shows its saved state; a host that still has the run re-sends it on 'ready'.
renderAll();
post({ type: 'ready' });
