// Activation outliers per layer (the paper's Table 5): log-count histograms over |value| of the
// hidden states and of the attention logits, side by side (one canvas each), with the top-1,
// top-10 and median magnitudes, and the largest outliers with their token (click to reveal it).
// Optionally the levels of an absmax quantisation grid are drawn over the logit histograms
// (the paper's Figure 8): its scale is the layer's top-1 over the top level, so it needs nothing
// but the histogram. A legend (.histogram-legend) above the layers names every mark drawn: bars,
// median, top-10, the axis end and the grid's levels. The container says which run it shows (data-run-id), each logit canvas which
// grid it draws (data-quant-bits).

import type { Histogram, LayerOutliers, TokenInfo } from '../shared/inspection';
import { quantTopLevel, type QuantBits } from '../shared/model';
import type { InspectionMeta } from '../shared/protocol';
import { drawText, fillBackground, sizeCanvas, themeFont } from './canvas';
import type { Theme } from './colors';
import { formatValue, visibleTextElement } from './format';
import { describeElement, element, textElement, whenChanged } from './view';

const CANVAS_HEIGHT = 150;
/** Width of one histogram (CSS px): two side by side when the container is wide enough. */
const MAX_WIDTH = 380;
const MIN_WIDTH = 240;
const PAIR_GAP = 16;

type HistogramKind = 'hidden' | 'logits';
type AxisEnd = (layer: number, kind: HistogramKind) => number | undefined;
/** An absmax grid: levels k * scale for k = 0..quantTopLevel(bits). */
interface QuantGrid {
  bits: QuantBits;
  scale: number;
}

const KINDS = [
  { key: 'hidden', title: 'hidden states |h|' },
  { key: 'logits', title: 'attention logits |q·k|·scale' },
] as const;

export class HistogramsView {
  readonly element: HTMLElement;
  private tokens: readonly TokenInfo[] = [];
  /** One entry per drawn histogram. */
  private charts: { canvas: HTMLCanvasElement; histogram: Histogram; title: string; layer: number; kind: HistogramKind }[] = [];
  /** Where a histogram's |value| axis ends when it shares the axis with another model's. */
  private axisEnd: AxisEnd | undefined;
  private width = 0;
  private quantBits: QuantBits | null = null;
  private readonly legend = element('ul', 'histogram-legend');

  /** The histograms go into a new .histograms element with the given id. */
  constructor(
    id: string,
    private theme: Theme,
    private readonly onReveal: (firstToken: number, endToken: number) => void,
  ) {
    this.element = element('div', 'histograms', id);
    // Redraw at the new width, also when the tab is first shown (its width was 0 while hidden).
    new ResizeObserver(() => {
      if (this.currentWidth() !== this.width) this.draw();
    }).observe(this.element);
  }

