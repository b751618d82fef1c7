// Entry of the side-panel webview, the root that wires the parts: the store (store.ts, the one place
// the state changes, restored from and saved to setState so the panel survives being hidden and
// reloaded), the views that render from the state, and the extension host (every incoming message
// is validated; what the user picks on the maps goes to the host, which owns the selection, and the
// tab shown, so that the host computes what that tab needs). A zoom or pan shows its viewport at
// once (the store's viewportRequest) and asks the host for its maps once the user pauses.

import './zodConfig'; // before any module creates schemas
import type { MapViewport } from '../shared/inspection';
import { parseHostMessage, type ExportFormat, type HostMessage, type Pane, type PanelTab, type WebviewMessage } from '../shared/protocol';
import { CompareTab } from './compareTab';
import { createTabs, registerToolkit } from './controls';
import { ExplainTab } from './explainTab';
import { FlowGraphView } from './flowGraph';
import { ErrorBanner, PanelHeader } from './header';
import { MapsTab } from './mapsTab';
import { MoreBelowCue } from './moreBelow';
import { NeedlesView } from './needles';
import { OutliersTab } from './outliersTab';
import { restoreState, saveState, type SavedState } from './state';
import { PanelStore } from './store';
import { readTheme, watchTheme } from './theme';
import type { PanelState } from './types';
import { whenChanged, type HostRequests, type PanelView } from './view';
import { WhatIfTab } from './whatIfTab';

const vscode = acquireVsCodeApi<SavedState>();
registerToolkit();

function post(message: WebviewMessage): void {
  vscode.postMessage(message);
}

const store = new PanelStore(restoreState(vscode.getState()), (state) => vscode.setState(saveState(state)), render);

/** Requests about the run shown (none without one). */
function forShownRun(request: (runId: number) => WebviewMessage): void {
  const { meta } = store.state;
  if (meta) post(request(meta.runId));
}
/** Numbers the what-if requests: the tab shows the one whose id it carries (data-what-if-id). */
let lastWhatIfRequest = 0;
/** How long zooming and panning must pause before the host is asked for the viewport's maps. */
const VIEWPORT_DEBOUNCE_MS = 120;
let viewportTimer: ReturnType<typeof setTimeout> | undefined;
/** Shows a viewport at once and asks the host for its maps when the user pauses. Request ids grow
 *  past every id the panel has seen (a reloaded panel's host has answered some already). */
function requestViewport(pane: Pane, viewport: MapViewport): void {
  const { meta, map, comparison, whatIf, viewportRequest } = store.state;
  if (!meta || !(pane === 'main' ? map : comparison?.map)) return;
  const requestId = 1 + Math.max(viewportRequest?.requestId ?? 0, map?.requestId ?? 0, comparison?.map?.requestId ?? 0, whatIf?.requestId ?? 0);
  store.dispatch({ type: 'requestViewport', pane, requestId, viewport });
  document.body.dataset.viewportRequested = String(requestId); // the request a reader (or a test) waits for
  clearTimeout(viewportTimer);
  viewportTimer = setTimeout(() => post({ type: 'mapViewport', runId: meta.runId, pane, requestId, viewport }), VIEWPORT_DEBOUNCE_MS);
}
/** Tells the host the Maps tab heatmap's size (it pools a new run's whole map to it). */
const reportMapCells = whenChanged((cells: number) => post({ type: 'mapCells', cells }));
const host: HostRequests = {
  select: (change) => forShownRun((runId) => ({ type: 'select', runId, ...change })),
  lockQuery: (pane, query) => forShownRun((runId) => ({ type: 'lockQuery', pane, runId, query })),
  reveal: (pane, firstToken, endToken) => forShownRun((runId) => ({ type: 'reveal', pane, runId, firstToken, endToken })),
  whatIf: (spec) =>
    forShownRun((runId) => {
      const whatIfId = ++lastWhatIfRequest;
      document.body.dataset.whatIfRequested = String(whatIfId); // the request a reader (or a test) waits for
      return { type: 'whatIf', runId, whatIfId, spec };
    }),
  viewport: requestViewport,
  mapCells: (cells) => reportMapCells(cells),
  explain: (target, versus, query) => forShownRun((runId) => ({ type: 'explain', runId, ...(target && { target }), ...(versus && { versus }), ...(query !== undefined && { query }) })),
  explainSources: (layer, head) => forShownRun((runId) => ({ type: 'explainSources', runId, layer, head })),
  flow: (flowId, query, threshold) => forShownRun((runId) => ({ type: 'flow', runId, flowId, query, threshold })),
};

