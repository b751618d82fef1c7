// Hover over an inspected token: the token, its surprisal, the model's top next-token predictions
// and the spans it attends to most, as links that reveal them, the layer where the logit lens
// settles on the top prediction, (DIFF models) the λ its query row ran with, and a link that
// explains the prediction in the panel.

import * as vscode from 'vscode';
import { decidedAtLayer } from '../../shared/inspection';
import { lambdaAt, lambdaText } from '../../shared/lambda';
import { visibleText } from '../../shared/tokenText';
import { LensUnavailableError } from '../core/errors';
import { isInspected, tokenRange, type ActiveInspection } from './activeInspection';
import type { PanelSession } from './panelSession';

const HOVER_SPANS = 3;
/** Longer token and span texts are cut (the panel and the editor show them whole). */
const MAX_TEXT = 80;

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
    const [spans, predictions, lens] = await Promise.all([this.session.spansFor(t, HOVER_SPANS), this.session.predictionsFor(t), this.lensLine(t)]);

    const md = new vscode.MarkdownString();
    md.isTrusted = { enabledCommands: ['difftransformer.revealTokens', 'difftransformer.explainPrediction'] };
    md.appendMarkdown(`**DiffTransformer** · token ${t} `);
    md.appendCodeblock(visible(tokens[t].text), 'text');
    const nats = -tokenLogprob[t];
    md.appendMarkdown(`Surprisal: **${(nats / Math.LN2).toFixed(2)} bits** (p = ${Math.exp(-nats).toPrecision(3)})\n\n`);
    const generated = current.generated.find((note) => note.token === t);
    if (generated) md.appendMarkdown(`${escapeMarkdown(generated.note)} · ${whyChosenLink(current.runId, t, generated.id)}\n\n`);
    md.appendMarkdown('Next token | probability\n---|---\n');
    for (const p of predictions) md.appendMarkdown(`${escapeMarkdown(visible(p.text))} | ${(100 * p.prob).toFixed(1)}%\n`);
    if (lens) md.appendMarkdown(`\n${lens}\n`);
    const explainArgs = encodeURIComponent(JSON.stringify([current.runId, t]));
    md.appendMarkdown(`\n[Explain this prediction](command:difftransformer.explainPrediction?${explainArgs} "Which heads and MLPs made it, in the panel's Explain tab")\n`);
    const lambda = lambdaLine(current, layer, head, t);
    if (lambda) md.appendMarkdown(`\n${lambda}\n`);
    md.appendMarkdown(`\nAttends to (layer ${layer}, head ${head}):\n\n`);
    for (const span of spans) {
      const args = encodeURIComponent(JSON.stringify([current.runId, span.firstToken, span.endToken]));
      md.appendMarkdown(`- [${escapeMarkdown(visible(span.text))}](command:difftransformer.revealTokens?${args} "Reveal") ${span.score.toFixed(3)}\n`);
    }
    if (spans.length === 0) md.appendMarkdown('- nothing but the start of the text\n');
    return new vscode.Hover(md, tokenRange(current, document, t, t + 1));
  }

  /** "Logit lens: decided at layer N", or nothing for a package without a lens. */
  private async lensLine(token: number): Promise<string | undefined> {
    try {
      const layers = await this.session.lensFor(token);
      const decided = decidedAtLayer(layers);
      if (decided === undefined) return undefined;
      const top = escapeMarkdown(visible(layers.at(-1)!.predictions[0].text));
      return `Logit lens: decided at layer ${decided} (layers 0–${layers.length - 1}); its top prediction from then on: ${top}`;
    } catch (err) {
      if (err instanceof LensUnavailableError) return undefined;
      throw err;
    }
  }
}

/** The λ a token's query row ran with in the panel's layer and head, worded as the panel words λ
 *  (lambdaText): the layer's one λ (V1), or this token's own (V2); nothing for a baseline. */
function lambdaLine({ result, model }: ActiveInspection, layer: number, head: number, token: number): string | undefined {
  const lambda = lambdaAt(result, model.nHead, layer, head, token);
  if (lambda === undefined) return undefined;
  const where = result.lambdaByToken ? `for this query token (layer ${layer}, head ${head})` : `(layer ${layer}: one λ for all its heads and tokens)`;
  return `**${lambdaText([[lambda, lambda]])}** ${where}`;
}

/** A token or span text with whitespace shown by the panel's signs, so that "\n    " is readable in
 *  a table cell and reads as it does in the panel. */
function visible(text: string): string {
  return visibleText(text, MAX_TEXT);
}

/** Escapes text so Markdown (and the HTML it allows) shows it literally. */
function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~&]/g, (c) => `\\${c}`);
}

/** A link to Explain Prediction of a generated token: the prediction after the token before it
 *  (the row that chose it), of the id chosen there, so the Explain tab shows why it was chosen. */
function whyChosenLink(runId: number, token: number, chosen: number): string {
  const args = encodeURIComponent(JSON.stringify([runId, token - 1, chosen]));
  return `[Why it was chosen](command:difftransformer.explainPrediction?${args} "Which heads and MLPs made this token's logit, in the panel's Explain tab")`;
}