  /** Shows a run's outliers (meta), rebuilding only when they or the run changed. */
  readonly render = whenChanged((layers: LayerOutliers[] | undefined, meta: InspectionMeta | undefined, failure?: string) => {
    describeElement(this.element, layers && meta && { runId: meta.runId });
    this.tokens = meta?.tokens ?? [];
    this.charts = [];
    if (!layers?.length || !meta) {
      // With a run, the host is computing them: it does when a tab that shows them opens.
      const waiting = failure === undefined ? 'Computing the outlier statistics…' : `No outlier statistics: ${failure}`;
      this.element.replaceChildren(textElement('p', meta ? waiting : 'No outlier statistics yet.', 'note'));
      return;
    }
    this.element.replaceChildren(this.legend, ...layers.map((layer) => this.layerSection(layer)));
    this.draw();
  });

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.draw();
  }

  /** Draws the grid of that many bits over the logit histograms (null: none). */
  setQuantBits(bits: QuantBits | null): void {
    if (bits === this.quantBits) return;
    this.quantBits = bits;
    this.draw();
  }

  private currentWidth(): number {
    const pairWidth = (this.element.clientWidth - PAIR_GAP - 8) / 2;
    return Math.floor(Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, pairWidth)));
  }

  /** Draws each histogram on an axis from 0 to axisEnd(layer, kind) (at least its own top-1), so
   *  that two models' histograms of a layer can be read against one scale; undefined: its own. */
  setAxisEnd(axisEnd: AxisEnd | undefined): void {
    this.axisEnd = axisEnd;
    this.draw();
  }

  private draw(): void {
    this.width = this.currentWidth();
    const bits = this.quantBits;
    this.fillLegend(bits);
    for (const { canvas, histogram, title, layer, kind } of this.charts) {
      // The layer's absmax scale: its largest |logit| is the top level.
      const grid = kind === 'logits' && bits !== null ? { bits, scale: histogram.top1 / quantTopLevel(bits) } : undefined;
      const end = Math.max(histogram.edges[histogram.edges.length - 1] ?? 0, this.axisEnd?.(layer, kind) ?? 0);
      canvas.dataset.axisEnd = String(end);
      canvas.dataset.quantBits = grid ? String(grid.bits) : 'off';
      drawHistogram(canvas, this.theme, histogram, title, this.width, end, grid);
    }
  }

  /** One entry per kind of mark, with a swatch drawn as the canvas draws it. */
  private fillLegend(bits: QuantBits | null): void {
    const { theme } = this;
    const entries: { swatch: string; colour: string; text: string }[] = [
      { swatch: 'bar', colour: theme.bars, text: 'bars: log10(1 + count) of the values in each |value| bin' },
      { swatch: 'solid', colour: theme.highlight, text: 'median |value|' },
      { swatch: 'dashed', colour: theme.highlight, text: 'top-10: the 10th largest |value|' },
      {
        swatch: 'dotted',
        colour: theme.mutedForeground,
        text: this.axisEnd
          ? 'top-1 (largest |value|); the axis ends at the larger top-1 of the two models, numbered at the right end'
          : 'the axis ends at top-1, the largest |value|, numbered at the right end',
      },
    ];
    if (bits !== null) {
      const top = quantTopLevel(bits);
      entries.push({
        swatch: 'solid',
        colour: theme.grid,
        text: `${bits}-bit grid (logits only): levels k·scale, k = 0…${top}, scale = top-1 / ${top}; a logit is rounded to the nearer level`,
      });
    }
    this.legend.setAttribute('aria-label', 'Legend of the histograms');
    this.legend.replaceChildren(
      ...entries.map(({ swatch, colour, text }) => {
        const item = element('li', 'legend-entry');
        const sample = element('span', `legend-swatch legend-${swatch}`);
        sample.style.setProperty('--swatch-colour', colour);
        sample.setAttribute('aria-hidden', 'true');
        item.append(sample, text);
        return item;
      }),
    );
  }

  private layerSection(layer: LayerOutliers): HTMLElement {
    const section = document.createElement('section');
    section.className = 'histogram-layer';
    section.dataset.layer = String(layer.layer);
    const heading = document.createElement('h3');
    heading.textContent = `Layer ${layer.layer}`;
    const pair = document.createElement('div');
    pair.className = 'histogram-pair';
    for (const { key, title } of KINDS) {
      const canvas = document.createElement('canvas');
      canvas.className = 'histogram-canvas';
      canvas.dataset.kind = key;
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', `Layer ${layer.layer}, ${title}: ${statistics(layer[key])}`);
      this.charts.push({ canvas, histogram: layer[key], title, layer: layer.layer, kind: key });
      pair.append(canvas);
    }
    const stats = document.createElement('p');
    stats.className = 'histogram-stats';
    stats.textContent = KINDS.map(({ key }) => `${key}: ${statistics(layer[key])}`).join(' · ');
    const list = document.createElement('ol');
    list.className = 'outlier-list';
    for (const { key } of KINDS) {
      for (const outlier of layer[key].outliers) {
        const item = document.createElement('li');
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'outlier-item';
        button.dataset.token = String(outlier.token);
        const token = this.tokens[outlier.token];
        button.append(`${key} ${formatValue(outlier.value)} · token ${outlier.token}`);
        if (token) button.append(' «', visibleTextElement(token.text), '»');
        button.append(` · ${outlier.detail}`);
        button.title = 'Reveal the token in the editor';
        button.addEventListener('click', () => this.onReveal(outlier.token, outlier.token + 1));
        item.append(button);
        list.append(item);
      }
    }
    section.append(heading, pair, stats, list);
    return section;
  }
}

function statistics(histogram: Histogram): string {
  return `top-1 ${formatValue(histogram.top1)}, top-10 ${formatValue(histogram.top10)}, median ${formatValue(histogram.median)}`;
}

