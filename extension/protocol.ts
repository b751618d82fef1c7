// The messages between the extension host and the side-panel webview, in one module imported by
// both. Every message is validated on receipt (the webview shows untrusted text; the host must not
// trust a compromised webview either). Large arrays cross as typed arrays, not JSON numbers.

import { z } from 'zod';

export const MAP_VIEWS = ['a1', 'a2', 'lambdaA2', 'diff'] as const;
/** a1 = A1, a2 = A2, lambdaA2 = lambda * A2, diff = A1 - lambda * A2 (the only signed one). */
export type MapView = (typeof MAP_VIEWS)[number];
/** Views a baseline model has: its single softmax map per head. */
export const BASELINE_VIEWS: readonly MapView[] = ['a1'];

const float32 = z.custom<Float32Array>((value) => value instanceof Float32Array, 'expected a Float32Array');
const index = z.number().int().nonnegative();

export const modelInfoSchema = z.object({
  name: z.string(),
  kind: z.enum(['diff', 'baseline']),
  sha256: z.string(),
  nLayer: index,
  /** Heads with maps: differential heads for diff, standard heads for baseline. */
  nHead: index,
  maxSeqLen: index,
  provider: z.string(),
});
export type ModelInfo = z.infer<typeof modelInfoSchema>;

export const tokenSchema = z.object({
  /** Display text of the token (may contain any characters: render as text, never as HTML). */
  text: z.string(),
  /** UTF-16 offsets in the document; the BOS token has start === end. */
  start: index,
  end: index,
});
export type TokenInfo = z.infer<typeof tokenSchema>;

export const inspectionMetaSchema = z.object({
  runId: index,
  model: modelInfoSchema,
  source: z.object({ fileName: z.string(), startLine: index, endLine: index }),
  tokens: z.array(tokenSchema),
  /** Set when the text was longer than the model's context and only a window was run. */
  window: z.object({ totalTokens: index, firstToken: index, note: z.string() }).nullable(),
  /** lambda per layer (empty for a baseline). */
  lambda: z.array(z.number()),
  /** The query token whose row and key spans are shown (token index, BOS = 0). */
  query: index,
  /** Side of each thumbnail (thumbnails are size x size, average-pooled). */
  thumbnailSize: index,
  latencyMs: z.number(),
});
export type InspectionMeta = z.infer<typeof inspectionMetaSchema>;

export const keySpanSchema = z.object({
  /** Token range [firstToken, endToken). */
  firstToken: index,
  endToken: index,
  /** Sum of the attention scores of its tokens. */
  score: z.number(),
  text: z.string(),
});
export type KeySpan = z.infer<typeof keySpanSchema>;

export const histogramSchema = z.object({
  /** Bin edges over |value| (length = counts.length + 1). */
  edges: z.array(z.number()),
  counts: z.array(z.number()),
  top1: z.number(),
  top10: z.number(),
  median: z.number(),
  /** The largest |values| with the token they came from. */
  outliers: z.array(z.object({ value: z.number(), token: index, detail: z.string() })),
});
export type Histogram = z.infer<typeof histogramSchema>;

/** Bit widths of the quantisation what-if (the paper's Figure 8). */
export const QUANT_BITS = [8, 6, 4] as const;
export type QuantBits = (typeof QUANT_BITS)[number];

/** The top level of signed `bits`-bit integers, 2^(bits-1) - 1: levels run from -top to top. */
export function quantTopLevel(bits: QuantBits): number {
  return 2 ** (bits - 1) - 1;
}

/** A layer's attention logits quantised absmax to `bits` with one scale for the whole layer (all
 *  sub-heads, all causal pairs): scale = top-1 / (2^(bits-1) - 1), x' = clamp(round(x / scale)) * scale. */
export const quantisationErrorSchema = z.object({
  bits: z.literal(QUANT_BITS),
  scale: z.number(),
  /** sqrt(sum (x' - x)^2 / sum x^2) over the layer's logits. */
  logitRelRmse: z.number(),
  /** Mean over heads and query rows of the total-variation distance 0.5 * sum_j |row'_j - row_j|
   *  between the effective attention rows from quantised and exact logits; DIFF's is divided by
   *  1 - lambda (its rows sum to 1 - lambda) so it compares with the baseline's. */
  attentionError: z.number(),
});
export type QuantisationError = z.infer<typeof quantisationErrorSchema>;

