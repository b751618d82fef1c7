// The key spans retrieved for the locked query: contiguous runs of the most-attended keys with their
// summed score, strongest first. Clicking one reveals its tokens in the editor. The list says which
// run, layer, head and query its spans are of (data-run-id, -layer, -head, -query); for a token
// Continue Text generated, the heading says why it was chosen.

import type { KeySpan } from '../shared/inspection';
import type { InspectionMeta } from '../shared/protocol';
import { formatValue, visibleTextElement } from './format';
import type { ShownSpans } from './types';
import { describeElement, element, textElement, whenChanged } from './view';

/** Longer span texts are cut (the editor shows the whole span on click); whitespace and byte
 *  fragments are shown as signs (format.ts). */
const MAX_SPAN_TEXT = 300;

/** A list of key spans (a .span-list with the given id); each span is a .span-item button with a
 *  score bar. */
export class SpanList {
  readonly element: HTMLElement;

  constructor(
    id: string,
    private readonly onReveal: (firstToken: number, endToken: number) => void,
    /** Explain why a generated token was chosen: the prediction of `chosen` after `query`. */
    private readonly onWhyChosen?: (query: number, chosen: number) => void,
  ) {
    this.element = element('div', 'span-list', id);
  }

  /** Shows the spans of a run (meta), redrawing only when they or the run changed. */
  readonly render = whenChanged((shown: ShownSpans | undefined, meta: InspectionMeta | undefined) => {
    describeElement(this.element, shown && meta && { runId: meta.runId, layer: shown.layer, head: shown.head, query: shown.query });
    this.fill(shown, meta);
  });

  private fill(shown: ShownSpans | undefined, meta: InspectionMeta | undefined): void {
    const tokens = meta?.tokens ?? [];
    if (!shown) {
      this.element.replaceChildren(textElement('p', 'Lock a query row on the map to see the key spans it retrieves.', 'note'));
      return;
    }
    const heading = textElement('p', `Key spans of query ${shown.query} `, 'note spans-heading');
    if (tokens[shown.query]) heading.append('«', visibleTextElement(tokens[shown.query].text), '»');
    heading.append(` · layer ${shown.layer} · head ${shown.head}`);
    const generated = meta?.generated?.find((note) => note.token === shown.query);
    if (generated) heading.append(textElement('span', ` · ${generated.note}`, 'generated-note'), ...this.whyChosen(shown.query, generated.id));
    if (shown.spans.length === 0) {
      this.element.replaceChildren(heading, textElement('p', 'No key with positive attention (the query attends only to itself or BOS).', 'note'));
      return;
    }
    const best = Math.max(...shown.spans.map((span) => Math.abs(span.score))) || 1;
    this.element.replaceChildren(heading, ...shown.spans.map((span) => this.item(span, best)));
  }

  /** The heading's "why it was chosen" link: Explain of the row before the generated token. */
  private whyChosen(token: number, chosen: number): (string | HTMLElement)[] {
    const { onWhyChosen } = this;
    if (!onWhyChosen) return [];
    const link = textElement('button', 'Why it was chosen', 'why-chosen');
    link.type = 'button';
    link.title = 'Which heads and MLPs made this token’s logit after the token before it (Explain tab)';
    link.addEventListener('click', () => onWhyChosen(token - 1, chosen));
    return [' · ', link];
  }

  /** One span: its score as a bar (relative to the best) and a number, its token range and text. */
  private item(span: KeySpan, best: number): HTMLButtonElement {
    const item = element('button', 'span-item');
    item.type = 'button';
    item.dataset.firstToken = String(span.firstToken);
    item.dataset.endToken = String(span.endToken);
    item.title = 'Reveal in the editor';
    const bar = element('span', 'span-bar');
    const fill = element('span', 'span-bar-fill');
    fill.style.width = `${(100 * Math.abs(span.score)) / best}%`;
    bar.append(fill);
    const last = span.endToken - 1;
    const tokens = last > span.firstToken ? `tokens ${span.firstToken}–${last}` : `token ${span.firstToken}`;
    const range = span.line === undefined ? tokens : `line ${span.line}:${span.column} · ${tokens}`;
    const text = visibleTextElement(span.text, MAX_SPAN_TEXT, 'span-text');
    item.append(bar, textElement('span', formatValue(span.score), 'span-score'), textElement('span', range, 'span-range'), text);
    item.addEventListener('click', () => this.onReveal(span.firstToken, span.endToken));
    return item;
  }
}
