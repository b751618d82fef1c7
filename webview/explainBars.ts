// The Explain tab's signed bar lists: one row per component (or source token), its label as text,
// its numbers, and a small canvas with the bar on a signed axis (zero in the middle): the A1·V
// part from zero in A1's hue, the −λ·A2·V part from where A1 ended in A2's hue, and a mark at the
// net. A row says what it shows (data-a1, data-a2, data-total) for a reader and for the tests.

import type { Theme } from './colors';
import { sizeCanvas } from './canvas';
import { barSegments, type BarSegment } from './explainLayout';
import { formatValue } from './format';
import { element, textElement } from './view';

const BAR_WIDTH = 140;
const BAR_HEIGHT = 14;

export interface BarRowValues {
  a1?: number;
  a2?: number;
  total: number;
}

/** A clickable row (a button): `label` (text or an element built from text), the numbers, the bar. */
export function barRow(label: string | HTMLElement, values: BarRowValues, scale: number, theme: Theme, title: string, onClick: () => void): HTMLButtonElement {
  const row = element('button', 'bar-row');
  row.type = 'button';
  row.title = title;
  const { a1, a2, total } = values;
  row.dataset.total = String(total);
  if (a1 !== undefined && a2 !== undefined) Object.assign(row.dataset, { a1: String(a1), a2: String(a2) });
  const numbers = a1 === undefined || a2 === undefined ? formatValue(total) : `${formatValue(total)} = ${formatValue(a1)} ${a2 < 0 ? '−' : '+'} ${formatValue(Math.abs(a2))}`;
  const canvas = element('canvas', 'bar-canvas');
  canvas.setAttribute('aria-hidden', 'true'); // the numbers beside it say the same
  drawBar(canvas, values, scale, theme);
  row.append(typeof label === 'string' ? textElement('span', label, 'bar-label') : label, canvas, textElement('span', numbers, 'bar-numbers'));
  row.addEventListener('click', onClick);
  return row;
}

/** Redraws every row's bar of a list in another theme's colours. */
export function redrawBars(list: HTMLElement, scale: number, theme: Theme): void {
  for (const row of list.querySelectorAll<HTMLElement>('.bar-row')) {
    const canvas = row.querySelector('canvas');
    const { a1, a2, total } = row.dataset;
    if (canvas) drawBar(canvas, { total: Number(total), ...(a1 !== undefined && a2 !== undefined && { a1: Number(a1), a2: Number(a2) }) }, scale, theme);
  }
}

/** The legend of the bars' colours, drawn as the bars are. */
export function barLegend(theme: Theme): HTMLElement {
  const legend = element('p', 'note bar-legend');
  const swatch = (kind: BarSegment['kind']) => {
    const canvas = element('canvas', 'bar-swatch');
    canvas.setAttribute('aria-hidden', 'true');
    const context = sizeCanvas(canvas, 10, 10);
    context.fillStyle = segmentColor(kind, theme);
    context.fillRect(0, 0, 10, 10);
    return canvas;
  };
  legend.append(swatch('a1'), ' A1·V part  ', swatch('a2'), ' −λ·A2·V part (what the subtraction removed)  ', swatch('total'), ' no split  │ net');
  return legend;
}

function drawBar(canvas: HTMLCanvasElement, values: BarRowValues, scale: number, theme: Theme): void {
  const context = sizeCanvas(canvas, BAR_WIDTH, BAR_HEIGHT);
  const half = BAR_WIDTH / 2;
  const x = (fraction: number) => half + fraction * (half - 1);
  context.clearRect(0, 0, BAR_WIDTH, BAR_HEIGHT);
  const { segments, net } = barSegments(values, scale);
  segments.forEach((segment, index) => {
    context.fillStyle = segmentColor(segment.kind, theme);
    // The A2 part is drawn thinner, over the A1 part it takes back from.
    const inset = index === 0 ? 2 : 4;
    context.fillRect(Math.min(x(segment.from), x(segment.to)), inset, Math.abs(x(segment.to) - x(segment.from)), BAR_HEIGHT - 2 * inset);
  });
  context.fillStyle = theme.mutedForeground;
  context.fillRect(Math.round(half), 0, 1, BAR_HEIGHT); // zero
  context.fillStyle = theme.foreground;
  context.fillRect(Math.round(x(net)) - 1, 0, 2, BAR_HEIGHT); // the net
}

function segmentColor(kind: BarSegment['kind'], theme: Theme): string {
  return kind === 'a1' ? theme.positive : kind === 'a2' ? theme.negative : theme.bars;
}
