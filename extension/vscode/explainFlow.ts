// Explain a prediction: the engine splits the target's logit at the locked query into each
// component's direct part (engine op 'explain') and, for a head the user clicks, that part over
// the source tokens ('explainSources'); this flow asks for them, posts them to the panel's Explain
// tab and marks the head's source tokens in the editor (added through A1, cancelled by A2). The
// host computes nothing itself. The tab explains the locked query whenever it is shown (and again
// when another query is locked there); the Explain Prediction command and the hover's link lock
// the token they name first. The source marks go when the panel shows another tab or explanation.

import * as vscode from 'vscode';
import type { Explanation, ExplainOptions } from '../../shared/explain';
import type { PanelTab } from '../../shared/protocol';
import { highlightedSources } from '../../shared/sourceRanking';
import { visibleText } from '../../shared/tokenText';
import { isInspected, type ActiveInspection } from './activeInspection';
import type { EditorHighlights } from './editorHighlights';
import type { ModelEngines } from './engines';
import type { InspectorPanel, PanelRequest } from './panel';
import type { PanelSession } from './panelSession';
import type { InspectorSettings } from './settings';

export interface ShownExplanation {
  runId: number;
  options: ExplainOptions;
  explanation: Explanation;
}

export class ExplainFlow {
  /** The tab the panel last said it shows. */
  private tab: PanelTab | undefined;
  /** The latest request: an older one still in flight posts nothing. */
  private latest = 0;
  /** The explanation the panel shows (for the tests too). */
  last: ShownExplanation | undefined;

