// Glue between the editor, the engine child process and the panel: runs inspections (one at a
// time; a new one cancels the last), answers the panel's requests and keeps the editor's
// highlights, hover and status bar in step.

import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { KeySpan } from '../../shared/inspection';
import { mapViews, modelInfoSchema, type ModelInfo } from '../../shared/model';
import type { NeedleForm, NeedleTestOptions, NeedleTestResult } from '../../shared/needleTest';
import type { HostMessage, InspectionMeta, Pane, PanelSelection, WebviewMessage } from '../../shared/protocol';
import { alignToken } from '../core/alignTokens';
import type { EngineInfo, InspectionResult } from '../core/engine';
import { CancelledError, EngineClient } from '../core/engineClient';
import { chooseModelPath, DEFAULT_BASELINE, DEFAULT_MODEL, matchedBaseline } from '../core/modelPath';
import { summariseNeedleTest } from '../core/needles';
import type { ProviderSetting } from '../core/runtime';
import { SpanHighlighter } from './decorations';
import type { InspectorPanel } from './panel';

export const CONFIG_SECTION = 'difftransformer';
/** Languages whose documents get prose-form needles ("The secret number of … is …"). */
const PROSE_LANGUAGES = new Set(['markdown', 'plaintext', 'restructuredtext', 'latex', 'asciidoc']);

/** An engine child process and the package loaded (or loading) in it. */
interface EngineSlot {
  readonly client: EngineClient;
  loaded: { dir: string; provider: ProviderSetting; info: Promise<EngineInfo> } | undefined;
}

export interface ActiveInspection {
  runId: number;
  uri: vscode.Uri;
  version: number;
  /** Document offset of the inspected text's first character. */
  baseOffset: number;
  range: vscode.Range;
  result: InspectionResult;
  model: EngineInfo;
  /** The baseline's run on the same text (Compare with Baseline). */
  comparison?: { result: InspectionResult; model: EngineInfo };
}

type ShownSpans = Extract<HostMessage, { type: 'spans' }>;

export class InspectorController implements vscode.Disposable {
  readonly highlighter = new SpanHighlighter();
  private readonly statusItem = vscode.window.createStatusBarItem('difftransformer.status', vscode.StatusBarAlignment.Right, 100);
  private readonly main: EngineSlot;
  /** The baseline for comparisons, in an engine process of its own so both models stay loaded. */
  private readonly baseline: EngineSlot;
  /** Starts from the clock, not 0: a panel restored after a window reload must not take a new run
   *  for the one it saved. */
  private runId = Date.now() % 1_000_000_000;
  private running: AbortController | undefined;
  private current: ActiveInspection | undefined;
  private selection: PanelSelection = { layer: 0, head: 0, view: 'diff', query: 0 };
  /** Counts changes of the selection: maps and spans computed for an older one are not posted. */
  private selectionVersion = 0;
  /** The last messages sent to the panel, re-sent when it is shown again. */
  private replay: HostMessage[] = [];
  private readonly pendingExports = new Map<number, (pngDataUrl: string) => void>();
  private needleResults: { model: NeedleTestResult; baseline: NeedleTestResult; scratch: vscode.TextDocument } | undefined;
  private panel!: InspectorPanel;

  constructor(
    private readonly context: vscode.ExtensionContext,
    readonly log: vscode.LogOutputChannel,
  ) {
    const enginePath = path.join(context.extensionPath, 'dist', 'engine.js');
    this.main = { client: new EngineClient(enginePath, (m) => log.info(m)), loaded: undefined };
    this.baseline = { client: new EngineClient(enginePath, (m) => log.info(`baseline: ${m}`)), loaded: undefined };
    this.statusItem.name = 'DiffTransformer Inspector';
    this.statusItem.command = 'difftransformer.showPanel';
    this.setStatus('$(pulse) DiffTransformer', 'DiffTransformer Inspector: no model loaded yet');
    this.statusItem.show();
  }

