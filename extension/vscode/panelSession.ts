// What the panel shows: the current inspection (and the baseline's run beside it when comparing),
// and the selection — layer, head, map view, locked query token — which the host alone owns. The
// webview sends what the user picked; the session computes each pane's map and key spans once and
// posts them with the selection they were computed for. Maps are viewports (shared/inspection.ts
// MapViewport): a new run's is the whole map pooled to the panel's canvas; the panel asks for
// another when the user zooms, pans or picks the pooling, and the host keeps it for every pane and
// every later map of the run (a newer request makes an older one's answer stale: it is computed
// but not posted). When the map's cells pool several query rows, the locked query's own row comes
// with it ('queryRow'). The logit lens is computed once per run and query. The outliers, the
// quantisation what-if and the attention sinks are computed only when the panel says a tab or
// toggle that shows them is open, once per run and pane (paneAnalyses.ts). It also keeps the last messages, so a panel shown again redraws at no cost.

import * as path from 'node:path';
import type * as vscode from 'vscode';
import { wholeMap, type KeySpan, type LensLayer, type MapViewport, type Prediction } from '../../shared/inspection';
import { lambdaRanges, lambdaRow } from '../../shared/lambda';
import { mapViews, modelInfoSchema, softmaxSubHeads, type ModelInfo } from '../../shared/model';
import { DEFAULT_MAP_CELLS, type HostMessage, type InspectionMeta, type Pane, type PanelSelection, type PanelTab, type WebviewMessage } from '../../shared/protocol';
import { alignToken } from '../core/alignTokens';
import type { EngineInfo, InspectionResult } from '../core/engine';
import type { EngineClient } from '../core/engineClient';
import { CancelledError, LensUnavailableError } from '../core/errors';
import { tokensOf, type ActiveInspection } from './activeInspection';
import type { EditorHighlights } from './editorHighlights';
import type { ModelEngines } from './engines';
import { PaneAnalyses } from './paneAnalyses';
import type { InspectorPanel, PanelRequest } from './panel';
import type { InspectorSettings } from './settings';
import { alignViewport, fitsMap, poolRows, queryRowViewport } from './viewports';

type PaneMessage<T extends 'map' | 'spans' | 'queryRow'> = Extract<HostMessage, { type: T }>;
type LensMessage = Extract<HostMessage, { type: 'lens' }>;

/** The viewport the panel's maps show, in the main run's tokens, and the panel's request that set
 *  it (0: the host's own, a new run's whole map). */
export interface ShownViewport {
  viewport: MapViewport;
  requestId: number;
}

export class PanelSession {
  /** Starts from the clock, not 0: a panel restored after a window reload must not take a new run
   *  for the one it saved. */
  private latestRunId = Date.now() % 1_000_000_000;
  private current: ActiveInspection | undefined;
  private selection: PanelSelection = { layer: 0, head: 0, view: 'diff', query: 0 };
  /** Counts changes of the selection: spans computed for an older one are not posted. */
  private selectionVersion = 0;
  /** Counts changes of what a map depends on (layer, head, view, viewport): older maps are not posted. */
  private mapVersion = 0;
  /** The heatmap's side in device pixels, as the panel last said. */
  private mapCells = DEFAULT_MAP_CELLS;
  private viewport: ShownViewport = { viewport: wholeMap(1, DEFAULT_MAP_CELLS, 'mean'), requestId: 0 };
  /** Settles when the last map and spans work asked for is done: each waits for the one before, so
   *  the engine never queues more than one superseded viewport (a stale one is skipped unstarted). */
  private work: Promise<void> = Promise.resolve();
  /** The last messages sent to the panel, re-sent when it is shown again. */
  private replay: HostMessage[] = [];
  /** The outliers, quantisation what-if and sinks of the current run, once asked for. */
  private readonly analyses: PaneAnalyses;
  /** Settles when the current run's first maps and spans are shown: the statistics wait for it, so
   *  that the first map never waits for them. */
  private firstShown: Promise<unknown> = Promise.resolve();
  /** The logit lens of a run's query token, computed (or computing) once. */
  private lens: { runId: number; query: number; message: Promise<LensMessage> } | undefined;

