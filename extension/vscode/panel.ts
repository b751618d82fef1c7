// The side panel: a WebviewViewProvider serving the bundled panel app under a strict CSP with a
// nonce. Messages from the webview are validated before anything acts on them.

import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { parseWebviewMessage, type HostMessage, type WebviewMessage } from '../../shared/protocol';

export const PANEL_VIEW_ID = 'difftransformer.panel';

export class InspectorPanel implements vscode.WebviewViewProvider {
  private view: vscode.WebviewView | undefined;
  /** Settles when the current webview has loaded and said 'ready' (it is re-created when shown again). */
  private ready!: Promise<void>;
  private markReady!: () => void;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly onMessage: (message: WebviewMessage) => void,
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
        if (message.type === 'ready') this.markReady();
        this.onMessage(message);
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

  async reveal(): Promise<void> {
    await vscode.commands.executeCommand(`${PANEL_VIEW_ID}.focus`);
  }

  /** Shows the panel and waits until its webview can answer messages. */
  async revealAndWait(timeoutMs: number): Promise<void> {
    await this.reveal();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the DiffTransformer panel did not load within ${timeoutMs / 1000} s; show it and try again`)), timeoutMs);
    });
    await Promise.race([this.ready, timeout]).finally(() => clearTimeout(timer));
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