  attachPanel(panel: InspectorPanel): void {
    this.panel = panel;
  }

  get lastInspection(): ActiveInspection | undefined {
    return this.current;
  }

  // ------------------------------------------------------------------------------- model

  private settings() {
    return vscode.workspace.getConfiguration(CONFIG_SECTION);
  }

  /** The model folder the settings ask for (workspace values ignored in Restricted Mode). */
  modelDir(): string {
    return this.configuredDir('modelPath', path.join(this.context.extensionPath, 'models', DEFAULT_MODEL));
  }

  /** The baseline package Compare with Baseline runs (workspace values ignored in Restricted Mode). */
  baselineDir(): string {
    const bundled = path.join(this.context.extensionPath, 'models', DEFAULT_BASELINE);
    const matched = matchedBaseline(this.modelDir(), bundled, (dir) => existsSync(path.join(dir, 'manifest.json')));
    return this.configuredDir('baselineModelPath', matched);
  }

  /** A package folder from a path setting, or `fallback` when it names none. */
  private configuredDir(key: 'modelPath' | 'baselineModelPath', fallback: string): string {
    const values = this.settings().inspect<string>(key) ?? { key };
    const choice = chooseModelPath(values, vscode.workspace.isTrusted, fallback);
    if (choice.ignoredWorkspaceValue) {
      this.log.warn(`Restricted Mode: ignoring difftransformer.${key} "${choice.ignoredWorkspaceValue}" from workspace settings; using ${choice.dir}`);
    }
    return choice.dir;
  }

  private provider(): ProviderSetting {
    return this.settings().get<ProviderSetting>('executionProvider', 'auto');
  }

  /** Loads `dir` into a slot's engine unless it is loaded (or loading) there with the current
   *  provider; `onLoaded` runs after a fresh load succeeds. Errors name the file and field. */
  private load(slot: EngineSlot, dir: string, onLoaded?: (info: EngineInfo) => void): Promise<EngineInfo> {
    const provider = this.provider();
    if (slot.loaded?.dir === dir && slot.loaded.provider === provider) return slot.loaded.info;
    const info = slot.client.load(dir, provider);
    slot.loaded = { dir, provider, info };
    info.then(onLoaded, () => {
      if (slot.loaded?.info === info) slot.loaded = undefined;
    });
    return info;
  }

  /** Loads the configured model unless it is already loaded. */
  ensureModel(): Promise<EngineInfo> {
    return this.load(this.main, this.modelDir(), (loaded) => {
      if (loaded.fallbackReason) this.log.warn(`using the CPU: ${loaded.fallbackReason}`);
      this.log.info(`loaded ${loaded.name} (${loaded.kind}, sha256 ${loaded.sha256.slice(0, 12)}) on ${loaded.provider}`);
      this.setStatus(`$(pulse) DiffTransformer: ${loaded.name} · ${loaded.provider}`, `Model ${loaded.dir}`);
    });
  }

  private ensureBaseline(): Promise<EngineInfo> {
    return this.load(this.baseline, this.baselineDir());
  }

  /** Validates a package by loading it; on success makes it the model (user setting). */
  async useModel(dir: string): Promise<EngineInfo> {
    this.main.loaded = undefined; // on failure the next run reloads what the settings name
    const provider = this.provider();
    const info = await this.main.client.load(dir, provider);
    await this.settings().update('modelPath', dir, vscode.ConfigurationTarget.Global);
    this.main.loaded = { dir, provider, info: Promise.resolve(info) };
    this.setStatus(`$(pulse) DiffTransformer: ${info.name} · ${info.provider}`, `Model ${dir}`);
    return info;
  }

  /** The package folders shipped in the extension's models/ folder. */
  bundledModels(): string[] {
    const models = path.join(this.context.extensionPath, 'models');
    return readdirSync(models, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => path.join(models, entry.name));
  }

  // ------------------------------------------------------------------------------- inspection

