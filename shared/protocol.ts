// The messages between the extension host and the side-panel webview, in one module imported by
// both. Every message is validated on receipt (the webview shows untrusted text; the host must not
// trust a compromised webview either). Large arrays cross as typed arrays, not JSON numbers.

import { z } from 'zod';
import { explanationSchema, sourcePartsSchema } from './explain';
import {
  inputWindowSchema, keySpanSchema, layerOutliersSchema, layerQuantisationSchema, lensLayerSchema, mapViewportSchema, predictionSchema, thumbnailsSchema, tokenSchema,
} from './inspection';
import { flowGraphSchema } from './flow';
import { MAP_VIEWS, modelInfoSchema } from './model';
import { needleReportSchema } from './needleTest';
import { layerSinksSchema } from './sinks';
import { float32ArraySchema, indexSchema, parseOrThrow } from './schemas';

/** A token of the run that Continue Text generated: its step (0: the first generated), the vocabulary
 *  id chosen there and why it was chosen. */
export const generatedTokenNoteSchema = z.object({ token: indexSchema, step: indexSchema, id: indexSchema, note: z.string() });
export type GeneratedTokenNote = z.infer<typeof generatedTokenNoteSchema>;

export const inspectionMetaSchema = z.object({
  runId: indexSchema,
  model: modelInfoSchema,
  source: z.object({ fileName: z.string(), startLine: indexSchema, endLine: indexSchema }),
  tokens: z.array(tokenSchema),
  window: inputWindowSchema.nullable(),
  /** One λ per layer; empty for a baseline and for a model whose λ varies per token and head
   *  (DIFF V2: lambdaRanges gives its spread, each map its row of λ per query token). */
  lambda: z.array(z.number()),
  /** Per layer and head, the smallest and largest λ over the run's tokens, [min, max] (the two are
   *  equal for a model with one λ per layer); empty for a baseline. */
  lambdaRanges: z.array(z.array(z.tuple([z.number(), z.number()]))).default([]),
  /** The run's query token, the selection's last (token index, BOS = 0): a new run's panel selection starts on it. */
  query: indexSchema,
  /** Side of each thumbnail (thumbnails are size x size, average-pooled). */
  thumbnailSize: indexSchema,
  latencyMs: z.number(),
  /** The run's generated tokens, in order, when it ran a Continue Text document. */
  generated: z.array(generatedTokenNoteSchema).optional(),
});
export type InspectionMeta = z.infer<typeof inspectionMetaSchema>;

/** What the panel shows of a run: a layer, a head, a map view and the locked query token (token
 *  index, BOS = 0). The host owns it: the webview sends what the user picked and renders the
 *  selection that comes back with each map and span list. */
export const panelSelectionSchema = z.object({ layer: indexSchema, head: indexSchema, view: z.enum(MAP_VIEWS), query: indexSchema });
export type PanelSelection = z.infer<typeof panelSelectionSchema>;

const run = { runId: indexSchema };
const layerHead = { ...run, layer: indexSchema, head: indexSchema };

export const PANES = ['main', 'compare'] as const;
/** Which model a message is about: the inspected model, or the baseline it is compared with. */
export type Pane = (typeof PANES)[number];
const pane = { pane: z.enum(PANES) };

/** Export View's image formats; a JSON of what the panel shows is written beside either. */
export const EXPORT_FORMATS = ['png', 'svg'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
export const PNG_DATA_URL = 'data:image/png;base64,';
/** How shared/svgChart.ts's documents start. */
export const SVG_START = '<?xml ';

/** The panel's tabs. The host computes the outliers and the quantisation what-if only for a tab
 *  that shows them (Outliers: the model's; Compare: both models', and their attention sinks), and
 *  explains the locked query's prediction only for Explain. */
export const PANEL_TABS = ['maps', 'whatIf', 'outliers', 'compare', 'needles', 'explain', 'flow'] as const;
export type PanelTab = (typeof PANEL_TABS)[number];

/** An intervention the user asks for: λ of one layer's heads (or every layer's, layer null)
 *  becomes λ·scale + shift (scale 0, shift v: λ = v; scale 1, shift 0: λ unchanged), or one head
 *  ablated (its output removed) or only its A2 (λ 0: the head keeps A1 and cancels nothing). */
export const whatIfSpecSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('lambda'), layer: indexSchema.nullable(), scale: z.number().finite(), shift: z.number().finite() }),
  z.object({ kind: z.literal('ablateHead'), layer: indexSchema, head: indexSchema }),
  z.object({ kind: z.literal('ablateA2'), layer: indexSchema, head: indexSchema }),
]);
export type WhatIfSpec = z.infer<typeof whatIfSpecSchema>;

