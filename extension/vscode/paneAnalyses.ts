// The analyses of a run that the panel computes only when something shown needs them, once per run
// and pane: the outlier statistics and then the quantisation what-if (the Outliers tab, the model's;
// Compare, both models'), and the attention sinks (the overview's Sinks toggle, the model's; Compare,
// both models'). Each waits for the run's first maps and spans, so that the first map
// never waits for it, and is dropped when a newer run replaces its run.

import type * as vscode from 'vscode';
import type { HostMessage, Pane } from '../../shared/protocol';
import type { EngineClient } from '../core/engineClient';
import { CancelledError, SupersededError } from '../core/errors';

export type PaneAnalysis = 'outliers' | 'sinks';

/** What the analyses read of the panel's session. */
export interface AnalysesContext {
  post(message: HostMessage): void;
  clientOf(pane: Pane): EngineClient;
  /** Whether `runId` is still the panel's run. */
  isLatest(runId: number): boolean;
  /** Settles once the current run's first maps and spans are shown. */
  firstShown(): Promise<unknown>;
  log: vscode.LogOutputChannel;
}

const NAMES: Record<PaneAnalysis, string> = { outliers: 'outlier statistics', sinks: 'attention sinks' };

export class PaneAnalyses {
  /** The current run's analyses asked for, per analysis and pane: settles when posted (or failed). */
  private asked = new Map<string, Promise<void>>();

  constructor(private readonly context: AnalysesContext) {}

  /** A new run: nothing asked for yet. */
  reset(): void {
    this.asked = new Map();
  }

  /** Computes and posts `analysis` of each of `panes` not yet asked for in run `runId` (each pane's
   *  engine in parallel); settles when all are posted. */
  async show(runId: number, analysis: PaneAnalysis, panes: readonly Pane[]): Promise<void> {
    const asked = this.asked;
    const key = (pane: Pane) => `${analysis}:${pane}`;
    for (const pane of panes) if (!asked.has(key(pane))) asked.set(key(pane), this.compute(runId, analysis, pane, () => asked.delete(key(pane))));
    await Promise.all(panes.map((pane) => asked.get(key(pane))));
  }

  private async compute(runId: number, analysis: PaneAnalysis, pane: Pane, forget: () => void): Promise<void> {
    const stale = () => !this.context.isLatest(runId);
    await this.context.firstShown(); // the run's first maps and spans come first
    if (stale()) return; // the engine holds a newer run by now
    // No abort signal: aborting kills the engine process and the run it holds; the engine drops
    // these jobs itself when a newer inspection arrives (SupersededError).
    const client = this.context.clientOf(pane);
    try {
      if (analysis === 'sinks') {
        const layers = await client.request({ op: 'sinks' });
        if (!stale()) this.context.post({ type: 'sinks', pane, runId, layers });
        return;
      }
      const layers = await client.request({ op: 'outliers' });
      if (stale()) return;
      this.context.post({ type: 'outliers', pane, runId, layers });
      const quantisation = await client.request({ op: 'quantisation' });
      if (!stale()) this.context.post({ type: 'quantisation', pane, runId, layers: quantisation });
    } catch (err) {
      if (stale()) return;
      forget(); // showing it again tries again
      const error = err as Error;
      if (error instanceof SupersededError || error instanceof CancelledError) return; // another job took the engine
      this.context.log.error(`${NAMES[analysis]} (${pane}): ${error.message}`);
      this.context.post({ type: 'error', message: `the ${NAMES[analysis]} failed: ${error.message}` });
    }
  }
}
