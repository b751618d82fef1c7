// The types of what the panel shows (its state, the maps and spans in it), in a module that
// imports nothing from the webview: the store and every view use them, so they sit below both.

import type { FlowGraph } from '../shared/flow';
import type { KeySpan, LayerOutliers, LayerQuantisation, MapViewport, Thumbnails } from '../shared/inspection';
import type { MapView, QuantBits } from '../shared/model';
import type { NeedleReport } from '../shared/needleTest';
import type { HostMessage, InspectionMeta, Pane, PanelTab } from '../shared/protocol';
import type { LayerSinks } from '../shared/sinks';

/** A head's map as a heatmap shows it: the cells of a viewport. */
export interface ShownMap {
  runId: number;
  layer: number;
  head: number;
  view: MapView;
  /** The panel's viewport request the cells answer (0: the host's whole map of a new run). */
  requestId: number;
  viewport: MapViewport;
  /** rows x cols cells (viewportCells(viewport)), row = query, column = key. */
  data: Float32Array;
  /** λ of each cell row for this head, for a model whose λ varies per token (DIFF V2). */
  lambda?: Float32Array;
  /** The locked query's row over the viewport's key cells, from the host when the map's cell rows
   *  pool several queries (else the map's own row is it: viewport.ts lockedRow). */
  queryRow?: { query: number; data: Float32Array };
}

/** The viewport the panel asked the host for last (in `pane`'s tokens): the heatmaps show it (the
 *  last map scaled) until maps answering it arrive; maps answering older requests are stale. */
export interface ViewportRequest {
  pane: Pane;
  requestId: number;
  viewport: MapViewport;
}

export interface Selection {
  layer: number;
  head: number;
  view: MapView;
}

/** The status line: a run in progress, an error, or nothing (not saved). */
export interface Status {
  /** stale: the run's text was edited since (live mode runs it again, else the user does). */
  kind: 'busy' | 'error' | 'idle' | 'stale';
  text: string;
}

/** The baseline's run on the same text (Compare with Baseline), shown beside the model's. */
export interface Comparison {
  meta: InspectionMeta;
  map: ShownMap | undefined;
  /** Beside a DiffLlama model, the baseline's head h + H (the counterpart of A2; `map` is head h's). */
  pairedMap: ShownMap | undefined;
  spans: ShownSpans | undefined;
  outliers: LayerOutliers[] | undefined;
  /** The quantisation what-if, which the host computes after the outliers. */
  quantisation: LayerQuantisation[] | undefined;
  sinks: LayerSinks[] | undefined;
}

/** A what-if run beside the unmodified one, as the host sent it (not saved: the host re-sends it). */
export type WhatIfShown = Omit<Extract<HostMessage, { type: 'whatIf' }>, 'type'>;

/** The logit lens at the locked query, as the host sent it (not saved: the host re-sends it). */
export type ShownLens = Pick<Extract<HostMessage, { type: 'lens' }>, 'query' | 'layers' | 'unavailable'>;

/** The locked query's prediction explained, as the host sent it (not saved: the host re-sends it). */
export type ShownExplanation = Extract<HostMessage, { type: 'explanation' }>['explanation'];

/** A head's part of the shown explanation over the source tokens, as the host sent it. */
export type ShownSources = Omit<Extract<HostMessage, { type: 'explainSources' }>, 'type' | 'runId'>;

export interface PanelState {
  meta: InspectionMeta | undefined;
  thumbnails: Thumbnails;
  selection: Selection;
  /** The locked query row. */
  query: number;
  map: ShownMap | undefined;
  spans: ShownSpans | undefined;
  outliers: LayerOutliers[] | undefined;
  quantisation: LayerQuantisation[] | undefined;
  sinks: LayerSinks[] | undefined;
  /** The overview's Sinks toggle. */
  showSinks: boolean;
  comparison: Comparison | undefined;
  viewportRequest: ViewportRequest | undefined;
  whatIf: WhatIfShown | undefined;
  lens: ShownLens | undefined;
  explanation: ShownExplanation | undefined;
  explainSources: ShownSources | undefined;
  /** The flow of information into the run's prediction, as the host sent it last (not saved: the
   *  Flow tab asks for it again). */
  flow: ShownFlow | undefined;
  /** The last Needle Test's results (they outlive inspections). */
  needles: NeedleReport | undefined;
  /** How far a Needle Test in progress is (not saved). */
  needleProgress: string | undefined;
  tab: PanelTab;
  /** The quantisation grid drawn over the logit histograms (null: none). */
  quantBits: QuantBits | null;
  status: Status;
}

/** A flow graph and the run and panel request it answers. */
export interface ShownFlow {
  runId: number;
  flowId: number;
  graph: FlowGraph;
}

/** The key spans of a locked query, as a span list shows them. */
export interface ShownSpans {
  layer: number;
  head: number;
  query: number;
  spans: KeySpan[];
}
