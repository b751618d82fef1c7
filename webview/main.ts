// Entry of the side-panel webview: builds the page, keeps the panel state, talks to the extension
// host (every incoming message is validated; messages of another run are stale and ignored) and
// saves the state with setState so the panel survives being hidden and reloaded.

import './zodConfig'; // before any module creates schemas
import {
  BASELINE_VIEWS,
  MAP_VIEWS,
  parseHostMessage,
  type HostMessage,
  type InspectionMeta,
  type MapView,
  type WebviewMessage,
} from '../extension/protocol';
import { readTheme, watchTheme } from './colors';
import { createIndexSelect, createTabs, createViewSwitch, registerToolkit } from './controls';
import { formatLambda, VIEW_LABELS } from './format';
import { HeatmapView } from './heatmap';
import { HistogramsView } from './histograms';
import { OverviewGrid } from './overview';
import { renderSpans } from './spans';
import { emptyState, restoreState, saveState, type SavedState, type Selection, type TabId } from './state';

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
const histograms = new HistogramsView(histogramsContainer, theme, reveal);
const outliersTab = div('tab-content');
outliersTab.append(histogramsContainer);

const tabs = createTabs<TabId>(
  [
    { id: 'maps', title: 'Maps & spans', content: mapsTab },
    { id: 'outliers', title: 'Outliers', content: outliersTab },
  ],
  (tab) => {
    state.tab = tab;
    save();
  },
);
document.body.append(header, tabs.element);

// ---- Rendering from state ---------------------------------------------------------------------

function viewsOf(meta: InspectionMeta): readonly MapView[] {
  return meta.model.kind === 'baseline' ? BASELINE_VIEWS : MAP_VIEWS;
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
  renderSpans(spansList, state.spans, state.meta?.tokens ?? [], reveal);
}

function renderAll(): void {
  const { meta } = state;
  renderSource(meta);
  tabs.select(state.tab);
  if (!meta) {
    overview.clear();
    heatmap.clear();
    histograms.clear();
    renderSpanList();
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
}

// ---- User actions -----------------------------------------------------------------------------

/** Changes layer, head or view and asks the host for that map (and the locked query's spans). */
function select(change: Partial<Selection>): void {
  const { meta } = state;
  if (!meta) return;
  state.selection = { ...state.selection, ...change };
  renderControls(meta);
  if (change.view) renderOverview(meta);
  else overview.select(state.selection.layer, state.selection.head);
  requestSelection(meta);
  save();
}

function requestSelection(meta: InspectionMeta): void {
  const { layer, head, view } = state.selection;
  post({ type: 'select', runId: meta.runId, layer, head, view });
  // The host answers 'select' for its own idea of the query; restate ours if the user moved it.
  if (state.query !== meta.query) post({ type: 'lockQuery', runId: meta.runId, layer, head, query: state.query });
}

function lockQuery(query: number): void {
  const { meta } = state;
  if (!meta) return;
  state.query = query;
  heatmap.setQuery(query);
  document.body.dataset.query = String(query);
  const { layer, head } = state.selection;
  post({ type: 'lockQuery', runId: meta.runId, layer, head, query });
  save();
}

function reveal(firstToken: number, endToken: number): void {
  if (state.meta) post({ type: 'reveal', runId: state.meta.runId, firstToken, endToken });
}

// ---- Host messages ----------------------------------------------------------------------------

function isCurrentRun(runId: number): boolean {
  return state.meta !== undefined && state.meta.runId === runId;
}

function isCurrentSelection(message: { runId: number; layer: number; head: number }): boolean {
  return isCurrentRun(message.runId) && message.layer === state.selection.layer && message.head === state.selection.head;
}

function onInspection(meta: InspectionMeta, thumbnails: Partial<Record<MapView, Float32Array>>): void {
  const sameRun = state.meta?.runId === meta.runId;
  const { layer, head, view } = state.selection;
  const views = viewsOf(meta);
  const selection = {
    layer: layer < meta.model.nLayer ? layer : 0,
    head: head < meta.model.nHead ? head : 0,
    // Keep the user's view if this model has it; otherwise its most informative one (diff or a1).
    view: views.includes(view) ? view : views[views.length - 1],
  };
  state = sameRun
    ? { ...state, meta, thumbnails, selection }
    : { ...emptyState(selection, state.tab), meta, thumbnails, query: meta.query };
  setStatus('', 'idle');
  renderAll();
  requestSelection(meta);
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
      state = emptyState(state.selection, state.tab);
      setStatus('', 'idle');
      renderAll();
      save();
      return;
    case 'inspection':
      onInspection(message.meta, message.thumbnails);
      return;
    case 'map': {
      const { runId, layer, head, view, size, data } = message;
      if (!isCurrentSelection(message) || view !== state.selection.view) return; // answer to an older selection
      if (data.length !== size * size) {
        console.warn(`ignoring map: ${data.length} values for size ${size}`);
        return;
      }
      state.map = { runId, layer, head, view, size, data };
      state.query = Math.min(state.query, size - 1);
      renderMap();
      save();
      return;
    }
    case 'spans':
      if (!isCurrentSelection(message)) return;
      state.spans = { layer: message.layer, head: message.head, query: message.query, spans: message.spans };
      state.query = message.query;
      heatmap.setQuery(message.query);
      document.body.dataset.query = String(message.query);
      renderSpanList();
      save();
      return;
    case 'outliers':
      if (!isCurrentRun(message.runId) || !state.meta) return;
      state.outliers = message.layers;
      histograms.show(message.layers, state.meta.tokens);
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
  if (state.meta) renderOverview(state.meta);
});

renderAll();
post({ type: 'ready' });
// A restored panel whose map was too large to save (or not yet answered) asks for it again; the host
// ignores the request if its run is gone.
const { map: restoredMap, selection: restoredSelection } = state;
const mapMatchesSelection =
  restoredMap?.layer === restoredSelection.layer && restoredMap.head === restoredSelection.head && restoredMap.view === restoredSelection.view;
if (state.meta && !mapMatchesSelection) requestSelection(state.meta);
