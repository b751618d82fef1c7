// The Needle Test's scratch copies: read-only virtual documents under a scheme of their own, so
// that closing one never asks to save it, and the user's file is never touched.

import * as path from 'node:path';
import * as vscode from 'vscode';

export const SCRATCH_SCHEME = 'difftransformer-needles';

/** Scratch texts kept for their documents (VS Code asks again when one is opened anew). */
const KEPT = 10;

export class ScratchDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly texts = new Map<string, string>();
  private opened = 0;
  private readonly registration = vscode.workspace.registerTextDocumentContentProvider(SCRATCH_SCHEME, this);

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? 'This Needle Test scratch copy is no longer kept: run DiffTransformer: Needle Test again.';
  }

  /** Opens `text` as a new read-only document named after `source` (its extension kept, so that the
   *  editor colours it the same), in `source`'s language. */
  async open(text: string, source: vscode.TextDocument): Promise<vscode.TextDocument> {
    const { name, ext } = path.parse(path.basename(source.fileName));
    const uri = vscode.Uri.from({ scheme: SCRATCH_SCHEME, path: `/${name} (Needle Test ${++this.opened})${ext}` });
    this.texts.set(uri.toString(), text);
    for (const old of [...this.texts.keys()].slice(0, -KEPT)) this.texts.delete(old);
    const document = await vscode.workspace.openTextDocument(uri);
    return document.languageId === source.languageId ? document : vscode.languages.setTextDocumentLanguage(document, source.languageId);
  }

  dispose(): void {
    this.registration.dispose();
  }
}
