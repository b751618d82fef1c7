// The Needle Test's scoring, as model/evaluate.py scores (greedy_matches, attention_shares): where
// a query's tokens are, whether greedy decoding produces the needle's value exactly, and the shares
// of the query's attention on the answer, the other needles and the rest.

import type { NeedleAnswer } from '../../shared/needleTest';
import type { RunAnalysis } from './analysis';
import { NEEDLES } from './needleDefinitions';

/** A character that, right after a generated value, makes the answer not exact. */
const VALUE_EXTENDER = new RegExp(`^${NEEDLES.scoring.valueExtenderPattern}`);

/** One forward pass over a needle document. */
export interface NeedleRun {
  /** Token ids, BOS at 0, then the document's tokens. */
  ids: readonly number[];
  /** [start, end) UTF-16 range of each token in the document; BOS covers nothing. */
  offsets: ReadonlyArray<readonly [number, number]>;
  /** The argmax next token after each position (the top-1 prediction), one per id. */
  predicted: ArrayLike<number>;
}

/** Token positions of one query in a run (evaluate.py's Query). */
export interface QueryTokens {
  /** The value's first token; the model predicts it at position promptEnd - 1. */
  promptEnd: number;
  /** Tokens overlapping the query prefix. */
  queryTokens: number[];
  /** Tokens overlapping the needle's value: the answer span. */
  answerTokens: number[];
}

/** evaluate.py's locate_queries for one answer. */
export function locateQuery(run: NeedleRun, answer: NeedleAnswer): QueryTokens {
  const overlapping = ([lo, hi]: readonly [number, number]) =>
    run.offsets.flatMap(([start, end], t) => (t > 0 && start < hi && end > lo ? [t] : []));
  const queryEnd = answer.querySpan[1];
  const promptEnd = run.offsets.findIndex(([start], t) => t > 0 && start >= queryEnd);
  if (promptEnd < 0 || run.offsets[promptEnd][0] !== queryEnd) {
    throw new Error(`no token boundary where the query for ${answer.key} ends, so the model cannot be prompted with it; this tokenizer does not split before " ${answer.value}"`);
  }
  return { promptEnd, queryTokens: overlapping(answer.querySpan), answerTokens: overlapping(answer.valueSpan) };
}

export interface GreedyAnswer {
  correct: boolean;
  /** The text greedy decoding produces after the query, as far as one forward pass can tell. */
  generated: string;
}

/**
 * evaluate.py's greedy_matches: whether greedy decoding after the query produces exactly
 * `continuation` (continuationOf(value)). The generated text is the top-1 predictions while they equal the
 * document's tokens, plus the first that does not (where greedy decoding would go its own way).
 * It matches when it starts with the continuation and the next character, if known, does not
 * extend the value (needles.json's valueExtenderPattern: an ASCII letter, digit or underscore).
 *
 * Python compares bytes; this compares token texts (tokenText). The same answer follows: the
 * continuation is ASCII without a backslash, so a token text (which shows stray UTF-8 bytes as
 * \xHH) matches it exactly where the token's bytes do, and the extending-character test is ASCII
 * only, like bytes.isalnum. Counting characters instead of bytes can read a token more or fewer
 * past the continuation, which changes nothing: its first length + 1 characters decide.
 */
export function greedyMatch(run: NeedleRun, query: QueryTokens, continuation: string, tokenText: (id: number) => string): GreedyAnswer {
  let generated = '';
  let position = query.promptEnd;
  while (generated.length <= continuation.length) {
    const token = run.predicted[position - 1];
    generated += tokenText(token);
    if (position >= run.ids.length || token !== run.ids[position]) break;
    position += 1;
  }
  if (!generated.startsWith(continuation)) return { correct: false, generated };
  return { correct: !VALUE_EXTENDER.test(generated.slice(continuation.length)), generated };
}

/** Where a query's attention goes, as signed shares of its absolute attention mass. */
export interface AttentionShares {
  /** On the needle value's tokens. */
  answer: number;
  /** On every other earlier token: BOS, filler, other needles, earlier queries. */
  noise: number;
  /** On the query's own tokens. */
  query: number;
}

/**
 * model/retrieval_scoring.py's attention_shares ("mass"): the row of the query's last token (the
 * one that predicts the value) divided by its absolute mass sum|a|, averaged over all heads of all
 * layers. A softmax row's mass is 1, so a baseline's shares are the plain ones and sum to 1. DIFF's
 * row A1 - lambda*A2 sums to 1 - lambda and can be negative: its shares lie in [-1, 1], a negative
 * one is attention the head cancels, and unlike dividing by 1 - lambda this stays defined when
 * lambda nears or passes 1.
 */
export function attentionShares(analysis: RunAnalysis, query: QueryTokens): AttentionShares {
  const row = query.promptEnd - 1;
  let answer = 0;
  let own = 0;
  let total = 0;
  for (let layer = 0; layer < analysis.nLayer; layer++) {
    for (let head = 0; head < analysis.nHead; head++) {
      const scores = analysis.effectiveRow(layer, head, row);
      let mass = 0;
      for (let t = 0; t <= row; t++) mass += Math.abs(scores[t]);
      if (mass === 0) continue; // an all-zero row attends nowhere
      for (const t of query.answerTokens) answer += scores[t] / mass;
      for (const t of query.queryTokens) own += scores[t] / mass;
      for (let t = 0; t <= row; t++) total += scores[t] / mass;
    }
  }
  const heads = analysis.nLayer * analysis.nHead;
  return { answer: answer / heads, noise: (total - answer - own) / heads, query: own / heads };
}

