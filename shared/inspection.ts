// What one inspection yields, as the engine computes it and the panel shows it: the tokens with
// their offsets, the context window that was run, thumbnails, retrieved key spans, next-token
// predictions and the logit lens, and per layer the outlier histograms with the quantisation what-if.

import { z } from 'zod';
import { MAP_VIEWS, QUANT_BITS } from './model';
import { float32ArraySchema, indexSchema } from './schemas';

export const tokenSchema = z.object({
  /** Display text of the token (may contain any characters: render as text, never as HTML). */
  text: z.string(),
  /** UTF-16 offsets in the document; the BOS token has start === end. */
  start: indexSchema,
  end: indexSchema,
});
export type TokenInfo = z.infer<typeof tokenSchema>;

/** Set when the text was longer than the model's context and only a window of it was run. */
export const inputWindowSchema = z.object({
  /** Tokens of the whole text, BOS not counted. */
  totalTokens: indexSchema,
  /** Index (in the text's own tokens, BOS not counted) of the first token that was run. */
  firstToken: indexSchema,
  note: z.string(),
});
export type InputWindow = z.infer<typeof inputWindowSchema>;

/** Per view the model has: nLayer * nHead thumbnails of thumbnailSize^2 average-pooled values,
 *  layer-major. */
export const thumbnailsSchema = z.partialRecord(z.enum(MAP_VIEWS), float32ArraySchema);
export type Thumbnails = z.infer<typeof thumbnailsSchema>;

/** A rectangle of a T x T map (query rows [firstRow, endRow), keys [firstKey, endKey)) pooled to at
 *  most rows x cols cells: query i falls in cell row floor((i - firstRow) * cellRows / (endRow -
 *  firstRow)) with cellRows = min(rows, endRow - firstRow), keys alike. 'mean' averages every entry
 *  of a cell, the masked ones above the diagonal as 0 (as the thumbnails do); 'max' keeps the entry
 *  of largest magnitude among the visible ones, with its sign (a sharp retrieval stays visible when
 *  a cell covers thousands of entries), 0 where none is visible. A rectangle no larger than
 *  rows x cols is exact: one cell per entry. */
export const POOLINGS = ['mean', 'max'] as const;
export const mapViewportSchema = z
  .object({
    firstRow: indexSchema,
    endRow: indexSchema,
    firstKey: indexSchema,
    endKey: indexSchema,
    rows: z.number().int().positive(),
    cols: z.number().int().positive(),
    pooling: z.enum(POOLINGS),
  })
  .refine((v) => v.firstRow < v.endRow && v.firstKey < v.endKey, 'a viewport needs firstRow < endRow and firstKey < endKey');
export type MapViewport = z.infer<typeof mapViewportSchema>;

/** The cells of a viewport: its size in cells and, per query row and per key, its cell index. */
export function viewportCells(viewport: MapViewport): { rows: number; cols: number; cellOfRow: (i: number) => number; cellOfKey: (j: number) => number } {
  const height = viewport.endRow - viewport.firstRow;
  const width = viewport.endKey - viewport.firstKey;
  const rows = Math.min(viewport.rows, height);
  const cols = Math.min(viewport.cols, width);
  return {
    rows,
    cols,
    cellOfRow: (i) => Math.floor(((i - viewport.firstRow) * rows) / height),
    cellOfKey: (j) => Math.floor(((j - viewport.firstKey) * cols) / width),
  };
}

/** Whether a viewport's cells hold query `query`'s own row: its cell rows are one query each and
 *  the query is among them. Where they do not, the host sends the row apart and the panel draws it
 *  apart (the locked query's row at full resolution). */
export function holdsQueryRow(viewport: MapViewport, query: number): boolean {
  const exactRows = viewportCells(viewport).rows === viewport.endRow - viewport.firstRow;
  return exactRows && query >= viewport.firstRow && query < viewport.endRow;
}

/** The whole T x T map, one cell per entry while T <= size. */
export function wholeMap(T: number, size: number, pooling: MapViewport['pooling']): MapViewport {
  return { firstRow: 0, endRow: T, firstKey: 0, endKey: T, rows: size, cols: size, pooling };
}

export const keySpanSchema = z.object({
  /** Token range [firstToken, endToken). */
  firstToken: indexSchema,
  endToken: indexSchema,
  /** Sum of the attention scores of its tokens. */
  score: z.number(),
  text: z.string(),
  /** Where it starts in the document, 1-based as the editor shows it (set by the host while the
   *  inspected document is open and unchanged). */
  line: z.number().int().positive().optional(),
  column: z.number().int().positive().optional(),
});
export type KeySpan = z.infer<typeof keySpanSchema>;

/** A next-token prediction: the token's text and its probability. */
export const predictionSchema = z.object({ text: z.string(), prob: z.number() });
export type Prediction = z.infer<typeof predictionSchema>;

/** The logit lens after one layer: the top next-token predictions its hidden state gives. */
export const lensLayerSchema = z.object({ layer: indexSchema, predictions: z.array(predictionSchema) });
export type LensLayer = z.infer<typeof lensLayerSchema>;

/** The first layer from which the lens's top-1 stays the final layer's (undefined: no layers). */
export function decidedAtLayer(layers: readonly LensLayer[]): number | undefined {
  const final = layers.at(-1)?.predictions[0]?.text;
  if (final === undefined) return undefined;
  let decided = layers.length - 1;
  while (decided > 0 && layers[decided - 1].predictions[0]?.text === final) decided--;
  return layers[decided].layer;
}

export const histogramSchema = z.object({
  /** Bin edges over |value| (length = counts.length + 1). */
  edges: z.array(z.number()),
  counts: z.array(z.number()),
  top1: z.number(),
  top10: z.number(),
  median: z.number(),
  /** The largest |values| with the token they came from. */
  outliers: z.array(z.object({ value: z.number(), token: indexSchema, detail: z.string() })),
});
export type Histogram = z.infer<typeof histogramSchema>;

/** A layer's attention logits quantised absmax to `bits` with one scale for the whole layer (all
 *  sub-heads, all causal pairs): scale = top-1 / (2^(bits-1) - 1), x' = clamp(round(x / scale)) * scale. */
export const quantisationErrorSchema = z.object({
  bits: z.literal(QUANT_BITS),
  scale: z.number(),
  /** sqrt(sum (x' - x)^2 / sum x^2) over the layer's logits. */
  logitRelRmse: z.number(),
  /** Mean over heads and query rows of 0.5 * sum_j |row'_j - row_j| / sum_j |row_j|, between the
   *  effective attention rows (A1 - lambda * A2, or A) from quantised and exact logits: the
   *  total-variation distance for a softmax row (absolute mass 1); for DIFF, relative to the row's
   *  absolute mass, which is defined for every lambda (its rows sum to 1 - lambda, which may be 0
   *  or negative). */
  attentionError: z.number(),
});

export const layerOutliersSchema = z.object({
  layer: indexSchema,
  hidden: histogramSchema,
  logits: histogramSchema,
});
export type LayerOutliers = z.infer<typeof layerOutliersSchema>;

/** A layer's quantisation what-if: one entry per QUANT_BITS, in that order. Computed apart from
 *  the histograms (and only while a view shows it): it costs several passes over every logit. */
export const layerQuantisationSchema = z.object({
  layer: indexSchema,
  errors: z.array(quantisationErrorSchema),
});
export type LayerQuantisation = z.infer<typeof layerQuantisationSchema>;
