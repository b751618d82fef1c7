// Export View as SVG on the Explain tab (for papers): the bar lists the tab shows, as
// shared/svgChart.ts writes them. One row per component (then, when a head is open, per source
// token): its name as a tick label, the A1·V part from zero, the −λ·A2·V part from where A1 ended,
// and a mark at the net, on a signed axis whose zero and ticks are vector lines. The title names
// the query, the target and its logit; the x axis says what the parts are (the linearisation).

import type { ExplainPart } from '../shared/explain';
import type { SourceRow } from '../shared/sourceRanking';
import { chartsSvg, type SvgChart } from '../shared/svgChart';
import { visibleText } from '../shared/tokenText';
import type { Theme } from './colors';
import { axisScale, barSegments, partLabel } from './explainLayout';
import type { ShownExplanation } from './types';
import { formatValue } from './valueText';

/** The plot's width (px) and one row's height. */
const PLOT_WIDTH = 480;
const ROW_HEIGHT = 18;
/** Ticks of the signed axis on each side of zero. */
const TICKS_A_SIDE = 2;

export interface ExplainExport {
  explanation: ShownExplanation;
  /** The rows the tab lists: its components, and the open head's source tokens. */
  parts: readonly ExplainPart[];
  sources?: { layer: number; head: number; rows: readonly SourceRow[] };
  /** The text of each token of the run, by index. */
  tokens: readonly string[];
}

export function explainSvg({ explanation, parts, sources, tokens }: ExplainExport, theme: Theme): string {
  const { query, target, versus, logit, finalScale } = explanation;
  const queryText = tokens[query] === undefined ? '' : ` «${visibleText(tokens[query])}»`;
  const title = `Query ${query}${queryText} → ${visibleText(target.text)}${versus ? ` versus ${visibleText(versus.text)}` : ''} · ${versus ? 'logit difference' : 'logit'} ${formatValue(logit)}`;
  const axisTitle = `direct part of the logit (final norm's scale held at ${formatValue(finalScale)}: the parts add up to it)`;
  const componentRows = parts.map((part) => ({ label: partLabel(part), values: part }));
  const charts: [SvgChart, ...SvgChart[]] = [barChart(title, axisTitle, 'component', componentRows, axisScale(explanation.parts), theme)];
  if (sources) {
    const rows = sources.rows.map(({ token, a1, a2, net }) => ({ label: `${visibleText(tokens[token] ?? '')} #${token}`, values: { a1, a2, total: net } }));
    const scale = axisScale(sources.rows.map((row) => ({ a1: row.a1, total: row.net })));
    charts.push(barChart(`Layer ${sources.layer} head ${sources.head} over the source tokens of query ${query}`, axisTitle, 'source token', rows, scale, theme));
  }
  return chartsSvg(charts);
}

interface BarRow {
  label: string;
  values: { a1?: number; a2?: number; total: number };
}

/** A bar list as a chart: rows top to bottom, zero in the middle, ±scale at the plot's edges. */
function barChart(title: string, axisTitle: string, rowTitle: string, rows: readonly BarRow[], scale: number, theme: Theme): SvgChart {
  const half = PLOT_WIDTH / 2;
  const x = (fraction: number) => half + fraction * half;
  const rects = rows.flatMap(({ values }, index) => {
    const top = index * ROW_HEIGHT;
    const { segments, net } = barSegments(values, scale);
    const bars = segments.map((segment, order) => {
      // The A2 part is drawn thinner, over the A1 part it takes back from (as on the tab).
      const inset = order === 0 ? 3 : 6;
      const fill = segment.kind === 'a1' ? theme.positive : segment.kind === 'a2' ? theme.negative : theme.bars;
      return { x: Math.min(x(segment.from), x(segment.to)), y: top + inset, width: Math.abs(x(segment.to) - x(segment.from)), height: ROW_HEIGHT - 2 * inset, fill, role: segment.kind };
    });
    return [...bars, { x: x(net) - 1, y: top, width: 2, height: ROW_HEIGHT, fill: theme.foreground, role: 'net' }];
  });
  const height = Math.max(1, rows.length) * ROW_HEIGHT;
  const ticks = Array.from({ length: 2 * TICKS_A_SIDE + 1 }, (_, i) => (i - TICKS_A_SIDE) / TICKS_A_SIDE);
  return {
    title,
    width: PLOT_WIDTH,
    height,
    x: { title: axisTitle, ticks: ticks.map((fraction) => ({ at: x(fraction), label: formatValue(fraction * scale) })) },
    y: { title: rowTitle, ticks: rows.map(({ label }, index) => ({ at: (index + 0.5) * ROW_HEIGHT, label })) },
    rects: [{ x: half - 0.5, y: 0, width: 1, height, fill: theme.mutedForeground, role: 'zero' }, ...rects],
    colors: { background: theme.background, foreground: theme.foreground, muted: theme.mutedForeground, highlight: theme.highlight },
    font: theme.uiFont,
  };
}
