// The Flow tab's requests: the panel asks for the flow of information into the current run's
// prediction at a threshold (webview message 'flow'); the engine traces it (extension/core/flow.ts)
// and the host posts the graph with the panel's request id. A newer request supersedes an older one
// in the engine (SupersededError, between graph runs), and an answer for an older request or run
// is not posted.

import type * as vscode from 'vscode';
import { FLOW_NODES_PER_LAYER } from '../../shared/flow';
import type { WebviewMessage } from '../../shared/protocol';
import { CancelledError, SupersededError } from '../core/errors';
import type { ModelEngines } from './engines';
import type { PanelSession } from './panelSession';

export class FlowRequests {
  /** The latest request's id: an older one still in flight posts nothing. */
  private latest = 0;

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
      if (flowId === this.latest && this.session.inspection?.runId === runId) this.session.post({ type: 'flow', runId, flowId, graph });
    } catch (err) {
      if (err instanceof SupersededError || err instanceof CancelledError) return;
      this.log.error(`the flow of information: ${(err as Error).message}`);
      this.session.post({ type: 'error', message: `the flow of information failed: ${(err as Error).message}` });
    }
  }
}
