// Glue between the editor, the engine child process and the panel: runs inspections (one at a
// time; a new one cancels the last), answers the panel's requests and keeps the editor's
// highlights, hover and status bar in step.

import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EngineInfo, InspectionResult } from '../core/engine';
import { CancelledError, EngineClient } from '../core/engineClient';
import { chooseModelPath } from '../core/modelPath';
import type { ProviderSetting } from '../core/runtime';
import { BASELINE_VIEWS, type HostMessage, type KeySpan, type MapView, type WebviewMessage } from '../protocol';
import { SpanHighlighter } from './decorations';
import type { InspectorPanel } from './panel';

export const CONFIG_SECTION = 'difftransformer';
const DEFAULT_MODEL = 'tiny-diff';

export interface ActiveInspection {
  runId: number;
  uri: vscode.Uri;
  version: number;
  /** Document offset of the inspected text's first character. */
  baseOffset: number;
  range: vscode.Range;
  result: InspectionResult;
  model: EngineInfo;
}

interface PanelSelection {
  layer: number;
  head: number;
  view: MapView;
  query: number;
}

export class InspectorController implements vscode.Disposable {
  readonly highlighter = new SpanHighlighter();
  private readonly client: EngineClient;
  private readonly statusItem = vscode.window.createStatusBarItem('difftransformer.status', vscode.StatusBarAlignment.Right, 100);
  private model: { dir: string; provider: ProviderSetting; info: Promise<EngineInfo> } | undefined;
  private runId = 0;
  private running: AbortController | undefined;
  private current: ActiveInspection | undefined;
  private selection: PanelSelection = { layer: 0, head: 0, view: 'diff', query: 0 };
  /** The last messages sent to the panel, re-sent when it is shown again. */
  private replay: HostMessage[] = [];
  private readonly pendingExports = new Map<number, (pngDataUrl: string) => void>();
  private panel!: InspectorPanel;

  constructor(
    private readonly context: vscode.ExtensionContext,
    readonly log: vscode.LogOutputChannel,
  ) {
    this.client = new EngineClient(path.join(context.extensionPath, 'dist', 'engine.js'), (m) => log.info(m));
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
    const values = this.settings().inspect<string>('modelPath') ?? { key: 'modelPath' };
    const choice = chooseModelPath(values, vscode.workspace.isTrusted, path.join(this.context.extensionPath, 'models', DEFAULT_MODEL));
    if (choice.ignoredWorkspaceValue) {
      this.log.warn(`Restricted Mode: ignoring difftransformer.modelPath "${choice.ignoredWorkspaceValue}" from workspace settings; running ${choice.dir}`);
    }
    return choice.dir;
  }

  /** Loads the configured model unless it is already loaded; errors name the file and field. */
  async ensureModel(): Promise<EngineInfo> {
    const dir = this.modelDir();
    const provider = this.settings().get<ProviderSetting>('executionProvider', 'auto');
    if (!this.model || this.model.dir !== dir || this.model.provider !== provider) {
      const info = this.client.load(dir, provider);
      this.model = { dir, provider, info };
      info.then(
        (loaded) => {
          if (loaded.session.fallbackReason) this.log.warn(`using the CPU: ${loaded.session.fallbackReason}`);
          this.log.info(`loaded ${loaded.name} (${loaded.kind}, sha256 ${loaded.sha256.slice(0, 12)}) on ${loaded.session.provider}`);
          this.setStatus(`$(pulse) DiffTransformer: ${loaded.name} · ${loaded.session.provider}`, `Model ${loaded.dir}`);
        },
        () => (this.model = undefined),
      );
    }
    return this.model.info;
  }

