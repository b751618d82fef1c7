// The panel state (types.ts) when empty, and its JSON form for vscode.setState so that the panel
// survives being hidden and reloaded. VS Code stores the state as JSON, so Float32Arrays are saved as base64, and
// only while they are small enough (the host can always send them again). A map is a viewport's
// cells (at most MAP_CELLS_MAX a side), whatever the text's length. The state is changed only
// by the store (store.ts), which replaces the parts that change instead of mutating them.

import { z } from 'zod';
import { keySpanSchema, layerOutliersSchema, layerQuantisationSchema, mapViewportSchema, viewportCells, type MapViewport, type Thumbnails } from '../shared/inspection';
import { MAP_VIEWS, QUANT_BITS, type MapView } from '../shared/model';
import { needleReportSchema } from '../shared/needleTest';
import { inspectionMetaSchema, PANEL_TABS } from '../shared/protocol';
import { indexSchema } from '../shared/schemas';
import { layerSinksSchema } from '../shared/sinks';
import type { PanelState, ShownMap, Status } from './types';

/** The error that stopped the last request, if the status line holds one: views that wait for a
 *  result say it instead of "Computing…" (an error ends every wait). */
export function failureOf(status: Status): string | undefined {
  return status.kind === 'error' ? status.text : undefined;
}

export const IDLE: Status = { kind: 'idle', text: '' };

/** What outlives a new inspection: the user's choices and the last Needle Test. */
type KeptState = Pick<PanelState, 'selection' | 'tab' | 'quantBits' | 'needles' | 'showSinks'>;

/** A panel with no inspection, keeping what `kept` gives of the previous state. */
export function emptyState(kept: Partial<KeptState> = {}): PanelState {
  const { selection = { layer: 0, head: 0, view: 'diff' }, tab = 'maps', quantBits = null, needles, showSinks = false } = kept;
  return {
    meta: undefined,
    thumbnails: {},
    selection,
    query: 0,
    map: undefined,
    spans: undefined,
    outliers: undefined,
    quantisation: undefined,
    sinks: undefined,
    showSinks,
    comparison: undefined,
    viewportRequest: undefined,
    whatIf: undefined,
    lens: undefined,
    explanation: undefined,
    explainSources: undefined,
    flow: undefined,
    needles,
    needleProgress: undefined,
    tab,
    quantBits,
    status: IDLE,
  };
}

/** Base64 characters of arrays kept in the saved state (thumbnails first, then the map). */
const SAVED_ARRAYS_LIMIT = 4_000_000;

const viewSchema = z.enum(MAP_VIEWS);
const selectionSchema = z.object({ layer: indexSchema, head: indexSchema, view: viewSchema });
const savedMapSchema = selectionSchema.extend({ runId: indexSchema, requestId: indexSchema, viewport: mapViewportSchema, data: z.string(), lambda: z.string().optional() });
const savedSpansSchema = z.object({ layer: indexSchema, head: indexSchema, query: indexSchema, spans: z.array(keySpanSchema) });
/** What the panes have in common: a map, key spans and the statistics. */
const savedPaneSchema = z.object({
  map: savedMapSchema.optional(),
  spans: savedSpansSchema.optional(),
  outliers: z.array(layerOutliersSchema).optional(),
  quantisation: z.array(layerQuantisationSchema).optional(),
  sinks: z.array(layerSinksSchema).optional(),
});
const savedStateSchema = savedPaneSchema.extend({
  version: z.literal(2),
  meta: inspectionMetaSchema.optional(),
  thumbnails: z.partialRecord(viewSchema, z.string()),
  selection: selectionSchema,
  query: indexSchema,
  comparison: savedPaneSchema.extend({ meta: inspectionMetaSchema, pairedMap: savedMapSchema.optional() }).optional(),
  needles: needleReportSchema.optional(),
  tab: z.enum(PANEL_TABS),
  quantBits: z.literal(QUANT_BITS).nullable(),
  showSinks: z.boolean().optional(),
});
export type SavedState = z.infer<typeof savedStateSchema>;

/** Encodings already made, so saving again after a click does not re-encode megabytes. */
const encoded = new WeakMap<Float32Array, string>();

