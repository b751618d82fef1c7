// The one place where the panel state changes: reduce() applies a host message or a user's choice
// to the state and returns the new one (replacing, never mutating, the parts that change, so that
// views can tell what changed by identity); PanelStore holds the state, saves it after every change
// (vscode.setState) and tells the renderer. Messages of another run are stale and ignored. What
// the user picks on the maps (layer, head, view, query) is not a change here: the host owns the
// selection and the state follows the maps and spans it sends back. The viewport the user zooms or
// pans to is: the heatmaps show it at once (the last map scaled), and maps answering an older
// viewport request are stale.

import { viewportCells, type MapViewport, type Thumbnails } from '../shared/inspection';
import type { QuantBits } from '../shared/model';
import type { HostMessage, InspectionMeta, Pane, PanelSelection, PanelTab } from '../shared/protocol';
import { emptyState, fitsViewport, IDLE } from './state';
import type { Comparison, PanelState, ShownExplanation, ShownMap, ShownSources } from './types';

/** A host message that changes the state (an export request only asks for a picture). */
export type HostUpdate = Exclude<HostMessage, { type: 'exportRequest' }>;

/** A choice the panel keeps on its own. */
export type UserChoice =
  | { type: 'chooseTab'; tab: PanelTab }
  | { type: 'chooseQuantBits'; bits: QuantBits | null }
  | { type: 'showSinks'; on: boolean }
  /** The user zoomed, panned or picked the pooling: the panel asks the host for this viewport. */
  | { type: 'requestViewport'; pane: Pane; requestId: number; viewport: MapViewport };

export type PanelAction = HostUpdate | UserChoice;

export function reduce(state: PanelState, action: PanelAction): PanelState {
  switch (action.type) {
    case 'chooseTab':
      return action.tab === state.tab ? state : { ...state, tab: action.tab };
    case 'chooseQuantBits':
      return action.bits === state.quantBits ? state : { ...state, quantBits: action.bits };
    case 'showSinks':
      return action.on === state.showSinks ? state : { ...state, showSinks: action.on };
    case 'requestViewport': {
      const { type: _type, ...viewportRequest } = action;
      return state.meta ? { ...state, viewportRequest } : state;
    }
    case 'busy':
    case 'error': // a new job or a failure: a Needle Test's progress is over
      return { ...state, status: { kind: action.type, text: action.message }, needleProgress: undefined };
    case 'stale':
      return isCurrentRun(state, action.runId) ? { ...state, status: { kind: 'stale', text: action.message } } : state;
    case 'cleared':
      return emptyState(state);
    case 'inspection':
      return inspected(state, action.meta, action.thumbnails, action.selection);
    case 'comparison':
      if (!isCurrentRun(state, action.meta.runId)) return state;
      return { ...state, comparison: { meta: action.meta, map: undefined, pairedMap: undefined, spans: undefined, outliers: undefined, quantisation: undefined, sinks: undefined }, tab: 'compare' };
    case 'map': {
      const { pane, runId, layer, head, view, requestId, viewport, data, lambda, paired } = action;
      if (!fitsViewport(viewport, data, lambda) || (paired && !fitsViewport(viewport, paired.data))) {
        console.warn(`ignoring map: ${data.length} values (λ ${lambda?.length}, paired ${paired?.data.length}) for its viewport`);
        return state;
      }
      if (!isCurrentRun(state, runId) || isStaleViewport(state, requestId)) return state;
      const map = { runId, layer, head, view, requestId, viewport, data, ...(lambda && { lambda }) };
      if (pane === 'compare') return withComparison(state, { map, pairedMap: paired && { ...map, head: paired.head, data: paired.data } });
      // The host computed it for its selection: show that selection.
      return { ...state, map, selection: { layer, head, view } };
    }
    case 'queryRow': {
      const { pane, runId, query, data, paired } = action;
      if (!isCurrentRun(state, runId)) return state;
      const paneMap = pane === 'main' ? state.map : state.comparison?.map;
      if (!paneMap || !isRowOf(action, paneMap)) return state;
      const withRow = (map: ShownMap | undefined, row: Float32Array | undefined) => (map && row ? { ...map, queryRow: { query, data: row } } : map);
      if (pane === 'main') return { ...state, map: withRow(state.map, data) };
      return withComparison(state, { map: withRow(state.comparison?.map, data), pairedMap: withRow(state.comparison?.pairedMap, paired) });
    }
    case 'spans': {
      const { pane, runId, layer, head, query, spans } = action;
      if (!isCurrentRun(state, runId)) return state;
      const shown = { layer, head, query, spans };
      return pane === 'compare' ? withComparison(state, { spans: shown }) : { ...state, spans: shown, query };
    }
    case 'outliers':
    case 'quantisation':
    case 'sinks': {
      if (!isCurrentRun(state, action.runId)) return state;
      const part = { [action.type]: action.layers };
      return action.pane === 'compare' ? withComparison(state, part) : { ...state, ...part };
    }
    case 'lens': {
      if (!isCurrentRun(state, action.runId)) return state;
      const { query, layers, unavailable } = action;
      return { ...state, lens: { query, layers, unavailable } };
    }
    case 'whatIf': {
      if (!isCurrentRun(state, action.runId)) return state;
      // A what-if for an older viewport still shows its runs: the host sends its maps again for the new one.
      const { type: _type, ...whatIf } = action;
      return { ...state, whatIf, tab: 'whatIf', status: IDLE };
    }
    case 'needles':
      return { ...state, needles: action.report, needleProgress: undefined, tab: 'needles', status: IDLE };
    case 'needleProgress':
      return { ...state, needleProgress: action.message, tab: 'needles' };
    case 'explanation':
      if (!isCurrentRun(state, action.runId)) return state;
      return { ...state, explanation: action.explanation, explainSources: undefined, tab: 'explain', status: IDLE };
    case 'explainSources': {
      const { type: _type, runId, ...sources } = action;
      return isCurrentRun(state, runId) && isSourcesOf(sources, state.explanation) ? { ...state, explainSources: sources } : state;
    }
    case 'flow': {
      if (!isCurrentRun(state, action.runId) || action.flowId < (state.flow?.flowId ?? 0)) return state;
      const { runId, flowId, graph } = action;
      return { ...state, flow: { runId, flowId, graph } };
    }
  }
}