const theme = readTheme();
const header = new PanelHeader();
const errorBanner = new ErrorBanner();
const maps = new MapsTab(theme, host, (on) => store.dispatch({ type: 'showSinks', on }));
const outliers = new OutliersTab(theme, host, (bits) => store.dispatch({ type: 'chooseQuantBits', bits }));
const compare = new CompareTab(theme, host);
const whatIf = new WhatIfTab(theme, host);
const needles = new NeedlesView(theme);
const explain = new ExplainTab(theme, host, (layer, head) => {
  host.select({ layer, head });
  store.dispatch({ type: 'chooseTab', tab: 'maps' });
});
const flow = new FlowGraphView(theme, host, () => store.dispatch({ type: 'chooseTab', tab: 'maps' }));
const views: PanelView[] = [header, errorBanner, maps, whatIf, outliers, compare, needles, explain, flow];
const tabs = createTabs<PanelTab>(
  [
    { id: 'maps', title: 'Maps & spans', content: maps.element },
    { id: 'whatIf', title: 'What-if', content: whatIf.element },
    { id: 'outliers', title: 'Outliers', content: outliers.element },
    { id: 'compare', title: 'Compare', content: compare.element },
    { id: 'needles', title: 'Needle Test', content: needles.element },
    { id: 'explain', title: 'Explain', content: explain.element },
    { id: 'flow', title: 'Flow', content: flow.element },
  ],
  (tab) => store.dispatch({ type: 'chooseTab', tab }),
);
const showTab = whenChanged((tab: PanelTab) => tabs.select(tab));
// The error banner first: it sticks to the top of the panel at any scroll position.
document.body.append(errorBanner.element, header.element, tabs.element, new MoreBelowCue().element);
/** Tells the host the tab shown for a run: when the user switches tab, and when a new run or its
 *  comparison arrives (the host computes the outliers only for a tab that shows them). */
const reportView = whenChanged((runId: number | undefined, tab: PanelTab, _comparing: boolean) => {
  if (runId !== undefined) post({ type: 'viewShown', runId, tab });
});
/** Asks for a run's attention sinks while the overview's Sinks toggle is on. */
const reportSinks = whenChanged((runId: number | undefined, on: boolean) => {
  if (runId !== undefined && on) post({ type: 'sinksShown', runId });
});

function render(state: PanelState): void {
  for (const view of views) view.render(state);
  showTab(state.tab);
  reportView(state.meta?.runId, state.tab, Boolean(state.comparison));
  reportSinks(state.meta?.runId, state.showSinks);
  // What the panel shows as a whole, for a reader and for the tests (VS Code sets other data-* here).
  const { dataset } = document.body;
  if (state.meta) Object.assign(dataset, { runId: String(state.meta.runId), model: state.meta.model.name });
  else for (const key of ['runId', 'model']) delete dataset[key];
  dataset.comparing = String(Boolean(state.comparison));
  dataset.quantBits = state.quantBits === null ? 'off' : String(state.quantBits);
}

/** Export View's image: the Explain tab's bar lists or the Flow tab's graph as an SVG where that
 *  tab is shown, else the map. */
function exportImage(format: ExportFormat): string {
  const { tab } = store.state;
  const tabSvg = format !== 'svg' ? undefined : tab === 'explain' ? explain.exportSvg() : tab === 'flow' ? flow.exportSvg() : undefined;
  return tabSvg || maps.exportImage(store.state, format);
}

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  let message: HostMessage;
  try {
    message = parseHostMessage(event.data);
  } catch (error) {
    console.warn('ignoring message from the host:', error instanceof Error ? error.message : error);
    return;
  }
  if (message.type === 'exportRequest') post({ type: 'exportImage', requestId: message.requestId, image: exportImage(message.format) });
  else store.dispatch(message);
});

watchTheme(() => {
  const changed = readTheme();
  for (const view of views) view.setTheme?.(changed);
  render(store.state);
});

// A restored panel shows its saved state; a host that still has the run re-sends it on 'ready'.
render(store.state);
post({ type: 'ready' });
