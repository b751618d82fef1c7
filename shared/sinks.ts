// Attention sinks: per head, the share of its attention that lands on the first token, position 0.
// Every run starts with the BOS token the engine puts there (a window of a long text too), so the
// first token is always BOS. Computed by the engine (extension/core/sinks.ts), shown by the
// overview's Sinks toggle and by Compare.

import { z } from 'zod';
import { indexSchema } from './schemas';

const shareSchema = z.number().min(0).max(1);

/** One layer's shares, one per head. A differential head has three: of A1 (mean over the query rows
 *  of A1[i, 0]), of A2 likewise, and of |A1 - λ·A2| (the sum over rows of |D[i, 0]| over the sum of
 *  |D| over every visible pair); a baseline's softmax head has only `a1`, its softmax map's. */
export const layerSinksSchema = z.object({
  layer: indexSchema,
  a1: z.array(shareSchema),
  a2: z.array(shareSchema).nullable(),
  diff: z.array(shareSchema).nullable(),
});
export type LayerSinks = z.infer<typeof layerSinksSchema>;

/** What the views say the first token is. */
export const SINK_TOKEN_NOTE = 'share of each head’s attention on the first token, position 0 (BOS, which starts every run, a window of a long text too)';
