// The Needle Test's vocabulary and result shapes: the needle forms, the options of a run, what the
// engine returns per trial and query (extension/core/needles.ts makes the documents and scores
// them), and the summary the panel's Needle Test tab shows for each model: accuracy overall, by
// needle depth, by document length and on the length x depth grid (the paper's Figure 5).

import { z } from 'zod';
import { modelKindSchema, type ModelKind } from './model';
import { indexSchema } from './schemas';

/** code: definitions such as `const apiToken_xwbe = "k3j9m";`; prose: "The secret number of the red fox is 48291." */
export const NEEDLE_FORMS = ['code', 'prose'] as const;
export type NeedleForm = (typeof NEEDLE_FORMS)[number];

export interface NeedleTestOptions {
  form?: NeedleForm;
  /** The document's VS Code language id: code needles then take the style written in that
   *  language (needleDefinitions.ts, codeStyleFor); other languages, or none, get one at random. */
  language?: string;
  needles?: number;
  queries?: number;
  /** Depths run at each length, one document and forward pass each; trial t has seed seed + t and
   *  its queried needles at depth t / (trials - 1), spread over 0..1 (0.5 for a single trial). */
  trials?: number;
  /** Only this one of the trials (0-based), at each length: the host runs a test a trial at a time
   *  (needleTrials.ts), to report progress and stop between trials. */
  trial?: number;
  /** Document lengths in tokens, BOS included, each at most the model's context: every depth runs
   *  at every length, the filler cut to fit it. Default: one length, the whole context. */
  lengths?: readonly number[];
  seed?: number;
  /** DIFF models run with lambda 0 in every layer and head (each head a plain softmax of A1: no
   *  noise cancellation), to see whether the needle is still found; a baseline runs as it is. */
  lambdaZero?: boolean;
}

/** One query of a needle document and where its answer lives; offsets are UTF-16 [start, end). */
export interface NeedleAnswer {
  key: string;
  /** The answer text, e.g. `48291` or `"k3j9m"`. */
  value: string;
  /** The value inside its needle line: the span a retrieval head should attend to. */
  valueSpan: [number, number];
  /** The query prefix (e.g. `assert KEY ==`); the document continues with " " + value. */
  querySpan: [number, number];
  /** Where the needle line starts, as a fraction of the text before the queries. */
  depth: number;
}

export interface NeedleQueryResult extends NeedleAnswer {
  /** Greedy decoding after the query produces exactly the value. */
  correct: boolean;
  generated: string;
  /** Where the query's last token attends (answer, noise, query), averaged over layers and heads:
   *  signed shares of each head's absolute attention mass (a baseline's sum to 1; DIFF's lie in
   *  [-1, 1], negative where the head cancels attention), defined for every lambda. */
  answerShare: number;
  noiseShare: number;
  queryShare: number;
}

export interface NeedleTrial {
  seed: number;
  /** The queried needles' depth asked for (each answer's `depth` is where its line landed). */
  depth: number;
  /** The document length asked for (tokens, BOS included); `tokens` is what whole filler lines
   *  came to, at most this. */
  length: number;
  /** The scratch document run; the answers' offsets point into it. */
  text: string;
  /** Tokens run, BOS included. */
  tokens: number;
  fillerLines: number;
  totalFillerLines: number;
  queries: NeedleQueryResult[];
}

/** One model's Needle Test, as the engine returns it. */
export interface NeedleTestResult {
  model: string;
  kind: ModelKind;
  form: NeedleForm;
  needles: number;
  queries: number;
  /** The document lengths run, ascending. */
  lengths: number[];
  /** By length, then depth. */
  trials: NeedleTrial[];
  /** Means over every query of every trial. */
  accuracy: number;
  meanAnswerShare: number;
  meanNoiseShare: number;
  meanQueryShare: number;
}

/** Retrieval accuracy and where the query's attention goes (shares of the answer span, the noise
 *  context and the query's own tokens, of each head's absolute attention mass), over a set of queries. */
const needleScoreSchema = z.object({ accuracy: z.number(), answerShare: z.number(), noiseShare: z.number(), queryShare: z.number() });

/** What the panel shows of one model's Needle Test. */
export const needleSummarySchema = z.object({
  model: z.string(),
  kind: modelKindSchema,
  /** Queries run in all (trials x queries per trial) and how many were answered exactly. */
  queries: indexSchema,
  correct: indexSchema,
  overall: needleScoreSchema,
  /** One entry per depth (over every length), in depth order. */
  byDepth: z.array(needleScoreSchema.extend({ depth: z.number() })),
  /** One entry per document length (over every depth), ascending; none in a report saved before
   *  lengths were run. */
  byLength: z.array(needleScoreSchema.extend({ length: indexSchema })).default([]),
  /** One cell per (length, depth) pair, by length then depth. */
  grid: z.array(needleScoreSchema.extend({ length: indexSchema, depth: z.number() })).default([]),
});
export type NeedleSummary = z.infer<typeof needleSummarySchema>;

/** The panel's Needle Test tab: the settings and each model's summary. */
export const needleReportSchema = z.object({
  form: z.enum(NEEDLE_FORMS),
  needles: indexSchema,
  queries: indexSchema,
  trials: indexSchema,
  /** Tokens of the longest document run (the filler is cut to fit each length). */
  tokens: indexSchema,
  /** The document lengths asked for, ascending. */
  lengths: z.array(indexSchema).default([]),
  source: z.string(),
  models: z.array(needleSummarySchema),
});
export type NeedleReport = z.infer<typeof needleReportSchema>;