  /** Inspects a range of a document (the whole document when the range is empty); with compare,
   *  also runs the baseline on the same text and shows both side by side. */
  async inspect(editor: vscode.TextEditor, range?: vscode.Range, compare = false): Promise<void> {
    const document = editor.document;
    const target = range && !range.isEmpty ? range : new vscode.Range(document.positionAt(0), document.positionAt(document.getText().length));
    const text = document.getText(target);
    if (this.refuse(text)) return;
    const runId = ++this.runId;
    await this.runCancellable('DiffTransformer: inspecting', `Running the model on ${path.basename(document.fileName)}…`, async (progress, signal, superseded) => {
      progress.report({ message: 'loading the model' });
      const model = await this.ensureModel();
      progress.report({ message: `running ${model.name}` });
      const result = await this.main.client.request({ op: 'inspect', text }, signal);
      let comparison: ActiveInspection['comparison'];
      if (compare) {
        progress.report({ message: 'loading the baseline' });
        const baseline = await this.ensureBaseline();
        progress.report({ message: `running ${baseline.name}` });
        comparison = { result: await this.baseline.client.request({ op: 'inspect', text }, signal), model: baseline };
      }
      if (superseded()) return; // a newer run started: draw nothing stale
      this.current = { runId, uri: document.uri, version: document.version, baseOffset: document.offsetAt(target.start), range: target, result, model, comparison };
      await this.publish(signal);
    });
  }

  cancel(): void {
    this.running?.abort();
  }

