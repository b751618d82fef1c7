// The Needle Test's results: per model, retrieval accuracy and where the queries' attention goes
// (answer span, noise context, the query itself), as a table (#needle-table: a row per model with
// data-kind, each number a cell with data-metric), and accuracy and answer share by needle depth
// drawn on one canvas (#needle-chart), the model in the "positive" hue and the baseline in the other.

import type { NeedleReport, NeedleSummary } from '../shared/needleTest';
import { drawText, sizeCanvas, themeFont } from './canvas';
import type { Theme } from './colors';
import { formatValue } from './format';
import type { PanelState } from './state';
import { element, textElement, whenChanged, type PanelView } from './view';

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

/** The Needle Test tab (#needles). */
export class NeedlesView implements PanelView {
  readonly element = element('div', 'tab-content needles', 'needles');
  private readonly heading = element('div', 'needle-heading');
  private readonly table = element('table', 'data-table', 'needle-table');
  private readonly chart = element('canvas', undefined, 'needle-chart');
  private report: NeedleReport | undefined;

  constructor(private theme: Theme) {
    this.chart.setAttribute('aria-label', 'Retrieval accuracy and attention share on the answer, by needle depth, for each model');
    this.element.append(this.heading, this.table, this.chart);
  }

  render(state: PanelState): void {
    this.show(state.needles);
  }

  /** The last Needle Test's results (they outlive inspections), drawn again only when new. */
  private readonly show = whenChanged((report: NeedleReport | undefined) => {
    this.report = report;
    this.table.hidden = this.chart.hidden = !report;
    if (!report) {
      this.heading.textContent =
        'Run “DiffTransformer: Needle Test” in a document: it hides key/value needles in scratch copies of it and asks the model and its baseline to retrieve them.';
      return;
    }
    const { source, needles, queries, trials, form, tokens } = report;
    this.heading.textContent =
      `Needle Test on ${source}: ${needles} needle${needles > 1 ? 's' : ''}, ${queries} quer${queries > 1 ? 'ies' : 'y'} per document (${form} form), ` +
      `${trials} documents of up to ${tokens} tokens with the queried needles at depths 0…1. Accuracy: greedy decoding after the query gives exactly the value. ` +
      'Shares: attention of the query’s last token on the needle’s value, on other context (noise) and on the query, averaged over layers and heads, ' +
      'each head’s row divided by its absolute mass Σ|a| (the plain shares for a softmax; for DIFF’s A1 − λ·A2 signed shares in −1…1, negative where the head cancels attention).';
    this.renderTable(report.models);
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
  }
}
