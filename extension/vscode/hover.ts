// Hover over an inspected token: the token, its surprisal, the model's top next-token predictions
// and the spans it attends to most, as links that reveal them.

import * as vscode from 'vscode';
import { isInspected, tokenRange } from './activeInspection';
import type { PanelSession } from './panelSession';

const HOVER_SPANS = 3;

export class InspectionHover implements vscode.HoverProvider {
  constructor(private readonly session: PanelSession) {}

  async provideHover(document: vscode.TextDocument, position: vscode.Position): Promise<vscode.Hover | undefined> {
    const current = this.session.inspection;
    if (!isInspected(current, document)) return undefined;
    const offset = document.offsetAt(position) - current.baseOffset;
    const { tokens, tokenLogprob } = current.result;
    const t = tokens.findIndex((token, i) => i > 0 && token.start <= offset && offset < token.end);
    if (t < 0) return undefined;
    const { layer, head } = this.session.panelSelection;
    const [spans, predictions] = await Promise.all([this.session.spansFor(t, HOVER_SPANS), this.session.predictionsFor(t)]);

    const md = new vscode.MarkdownString();
    md.isTrusted = { enabledCommands: ['difftransformer.revealTokens'] };
    md.appendMarkdown(`**DiffTransformer** · token ${t} `);
    md.appendCodeblock(tokens[t].text, 'text');
    const nats = -tokenLogprob[t];
    md.appendMarkdown(`Surprisal: **${(nats / Math.LN2).toFixed(2)} bits** (p = ${Math.exp(-nats).toPrecision(3)})\n\n`);
    md.appendMarkdown('Next token | probability\n---|---\n');
    for (const p of predictions) md.appendMarkdown(`${escapeMarkdown(visible(p.text))} | ${(100 * p.prob).toFixed(1)}%\n`);
    md.appendMarkdown(`\nAttends to (layer ${layer}, head ${head}):\n\n`);
    for (const span of spans) {
      const args = encodeURIComponent(JSON.stringify([current.runId, span.firstToken, span.endToken]));
      md.appendMarkdown(`- [${escapeMarkdown(visible(span.text))}](command:difftransformer.revealTokens?${args} "Reveal") ${span.score.toFixed(3)}\n`);
    }
    if (spans.length === 0) md.appendMarkdown('- nothing but the start of the text\n');
    return new vscode.Hover(md, tokenRange(current, document, t, t + 1));
  }
}

/** Shows whitespace so a token like "\n    " is readable in a table cell. */
function visible(text: string): string {
  return text.replace(/\r/g, '␍').replace(/\n/g, '↵').replace(/\t/g, '⇥').replace(/ /g, '·');
}

/** Escapes text so Markdown (and the HTML it allows) shows it literally. */
function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~&]/g, (c) => `\\${c}`);
}
