// The Needle Test's progress while it runs (#needle-progress, after each document) and its
// results: per model, retrieval accuracy and where the queries' attention goes (answer span,
// noise context, the query itself), as a table (#needle-table: a row per model with
// data-kind, each number a cell with data-metric), accuracy and answer share by needle depth
// drawn on one canvas (#needle-chart), the model in the "positive" hue and the baseline in the other,
// and accuracy on the document length x depth grid as one heatmap per model on one canvas
// (#needle-grid: lengths across, depths down, as the paper's Figure 5), with a hover readout and
// the grid's numbers as text for screen readers.

import type { NeedleReport, NeedleSummary } from '../shared/needleTest';
import { drawLegend, drawText, putScaledValues, sizeCanvas, themeFont } from './canvas';
import { ColorScale, type Theme } from './colors';
import { formatValue } from './format';
import type { PanelState } from './types';
import { describeElement, element, textElement, whenChanged, type PanelView } from './view';

const METRICS: { key: 'accuracy' | 'answerShare' | 'noiseShare' | 'queryShare'; title: string }[] = [
  { key: 'accuracy', title: 'accuracy' },
  { key: 'answerShare', title: 'answer share' },
  { key: 'noiseShare', title: 'noise share' },
  { key: 'queryShare', title: 'query share' },
];

/** The two plots (accuracy, answer share by depth) side by side; CSS px. */
const PLOT_WIDTH = 300;
const PLOT_HEIGHT = 170;
const MARGIN = { left: 44, right: 12, top: 22, bottom: 34 };
const LEGEND_HEIGHT = 18;
/** Under each grid: its colour bar (drawLegend's caption, bar and tick labels). */
const GRID_LEGEND_HEIGHT = 44;
/** A cell shows its accuracy as text when it has room for it; CSS px. */
const CELL_TEXT_ROOM = { width: 30, height: 14 };
/** Length labels need about this much room each; narrower columns label the first and the last. */
const LENGTH_LABEL_WIDTH = 40;
const GRID_HINT = 'Hover a cell of the grid for its document length, needle depth and accuracy.';

type GridCell = NeedleSummary['grid'][number];

