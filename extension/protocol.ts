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

export const layerOutliersSchema = z.object({
  layer: index,
  hidden: histogramSchema,
  logits: histogramSchema,
});
export type LayerOutliers = z.infer<typeof layerOutliersSchema>;

const selection = { runId: index, layer: index, head: index };

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
  z.object({
    type: z.literal('map'),
    ...selection,
    view: z.enum(MAP_VIEWS),
    /** T x T values, row = query, column = key. */
    size: index,
    data: float32,
  }),
  z.object({ type: z.literal('spans'), ...selection, query: index, spans: z.array(keySpanSchema) }),
  z.object({ type: z.literal('outliers'), runId: index, layers: z.array(layerOutliersSchema) }),
  /** Asks the webview for a PNG of what it shows (answered with 'exportImage'). */
  z.object({ type: z.literal('exportRequest'), requestId: index }),
]);
export type HostMessage = z.infer<typeof hostMessageSchema>;

export const webviewMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  /** The user chose a layer / head / view; the host answers with 'map' and 'spans'. */
  z.object({ type: z.literal('select'), ...selection, view: z.enum(MAP_VIEWS) }),
  /** The user locked a query row; the host answers with 'spans' and highlights them. */
  z.object({ type: z.literal('lockQuery'), ...selection, query: index }),
  /** Reveal tokens [firstToken, endToken) in the editor. */
  z.object({ type: z.literal('reveal'), runId: index, firstToken: index, endToken: index }),
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
