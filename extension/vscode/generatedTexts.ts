// Continue Text's generated documents and what is known of each generated token: where it is, and
// why it was chosen. An inspection of such a document (any inspection of it, a part or the whole)
// carries a note per generated token, which the panel's key spans and the hover show; the editor
// marks the generated text with a dotted underline.

import * as vscode from 'vscode';
import type { TokenInfo } from '../../shared/inspection';
import type { GeneratedTokenNote } from '../../shared/protocol';
import { visibleText } from '../../shared/tokenText';
import type { Generation } from '../core/generate';

export const GENERATED_SCHEME = 'difftransformer-generated';

/** Longest token text quoted in a note. */
const MAX_PIECE = 30;

export class GeneratedTexts implements vscode.Disposable {
  private readonly generations = new Map<string, Generation>();
  private readonly decoration = vscode.window.createTextEditorDecorationType({
    textDecoration: 'underline dotted',
    overviewRulerColor: new vscode.ThemeColor('editorInfo.foreground'),
    overviewRulerLane: vscode.OverviewRulerLane.Left,
  });
  /** The ranges marked per generated document, as last applied (for the tests). */
  readonly marked = new Map<string, vscode.Range[]>();
  private readonly subscription = vscode.window.onDidChangeVisibleTextEditors((editors) => editors.forEach((editor) => this.mark(editor)));

  add(document: vscode.TextDocument, generation: Generation): void {
    this.generations.set(document.uri.toString(), generation);
  }

  generationOf(document: vscode.TextDocument): Generation | undefined {
    return document.uri.scheme === GENERATED_SCHEME ? this.generations.get(document.uri.toString()) : undefined;
  }

  /** Marks the generated tokens of a generated document's editor (nothing in any other editor). */
  mark(editor: vscode.TextEditor): void {
    const generation = this.generationOf(editor.document);
    if (!generation) return;
    const ranges = generation.tokens
      .filter((token) => token.end > token.start)
      .map((token) => new vscode.Range(editor.document.positionAt(token.start), editor.document.positionAt(token.end)));
    editor.setDecorations(this.decoration, ranges);
    this.marked.set(editor.document.uri.toString(), ranges);
  }

  /** The notes of an inspection's generated tokens: `tokens` from document offset `baseOffset` of
   *  `document`; none unless it is a generated document. A token is the generated step its text
   *  starts in (the inspection tokenises the text anew, mostly into the same tokens). */
  notesFor(document: vscode.TextDocument, baseOffset: number, tokens: readonly TokenInfo[]): GeneratedTokenNote[] {
    const generation = this.generationOf(document);
    if (!generation) return [];
    const notes: GeneratedTokenNote[] = [];
    tokens.forEach((token, index) => {
      const start = baseOffset + token.start;
      const step = generation.tokens.findIndex((g) => g.start <= start && start < g.end);
      if (index > 0 && token.end > token.start && step >= 0) notes.push({ token: index, step, id: generation.tokens[step].id, note: stepNote(generation, step) });
    });
    return notes;
  }

  dispose(): void {
    this.subscription.dispose();
    this.decoration.dispose();
  }
}

/** "generated, step 3 of 32: chosen greedily with p = 0.412; runner-up «foo», p = 0.201". */
function stepNote(generation: Generation, step: number): string {
  const { prob, runnerUp } = generation.tokens[step];
  const how = generation.mode === 'greedy' ? 'chosen greedily' : `sampled (seed ${generation.seed})`;
  const other = runnerUp ? `; runner-up «${visibleText(runnerUp.piece, MAX_PIECE)}», p = ${runnerUp.prob.toFixed(3)}` : '';
  return `generated, step ${step + 1} of ${generation.tokens.length}: ${how} with p = ${prob.toFixed(3)}${other}`;
}