/** Whether a head's source parts belong to the explanation shown (its query, target and versus). */
function isSourcesOf(sources: ShownSources, explanation: ShownExplanation | undefined): boolean {
  return explanation !== undefined && sources.query === explanation.query && sources.target === explanation.target.id && sources.versus === (explanation.versus?.id ?? null);
}

function isCurrentRun(state: PanelState, runId: number): boolean {
  return state.meta !== undefined && state.meta.runId === runId;
}

/** Whether a map answers a viewport request older than the panel's last. */
function isStaleViewport(state: PanelState, requestId: number): boolean {
  return state.viewportRequest !== undefined && requestId < state.viewportRequest.requestId;
}

/** Whether a locked query's row was computed for a map: its head and view, its keys and cells. */
function isRowOf(row: Extract<HostMessage, { type: 'queryRow' }>, map: ShownMap): boolean {
  const { viewport } = map;
  return (
    row.layer === map.layer &&
    row.head === map.head &&
    row.view === map.view &&
    row.viewport.firstKey === viewport.firstKey &&
    row.viewport.endKey === viewport.endKey &&
    row.viewport.cols === viewport.cols &&
    row.viewport.pooling === viewport.pooling &&
    row.data.length === viewportCells(viewport).cols
  );
}

/** A new run starts empty on Maps & spans (a comparison then opens Compare) but keeps the user's
 *  other choices; the same run again (a panel shown again) keeps what it has. Either way the host's
 *  selection is the one shown. */
function inspected(state: PanelState, meta: InspectionMeta, thumbnails: Thumbnails, { query, ...selection }: PanelSelection): PanelState {
  const sameRun = state.meta?.runId === meta.runId;
  const kept = sameRun ? state : emptyState({ ...state, selection, tab: 'maps' });
  return { ...kept, meta, thumbnails, selection, query, status: IDLE };
}

/** The state with part of the comparison replaced (unchanged without a comparison). */
function withComparison(state: PanelState, part: Partial<Omit<Comparison, 'meta'>>): PanelState {
  return state.comparison ? { ...state, comparison: { ...state.comparison, ...part } } : state;
}

/** Holds the panel state: dispatch() reduces an action, saves the new state and calls onChange. */
export class PanelStore {
  constructor(
    private current: PanelState,
    private readonly save: (state: PanelState) => void,
    private readonly onChange: (state: PanelState) => void,
  ) {}

  get state(): PanelState {
    return this.current;
  }

  dispatch(action: PanelAction): void {
    const next = reduce(this.current, action);
    if (next === this.current) return;
    this.current = next;
    this.save(next);
    this.onChange(next);
  }
}