/** Most cells a side of a map the panel asks for (its canvas in device pixels, capped): a map
 *  crosses as at most MAP_CELLS_MAX² floats (4 MiB), whatever the text's length. */
export const MAP_CELLS_MAX = 1024;
/** Cells a side of a new run's map until the panel says its canvas's size. */
export const DEFAULT_MAP_CELLS = 512;

/** A viewport the panel may ask for: at most MAP_CELLS_MAX cells a side. */
const panelViewportSchema = mapViewportSchema.refine((v) => v.rows <= MAP_CELLS_MAX && v.cols <= MAP_CELLS_MAX, `a viewport has at most ${MAP_CELLS_MAX} cells a side`);

/** λ of each cell row of a map's viewport (the mean over the query tokens the row pools), for a
 *  model whose λ varies per token (DIFF V2); absent when one λ holds for the whole layer. */
const lambdaRowSchema = float32ArraySchema.optional();

/** One run's side of the what-if comparison, at the host's layer, head and locked query, over the
 *  message's viewport. */
const whatIfSideSchema = z.object({
  /** The map's cells over the viewport (the diff view, or a baseline's A1): rows x cols values per
   *  viewportCells, row = query, column = key. */
  map: float32ArraySchema,
  /** The locked query's row over the viewport's keys (cols cells), when the map's cell rows pool
   *  several queries (or the query is outside them); otherwise the map's own row is it. */
  queryRow: float32ArraySchema.optional(),
  /** λ of the map's cell rows as that run ran them (the what-if's λ after its intervention). */
  lambda: lambdaRowSchema,
  spans: z.array(keySpanSchema),
  predictions: z.array(predictionSchema),
});

/** Which viewport request of the panel a map answers (its 'mapViewport' requestId; 0: the host's
 *  own viewport, the whole map of a new run): the panel ignores answers to requests it replaced. */
/** A token of the vocabulary as the user typed it in the Explain tab. */
const vocabTextSchema = z.string().min(1).max(200);

const viewportAnswer = { requestId: indexSchema, viewport: mapViewportSchema };

