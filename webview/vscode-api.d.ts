// The API VS Code injects into every webview (acquireVsCodeApi may be called only once per page).
// State passed to setState must be JSON-serialisable.

interface VsCodeWebviewApi<State> {
  postMessage(message: unknown): void;
  getState(): State | undefined;
  setState(state: State): State;
}

declare function acquireVsCodeApi<State = unknown>(): VsCodeWebviewApi<State>;