  /** Runs one job with a cancellable progress notification. Starting a job (or Cancel) aborts the
   *  one before; `superseded()` tells a job that a newer one started, so that it draws nothing. */
  private async runCancellable(
    title: string,
    busyMessage: string,
    job: (progress: vscode.Progress<{ message?: string }>, signal: AbortSignal, superseded: () => boolean) => Promise<void>,
  ): Promise<void> {
    this.running?.abort();
    const abort = new AbortController();
    this.running = abort;
    const superseded = () => this.running !== abort;
    void vscode.commands.executeCommand('setContext', 'difftransformer.running', true);
    this.post({ type: 'busy', message: busyMessage });
    try {
      await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) => {
        token.onCancellationRequested(() => abort.abort());
        return job(progress, abort.signal, superseded);
      });
    } catch (err) {
      if (superseded()) return;
      if (err instanceof CancelledError || abort.signal.aborted) {
        this.post({ type: 'busy', message: 'Cancelled.' });
        return;
      }
      this.reportError(err as Error);
    } finally {
      if (!superseded()) {
        this.running = undefined;
        void vscode.commands.executeCommand('setContext', 'difftransformer.running', false);
      }
    }
  }

  /** Says why a text cannot be run (panel and a warning) and returns true, or returns false. */
  private refuse(text: string): boolean {
    const problem = this.checkText(text);
    if (!problem) return false;
    this.post({ type: 'error', message: problem });
    void vscode.window.showWarningMessage(`DiffTransformer: ${problem}`);
    return true;
  }

  // ------------------------------------------------------------------------------- needle test

  get lastNeedleTest() {
    return this.needleResults;
  }

  /** The Needle Test: needles generated into scratch copies of the document (or the selection),
   *  run through the model and its baseline; accuracy and attention shares go to the panel, and
   *  the middle trial's scratch copy opens beside the document. The user's file is never edited. */
  async needleTest(editor: vscode.TextEditor, options: NeedleTestOptions): Promise<void> {
    const document = editor.document;
    const filler = editor.selection.isEmpty ? document.getText() : document.getText(editor.selection);
    if (this.refuse(filler)) return;
    const form: NeedleForm = options.form ?? (PROSE_LANGUAGES.has(document.languageId) ? 'prose' : 'code');
    const settings = { ...options, form };
    await this.runCancellable('DiffTransformer: Needle Test', `Needle Test on ${path.basename(document.fileName)}…`, async (progress, signal, superseded) => {
      progress.report({ message: 'loading the models' });
      const [model, baseline] = await Promise.all([this.ensureModel(), this.ensureBaseline()]);
      progress.report({ message: `running ${model.name}` });
      const modelResult = await this.main.client.request({ op: 'needleTest', filler, options: settings }, signal);
      progress.report({ message: `running ${baseline.name}` });
      const baselineResult = await this.baseline.client.request({ op: 'needleTest', filler, options: settings }, signal);
      if (superseded()) return;
      const shown = modelResult.trials[Math.floor(modelResult.trials.length / 2)];
      const scratch = await vscode.workspace.openTextDocument({ language: document.languageId, content: shown.text });
      this.needleResults = { model: modelResult, baseline: baselineResult, scratch };
      const scratchEditor = await vscode.window.showTextDocument(scratch, { viewColumn: vscode.ViewColumn.Beside, preview: true, preserveFocus: true });
      this.highlightNeedles(scratchEditor, shown.queries);
      this.post({
        type: 'needles',
        report: {
          form,
          needles: modelResult.needles,
          queries: modelResult.queries,
          trials: modelResult.trials.length,
          tokens: Math.max(...modelResult.trials.map((t) => t.tokens)),
          source: path.basename(document.fileName),
          models: [summariseNeedleTest(modelResult), summariseNeedleTest(baselineResult)],
        },
      });
    });
  }

  /** Marks the needles' values (what the queries must retrieve) in a scratch copy. */
  private highlightNeedles(editor: vscode.TextEditor, queries: NeedleTestResult['trials'][number]['queries']): void {
    const at = (offset: number) => editor.document.positionAt(offset);
    this.highlighter.show(
      editor,
      undefined,
      queries.map((q) => ({
        range: new vscode.Range(at(q.valueSpan[0]), at(q.valueSpan[1])),
        strength: 1,
        hoverMessage: `Needle Test: the value of ${q.key}, which the query “${editor.document.getText(new vscode.Range(at(q.querySpan[0]), at(q.querySpan[1])))}” must retrieve`,
      })),
    );
  }

  /** The engine process that holds a pane's model. */
  private clientOf(pane: Pane): EngineClient {
    return (pane === 'main' ? this.main : this.baseline).client;
  }

  private checkText(text: string): string | undefined {
    if (text.trim().length === 0) return 'there is no text to inspect: select some code or text (or open a file that is not empty).';
    if (text.includes('\u0000')) return 'this looks like a binary file (it contains NUL characters); inspect a text file.';
    const limit = this.settings().get<number>('maxFileBytes', 1_000_000);
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > limit) return `the text is ${bytes} bytes, over the difftransformer.maxFileBytes limit (${limit}); select a smaller part.`;
    return undefined;
  }

  private reportError(err: Error): void {
    this.log.error(err.message);
    this.post({ type: 'error', message: err.message });
    this.setStatus('$(error) DiffTransformer', err.message);
    void vscode.window.showErrorMessage(`DiffTransformer: ${err.message}`, 'Select Model…', 'Show Log').then((choice) => {
      if (choice === 'Select Model…') void vscode.commands.executeCommand('difftransformer.selectModel');
      if (choice === 'Show Log') this.log.show();
    });
  }

  /** Sends a fresh inspection to the panel and the editor: meta, map, spans, outliers. */
  private async publish(signal: AbortSignal): Promise<void> {
    const { runId, result, model } = this.current!;
    this.setSelection(fitSelection(this.selection, model, result.query));
    this.post({ type: 'inspection', meta: this.meta(result, model), thumbnails: result.thumbnails, selection: this.selection });
    const { comparison } = this.current!;
    if (comparison) this.post({ type: 'comparison', meta: this.meta(comparison.result, comparison.model) });
    this.setStatus(
      `$(pulse) DiffTransformer: ${model.name} · ${model.provider} · ${result.latencyMs.toFixed(0)} ms`,
      `Last run: ${result.tokens.length} tokens in ${result.latencyMs.toFixed(1)} ms on ${model.provider}${result.window ? `\n${result.window.note}` : ''}`,
    );
    if (result.window) this.log.info(result.window.note);
    await this.showSelection({ map: true }, signal);
    for (const pane of this.panes()) {
      const layers = await this.clientOf(pane).request({ op: 'outliers' }, signal);
      if (runId === this.runId) this.post({ type: 'outliers', pane, runId, layers });
    }
  }

  /** The panel's description of a run. */
  private meta(result: InspectionResult, model: EngineInfo): InspectionMeta {
    const { runId, range, uri, baseOffset } = this.current!;
    return {
      runId,
      model: modelInfoSchema.parse(model), // the shared fields only: the package folder stays in the host
      source: { fileName: path.basename(uri.fsPath), startLine: range.start.line, endLine: range.end.line },
      tokens: result.tokens.map((t) => ({ ...t, start: t.start + baseOffset, end: t.end + baseOffset })),
      window: result.window,
      lambda: result.lambda,
      query: result.query,
      thumbnailSize: result.thumbnailSize,
      latencyMs: result.latencyMs,
    };
  }

  /** The panes the current inspection has: the model, and the baseline when comparing. */
  private panes(): Pane[] {
    return this.current?.comparison ? ['main', 'compare'] : ['main'];
  }

  /** The selection as it applies to a pane: the baseline shows its A1 map for the same layer,
   *  head and query token (clamped to its own layers and heads; the query carried by offset). */
  private selectionFor(pane: Pane): PanelSelection {
    const current = this.current!;
    if (pane === 'main' || !current.comparison) return this.selection;
    const { model, result } = current.comparison;
    return fitSelection(this.selection, model, alignToken(current.result.tokens, this.selection.query, result.tokens));
  }

  private setSelection(selection: PanelSelection): void {
    this.selection = selection;
    this.selectionVersion++;
  }

  private tokensOf(pane: Pane) {
    const current = this.current!;
    return pane === 'compare' && current.comparison ? current.comparison.result.tokens : current.result.tokens;
  }

  /** Computes each pane's map (unless only the query moved) and key spans for the selection, once,
   *  and posts them with the selection they were computed for. A newer run or selection drops them. */
  private async showSelection(parts: { map: boolean }, signal?: AbortSignal): Promise<void> {
    const { runId } = this.current!;
    const version = this.selectionVersion;
    const stale = () => runId !== this.runId || version !== this.selectionVersion;
    const k = this.settings().get<number>('topSpans', 5);
    for (const pane of this.panes()) {
      const client = this.clientOf(pane);
      const { layer, head, view, query } = this.selectionFor(pane);
      if (parts.map) {
        const data = await client.request({ op: 'map', layer, head, view }, signal);
        if (stale()) return;
        this.post({ type: 'map', pane, runId, layer, head, view, size: this.tokensOf(pane).length, data });
      }
      const spans = await client.request({ op: 'spans', layer, head, query, k }, signal);
      if (stale()) return;
      const shown: ShownSpans = { type: 'spans', pane, runId, layer, head, query, spans };
      this.post(shown);
      if (pane === 'main') this.highlight(shown);
    }
  }

  /** Key spans of a query token for the panel's layer and head. */
  spansFor(query: number, k: number, signal?: AbortSignal): Promise<KeySpan[]> {
    return this.main.client.request({ op: 'spans', layer: this.selection.layer, head: this.selection.head, query, k }, signal);
  }

  get panelSelection(): Readonly<PanelSelection> {
    return this.selection;
  }

  /** Document range of tokens [first, end) of the current inspection (of a pane's run). */
  tokenRange(document: vscode.TextDocument, first: number, end: number, pane: Pane = 'main'): vscode.Range {
    const tokens = this.tokensOf(pane);
    const base = this.current!.baseOffset;
    return new vscode.Range(document.positionAt(base + tokens[first].start), document.positionAt(base + tokens[end - 1].end));
  }

  private highlight({ spans, query: q, layer, head }: ShownSpans): void {
    const current = this.current!;
    const editor = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === current.uri.toString());
    if (!editor || editor.document.version !== current.version) return;
    // A span can be empty in the editor: a lone "\r" token is inside a CRLF line break.
    const shown = spans
      .map((span) => ({ span, range: this.tokenRange(editor.document, span.firstToken, span.endToken) }))
      .filter(({ range }) => !range.isEmpty);
    const best = Math.max(...shown.map(({ span }) => span.score), 1e-9);
    this.highlighter.show(
      editor,
      q > 0 ? this.tokenRange(editor.document, q, q + 1) : undefined,
      shown.map(({ span, range }) => ({
        range,
        strength: span.score / best,
        hoverMessage: `DiffTransformer: attended by token ${q} with score ${span.score.toFixed(3)} (L${layer} H${head})`,
      })),
    );
  }

  clearHighlights(): void {
    this.highlighter.clear();
  }

  /** The document changed under an inspection: its offsets no longer hold. */
  onDocumentChanged(document: vscode.TextDocument): void {
    if (this.current && document.uri.toString() === this.current.uri.toString() && document.version !== this.current.version) {
      this.highlighter.clear();
    }
  }

  async revealTokens(runId: number, first: number, end: number, pane: Pane = 'main'): Promise<void> {
    const current = this.current;
    if (!current || runId !== current.runId || end <= first || end > this.tokensOf(pane).length) return;
    const document = await vscode.workspace.openTextDocument(current.uri);
    if (document.version !== current.version) {
      void vscode.window.showInformationMessage('DiffTransformer: the document changed since it was inspected; inspect it again to reveal tokens.');
      return;
    }
    const range = this.tokenRange(document, Math.max(first, 1), Math.max(end, 2), pane);
    const editor = await vscode.window.showTextDocument(document, { preserveFocus: false, preview: false });
    editor.selection = new vscode.Selection(range.start, range.end);
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  // ------------------------------------------------------------------------------- panel

  onWebviewMessage(message: WebviewMessage): void {
    if (message.type === 'ready') {
      // The panel renders the host's selection as it is now, which may have moved since the run.
      for (const m of this.replay) this.panel.post(m.type === 'inspection' ? { ...m, selection: this.selection } : m);
      return;
    }
    if (message.type === 'exportImage') {
      this.pendingExports.get(message.requestId)?.(message.pngDataUrl);
      this.pendingExports.delete(message.requestId);
      return;
    }
    if (!this.current || message.runId !== this.current.runId) return; // stale
    if (message.type === 'reveal') {
      void this.revealTokens(message.runId, message.firstToken, message.endToken, message.pane);
      return;
    }
    const { nLayer, nHead, kind } = this.current.model;
    if (message.type === 'select') {
      const { layer = this.selection.layer, head = this.selection.head, view = this.selection.view } = message;
      if (layer >= nLayer || head >= nHead || !mapViews(kind).includes(view)) return;
      this.setSelection({ ...this.selection, layer, head, view });
      void this.showSelection({ map: true }).catch((err) => this.log.warn(String(err)));
    } else if (message.type === 'lockQuery' && message.query < this.tokensOf(message.pane).length) {
      const query = message.pane === 'main' ? message.query : alignToken(this.tokensOf('compare'), message.query, this.current.result.tokens);
      this.setSelection({ ...this.selection, query });
      void this.showSelection({ map: false }).catch((err) => this.log.warn(String(err)));
    }
  }

  /** The main pane's last map or span list: what the panel shows. */
  private lastPosted<T extends 'map' | 'spans'>(type: T): Extract<HostMessage, { type: T; pane: Pane }> | undefined {
    return this.replay.find((m): m is Extract<HostMessage, { type: T; pane: Pane }> => m.type === type && 'pane' in m && m.pane === 'main');
  }

  /** Posts to the panel and remembers what a re-shown panel needs to redraw. */
  private post(message: HostMessage): void {
    if (message.type === 'inspection') this.replay = [message];
    else if (message.type !== 'busy' && message.type !== 'exportRequest') {
      const replaces = (m: HostMessage) => m.type === message.type && ('pane' in m ? m.pane : '') === ('pane' in message ? message.pane : '');
      this.replay = [...this.replay.filter((m) => !replaces(m)), message];
    }
    this.panel?.post(message);
  }

  // ------------------------------------------------------------------------------- export

  /** Writes the panel's PNG and a JSON of what it shows (model sha256, range, settings, map). */
  async exportView(target?: vscode.Uri): Promise<vscode.Uri | undefined> {
    const current = this.current;
    const map = this.lastPosted('map');
    const spans = this.lastPosted('spans');
    if (!current || !map || !spans) {
      void vscode.window.showWarningMessage('DiffTransformer: nothing to export yet; run Inspect Selection and wait for its map.');
      return undefined;
    }
    if (!target) {
      target = await vscode.window.showSaveDialog({
        defaultUri: vscode.Uri.joinPath(vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(path.dirname(current.uri.fsPath)), 'difftransformer-view.png'),
        filters: { 'PNG image (a JSON file is written beside it)': ['png'] },
      });
      if (!target) return undefined;
    }
    await this.panel.revealAndWait(10_000);
    const requestId = Date.now() % 1_000_000_000;
    const png = new Promise<string>((resolve, reject) => {
      this.pendingExports.set(requestId, resolve);
      setTimeout(() => reject(new Error('the panel did not send its image within 10 s; show the panel and try again')), 10_000);
    });
    this.panel.post({ type: 'exportRequest', requestId });
    const pngBytes = Buffer.from((await png).slice('data:image/png;base64,'.length), 'base64');
    const { start, end } = current.range;
    const record = {
      model: { name: current.model.name, kind: current.model.kind, sha256: current.model.sha256, provider: current.model.provider },
      source: { file: current.uri.fsPath, range: { start: { line: start.line, character: start.character }, end: { line: end.line, character: end.character } } },
      settings: { executionProvider: this.settings().get('executionProvider'), topSpans: this.settings().get('topSpans') },
      selection: { layer: map.layer, head: map.head, view: map.view, query: spans.query },
      lambda: current.result.lambda,
      window: current.result.window,
      tokens: current.result.tokens.map((t) => t.text),
      spans: spans.spans,
      map: { rows: map.size, values: Array.from(map.data) },
    };
    const pngUri = target.path.endsWith('.png') ? target : target.with({ path: `${target.path}.png` });
    const jsonUri = pngUri.with({ path: pngUri.path.replace(/\.png$/, '.json') });
    await vscode.workspace.fs.writeFile(pngUri, pngBytes);
    await vscode.workspace.fs.writeFile(jsonUri, Buffer.from(JSON.stringify(record, null, 2)));
    this.log.info(`exported ${pngUri.fsPath} and ${jsonUri.fsPath}`);
    return pngUri;
  }

  // ------------------------------------------------------------------------------- misc

  private setStatus(text: string, tooltip: string): void {
    this.statusItem.text = text;
    this.statusItem.tooltip = tooltip;
  }

  /** Engine requests per model (the tests check that an inspection computes each map once). */
  engineRequests(): Record<'model' | 'baseline', { map: number; spans: number }> {
    const count = (slot: EngineSlot) => ({ map: slot.client.requestCount('map'), spans: slot.client.requestCount('spans') });
    return { model: count(this.main), baseline: count(this.baseline) };
  }

  dispose(): void {
    this.running?.abort();
    this.main.client.dispose();
    this.baseline.client.dispose();
    this.highlighter.dispose();
    this.statusItem.dispose();
  }
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