export const layerOutliersSchema = z.object({
  layer: index,
  hidden: histogramSchema,
  logits: histogramSchema,
  /** One entry per QUANT_BITS, in that order. */
  quantisation: z.array(quantisationErrorSchema),
});
export type LayerOutliers = z.infer<typeof layerOutliersSchema>;

const selection = { runId: index, layer: index, head: index };

/** Retrieval accuracy and where the query's attention goes (shares of the answer span, the noise
 *  context and the query's own tokens; DIFF's normalised by 1 - lambda), over a set of queries. */
const needleScoreSchema = z.object({ accuracy: z.number(), answerShare: z.number(), noiseShare: z.number(), queryShare: z.number() });

export const needleSummarySchema = z.object({
  model: z.string(),
  kind: z.enum(['diff', 'baseline']),
  /** Queries run in all (trials x queries per trial) and how many were answered exactly. */
  queries: index,
  correct: index,
  overall: needleScoreSchema,
  /** One entry per trial, in depth order. */
  byDepth: z.array(needleScoreSchema.extend({ depth: z.number() })),
});
export type NeedleSummary = z.infer<typeof needleSummarySchema>;

export const needleReportSchema = z.object({
  form: z.enum(['code', 'prose']),
  needles: index,
  queries: index,
  trials: index,
  /** Tokens of each trial's document (the filler is cut to fit the model's context). */
  tokens: index,
  source: z.string(),
  models: z.array(needleSummarySchema),
});
export type NeedleReport = z.infer<typeof needleReportSchema>;

export const PANES = ['main', 'compare'] as const;
/** Which model a message is about: the inspected model, or the baseline it is compared with. */
export type Pane = (typeof PANES)[number];
const pane = { pane: z.enum(PANES) };

export const hostMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('busy'), message: z.string() }),
  z.object({ type: z.literal('error'), message: z.string() }),
  z.object({ type: z.literal('cleared') }),
  z.object({
    type: z.literal('inspection'),
    meta: inspectionMetaSchema,
    /** Per view the model has: nLayer * nHead thumbnails of thumbnailSize^2 values, layer-major. */
    thumbnails: z.partialRecord(z.enum(MAP_VIEWS), float32),
  }),
  /** The baseline's run on the same text (Compare with Baseline); runId is the main run's. */
  z.object({ type: z.literal('comparison'), meta: inspectionMetaSchema }),
  z.object({
    type: z.literal('map'),
    ...pane,
    ...selection,
    view: z.enum(MAP_VIEWS),
    /** T x T values, row = query, column = key. */
    size: index,
    data: float32,
  }),
  z.object({ type: z.literal('spans'), ...pane, ...selection, query: index, spans: z.array(keySpanSchema) }),
  z.object({ type: z.literal('outliers'), ...pane, runId: index, layers: z.array(layerOutliersSchema) }),
  /** Asks the webview for a PNG of what it shows (answered with 'exportImage'). */
  z.object({ type: z.literal('exportRequest'), requestId: index }),
  /** The Needle Test's results for the model and its baseline. */
  z.object({ type: z.literal('needles'), report: needleReportSchema }),
]);
export type HostMessage = z.infer<typeof hostMessageSchema>;

export const webviewMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  /** The user chose a layer / head / view; the host answers with 'map' and 'spans'. */
  z.object({ type: z.literal('select'), ...selection, view: z.enum(MAP_VIEWS) }),
  /** The user locked a query row (a token of that pane's run); the host answers with 'spans' for
   *  both panes and highlights the main model's spans. */
  z.object({ type: z.literal('lockQuery'), ...pane, ...selection, query: index }),
  /** Reveal tokens [firstToken, endToken) in the editor. */
  z.object({ type: z.literal('reveal'), ...pane, runId: index, firstToken: index, endToken: index }),
  z.object({ type: z.literal('exportImage'), requestId: index, pngDataUrl: z.string().startsWith('data:image/png;base64,') }),
]);
export type WebviewMessage = z.infer<typeof webviewMessageSchema>;

/** Parses a message from the other side; throws an Error naming the bad field. */
export function parseHostMessage(data: unknown): HostMessage {
  return parseOrThrow(hostMessageSchema, data, 'host message');
}

export function parseWebviewMessage(data: unknown): WebviewMessage {
  return parseOrThrow(webviewMessageSchema, data, 'webview message');
}

function parseOrThrow<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const result = schema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`invalid ${what}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data;
}
