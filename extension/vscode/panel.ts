// The side panel: a WebviewViewProvider serving the bundled panel app under a strict CSP with a
// nonce. Messages from the webview are validated before anything acts on them.

import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { parseWebviewMessage, PNG_DATA_URL, type ExportFormat, type HostMessage, type WebviewMessage } from '../../shared/protocol';
import { PendingRequests, withTimeout } from '../../shared/requests';

export const PANEL_VIEW_ID = 'difftransformer.panel';

/** What the webview asks of the host; the panel answers Export View's images itself. */
export type PanelRequest = Exclude<WebviewMessage, { type: 'exportImage' }>;

export class InspectorPanel implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private readonly received = new vscode.EventEmitter<PanelRequest>();
  /** A validated message from the webview. */
  readonly onDidReceiveMessage = this.received.event;
  /** Settles when the current webview has loaded and said 'ready' (it is re-created when shown again). */
  private ready!: Promise<void>;
  private markReady!: () => void;
  /** Export View's image requests waiting for the webview's answer. */
  private readonly imageRequests = new PendingRequests();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.resetReady();
  }

  private resetReady(): void {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.resetReady();
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist');
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    view.webview.options = { enableScripts: true, localResourceRoots: [dist, media] };
    view.webview.html = this.html(view.webview);
    view.webview.onDidReceiveMessage((data: unknown) => {
      try {
        const message = parseWebviewMessage(data);
        if (message.type === 'exportImage') return void this.imageRequests.settle({ id: message.requestId, ok: true, result: message.image });
        if (message.type === 'ready') this.markReady();
        this.received.fire(message);
      } catch (err) {
        this.log.warn(`ignored a message from the panel: ${(err as Error).message}`);
      }
    });
    // A hidden webview view loses its page and reloads it when shown again (same view object).
    view.onDidChangeVisibility(() => {
      if (!view.visible) this.resetReady();
    });
    view.onDidDispose(() => {
      this.view = undefined;
      this.resetReady();
    });
  }

  get visible(): boolean {
    return this.view?.visible ?? false;
  }

  post(message: HostMessage): void {
    void this.view?.webview.postMessage(message);
  }

  /** Shows the panel. Keyboard focus stays where it is (the editor, for the commands that run
   *  the model) unless `takeFocus`: only Show Panel moves it into the panel. */
  async reveal(takeFocus = false): Promise<void> {
    await vscode.commands.executeCommand(`${PANEL_VIEW_ID}.focus`, { preserveFocus: !takeFocus });
  }

  /** Shows the panel and waits until its webview can answer messages. */
  async revealAndWait(timeoutMs: number): Promise<void> {
    await this.reveal();
    await withTimeout(this.ready, timeoutMs, `the DiffTransformer panel did not load within ${timeoutMs / 1000} s; show it and try again`);
  }

  /** Shows the panel and asks it for a PNG of its map; its answer comes after every message posted
   *  before, so it shows them all. */
  async requestImage(timeoutMs: number, format: ExportFormat): Promise<Buffer> {
    await this.revealAndWait(timeoutMs);
    const { id, reply } = this.imageRequests.open<string>({ ms: timeoutMs, message: `the panel did not send its image within ${timeoutMs / 1000} s; show the panel and try again` });
    this.post({ type: 'exportRequest', requestId: id, format });
    const image = await reply;
    if (image.startsWith(PNG_DATA_URL) !== (format === 'png')) throw new Error(`the panel sent another image than the ${format.toUpperCase()} asked for`);
    return format === 'png' ? Buffer.from(image.slice(PNG_DATA_URL.length), 'base64') : Buffer.from(image, 'utf8');
  }

  dispose(): void {
    this.received.dispose();
    this.imageRequests.rejectAll(new Error('the panel was closed'));
  }

  private html(webview: vscode.Webview): string {
    const nonce = randomBytes(16).toString('base64');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', 'panel.css'));
    const csp = [
      "default-src 'none'",
      `img-src ${webview.cspSource} data:`,
      `style-src ${webview.cspSource} 'nonce-${nonce}'`,
      `font-src ${webview.cspSource}`,
      `script-src 'nonce-${nonce}'`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="${csp}">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <meta property="csp-nonce" content="${nonce}">
  <link rel="stylesheet" href="${style}" nonce="${nonce}">
  <title>DiffTransformer Inspector</title>
</head>
<body>
  <div id="app"></div>
  <script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
  }
}