  /** Validates a package by loading it; on success makes it the model (user setting). */
  async useModel(dir: string): Promise<EngineInfo> {
    this.model = undefined; // on failure the next run reloads what the settings name
    const provider = this.settings().get<ProviderSetting>('executionProvider', 'auto');
    const info = await this.client.load(dir, provider);
    await this.settings().update('modelPath', dir, vscode.ConfigurationTarget.Global);
    this.model = { dir, provider, info: Promise.resolve(info) };
    this.setStatus(`$(pulse) DiffTransformer: ${info.name} · ${info.session.provider}`, `Model ${dir}`);
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

  /** Inspects a range of a document (the whole document when the range is empty). */
  async inspect(editor: vscode.TextEditor, range?: vscode.Range): Promise<void> {
    const document = editor.document;
    const target = range && !range.isEmpty ? range : new vscode.Range(document.positionAt(0), document.positionAt(document.getText().length));
    const text = document.getText(target);
    const problem = this.checkText(text);
    if (problem) {
      this.post({ type: 'error', message: problem });
      void vscode.window.showWarningMessage(`DiffTransformer: ${problem}`);
      return;
    }
    this.running?.abort();
    const abort = new AbortController();
    this.running = abort;
    const runId = ++this.runId;
    void vscode.commands.executeCommand('setContext', 'difftransformer.running', true);
    this.post({ type: 'busy', message: `Running the model on ${path.basename(document.fileName)}…` });
    try {
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'DiffTransformer: inspecting', cancellable: true },
        async (progress, token) => {
          token.onCancellationRequested(() => abort.abort());
          progress.report({ message: 'loading the model' });
          const model = await this.ensureModel();
          progress.report({ message: `running ${model.name}` });
          const result = await this.client.request({ op: 'inspect', text }, abort.signal);
          if (runId !== this.runId) return; // a newer inspection started: draw nothing stale
          this.current = { runId, uri: document.uri, version: document.version, baseOffset: document.offsetAt(target.start), range: target, result, model };
          await this.publish(abort.signal);
        },
      );
    } catch (err) {
      if (runId !== this.runId) return;
      if (err instanceof CancelledError || abort.signal.aborted) {
        this.post({ type: 'busy', message: 'Cancelled.' });
        return;
      }
      this.reportError(err as Error);
    } finally {
      if (runId === this.runId) {
        this.running = undefined;
        void vscode.commands.executeCommand('setContext', 'difftransformer.running', false);
      }
    }
  }

  cancel(): void {
    this.running?.abort();
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
    this.selection = {
      layer: Math.min(this.selection.layer, model.nLayer - 1),
      head: Math.min(this.selection.head, model.nHead - 1),
      view: model.kind === 'diff' ? this.selection.view : BASELINE_VIEWS[0],
      query: result.query,
    };
    const { start, end } = this.current!.range;
    this.post({
      type: 'inspection',
      meta: {
        runId,
        model: { name: model.name, kind: model.kind, sha256: model.sha256, nLayer: model.nLayer, nHead: model.nHead, maxSeqLen: model.maxSeqLen, provider: model.session.provider },
        source: { fileName: path.basename(this.current!.uri.fsPath), startLine: start.line, endLine: end.line },
        tokens: result.tokens.map((t) => ({ ...t, start: t.start + this.current!.baseOffset, end: t.end + this.current!.baseOffset })),
        window: result.window,
        lambda: result.lambda,
        query: result.query,
        thumbnailSize: result.thumbnailSize,
        latencyMs: result.latencyMs,
      },
      thumbnails: result.thumbnails,
    });
    this.setStatus(
      `$(pulse) DiffTransformer: ${model.name} · ${model.session.provider} · ${result.latencyMs.toFixed(0)} ms`,
      `Last run: ${result.tokens.length} tokens in ${result.latencyMs.toFixed(1)} ms on ${model.session.provider}${result.window ? `\n${result.window.note}` : ''}`,
    );
    if (result.window) this.log.info(result.window.note);
    await this.sendMap(signal);
    await this.sendSpans(signal);
    const layers = await this.client.request({ op: 'outliers' }, signal);
    if (runId === this.runId) this.post({ type: 'outliers', runId, layers });
  }

  private async sendMap(signal?: AbortSignal): Promise<void> {
    const { runId } = this.current!;
    const { layer, head, view } = this.selection;
    const data = await this.client.request({ op: 'map', layer, head, view }, signal);
    if (runId === this.runId) this.post({ type: 'map', runId, layer, head, view, size: this.current!.result.tokens.length, data });
  }

  private async sendSpans(signal?: AbortSignal): Promise<void> {
    const { runId } = this.current!;
    const { layer, head, query } = this.selection;
    const spans = await this.spansFor(query, this.settings().get<number>('topSpans', 5), signal);
    if (runId !== this.runId) return;
    this.post({ type: 'spans', runId, layer, head, query, spans });
    this.highlight(spans);
  }

  /** Key spans of a query token for the panel's layer and head. */
  spansFor(query: number, k: number, signal?: AbortSignal): Promise<KeySpan[]> {
    return this.client.request({ op: 'spans', layer: this.selection.layer, head: this.selection.head, query, k }, signal);
  }

  get panelSelection(): Readonly<PanelSelection> {
    return this.selection;
  }

  /** Document range of tokens [first, end) of the current inspection. */
  tokenRange(document: vscode.TextDocument, first: number, end: number): vscode.Range {
    const { tokens } = this.current!.result;
    const base = this.current!.baseOffset;
    return new vscode.Range(document.positionAt(base + tokens[first].start), document.positionAt(base + tokens[end - 1].end));
  }

  private highlight(spans: KeySpan[]): void {
    const current = this.current!;
    const editor = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === current.uri.toString());
    if (!editor || editor.document.version !== current.version) return;
    const best = Math.max(...spans.map((s) => s.score), 1e-9);
    const q = this.selection.query;
    this.highlighter.show(
      editor,
      q > 0 ? this.tokenRange(editor.document, q, q + 1) : undefined,
      spans.map((s) => ({
        range: this.tokenRange(editor.document, s.firstToken, s.endToken),
        strength: s.score / best,
        hoverMessage: `DiffTransformer: attended by token ${q} with score ${s.score.toFixed(3)} (L${this.selection.layer} H${this.selection.head})`,
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

  async revealTokens(runId: number, first: number, end: number): Promise<void> {
    const current = this.current;
    if (!current || runId !== current.runId || end <= first || end > current.result.tokens.length) return;
    const document = await vscode.workspace.openTextDocument(current.uri);
    if (document.version !== current.version) {
      void vscode.window.showInformationMessage('DiffTransformer: the document changed since it was inspected; inspect it again to reveal tokens.');
      return;
    }
    const range = this.tokenRange(document, Math.max(first, 1), Math.max(end, 2));
    const editor = await vscode.window.showTextDocument(document, { preserveFocus: false, preview: false });
    editor.selection = new vscode.Selection(range.start, range.end);
    editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  // ------------------------------------------------------------------------------- panel

  onWebviewMessage(message: WebviewMessage): void {
    if (message.type === 'ready') {
      for (const m of this.replay) this.panel.post(m);
      return;
    }
    if (message.type === 'exportImage') {
      this.pendingExports.get(message.requestId)?.(message.pngDataUrl);
      this.pendingExports.delete(message.requestId);
      return;
    }
    if (!this.current || message.runId !== this.current.runId) return; // stale
    const { nLayer, nHead, kind } = this.current.model;
    const T = this.current.result.tokens.length;
    if (message.type === 'reveal') {
      void this.revealTokens(message.runId, message.firstToken, message.endToken);
      return;
    }
    if (message.layer >= nLayer || message.head >= nHead) return;
    if (message.type === 'select') {
      if (kind === 'baseline' && message.view !== 'a1') return;
      this.selection = { ...this.selection, layer: message.layer, head: message.head, view: message.view };
      void this.sendMap().then(() => this.sendSpans()).catch((err) => this.log.warn(String(err)));
    } else if (message.type === 'lockQuery' && message.query < T) {
      this.selection = { ...this.selection, layer: message.layer, head: message.head, query: message.query };
      void this.sendSpans().catch((err) => this.log.warn(String(err)));
    }
  }

  /** Posts to the panel and remembers what a re-shown panel needs to redraw. */
  private post(message: HostMessage): void {
    if (message.type === 'inspection') this.replay = [message];
    else if (message.type !== 'busy' && message.type !== 'exportRequest') {
      this.replay = [...this.replay.filter((m) => m.type !== message.type), message];
    }
    this.panel?.post(message);
  }

  // ------------------------------------------------------------------------------- export

  /** Writes the panel's PNG and a JSON of what it shows (model sha256, range, settings, map). */
  async exportView(target?: vscode.Uri): Promise<vscode.Uri | undefined> {
    const current = this.current;
    if (!current) {
      void vscode.window.showWarningMessage('DiffTransformer: nothing to export yet; run Inspect Selection first.');
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
    const { layer, head, view, query } = this.selection;
    const map = await this.client.request({ op: 'map', layer, head, view });
    const spans = await this.spansFor(query, this.settings().get<number>('topSpans', 5));
    const { start, end } = current.range;
    const record = {
      model: { name: current.model.name, kind: current.model.kind, sha256: current.model.sha256, provider: current.model.session.provider },
      source: { file: current.uri.fsPath, range: { start: { line: start.line, character: start.character }, end: { line: end.line, character: end.character } } },
      settings: { executionProvider: this.settings().get('executionProvider'), topSpans: this.settings().get('topSpans') },
      selection: { layer, head, view, query },
      lambda: current.result.lambda,
      window: current.result.window,
      tokens: current.result.tokens.map((t) => t.text),
      spans,
      map: { rows: current.result.tokens.length, values: Array.from(map) },
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

  dispose(): void {
    this.running?.abort();
    this.client.dispose();
    this.highlighter.dispose();
    this.statusItem.dispose();
  }
}