  constructor(
    private readonly panel: InspectorPanel,
    private readonly engines: ModelEngines,
    private readonly settings: InspectorSettings,
    private readonly highlights: EditorHighlights,
    private readonly log: vscode.LogOutputChannel,
  ) {
    const isLatest = (runId: number) => runId === this.latestRunId;
    this.analyses = new PaneAnalyses({ post: (m) => this.post(m), clientOf: (pane) => this.clientOf(pane), isLatest, firstShown: () => this.firstShown, log });
  }

  get inspection(): ActiveInspection | undefined {
    return this.current;
  }

  get panelSelection(): Readonly<PanelSelection> {
    return this.selection;
  }

  /** A run id for a new inspection; from now on, results of earlier runs still in flight are dropped. */
  nextRunId(): number {
    return ++this.latestRunId;
  }

  /** Shows a fresh inspection: its description, then each pane's map and spans for the selection
   *  (the user's layer, head and view, kept where this model has them; the run's query token). The
   *  outliers wait until the panel shows a tab that needs them (see showStatistics). */
  async show(inspection: ActiveInspection, signal: AbortSignal): Promise<void> {
    this.current = inspection;
    this.analyses.reset();
    const { result, model, comparison } = inspection;
    this.setSelection(fitSelection(this.selection, model, result.query));
    this.setViewport({ viewport: wholeMap(result.tokens.length, this.mapCells, this.viewport.viewport.pooling), requestId: 0 });
    this.post({ type: 'inspection', meta: this.meta(result, model), thumbnails: result.thumbnails, selection: this.selection });
    if (comparison) this.post({ type: 'comparison', meta: this.meta(comparison.result, comparison.model) });
    // Set before the panel can answer the posts above with 'viewShown'.
    const shown = this.showSelection({ map: true, spans: true }, signal);
    this.firstShown = shown.catch(() => undefined);
    await shown;
  }

  /** Drops the current run once the engine loaded another model (the run went with the old one):
   *  answers still in flight for it are not posted, and the panel clears and says why. */
  discardRun(model: EngineInfo): void {
    this.nextRunId();
    this.current = undefined;
    this.analyses.reset();
    this.replay = [];
    this.post({ type: 'cleared' });
    this.post({ type: 'busy', message: `Now running ${model.name}: the run shown before was of the previous model. Inspect again to see this one's.` });
  }

  /** The model's top next-token predictions after a token of the current run (the hover's). */
  predictionsFor(token: number): Promise<Prediction[]> {
    return this.engines.model.request({ op: 'predictions', token });
  }

  /** The logit lens at a token of the current run (the hover's). */
  lensFor(token: number): Promise<LensLayer[]> {
    return this.engines.model.request({ op: 'lens', token });
  }

  /** Key spans of a query token for the panel's layer and head (the hover's). */
  spansFor(query: number, k: number): Promise<KeySpan[]> {
    return this.engines.model.request({ op: 'spans', layer: this.selection.layer, head: this.selection.head, query, k });
  }

  /** The viewport the panel's maps show (the main run's tokens). */
  get mapViewport(): Readonly<ShownViewport> {
    return this.viewport;
  }

  /** The main pane's map, its locked query's row or key spans as last posted: what the panel shows. */
  shown<T extends 'map' | 'spans' | 'queryRow'>(type: T): PaneMessage<T> | undefined {
    return this.replay.find((m): m is PaneMessage<T> => m.type === type && m.pane === 'main');
  }