/** One histogram: title, statistics, bars of log10(1 + count) with count ticks, |value| axis from 0
 *  to axisEnd, marks at the median, the top-10 value and (short of the axis end) top-1, and the
 *  levels of a quantisation grid if given. */
function drawHistogram(canvas: HTMLCanvasElement, theme: Theme, histogram: Histogram, title: string, width: number, axisEnd: number, grid?: QuantGrid): void {
  const context = sizeCanvas(canvas, width, CANVAS_HEIGHT);
  fillBackground(context, theme, width, CANVAS_HEIGHT);
  const plotTop = 40;
  const plotBottom = CANVAS_HEIGHT - 18;
  const plotHeight = plotBottom - plotTop;
  drawText(context, theme, title, 0, 13, { maxWidth: width });
  drawText(context, theme, statistics(histogram), 0, 29, { size: 11, color: theme.mutedForeground, maxWidth: width });

  const { counts, edges } = histogram;
  const largest = Math.log10(1 + Math.max(0, ...counts)) || 1;
  const low = edges[0] ?? 0;
  const span = axisEnd - low || 1;
  context.fillStyle = theme.bars;
  counts.forEach((count, bin) => {
    const left = ((edges[bin] - low) / span) * width;
    const right = ((edges[bin + 1] - low) / span) * width;
    const height = (Math.log10(1 + count) / largest) * plotHeight;
    if (count > 0) context.fillRect(left, plotBottom - Math.max(1, height), Math.max(1, right - left - 1), Math.max(1, height));
  });
  // Marks and grid lines stay inside the canvas (a mark at the axis end would fall off it).
  const at = (value: number): number => Math.min(width - 1, Math.round(((value - low) / span) * width));
  // As the legend shows them: median solid, top-10 dashed, top-1 dotted where the axis goes further.
  context.fillStyle = theme.highlight;
  context.fillRect(at(histogram.median), plotTop, 1, plotHeight);
  for (let y = plotTop; y < plotBottom; y += 6) context.fillRect(at(histogram.top10), y, 1, Math.min(4, plotBottom - y));
  if (at(histogram.top1) < width - 1) {
    context.fillStyle = theme.mutedForeground;
    for (let y = plotTop; y < plotBottom; y += 4) context.fillRect(at(histogram.top1), y, 1, Math.min(2, plotBottom - y));
  }
  if (grid && grid.scale > 0) {
    // Over the bars and marks, one line per level k * scale (the top level is top-1); faint when
    // dense (127 levels at 8 bits), so that the bars stay readable.
    const top = quantTopLevel(grid.bits);
    context.fillStyle = theme.grid;
    context.globalAlpha = width / top < 8 ? 0.35 : 0.8;
    for (let level = 0; level <= top; level++) context.fillRect(at(level * grid.scale), plotTop, 1, plotHeight);
    context.globalAlpha = 1;
  }

  drawCountTicks(context, theme, largest, plotBottom, plotHeight);
  context.fillStyle = theme.mutedForeground;
  context.fillRect(0, plotBottom, width, 1);
  context.textBaseline = 'top';
  context.fillText(formatValue(low), 0, plotBottom + 3);
  context.textAlign = 'right';
  context.fillText(formatValue(low + span), width, plotBottom + 3);
  context.textAlign = 'center';
  context.fillText('|value| (log count)', width / 2, plotBottom + 3);
}

/** Ticks of the count axis at 1, 10, 100… up to the largest bar (its height log10(1 + count) of
 *  `largest`), labelled inside the plot's left edge over a halo of the background so that the bars
 *  under them stay apart from the numbers. */
function drawCountTicks(context: CanvasRenderingContext2D, theme: Theme, largest: number, plotBottom: number, plotHeight: number): void {
  context.font = themeFont(theme, 10);
  context.textAlign = 'left';
  context.textBaseline = 'middle';
  context.lineWidth = 3;
  context.strokeStyle = theme.background;
  for (let count = 1; Math.log10(1 + count) <= largest + 1e-9; count *= 10) {
    const y = Math.round(plotBottom - (Math.log10(1 + count) / largest) * plotHeight);
    const label = count >= 1000 ? `${count / 1000}k` : String(count);
    context.fillStyle = theme.mutedForeground;
    context.fillRect(0, y, 4, 1);
    context.strokeText(label, 6, y);
    context.fillText(label, 6, y);
  }
}
