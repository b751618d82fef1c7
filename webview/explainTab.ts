// The "Explain" tab: why the model predicts a token after the locked query. The target (the top
// prediction unless the user types another token, less an optional "versus" token's logit), the
// logit, the linearisation it rests on, and a signed bar list of each component's direct part
// (the embedding, every head, every MLP), largest first, with the check that they add up to the
// logit. A DIFF head's bar shows its A1·V part and the −λ·A2·V part the subtraction removed.
// Clicking a head asks the host for its part over the source tokens: a second bar list, whose rows
// reveal their token in the editor (the host marks them there too), and "Open in Maps". The title
// says which run, query and tokens it shows (data-run-id, data-query, data-target, data-versus).

import { rankSources } from '../shared/sourceRanking';
import type { InspectionMeta } from '../shared/protocol';
import type { Theme } from './colors';
import { createButton } from './controls';
import { barLegend, barRow, redrawBars } from './explainBars';
import { explainSvg } from './explainSvg';
import { axisScale, largestParts, partLabel, SHOWN_ROWS, sumCheck } from './explainLayout';
import { formatValue, visibleTextElement } from './format';
import { failureOf } from './state';
import type { PanelState, ShownExplanation, ShownSources } from './types';
import { describeElement, element, textElement, whenChanged, type HostRequests, type PanelView } from './view';

const LINEARISATION =
  "Direct parts: each component's output read through the final norm with its scale held at its value for this position (the standard linearisation), then the LM head. They add up to the logit; what a component does through later layers is counted in theirs.";

export class ExplainTab implements PanelView {
  readonly element = element('div', 'tab-content explain');
  private readonly targetInput = element('input', 'explain-token', 'explain-target');
  private readonly versusInput = element('input', 'explain-token', 'explain-versus');
  private readonly title = element('p', 'compare-title', 'explain-title');
  private readonly sum = element('p', 'note', 'explain-sum');
  private readonly parts = element('div', 'bar-list', 'explain-parts');
  private readonly sources = element('div', 'bar-list', 'explain-sources');
  private legend: HTMLElement;
  private showAllParts = false;
  private showAllSources = false;
  private last: { explanation?: ShownExplanation; sources?: ShownSources; meta?: InspectionMeta } = {};

  constructor(
    private theme: Theme,
    private readonly host: HostRequests,
    private readonly openInMaps: (layer: number, head: number) => void,
  ) {
    const ask = () => host.explain(this.targetInput.value.trim() || undefined, this.versusInput.value.trim() || undefined);
    for (const [input, label, placeholder] of [
      [this.targetInput, 'Target token (empty: the top prediction)', 'top prediction'],
      [this.versusInput, 'Versus token (optional): explain the difference of the two logits', 'versus (optional)'],
    ] as const) {
      input.type = 'text';
      input.placeholder = placeholder;
      input.setAttribute('aria-label', label);
      input.addEventListener('keydown', (event) => {
        if (event.key === 'Enter') ask();
      });
    }
    const controls = element('div', 'map-controls explain-controls');
    controls.append(textElement('span', 'Target', 'control-label'), this.targetInput, textElement('span', 'versus', 'control-label'), this.versusInput, createButton('explain-run', 'Explain', 'Explain the locked query’s prediction of this token', ask));
    this.legend = barLegend(this.theme);
    this.element.append(controls, this.title, textElement('p', LINEARISATION, 'note explain-linearisation'), this.sum, this.legend, this.parts, this.sources);
  }

  render({ meta, explanation, explainSources, status }: PanelState): void {
    this.show(meta, explanation, explainSources, failureOf(status));
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    const legend = barLegend(theme);
    this.legend.replaceWith(legend);
    this.legend = legend;
    for (const list of [this.parts, this.sources]) redrawBars(list, Number(list.dataset.scale ?? 0), theme);
  }

  private readonly show = whenChanged((meta: InspectionMeta | undefined, explanation: ShownExplanation | undefined, sources: ShownSources | undefined, failure: string | undefined) => {
    if (explanation !== this.last.explanation) this.showAllParts = false;
    if (sources !== this.last.sources) this.showAllSources = false;
    this.last = { explanation, sources, meta };
    const shown = meta && explanation;
    describeElement(this.title, shown && { runId: meta.runId, query: explanation.query, target: explanation.target.id, versus: explanation.versus?.id ?? '' });
    this.sum.hidden = this.legend.hidden = !shown;
    if (!shown) {
      this.title.textContent = !meta ? 'Inspect some code or text first.' : (failure ?? 'Explaining the locked query’s prediction…');
      this.parts.replaceChildren();
      this.sources.replaceChildren();
      return;
    }
    this.fillTitle(meta, explanation);
    this.fillParts(explanation);
    this.fillSources(meta, explanation, sources);
  });