  /** Acts on a message from the panel; settles when the work it started is done (for the tests). */
  async onWebviewMessage(message: PanelRequest): Promise<void> {
    if (message.type === 'ready') {
      // The panel renders the host's selection as it is now, which may have moved since the run.
      for (const m of this.replay) this.panel.post(m.type === 'inspection' ? { ...m, selection: this.selection } : m);
      return;
    }
    if (message.type === 'mapCells') {
      this.mapCells = message.cells;
      return;
    }
    const current = this.current;
    if (!current || message.runId !== current.runId) return; // stale
    if (message.type === 'reveal') {
      await this.highlights.reveal(current, message.runId, message.firstToken, message.endToken, message.pane);
    } else if (message.type === 'viewShown') {
      const panes = statisticsPanes(message.tab, current);
      await Promise.all([this.analyses.show(current.runId, 'outliers', panes), this.analyses.show(current.runId, 'sinks', message.tab === 'compare' ? panes : [])]);
    } else if (message.type === 'sinksShown') {
      await this.analyses.show(current.runId, 'sinks', ['main']);
    } else if (message.type === 'select') {
      const { layer = this.selection.layer, head = this.selection.head, view = this.selection.view } = message;
      const { nLayer, nHead, kind } = current.model;
      if (layer >= nLayer || head >= nHead || !mapViews(kind).includes(view)) return;
      this.setSelection({ ...this.selection, layer, head, view });
      this.mapVersion++;
      await this.showSelection({ map: true, spans: true }).catch((err) => this.reportFailure('the maps and key spans', err));
    } else if (message.type === 'lockQuery' && message.query < tokensOf(current, message.pane).length) {
      const query = message.pane === 'main' ? message.query : alignToken(tokensOf(current, 'compare'), message.query, current.result.tokens);
      this.setSelection({ ...this.selection, query });
      await this.showSelection({ map: false, spans: true }).catch((err) => this.reportFailure('the key spans', err));
    } else if (message.type === 'mapViewport') {
      await this.onViewportRequest(current, message);
    }
  }

  /** Shows the viewport the panel asked for, if it is newer than the one it shows. */
  private async onViewportRequest(current: ActiveInspection, message: Extract<WebviewMessage, { type: 'mapViewport' }>): Promise<void> {
    const tokens = tokensOf(current, message.pane);
    if (message.requestId <= this.viewport.requestId || !fitsMap(message.viewport, tokens.length)) return;
    this.setViewport({ viewport: alignViewport(message.viewport, tokens, current.result.tokens), requestId: message.requestId });
    await this.showSelection({ map: true, spans: false }).catch((err) => this.reportFailure('the map', err));
  }

  /** Posts to the panel and remembers what a re-shown panel needs to redraw. */
  post(message: HostMessage): void {
    if (message.type === 'inspection') this.replay = [message];
    else if (message.type !== 'busy' && message.type !== 'needleProgress') { // progress is not redrawn
      const replaces = (m: HostMessage) => m.type === message.type && ('pane' in m ? m.pane : '') === ('pane' in message ? message.pane : '');
      this.replay = [...this.replay.filter((m) => !replaces(m)), message];
    }
    this.panel.post(message);
  }

  /** Logs a failed request and shows it in the panel, so that what waited for it stops waiting. */
  private reportFailure(what: string, err: Error): void {
    if (err instanceof CancelledError) return; // a newer job took the engine
    this.log.error(`${what}: ${err.message}`);
    this.post({ type: 'error', message: `${what} failed: ${err.message}` });
  }

  private setSelection(selection: PanelSelection): void {
    this.selection = selection;
    this.selectionVersion++;
  }

  private setViewport(viewport: ShownViewport): void {
    this.viewport = viewport;
    this.mapVersion++;
  }

  /** The viewport as it applies to a pane: the same stretch of text in the baseline's tokens. */
  private viewportFor(pane: Pane): MapViewport {
    const current = this.current!;
    return pane === 'main' ? this.viewport.viewport : alignViewport(this.viewport.viewport, current.result.tokens, tokensOf(current, pane));
  }

