// One model's Needle Test run from the host a trial at a time: a request to the engine per needle
// document, so that the host reports progress after each (document k of n, its length and depth)
// and a cancel stops it before the next document, leaving the engine process running.

import type { NeedleTestOptions, NeedleTestResult } from '../../shared/needleTest';
import type { EngineClient } from './engineClient';
import { CancelledError } from './errors';
import { documentLengths, mergeNeedleTestResults, needleTestSettings, planTrials } from './needles';

/** A trial just run: document `done` of `total`. */
export interface NeedleTrialDone {
  done: number;
  total: number;
  length: number;
  depth: number;
}

/** The trials of `options` on an engine whose inspection context is `context` tokens (the
 *  document length when options.lengths is not given); `onTrial` after each one. Rejects with
 *  CancelledError when `signal` is aborted (between trials, or during one: the engine client then
 *  stops the run in flight). */
export async function runNeedleTrials(
  engine: EngineClient,
  context: number,
  filler: string,
  options: NeedleTestOptions,
  onTrial: (trial: NeedleTrialDone) => void,
  signal?: AbortSignal,
): Promise<NeedleTestResult> {
  const { trials, seed } = needleTestSettings(options);
  const plan = planTrials(documentLengths(options.lengths, context), trials, seed);
  const parts: NeedleTestResult[] = [];
  for (const [index, { length, trial, depth }] of plan.entries()) {
    if (signal?.aborted) throw new CancelledError();
    parts.push(await engine.request({ op: 'needleTest', filler, options: { ...options, lengths: [length], trial } }, signal));
    onTrial({ done: index + 1, total: plan.length, length, depth });
  }
  return mergeNeedleTestResults(parts);
}

/** "code-diff: document 3 of 10 done (512 tokens, needles at depth 50%)". */
export function describeNeedleTrial(model: string, { done, total, length, depth }: NeedleTrialDone): string {
  return `${model}: document ${done} of ${total} done (${length.toLocaleString('en-US')} tokens, needles at depth ${Math.round(depth * 100)}%)`;
}