  private fillTitle(meta: InspectionMeta, { query, target, versus, logit, finalScale }: ShownExplanation): void {
    this.title.replaceChildren(`Query ${query} `);
    if (meta.tokens[query]) this.title.append('«', visibleTextElement(meta.tokens[query].text), '»');
    this.title.append(' → ', visibleTextElement(target.text));
    if (versus) this.title.append(' versus ', visibleTextElement(versus.text));
    this.title.append(` · ${versus ? 'logit difference' : 'logit'} ${formatValue(logit)} · final norm scale ${formatValue(finalScale)}`);
  }

  private fillParts(explanation: ShownExplanation): void {
    const { parts, logit } = explanation;
    const { sum, agrees } = sumCheck(parts, logit);
    this.sum.textContent = `parts sum to logit: Σ = ${formatValue(sum)} (logit ${formatValue(logit)}) ${agrees ? '✓' : '✗ they differ'}`;
    describeElement(this.sum, { sum, logit, agrees: String(agrees) });
    const shown = largestParts(parts, this.showAllParts ? Infinity : SHOWN_ROWS);
    const scale = axisScale(parts);
    this.parts.dataset.scale = String(scale);
    const rows = shown.map((part) => {
      const row = barRow(partLabel(part), part, scale, this.theme, part.kind === 'head' ? 'Show this head’s part over the source tokens' : part.component, () => {
        if (part.kind === 'head' && part.layer !== null && part.head !== null) this.host.explainSources(part.layer, part.head);
      });
      row.dataset.component = part.component;
      row.disabled = part.kind !== 'head';
      row.setAttribute('aria-label', `${partLabel(part)}: ${row.querySelector('.bar-numbers')?.textContent ?? ''}`);
      return row;
    });
    this.parts.replaceChildren(textElement('p', `Components, largest part first (${shown.length} of ${parts.length})`, 'note'), ...rows, this.moreButton('explain-parts-all', parts.length, this.showAllParts, (all) => (this.showAllParts = all)));
  }

  private fillSources(meta: InspectionMeta, explanation: ShownExplanation, sources: ShownSources | undefined): void {
    describeElement(this.sources, sources && { runId: meta.runId, layer: sources.sources.layer, head: sources.sources.head, query: sources.query });
    if (!sources) {
      this.sources.replaceChildren(textElement('p', 'Click a head to see which source tokens its part came through.', 'note'));
      return;
    }
    const { layer, head } = sources.sources;
    const ranked = rankSources(sources.sources);
    const shown = ranked.slice(0, this.showAllSources ? Infinity : SHOWN_ROWS);
    const scale = axisScale(ranked.map((row) => ({ a1: row.a1, total: row.net })));
    this.sources.dataset.scale = String(scale);
    const heading = textElement('p', `Layer ${layer} head ${head} over the source tokens of query ${explanation.query} (the editor marks them: green where A1 added, dashed blue where A2 cancelled)`, 'note');
    const rows = shown.map(({ token, a1, a2, net }) => {
      const label = element('span', 'bar-label');
      label.append(visibleTextElement(meta.tokens[token]?.text ?? ''), ` #${token}`);
      const row = barRow(label, { a1, a2, total: net }, scale, this.theme, 'Reveal in the editor', () => this.host.reveal('main', token, token + 1));
      row.dataset.token = String(token);
      return row;
    });
    const open = createButton('explain-open-maps', 'Open in Maps', `Show layer ${layer} head ${head} on Maps & spans`, () => this.openInMaps(layer, head));
    this.sources.replaceChildren(heading, open, ...rows, this.moreButton('explain-sources-all', ranked.length, this.showAllSources, (all) => (this.showAllSources = all)));
  }

  /** Export View's SVG of the bar lists as shown (the largest rows, or all), or undefined before
   *  an explanation is shown. */
  exportSvg(): string | undefined {
    const { explanation, sources, meta } = this.last;
    if (!meta || !explanation) return undefined;
    return explainSvg(
      {
        explanation,
        parts: largestParts(explanation.parts, this.showAllParts ? Infinity : SHOWN_ROWS),
        sources: sources && { layer: sources.sources.layer, head: sources.sources.head, rows: rankSources(sources.sources).slice(0, this.showAllSources ? Infinity : SHOWN_ROWS) },
        tokens: meta.tokens.map((token) => token.text),
      },
      this.theme,
    );
  }

  /** "Show all N" (or "Show the largest"), or nothing when every row is shown anyway. */
  private moreButton(id: string, total: number, all: boolean, set: (all: boolean) => void): HTMLElement | string {
    if (total <= SHOWN_ROWS) return '';
    return createButton(id, all ? `Show the largest ${SHOWN_ROWS}` : `Show all ${total}`, all ? 'Show only the largest rows' : 'Show every row', () => {
      set(!all);
      const { explanation, sources, meta } = this.last;
      if (!meta || !explanation) return;
      this.fillParts(explanation);
      this.fillSources(meta, explanation, sources);
    });
  }
}
