// The key spans retrieved for the locked query: contiguous runs of the most-attended keys with their
// summed score, strongest first. Clicking one reveals its tokens in the editor.

import type { KeySpan, TokenInfo } from '../shared/inspection';
import { formatValue, textElement, visibleText } from './format';

/** Longer span texts are cut (the editor shows the whole span on click). */
const MAX_SPAN_TEXT = 300;

export interface ShownSpans {
  layer: number;
  head: number;
  query: number;
  spans: KeySpan[];
}

/** Fills the #spans list; each span is a .span-item button with a score bar. */
export function renderSpans(
  container: HTMLElement,
  shown: ShownSpans | undefined,
  tokens: readonly TokenInfo[],
  onReveal: (firstToken: number, endToken: number) => void,
): void {
  if (!shown) {
    container.replaceChildren(textElement('p', 'Lock a query row on the map to see the key spans it retrieves.', 'note'));
    return;
  }
  const queryText = tokens[shown.query] ? ` «${visibleText(tokens[shown.query].text)}»` : '';
  const heading = textElement('p', `Key spans of query ${shown.query}${queryText} · layer ${shown.layer} · head ${shown.head}`, 'note');
  heading.classList.add('spans-heading');
  if (shown.spans.length === 0) {
    container.replaceChildren(heading, textElement('p', 'No key with positive attention (the query attends only to itself or BOS).', 'note'));
    return;
  }
  const best = Math.max(...shown.spans.map((span) => Math.abs(span.score))) || 1;
  const items = shown.spans.map((span) => {
    const item = document.createElement('button');
    item.type = 'button';
    item.className = 'span-item';
    item.dataset.firstToken = String(span.firstToken);
    item.dataset.endToken = String(span.endToken);
    item.title = 'Reveal in the editor';

    const bar = document.createElement('span');
    bar.className = 'span-bar';
    const fill = document.createElement('span');
    fill.className = 'span-bar-fill';
    fill.style.width = `${(100 * Math.abs(span.score)) / best}%`;
    bar.append(fill);

    const score = document.createElement('span');
    score.className = 'span-score';
    score.textContent = formatValue(span.score);
    const range = document.createElement('span');
    range.className = 'span-range';
    const last = span.endToken - 1;
    range.textContent = last > span.firstToken ? `tokens ${span.firstToken}–${last}` : `token ${span.firstToken}`;
    const text = document.createElement('span');
    text.className = 'span-text';
    text.textContent = span.text.length > MAX_SPAN_TEXT ? `${span.text.slice(0, MAX_SPAN_TEXT - 1)}…` : span.text;

    item.append(bar, score, range, text);
    item.addEventListener('click', () => onReveal(span.firstToken, span.endToken));
    return item;
  });
  container.replaceChildren(heading, ...items);
}