  /** Computes each pane's map (unless only the query moved) over the viewport, the locked query's
   *  row when the map pools it, and the key spans (unless only the viewport moved), once, and posts
   *  them with the selection and viewport they were computed for. A newer run, selection or
   *  viewport drops what it makes stale; work still waiting for an earlier one's is skipped. */
  private showSelection(parts: { map: boolean; spans: boolean }, signal?: AbortSignal): Promise<void> {
    const { runId } = this.current!;
    const [selectionVersion, mapVersion] = [this.selectionVersion, this.mapVersion];
    const runStale = () => runId !== this.latestRunId;
    const stale = {
      map: () => runStale() || mapVersion !== this.mapVersion,
      spans: () => runStale() || selectionVersion !== this.selectionVersion,
    };
    const shown = this.work.then(() => this.computeSelection(parts, stale, signal));
    this.work = shown.catch(() => undefined);
    return shown;
  }

  private async computeSelection(parts: { map: boolean; spans: boolean }, stale: { map: () => boolean; spans: () => boolean }, signal?: AbortSignal): Promise<void> {
    const current = this.current!;
    const { runId } = current;
    const k = this.settings.topSpans();
    for (const pane of this.panes()) {
      if ((!parts.map || stale.map()) && (!parts.spans || stale.spans())) return;
      const client = this.clientOf(pane);
      const { layer, head, view, query } = this.selectionFor(pane);
      const { requestId } = this.viewport;
      const viewport = this.viewportFor(pane);
      const pairedHead = pane === 'compare' ? this.pairedBaselineHead(head) : undefined;
      if (parts.map && !stale.map()) {
        const data = await client.request({ op: 'map', layer, head, view, viewport }, signal);
        const paired = pairedHead === undefined ? undefined : { head: pairedHead, data: await client.request({ op: 'map', layer, head: pairedHead, view, viewport }, signal) };
        if (stale.map()) return;
        const { result, model } = pane === 'main' ? current : current.comparison!;
        const perQuery = lambdaRow(result, model.nHead, layer, head);
        const lambda = perQuery && poolRows(perQuery, viewport);
        this.post({ type: 'map', pane, runId, layer, head, view, requestId, viewport, data, ...(lambda && { lambda }), ...(paired && { paired }) });
      }
      const rowViewport = queryRowViewport(viewport, query);
      if (rowViewport && !stale.map() && !stale.spans()) {
        const data = await client.request({ op: 'map', layer, head, view, viewport: rowViewport }, signal);
        const paired = pairedHead === undefined ? undefined : await client.request({ op: 'map', layer, head: pairedHead, view, viewport: rowViewport }, signal);
        if (!stale.map() && !stale.spans()) this.post({ type: 'queryRow', pane, runId, layer, head, view, requestId, viewport: rowViewport, query, data, ...(paired && { paired }) });
      }
      if (!parts.spans || stale.spans()) continue;
      const spans = this.highlights.located(current, await client.request({ op: 'spans', layer, head, query, k }, signal), pane);
      if (stale.spans()) return;
      const shownSpans: PaneMessage<'spans'> = { type: 'spans', pane, runId, layer, head, query, spans };
      this.post(shownSpans);
      if (pane === 'main') {
        this.highlights.showSpans(current, shownSpans);
        await this.showLens(query, stale.spans, signal);
      }
    }
  }

  /** Posts the logit lens at the locked query, or why the package has none. It depends on the run
   *  and the query alone: a layer, head or view switch posts the one computed before. */
  private async showLens(query: number, stale: () => boolean, signal?: AbortSignal): Promise<void> {
    const { runId } = this.current!;
    if (this.lens?.runId !== runId || this.lens.query !== query) {
      const message = this.computeLens(runId, query, signal);
      this.lens = { runId, query, message };
      message.catch(() => {
        if (this.lens?.message === message) this.lens = undefined; // the next switch asks again
      });
    }
    const message = await this.lens.message;
    if (!stale()) this.post(message);
  }