export const hostMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('busy'), message: z.string() }),
  z.object({ type: z.literal('error'), message: z.string() }),
  z.object({ type: z.literal('cleared') }),
  /** The run's text was edited since: what the panel shows is of the text before the edit. */
  z.object({ type: z.literal('stale'), ...run, message: z.string() }),
  /** A new run (or the current one again, for a panel shown again) and the host's selection for it. */
  z.object({ type: z.literal('inspection'), meta: inspectionMetaSchema, thumbnails: thumbnailsSchema, selection: panelSelectionSchema }),
  /** The baseline's run on the same text (Compare with Baseline); runId is the main run's. */
  z.object({ type: z.literal('comparison'), meta: inspectionMetaSchema }),
  /** A pane's map for the host's selection (layer, head and view are the ones it was computed for)
   *  over the host's viewport. */
  z.object({
    type: z.literal('map'),
    ...pane,
    ...layerHead,
    view: z.enum(MAP_VIEWS),
    ...viewportAnswer,
    /** rows x cols cells (viewportCells(viewport)), row = query, column = key. */
    data: float32ArraySchema,
    lambda: lambdaRowSchema,
    /** The compare pane only, beside a DiffLlama model ('halves' pairing) when the baseline numbers
     *  its heads as Llama does: the map of standard head `head` + H, the counterpart of A2 (`head`
     *  itself is the counterpart of A1), over the same viewport. */
    paired: z.object({ head: indexSchema, data: float32ArraySchema }).optional(),
  }),
  /** The locked query's row of a pane's map, at full resolution over the map's keys: `viewport` is
   *  the one-row viewport it was computed for (the map's keys and cols). Sent when the map's cell
   *  rows pool several queries (or the query is outside them); otherwise the map's row is it. */
  z.object({
    type: z.literal('queryRow'),
    ...pane,
    ...layerHead,
    view: z.enum(MAP_VIEWS),
    ...viewportAnswer,
    query: indexSchema,
    data: float32ArraySchema,
    /** The paired map's row (see 'map'). */
    paired: float32ArraySchema.optional(),
  }),
  /** The key spans of the host's locked query token (a token of that pane's run). */
  z.object({ type: z.literal('spans'), ...pane, ...layerHead, query: indexSchema, spans: z.array(keySpanSchema) }),
  /** A pane's histograms, computed when a tab that shows them is first shown for the run. */
  z.object({ type: z.literal('outliers'), ...pane, ...run, layers: z.array(layerOutliersSchema) }),
  /** A pane's attention sinks (shared/sinks.ts), after a 'sinksShown' or Compare's 'viewShown'. */
  z.object({ type: z.literal('sinks'), ...pane, ...run, layers: z.array(layerSinksSchema) }),
  /** A pane's quantisation what-if, computed after its histograms (it is the slower of the two). */
  z.object({ type: z.literal('quantisation'), ...pane, ...run, layers: z.array(layerQuantisationSchema) }),
  /** A what-if run of the current run's text beside the unmodified run; whatIfId is the panel's
   *  request id (or the host's, for the command), so the panel shows only its latest request. */
  z.object({
    type: z.literal('whatIf'),
    ...layerHead,
    whatIfId: indexSchema,
    spec: whatIfSpecSchema,
    /** What the intervention did, in words. */
    description: z.string(),
    view: z.enum(MAP_VIEWS),
    query: indexSchema,
    /** The main pane's viewport when the maps were computed (the What-if shows what Maps shows). */
    ...viewportAnswer,
    main: whatIfSideSchema,
    whatIf: whatIfSideSchema,
    /** Per token, the what-if's surprisal minus the unmodified run's (bits; 0 for BOS): positive =
     *  the token became more surprising. */
    surprisalDelta: float32ArraySchema,
  }),
  /** The logit lens at the host's locked query of the main run; `unavailable` says why there is
   *  none (a package exported before the lens). */
  z.object({ type: z.literal('lens'), ...run, query: indexSchema, layers: z.array(lensLayerSchema), unavailable: z.string().optional() }),
  /** Asks the webview for a PNG or an SVG of what it shows (answered with 'exportImage'). */
  z.object({ type: z.literal('exportRequest'), requestId: indexSchema, format: z.enum(EXPORT_FORMATS) }),
  /** The Needle Test's results for the model and its baseline. */
  z.object({ type: z.literal('needles'), report: needleReportSchema }),
  /** How far a Needle Test is: after each of its documents, until its report. */
  z.object({ type: z.literal('needleProgress'), message: z.string() }),
  /** The locked query's prediction explained: each component's direct part of the target's logit. */
  z.object({ type: z.literal('explanation'), ...run, explanation: explanationSchema }),
  /** One head's part of that explanation split over the source tokens (target and versus: the
   *  explanation's token ids, so the panel shows it only beside the explanation it belongs to). */
  z.object({ type: z.literal('explainSources'), ...run, query: indexSchema, target: indexSchema, versus: indexSchema.nullable(), sources: sourcePartsSchema }),
  /** The flow of information into the main run's prediction, for the panel's request flowId. */
  z.object({ type: z.literal('flow'), ...run, flowId: indexSchema, graph: flowGraphSchema }),
]);
export type HostMessage = z.infer<typeof hostMessageSchema>;

