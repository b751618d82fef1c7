// Read-only virtual documents under a scheme of their own (the Needle Test's scratch copies, Continue
// Text's generated texts), so that closing one never asks to save it, and the user's file is never
// touched.

import * as path from 'node:path';
import * as vscode from 'vscode';

export const SCRATCH_SCHEME = 'difftransformer-needles';

/** Texts kept for their documents (VS Code asks again when one is opened anew). */
const KEPT = 10;

export class ScratchDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly texts = new Map<string, string>();
  private opened = 0;
  private readonly registration: vscode.Disposable;

  /** `label`: what made the documents, the command's name ("Needle Test"), in their names and in
   *  what a document no longer kept says. */
  constructor(
    private readonly scheme = SCRATCH_SCHEME,
    private readonly label = 'Needle Test',
  ) {
    this.registration = vscode.workspace.registerTextDocumentContentProvider(scheme, this);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? `This ${this.label} document is no longer kept: run DiffTransformer: ${this.label} again.`;
  }

  /** Opens `text` as a new read-only document named after `source` (its extension kept, so that the
   *  editor colours it the same), in `source`'s language. */
  async open(text: string, source: vscode.TextDocument): Promise<vscode.TextDocument> {
    const { name, ext } = path.parse(path.basename(source.fileName));
    const uri = vscode.Uri.from({ scheme: this.scheme, path: `/${name} (${this.label} ${++this.opened})${ext}` });
    this.texts.set(uri.toString(), text);
    for (const old of [...this.texts.keys()].slice(0, -KEPT)) this.texts.delete(old);
    const document = await vscode.workspace.openTextDocument(uri);
    return document.languageId === source.languageId ? document : vscode.languages.setTextDocumentLanguage(document, source.languageId);
  }

  dispose(): void {
    this.registration.dispose();
  }
}
