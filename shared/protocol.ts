// The messages between the extension host and the side-panel webview, in one module imported by
// both. Every message is validated on receipt (the webview shows untrusted text; the host must not
// trust a compromised webview either). Large arrays cross as typed arrays, not JSON numbers.

import { z } from 'zod';
import { inputWindowSchema, keySpanSchema, layerOutliersSchema, thumbnailsSchema, tokenSchema } from './inspection';
import { MAP_VIEWS, modelInfoSchema } from './model';
import { needleReportSchema } from './needleTest';
import { float32ArraySchema, indexSchema } from './schemas';

export const inspectionMetaSchema = z.object({
  runId: indexSchema,
  model: modelInfoSchema,
  source: z.object({ fileName: z.string(), startLine: indexSchema, endLine: indexSchema }),
  tokens: z.array(tokenSchema),
  window: inputWindowSchema.nullable(),
  /** lambda per layer (empty for a baseline). */
  lambda: z.array(z.number()),
  /** The query token whose row and key spans are shown (token index, BOS = 0). */
  query: indexSchema,
  /** Side of each thumbnail (thumbnails are size x size, average-pooled). */
  thumbnailSize: indexSchema,
  latencyMs: z.number(),
});
export type InspectionMeta = z.infer<typeof inspectionMetaSchema>;

const selection = { runId: indexSchema, layer: indexSchema, head: indexSchema };

export const PANES = ['main', 'compare'] as const;
/** Which model a message is about: the inspected model, or the baseline it is compared with. */
export type Pane = (typeof PANES)[number];
const pane = { pane: z.enum(PANES) };

export const hostMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('busy'), message: z.string() }),
  z.object({ type: z.literal('error'), message: z.string() }),
  z.object({ type: z.literal('cleared') }),
  z.object({ type: z.literal('inspection'), meta: inspectionMetaSchema, thumbnails: thumbnailsSchema }),
  /** The baseline's run on the same text (Compare with Baseline); runId is the main run's. */
  z.object({ type: z.literal('comparison'), meta: inspectionMetaSchema }),
  z.object({
    type: z.literal('map'),
    ...pane,
    ...selection,
    view: z.enum(MAP_VIEWS),
    /** T x T values, row = query, column = key. */
    size: indexSchema,
    data: float32ArraySchema,
  }),
  z.object({ type: z.literal('spans'), ...pane, ...selection, query: indexSchema, spans: z.array(keySpanSchema) }),
  z.object({ type: z.literal('outliers'), ...pane, runId: indexSchema, layers: z.array(layerOutliersSchema) }),
  /** Asks the webview for a PNG of what it shows (answered with 'exportImage'). */
  z.object({ type: z.literal('exportRequest'), requestId: indexSchema }),
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
  z.object({ type: z.literal('lockQuery'), ...pane, ...selection, query: indexSchema }),
  /** Reveal tokens [firstToken, endToken) in the editor. */
  z.object({ type: z.literal('reveal'), ...pane, runId: indexSchema, firstToken: indexSchema, endToken: indexSchema }),
  z.object({ type: z.literal('exportImage'), requestId: indexSchema, pngDataUrl: z.string().startsWith('data:image/png;base64,') }),
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