export const webviewMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  /** The tab the panel shows for a run: sent when the user switches tab and when a new run (or its
   *  comparison) arrives, so the host computes what that tab needs and nothing else. */
  z.object({ type: z.literal('viewShown'), ...run, tab: z.enum(PANEL_TABS) }),
  /** The overview's Sinks toggle is on for a run: the host computes the model's sinks, once a run. */
  z.object({ type: z.literal('sinksShown'), ...run }),
  /** The user picked a layer, head or view (only what changed; the same for both panes); the host
   *  updates its selection and answers with 'map' and 'spans' for every pane. */
  z.object({ type: z.literal('select'), ...run, layer: indexSchema.optional(), head: indexSchema.optional(), view: z.enum(MAP_VIEWS).optional() }),
  /** The user locked a query row (a token of that pane's run); the host carries it to the other
   *  pane, answers with 'spans' for every pane and highlights the main model's spans. */
  z.object({ type: z.literal('lockQuery'), ...pane, ...run, query: indexSchema }),
  /** The heatmap's side in device pixels (capped): the host pools a new run's whole map to it. */
  z.object({ type: z.literal('mapCells'), cells: z.number().int().min(1).max(MAP_CELLS_MAX) }),
  /** The user zoomed, panned or chose the pooling: the viewport the panel's maps show, in the
   *  tokens of `pane`'s run. The host keeps it for every pane, for the What-if's maps and for the
   *  layers, heads and views picked later, until the next run, and answers with 'map' (and
   *  'queryRow') carrying requestId, which grows with each request (an older one is stale). */
  z.object({ type: z.literal('mapViewport'), ...pane, ...run, requestId: indexSchema, viewport: panelViewportSchema }),
  /** Reveal tokens [firstToken, endToken) in the editor. */
  z.object({ type: z.literal('reveal'), ...pane, ...run, firstToken: indexSchema, endToken: indexSchema }),
  /** Run the current text again with an intervention (whatIfId: the panel's request id). */
  z.object({ type: z.literal('whatIf'), ...run, whatIfId: indexSchema, spec: whatIfSpecSchema }),
  /** Explain the locked query's prediction of `target` (default: the top prediction), less
   *  `versus`'s logit if given: tokens of the vocabulary as the user typed them. */
  /** Explains the locked query's prediction, or, with `query`, locks that query first (a generated token's "why it was chosen"). */
  z.object({ type: z.literal('explain'), ...run, target: vocabTextSchema.optional(), versus: vocabTextSchema.optional(), query: indexSchema.optional() }),
  /** Split a head's part of the shown explanation over the source tokens (and mark them in the editor). */
  z.object({ type: z.literal('explainSources'), ...layerHead }),
  /** Export View's image: a PNG as a data URL, or an SVG document. */
  z.object({ type: z.literal('exportImage'), requestId: indexSchema, image: z.union([z.string().startsWith(PNG_DATA_URL), z.string().startsWith(SVG_START)]) }),
  /** Trace the flow of information into the prediction at `query` (shared/flow.ts), keeping edges
   *  with |weight| ≥ threshold; flowId grows with each request (a newer one supersedes). */
  z.object({ type: z.literal('flow'), ...run, flowId: indexSchema, query: indexSchema, threshold: z.number().finite().nonnegative() }),
]);
export type WebviewMessage = z.infer<typeof webviewMessageSchema>;

/** Parses a message from the other side; throws an Error naming the bad field. */
export function parseHostMessage(data: unknown): HostMessage {
  return parseOrThrow(hostMessageSchema, data, (field, problem) => new Error(`invalid host message: ${field}: ${problem}`));
}

export function parseWebviewMessage(data: unknown): WebviewMessage {
  return parseOrThrow(webviewMessageSchema, data, (field, problem) => new Error(`invalid webview message: ${field}: ${problem}`));
}