  constructor(
    private readonly session: PanelSession,
    private readonly engines: ModelEngines,
    private readonly settings: InspectorSettings,
    private readonly highlights: EditorHighlights,
    private readonly panel: InspectorPanel,
    /** Inspects the editor's whole document, its query the token at the cursor. */
    private readonly inspectDocument: (editor: vscode.TextEditor) => Promise<void>,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** The explanation the Explain tab shows, while the panel shows that tab (Export View records it). */
  shownOnTab(): Explanation | undefined {
    const { last } = this;
    return this.tab === 'explain' && last && last.runId === this.session.inspection?.runId ? last.explanation : undefined;
  }

  /** Acts on the panel's explain requests, and follows what it shows (after the session has). */
  async onPanelMessage(message: PanelRequest): Promise<void> {
    if ('runId' in message && message.runId !== this.session.inspection?.runId) return; // stale
    if (message.type === 'explain') {
      const tokens = await this.vocabularyIds(message.target, message.versus).catch((err: Error) => void this.report('reading the typed token', err));
      if (tokens && message.query !== undefined) await this.explainPrediction(message.runId, message.query, tokens.target);
      else if (tokens) await this.explain(this.session.panelSelection.query, tokens);
    } else if (message.type === 'explainSources') {
      await this.showSources(message.layer, message.head);
    } else if (message.type === 'viewShown') {
      this.tab = message.tab;
      if (message.tab !== 'explain') this.highlights.clearSources();
      else if (!this.isShown(this.session.panelSelection.query)) await this.explain(this.session.panelSelection.query, {});
    } else if (message.type === 'lockQuery' && this.tab === 'explain') {
      await this.explain(this.session.panelSelection.query, this.last?.options ?? {});
    }
  }

  /** The Explain Prediction command: the token before the cursor in the inspected document (the
   *  document is inspected first where it is not, or changed since), or `token` of run `runId`
   *  (the hover's link), its prediction of `target` where given (the vocabulary id Continue Text
   *  chose after it). */
  async explainPrediction(runId?: number, token?: number, target?: number): Promise<void> {
    let query = token;
    if (runId === undefined || token === undefined) {
      const editor = vscode.window.activeTextEditor;
      if (!editor) throw new Error('no active editor: open a file and put the cursor after the token whose prediction to explain');
      query = tokenBeforeCursor(this.session.inspection, editor);
      if (query === undefined) {
        await this.inspectDocument(editor);
        query = this.session.inspection?.result.query;
      }
    } else if (runId !== this.session.inspection?.runId) {
      throw new Error('that hover was of an earlier run: hover the token again');
    }
    const current = this.session.inspection;
    if (!current || query === undefined) return; // the inspection failed and said why
    await this.panel.reveal();
    if (query !== this.session.panelSelection.query) await this.session.onWebviewMessage({ type: 'lockQuery', pane: 'main', runId: current.runId, query });
    await this.explain(query, target === undefined ? {} : { target });
  }

  /** The vocabulary ids of the tokens the user typed: "#ID" is an id, anything else the text of
   *  one token (the engine's tokenizer says which). */
  private async vocabularyIds(target: string | undefined, versus: string | undefined): Promise<ExplainOptions> {
    const id = async (text: string | undefined) => (text === undefined ? undefined : await this.engines.model.request({ op: 'tokenId', text }));
    return { target: await id(target), versus: await id(versus) };
  }

  private isShown(query: number): boolean {
    const { last } = this;
    return last !== undefined && last.runId === this.session.inspection?.runId && last.explanation.query === query;
  }

  /** Explains the prediction after `query` of the current run and posts it. */
  private async explain(query: number, options: ExplainOptions): Promise<void> {
    const current = this.session.inspection;
    if (!current) return;
    const { runId } = current;
    const request = ++this.latest;
    const stale = () => request !== this.latest || this.session.inspection?.runId !== runId;
    this.highlights.clearSources();
    this.session.post({ type: 'busy', message: `Explaining the prediction after token ${query}…` });
    try {
      const explanation = await this.engines.model.request({ op: 'explain', query, options });
      if (stale()) return;
      this.last = { runId, options, explanation };
      this.session.post({ type: 'explanation', runId, explanation });
    } catch (err) {
      if (!stale()) this.report('the explanation', err as Error);
    }
  }

  /** Posts a head's part of the shown explanation over the source tokens and marks the tokens
   *  that moved it most in the editor. */
  private async showSources(layer: number, head: number): Promise<void> {
    const current = this.session.inspection;
    const shown = this.last;
    if (!current || !shown || shown.runId !== current.runId) return;
    const { explanation, options } = shown;
    const request = ++this.latest;
    try {
      const sources = await this.engines.model.request({ op: 'explainSources', query: explanation.query, options, layer, head });
      if (request !== this.latest || this.last !== shown) return;
      this.session.post({ type: 'explainSources', runId: current.runId, query: explanation.query, target: explanation.target.id, versus: explanation.versus?.id ?? null, sources });
      const describe = (token: number) =>
        `DiffTransformer: token ${token} in layer ${layer} head ${head}'s part of “${visibleText(explanation.target.text, 40)}”: A1 ${sources.a1[token].toFixed(3)}, A2 ${sources.a2[token].toFixed(3)}`;
      this.highlights.showSources(current, highlightedSources(sources, this.settings.topSpans()), describe);
    } catch (err) {
      if (request === this.latest) this.report(`layer ${layer} head ${head}'s source tokens`, err as Error);
    }
  }

  private report(what: string, error: Error): void {
    this.log.error(`${what}: ${error.message}`);
    this.session.post({ type: 'error', message: `${what} failed: ${error.message}` });
  }
}

/** The token before the cursor in the inspected, unchanged document (the last token that starts
 *  before it), or undefined where the document is not that or the cursor is outside the run. */
function tokenBeforeCursor(inspection: ActiveInspection | undefined, editor: vscode.TextEditor): number | undefined {
  if (!isInspected(inspection, editor.document)) return undefined;
  const offset = editor.document.offsetAt(editor.selection.active) - inspection.baseOffset;
  const { tokens } = inspection.result;
  if (offset <= 0 || offset > tokens[tokens.length - 1].end) return undefined;
  let token = 1;
  while (token + 1 < tokens.length && tokens[token + 1].start < offset) token++;
  return token;
}