/** One model's grid: its lengths (columns) and depths (rows), ascending, and where it is drawn. */
interface GridLayout {
  model: NeedleSummary;
  lengths: number[];
  depths: number[];
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The Needle Test tab (#needles). */
export class NeedlesView implements PanelView {
  readonly element = element('div', 'tab-content needles', 'needles');
  /** How far a Needle Test in progress is. */
  private readonly progress = element('div', 'needle-progress', 'needle-progress');
  private readonly heading = element('div', 'needle-heading');
  private readonly table = element('table', 'data-table', 'needle-table');
  private readonly chart = element('canvas', undefined, 'needle-chart');
  private readonly grid = element('canvas', undefined, 'needle-grid');
  private readonly gridReadout = element('div', 'needle-grid-readout');
  /** The grids' numbers as text, the grid canvas's description for screen readers. */
  private readonly gridText = element('div', 'visually-hidden', 'needle-grid-text');
  private gridLayouts: GridLayout[] = [];
  private report: NeedleReport | undefined;

  constructor(private theme: Theme) {
    this.table.setAttribute('aria-label', 'Needle Test results: retrieval accuracy and attention shares of each model');
    this.chart.setAttribute('aria-label', 'Retrieval accuracy and attention share on the answer, by needle depth, for each model');
    this.grid.setAttribute('role', 'img');
    this.grid.setAttribute('aria-label', 'Retrieval accuracy by document length (across) and needle depth (down), one grid per model');
    this.grid.setAttribute('aria-describedby', this.gridText.id);
    this.grid.addEventListener('mousemove', (event) => this.showCellAt(event.offsetX, event.offsetY));
    this.grid.addEventListener('mouseleave', () => (this.gridReadout.textContent = GRID_HINT));
    this.progress.setAttribute('role', 'status');
    this.element.append(this.progress, this.heading, this.table, this.chart, this.grid, this.gridReadout, this.gridText);
  }

  render(state: PanelState): void {
    this.showProgress(state.needleProgress);
    this.show(state.needles);
  }

  /** Set only when it changes: a status line announces every change. */
  private readonly showProgress = whenChanged((progress: string | undefined) => {
    this.progress.textContent = progress ?? '';
    this.progress.hidden = progress === undefined;
  });

  /** The last Needle Test's results (they outlive inspections), drawn again only when new. */
  private readonly show = whenChanged((report: NeedleReport | undefined) => {
    this.report = report;
    // A report saved before lengths were run has no grid.
    const hasGrid = report?.models.some((model) => model.grid.length > 0) ?? false;
    this.table.hidden = this.chart.hidden = !report;
    this.grid.hidden = this.gridReadout.hidden = this.gridText.hidden = !hasGrid;
    if (!report) {
      this.heading.textContent =
        'Run “DiffTransformer: Needle Test” in a document: it hides key/value needles in scratch copies of it and asks the model and its baseline to retrieve them.';
      return;
    }
    const { source, needles, queries, trials, form, tokens, lengths } = report;
    const lengthsRun = lengths.length > 1 ? ` at each of ${lengths.length} document lengths (${lengths.map(formatTokens).join(', ')} tokens)` : '';
    this.heading.textContent =
      `Needle Test on ${source}: ${needles} needle${needles > 1 ? 's' : ''}, ${queries} quer${queries > 1 ? 'ies' : 'y'} per document (${form} form), ` +
      `${trials} documents of up to ${tokens} tokens with the queried needles at depths 0…1${lengthsRun}. Accuracy: greedy decoding after the query gives exactly the value. ` +
      'Shares: attention of the query’s last token on the needle’s value, on other context (noise) and on the query, averaged over layers and heads, ' +
      'each head’s row divided by its absolute mass Σ|a| (the plain shares for a softmax; for DIFF’s A1 − λ·A2 signed shares in −1…1, negative where the head cancels attention).';
    this.renderTable(report.models);
    this.gridText.textContent = report.models.map(describeGrid).join(' ');
    this.gridReadout.textContent = GRID_HINT;
    this.draw();
  });

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.draw();
  }

  private renderTable(models: readonly NeedleSummary[]): void {
    const header = document.createElement('tr');
    header.append(textElement('th', 'model'), ...METRICS.map(({ title }) => textElement('th', title)));
    const rows = models.map((model) => {
      const row = document.createElement('tr');
      row.dataset.kind = model.kind;
      row.append(textElement('th', `${model.model} (${model.kind})`));
      for (const { key } of METRICS) {
        const text = key === 'accuracy' ? `${model.correct}/${model.queries} (${(100 * model.overall.accuracy).toFixed(0)}%)` : formatValue(model.overall[key]);
        const value = textElement('td', text);
        value.dataset.metric = key;
        value.dataset.value = String(model.overall[key]);
        row.append(value);
      }
      return row;
    });
    const head = document.createElement('thead');
    head.append(header);
    const body = document.createElement('tbody');
    body.append(...rows);
    this.table.replaceChildren(head, body);
  }

  private draw(): void {
    const report = this.report;
    if (!report) return;
    const context = sizeCanvas(this.chart, 2 * PLOT_WIDTH, PLOT_HEIGHT + LEGEND_HEIGHT);
    context.clearRect(0, 0, 2 * PLOT_WIDTH, PLOT_HEIGHT + LEGEND_HEIGHT);
    const colour = (model: NeedleSummary) => (model.kind === 'diff' ? this.theme.positive : this.theme.negative);
    const shares = report.models.flatMap((m) => m.byDepth.map((d) => d.answerShare));
    const plots = [
      { title: 'accuracy by depth', value: (d: NeedleSummary['byDepth'][number]) => d.accuracy, low: 0, high: 1 },
      { title: 'answer share by depth', value: (d: NeedleSummary['byDepth'][number]) => d.answerShare, low: Math.min(0, ...shares), high: Math.max(1e-3, ...shares) },
    ];
    plots.forEach((plot, index) => {
      const left = index * PLOT_WIDTH + MARGIN.left;
      const width = PLOT_WIDTH - MARGIN.left - MARGIN.right;
      const height = PLOT_HEIGHT - MARGIN.top - MARGIN.bottom;
      const x = (depth: number) => left + depth * width;
      const y = (value: number) => MARGIN.top + height * (1 - (value - plot.low) / (plot.high - plot.low || 1));
      drawText(context, this.theme, plot.title, left, 14, { maxWidth: width });
      context.strokeStyle = this.theme.mutedForeground;
      context.lineWidth = 1;
      context.strokeRect(left, MARGIN.top, width, height);
      context.fillStyle = this.theme.mutedForeground;
      context.font = themeFont(this.theme, 10);
      context.textAlign = 'right';
      for (const tick of [plot.low, plot.high]) context.fillText(formatValue(tick), left - 4, y(tick) + 3);
      context.textAlign = 'center';
      for (const depth of [0, 0.5, 1]) context.fillText(String(depth), x(depth), MARGIN.top + height + 12);
      context.fillText('needle depth', left + width / 2, MARGIN.top + height + 26);
      context.textAlign = 'left';
      for (const model of report.models) {
        context.strokeStyle = context.fillStyle = colour(model);
        context.lineWidth = 2;
        context.beginPath();
        model.byDepth.forEach((d, i) => (i === 0 ? context.moveTo(x(d.depth), y(plot.value(d))) : context.lineTo(x(d.depth), y(plot.value(d)))));
        context.stroke();
        for (const d of model.byDepth) context.fillRect(x(d.depth) - 2.5, y(plot.value(d)) - 2.5, 5, 5);
      }
    });
    // The legend: one line under the plots.
    report.models.forEach((model, i) => {
      drawText(context, this.theme, `■ ${model.model} (${model.kind})`, MARGIN.left + i * 200, PLOT_HEIGHT + LEGEND_HEIGHT - 4, { color: colour(model), maxWidth: 190 });
    });
    this.drawGrid(report, colour);
  }

  /** Each model's accuracy heatmap, side by side: the cells painted as one image, then scaled. */
  private drawGrid(report: NeedleReport, colour: (model: NeedleSummary) => string): void {
    if (this.grid.hidden) return;
    const width = report.models.length * PLOT_WIDTH;
    const height = PLOT_HEIGHT + GRID_LEGEND_HEIGHT;
    const context = sizeCanvas(this.grid, width, height);
    context.clearRect(0, 0, width, height);
    this.gridLayouts = report.models.map((model, index) => ({
      model,
      lengths: distinct(model.grid.map((cell) => cell.length)),
      depths: distinct(model.grid.map((cell) => cell.depth)),
      left: index * PLOT_WIDTH + MARGIN.left,
      top: MARGIN.top,
      width: PLOT_WIDTH - MARGIN.left - MARGIN.right,
      height: PLOT_HEIGHT - MARGIN.top - MARGIN.bottom,
    }));
    describeElement(this.grid, { lengths: this.gridLayouts[0]?.lengths.join(',') ?? '', depths: this.gridLayouts[0]?.depths.join(',') ?? '' });
    for (const layout of this.gridLayouts) {
      const { model, lengths, depths, left, top, width: gridWidth, height: gridHeight } = layout;
      if (lengths.length === 0) continue;
      const scale = new ColorScale(this.theme, colour(model), false, 1);
      // One pixel per cell (rows: depths, columns: lengths), stretched to the grid unsmoothed.
      const values = new Float32Array(lengths.length * depths.length);
      for (const cell of model.grid) values[depths.indexOf(cell.depth) * lengths.length + lengths.indexOf(cell.length)] = cell.accuracy;
      const cells = document.createElement('canvas');
      cells.width = lengths.length;
      cells.height = depths.length;
      putScaledValues(cells.getContext('2d')!, new ImageData(lengths.length, depths.length), values, scale);
      context.imageSmoothingEnabled = false;
      context.drawImage(cells, left, top, gridWidth, gridHeight);
      context.strokeStyle = this.theme.mutedForeground;
      context.lineWidth = 1;
      context.strokeRect(left, top, gridWidth, gridHeight);

      drawText(context, this.theme, `${model.model} (${model.kind}): accuracy`, left, 14, { maxWidth: gridWidth });
      const cellWidth = gridWidth / lengths.length;
      const cellHeight = gridHeight / depths.length;
      context.font = themeFont(this.theme, 10);
      context.textAlign = 'center';
      if (cellWidth >= CELL_TEXT_ROOM.width && cellHeight >= CELL_TEXT_ROOM.height) {
        // Dark text on bright cells and the other way round, whatever the theme.
        for (const cell of model.grid) {
          context.fillStyle = cell.accuracy > 0.5 ? this.theme.background : this.theme.foreground;
          const x = left + (lengths.indexOf(cell.length) + 0.5) * cellWidth;
          const y = top + (depths.indexOf(cell.depth) + 0.5) * cellHeight + 3;
          context.fillText(`${Math.round(100 * cell.accuracy)}%`, x, y);
        }
      }
      context.fillStyle = this.theme.mutedForeground;
      const labelled = cellWidth >= LENGTH_LABEL_WIDTH ? lengths.map((_, i) => i) : distinct([0, lengths.length - 1]);
      for (const i of labelled) context.fillText(formatTokens(lengths[i]), left + (i + 0.5) * cellWidth, top + gridHeight + 12);
      context.fillText('document length (tokens)', left + gridWidth / 2, top + gridHeight + 26);
      context.textAlign = 'right';
      for (const i of distinct([0, Math.floor(depths.length / 2), depths.length - 1])) {
        context.fillText(formatDepth(depths[i]), left - 4, top + (i + 0.5) * cellHeight + 3);
      }
      context.save();
      context.translate(left - 30, top + gridHeight / 2);
      context.rotate(-Math.PI / 2);
      context.textAlign = 'center';
      context.fillText('depth', 0, 0);
      context.restore();
      drawLegend(context, this.theme, scale, 'accuracy', left, top + gridHeight + 32, gridWidth);
    }
  }

  /** The readout for the cell under the pointer (CSS px in the grid canvas). */
  private showCellAt(x: number, y: number): void {
    const layout = this.gridLayouts.find((l) => x >= l.left && x < l.left + l.width && y >= l.top && y < l.top + l.height);
    const length = layout?.lengths[Math.floor(((x - layout.left) / layout.width) * layout.lengths.length)];
    const depth = layout?.depths[Math.floor(((y - layout.top) / layout.height) * layout.depths.length)];
    const cell = layout?.model.grid.find((c) => c.length === length && c.depth === depth);
    this.gridReadout.textContent = layout && cell ? `${layout.model.model} (${layout.model.kind}): ${describeCell(cell)}` : GRID_HINT;
  }
}

/** Ascending, each value once. */
function distinct(values: readonly number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

function formatTokens(tokens: number): string {
  return tokens.toLocaleString('en-US');
}

/** 0, 0.25, 0.33…: depths are fractions, two decimals tell them apart. */
function formatDepth(depth: number): string {
  return String(Number(depth.toFixed(2)));
}

function describeCell(cell: GridCell): string {
  return `${formatTokens(cell.length)} tokens, depth ${formatDepth(cell.depth)}: accuracy ${Math.round(100 * cell.accuracy)}%, answer share ${formatValue(cell.answerShare)}`;
}

/** A model's grid as text: each length's accuracy at each depth. */
function describeGrid(model: NeedleSummary): string {
  const lengths = distinct(model.grid.map((cell) => cell.length)).map((length) => {
    const cells = model.grid.filter((cell) => cell.length === length);
    return `${formatTokens(length)} tokens: ${cells.map((cell) => `${Math.round(100 * cell.accuracy)}% at depth ${formatDepth(cell.depth)}`).join(', ')}`;
  });
  return `${model.model} (${model.kind}) accuracy: ${lengths.join('; ')}.`;
}
