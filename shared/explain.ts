// Contributions to one prediction: how much each component (the embedding, every head, every MLP)
// adds directly to one target token's logit at a query position, with the final norm's scale held
// at its value there (the standard linearisation: the parts then add up to the logit exactly). A
// DIFF head's part is split into what its A1 map brought (A1·V) and what its A2 map took away
// (-λ·A2·V), and per source token alike.

import { z } from 'zod';
import { float32ArraySchema, indexSchema } from './schemas';

export const EXPLAIN_PART_KINDS = ['embed', 'head', 'mlp', 'constant'] as const;

/** One component's direct contribution to the target's logit. Layers and heads are 0-based, as the
 *  panel shows them; `component` names it: 'embed', 'L3.H1' (layer 3, head 1), 'L3.mlp', 'constant'
 *  (a term no input changes, such as an LM head's bias). */
export const explainPartSchema = z.object({
  component: z.string(),
  kind: z.enum(EXPLAIN_PART_KINDS),
  layer: indexSchema.nullable(),
  head: indexSchema.nullable(),
  total: z.number(),
  /** A head's A1·V part (the whole head of a softmax-only model). */
  a1: z.number().optional(),
  /** A DIFF head's -λ·A2·V part, signed: a1 + a2 = total. */
  a2: z.number().optional(),
});
export type ExplainPart = z.infer<typeof explainPartSchema>;

export const explainTokenSchema = z.object({ id: indexSchema, text: z.string() });
export type ExplainToken = z.infer<typeof explainTokenSchema>;

/** The target's logit at the query (minus the versus token's, when one is given) and its parts,
 *  which add up to it. finalScale is the final norm's 1/rms at the query, held fixed. */
export const explanationSchema = z.object({
  query: indexSchema,
  target: explainTokenSchema,
  versus: explainTokenSchema.nullable(),
  logit: z.number(),
  finalScale: z.number(),
  parts: z.array(explainPartSchema),
});
export type Explanation = z.infer<typeof explanationSchema>;

/** What to explain: the target token (default: the model's top prediction at the query) and,
 *  optionally, a second token whose logit is subtracted. */
export interface ExplainOptions {
  target?: number;
  versus?: number;
}

/** One head's part split over the source tokens it attends to: a1[j] from A1[q, j]·v_j, a2[j] the
 *  signed -λ·A2[q, j]·v_j (all zeros for a softmax-only head); zero past the query. */
export const sourcePartsSchema = z.object({
  layer: indexSchema,
  head: indexSchema,
  a1: float32ArraySchema,
  a2: float32ArraySchema,
});
export type SourceParts = z.infer<typeof sourcePartsSchema>;

/** The component name of a head or an MLP, as the panel numbers layers and heads. */
export function componentName(layer: number, head: number | 'mlp'): string {
  return head === 'mlp' ? `L${layer}.mlp` : `L${layer}.H${head}`;
}