export function saveState(state: PanelState): SavedState {
  let budget = SAVED_ARRAYS_LIMIT;
  const fits = (values: Float32Array): string | undefined => {
    const size = Math.ceil(values.byteLength / 3) * 4;
    if (size > budget) return undefined;
    budget -= size;
    return encodeFloats(values);
  };
  const thumbnails: Partial<Record<MapView, string>> = {};
  for (const view of MAP_VIEWS) {
    const values = state.thumbnails[view];
    const text = values && fits(values);
    if (text) thumbnails[view] = text;
  }
  const { comparison } = state;
  /** A map in its saved form, while the budget lasts (its λ row with it; the query row is asked again). */
  const saved = (map: ShownMap | undefined) => {
    const data = map && fits(map.data);
    const lambda = map?.lambda && fits(map.lambda);
    if (!map || !data) return undefined;
    const { runId, layer, head, view, requestId, viewport } = map;
    return { runId, layer, head, view, requestId, viewport, data, lambda };
  };
  return {
    version: 2,
    meta: state.meta,
    thumbnails,
    selection: state.selection,
    query: state.query,
    map: saved(state.map),
    spans: state.spans,
    outliers: state.outliers,
    quantisation: state.quantisation,
    sinks: state.sinks,
    comparison: comparison && {
      ...comparison,
      map: saved(comparison.map),
      pairedMap: saved(comparison.pairedMap),
    },
    needles: state.needles,
    tab: state.tab,
    quantBits: state.quantBits,
    showSinks: state.showSinks,
  };
}

/** The state saved by an earlier instance of the panel, or an empty one if none or unreadable. */
export function restoreState(saved: unknown): PanelState {
  if (saved === undefined) return emptyState();
  const parsed = savedStateSchema.safeParse(saved);
  if (!parsed.success) {
    console.warn('discarding saved panel state:', parsed.error.issues[0]?.message);
    return emptyState();
  }
  const { meta, selection, query, spans, outliers, quantisation, sinks, needles, tab, quantBits, showSinks = false } = parsed.data;
  const thumbnails: Thumbnails = {};
  let map: ShownMap | undefined;
  let comparisonMap: ShownMap | undefined;
  let pairedMap: ShownMap | undefined;
  try {
    for (const [view, text] of Object.entries(parsed.data.thumbnails) as [MapView, string][]) thumbnails[view] = decodeFloats(text);
    map = decodeMap(parsed.data.map);
    comparisonMap = decodeMap(parsed.data.comparison?.map);
    pairedMap = decodeMap(parsed.data.comparison?.pairedMap);
  } catch (error) {
    console.warn('discarding saved arrays (bad base64):', error); // the host sends them again on request
  }
  const savedComparison = parsed.data.comparison;
  const comparison = savedComparison && {
    meta: savedComparison.meta,
    map: comparisonMap,
    pairedMap,
    spans: savedComparison.spans,
    outliers: savedComparison.outliers,
    quantisation: savedComparison.quantisation,
    sinks: savedComparison.sinks,
  };
  return { meta, thumbnails, selection, query, map, spans, outliers, quantisation, sinks, showSinks, comparison, viewportRequest: undefined, whatIf: undefined, lens: undefined, explanation: undefined, explainSources: undefined, flow: undefined, needles, needleProgress: undefined, tab, quantBits, status: IDLE };
}

/** A saved map, or undefined when none was saved or its viewport does not match its data. */
function decodeMap(saved: z.infer<typeof savedMapSchema> | undefined): ShownMap | undefined {
  if (!saved) return undefined;
  const map = { ...saved, data: decodeFloats(saved.data), lambda: saved.lambda === undefined ? undefined : decodeFloats(saved.lambda) };
  return fitsViewport(map.viewport, map.data, map.lambda) ? map : undefined;
}

/** Whether a map's cells (and its λ per cell row) are as many as its viewport has. */
export function fitsViewport(viewport: MapViewport, data: Float32Array, lambda?: Float32Array): boolean {
  const { rows, cols } = viewportCells(viewport);
  return data.length === rows * cols && (!lambda || lambda.length === rows);
}

function encodeFloats(values: Float32Array): string {
  const cached = encoded.get(values);
  if (cached !== undefined) return cached;
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const chunks: string[] = [];
  // String.fromCharCode takes its bytes as arguments, so it gets them in slices.
  for (let at = 0; at < bytes.length; at += 0x8000) chunks.push(String.fromCharCode(...bytes.subarray(at, at + 0x8000)));
  const text = btoa(chunks.join(''));
  encoded.set(values, text);
  return text;
}

function decodeFloats(text: string): Float32Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length - (binary.length % 4));
  for (let i = 0; i < bytes.length; i++) bytes[i] = binary.charCodeAt(i);
  const values = new Float32Array(bytes.buffer);
  encoded.set(values, text);
  return values;
}
