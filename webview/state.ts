// What the panel shows, and its JSON form for vscode.setState so that the panel survives being
// hidden and reloaded. VS Code stores the state as JSON, so Float32Arrays are saved as base64, and
// only while they are small enough (the host can always send them again).

import { z } from 'zod';
import {
  inspectionMetaSchema,
  keySpanSchema,
  layerOutliersSchema,
  MAP_VIEWS,
  type InspectionMeta,
  type LayerOutliers,
  type MapView,
} from '../extension/protocol';
import type { ShownMap } from './heatmap';
import type { ShownSpans } from './spans';

export const TAB_IDS = ['maps', 'outliers'] as const;
export type TabId = (typeof TAB_IDS)[number];

export interface Selection {
  layer: number;
  head: number;
  view: MapView;
}

export interface PanelState {
  meta: InspectionMeta | undefined;
  /** Per view: nLayer * nHead thumbnails, layer-major. */
  thumbnails: Partial<Record<MapView, Float32Array>>;
  selection: Selection;
  /** The locked query row. */
  query: number;
  map: ShownMap | undefined;
  spans: ShownSpans | undefined;
  outliers: LayerOutliers[] | undefined;
  tab: TabId;
}

export function emptyState(selection: Selection = { layer: 0, head: 0, view: 'diff' }, tab: TabId = 'maps'): PanelState {
  return { meta: undefined, thumbnails: {}, selection, query: 0, map: undefined, spans: undefined, outliers: undefined, tab };
}

/** Base64 characters of arrays kept in the saved state (thumbnails first, then the map). */
const SAVED_ARRAYS_LIMIT = 4_000_000;

const index = z.number().int().nonnegative();
const viewSchema = z.enum(MAP_VIEWS);
const selectionSchema = z.object({ layer: index, head: index, view: viewSchema });
const savedStateSchema = z.object({
  version: z.literal(1),
  meta: inspectionMetaSchema.optional(),
  thumbnails: z.partialRecord(viewSchema, z.string()),
  selection: selectionSchema,
  query: index,
  map: selectionSchema.extend({ runId: index, size: index, data: z.string() }).optional(),
  spans: z.object({ layer: index, head: index, query: index, spans: z.array(keySpanSchema) }).optional(),
  outliers: z.array(layerOutliersSchema).optional(),
  tab: z.enum(TAB_IDS),
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
  const mapData = state.map && fits(state.map.data);
  return {
    version: 1,
    meta: state.meta,
    thumbnails,
    selection: state.selection,
    query: state.query,
    map: state.map && mapData ? { ...state.map, data: mapData } : undefined,
    spans: state.spans,
    outliers: state.outliers,
    tab: state.tab,
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
  const { meta, selection, query, spans, outliers, tab } = parsed.data;
  const thumbnails: Partial<Record<MapView, Float32Array>> = {};
  let map: ShownMap | undefined;
  try {
    for (const [view, text] of Object.entries(parsed.data.thumbnails) as [MapView, string][]) thumbnails[view] = decodeFloats(text);
    if (parsed.data.map) map = { ...parsed.data.map, data: decodeFloats(parsed.data.map.data) };
  } catch (error) {
    console.warn('discarding saved arrays (bad base64):', error); // the host sends them again on request
  }
  if (map && map.data.length !== map.size * map.size) map = undefined;
  return { meta, thumbnails, selection, query, map, spans, outliers, tab };
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
