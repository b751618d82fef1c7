// The Flow tab's requests: the panel asks for the flow of information into the current run's
// prediction at a threshold (webview message 'flow'); the engine traces it (extension/core/flow.ts)
// and the host posts the graph with the panel's request id. A newer request supersedes an older one
// in the engine (SupersededError, between graph runs), and an answer for an older request or run
// is not posted. It keeps the graph it posted last, which Export View records on the Flow tab.

import type * as vscode from 'vscode';
import { FLOW_NODES_PER_LAYER, type FlowGraph } from '../../shared/flow';
import type { PanelTab, WebviewMessage } from '../../shared/protocol';
import { CancelledError, SupersededError } from '../core/errors';
import type { ModelEngines } from './engines';
import type { PanelSession } from './panelSession';

export class FlowRequests {
  /** The latest request's id: an older one still in flight posts nothing. */
  private latest = 0;
  /** The graph posted last, and its run. */
  private last: { runId: number; graph: FlowGraph } | undefined;
  /** The tab the panel last said it shows. */
  private tab: PanelTab | undefined;

  constructor(
    private readonly session: PanelSession,
    private readonly engines: ModelEngines,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  async trace({ runId, flowId, query, threshold }: Extract<WebviewMessage, { type: 'flow' }>): Promise<void> {
    const current = this.session.inspection;
    if (current?.runId !== runId || query >= current.result.tokens.length) return;
    this.latest = flowId;
    try {
      const graph = await this.engines.model.request({ op: 'flow', query, options: { threshold, nodesPerLayer: FLOW_NODES_PER_LAYER } });
      if (flowId !== this.latest || this.session.inspection?.runId !== runId) return;
      this.last = { runId, graph };
      this.session.post({ type: 'flow', runId, flowId, graph });
    } catch (err) {
      if (err instanceof SupersededError || err instanceof CancelledError) return;
      this.log.error(`the flow of information: ${(err as Error).message}`);
      this.session.post({ type: 'error', message: `the flow of information failed: ${(err as Error).message}` });
    }
  }

  /** Follows the tab the panel shows (its 'viewShown'). */
  followView(message: WebviewMessage): void {
    if (message.type === 'viewShown') this.tab = message.tab;
  }

  /** The graph the Flow tab shows, while the panel shows that tab (Export View records it). */
  shownOnTab(): FlowGraph | undefined {
    const { last } = this;
    return this.tab === 'flow' && last && last.runId === this.session.inspection?.runId ? last.graph : undefined;
  }
}