  private async computeLens(runId: number, query: number, signal?: AbortSignal): Promise<LensMessage> {
    try {
      return { type: 'lens', runId, query, layers: await this.engines.model.request({ op: 'lens', token: query }, signal) };
    } catch (err) {
      if (!(err instanceof LensUnavailableError)) throw err;
      return { type: 'lens', runId, query, layers: [], unavailable: err.message };
    }
  }

  /** The selection as it applies to a pane: the baseline shows its A1 map for the same layer,
   *  head and query token (clamped to its own layers and heads; the query carried by offset). */
  private selectionFor(pane: Pane): PanelSelection {
    const current = this.current!;
    if (pane === 'main' || !current.comparison) return this.selection;
    const { model, result } = current.comparison;
    return fitSelection(this.selection, model, alignToken(current.result.tokens, this.selection.query, result.tokens));
  }

  /** The baseline head shown beside `head`'s own when the model pairs its softmax heads as
   *  DiffLlama does (A1 = head h, A2 = head h + H) and the baseline numbers its heads as Llama
   *  does (2H heads): h + H, the counterpart of A2; undefined otherwise. */
  private pairedBaselineHead(head: number): number | undefined {
    const current = this.current!;
    const baseline = current.comparison?.model;
    const { pairing, nHead } = current.model;
    if (pairing !== 'halves' || baseline?.sourceFormat !== 'llama' || baseline.nHead !== 2 * nHead || head >= nHead) return undefined;
    return softmaxSubHeads(pairing, nHead, head)[1];
  }

  /** The panes the current inspection has: the model, and the baseline when comparing. */
  private panes(): Pane[] {
    return this.current?.comparison ? ['main', 'compare'] : ['main'];
  }

  /** The engine process that holds a pane's model. */
  private clientOf(pane: Pane): EngineClient {
    return pane === 'main' ? this.engines.model : this.engines.baseline;
  }

  /** The panel's description of a run. */
  private meta(result: InspectionResult, model: EngineInfo): InspectionMeta {
    const { runId, range, uri, baseOffset, generated } = this.current!;
    return {
      runId,
      model: modelInfoSchema.parse(model), // the shared fields only: the package folder stays in the host
      source: { fileName: path.basename(uri.fsPath), startLine: range.start.line, endLine: lastSelectedLine(range) },
      tokens: result.tokens.map((t) => ({ ...t, start: t.start + baseOffset, end: t.end + baseOffset })),
      window: result.window,
      lambda: result.lambda,
      lambdaRanges: lambdaRanges(result, model.nHead),
      query: result.query,
      thumbnailSize: result.thumbnailSize,
      latencyMs: result.latencyMs,
      generated,
    };
  }
}

/** The last line with characters in `range`: a range that ends at the start of a line (whole lines
 *  selected with Shift+Down) does not include that line. */
function lastSelectedLine(range: vscode.Range): number {
  return range.end.character === 0 && range.end.line > range.start.line ? range.end.line - 1 : range.end.line;
}

/** The panes whose outliers a tab shows: the model's in Outliers, both models' in Compare. */
function statisticsPanes(tab: PanelTab, inspection: ActiveInspection): Pane[] {
  if (tab === 'outliers') return ['main'];
  return tab === 'compare' && inspection.comparison ? ['main', 'compare'] : [];
}

/** A selection as it applies to a model: layer and head clamped to its own, the view kept if the
 *  model has it (else its most informative one: A1 − λ·A2, or a baseline's A1), and `query`. */
function fitSelection(selection: PanelSelection, model: ModelInfo, query: number): PanelSelection {
  const views = mapViews(model.kind);
  return {
    layer: Math.min(selection.layer, model.nLayer - 1),
    head: Math.min(selection.head, model.nHead - 1),
    view: views.includes(selection.view) ? selection.view : views[views.length - 1],
    query,
  };
}
