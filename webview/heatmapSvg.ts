// Export View as SVG (for papers): the heatmap's map as last computed, as shared/svgChart.ts writes
// it: the cells as an embedded PNG (the canvas itself, one pixel per cell), the tokens as tick
// labels, the title, the locked query's row and the colour legend as vector text and lines.

import { viewportCells } from '../shared/inspection';
import { chartSvg, type SvgAxis } from '../shared/svgChart';
import type { ColorScale, Theme } from './colors';
import { formatValue, visibleText } from './format';
import { legendCaption, MAX_CELL, type ExportedMap } from './heatmapPicture';

/** The plot's longer side (px) when a cell would be smaller than MAX_CELL. */
const PLOT_SIDE = 768;
/** At most this many tick labels an axis: a label every few cells beyond. */
const MAX_TICKS = 64;
/** Colours sampled along the legend's gradient. */
const LEGEND_STOPS = 17;

export function heatmapSvg({ cells, map, scale, tokens, query }: ExportedMap, theme: Theme, title: string): string {
  const { viewport } = map;
  const { rows, cols } = viewportCells(viewport);
  const cell = Math.min(MAX_CELL, PLOT_SIDE / Math.max(rows, cols));
  const axis = (title: string, first: number, end: number, count: number): SvgAxis => {
    const every = Math.ceil(count / MAX_TICKS);
    const ticks = [];
    for (let c = 0; c < count; c += every) {
      const token = first + Math.ceil((c * (end - first)) / count); // the first token of cell c
      ticks.push({ at: (c + 0.5) * cell, label: `${visibleText(tokens[token]?.text ?? '')} ${token}` });
    }
    return { title, ticks };
  };
  const queryCell = viewportCells(viewport).cellOfRow(query);
  const holdsQuery = query >= viewport.firstRow && query < viewport.endRow;
  return chartSvg({
    title,
    width: cols * cell,
    height: rows * cell,
    x: axis('key token (index)', viewport.firstKey, viewport.endKey, cols),
    y: axis('query token (index)', viewport.firstRow, viewport.endRow, rows),
    image: cells.toDataURL('image/png'),
    marks: holdsQuery ? [{ x: 0, y: queryCell * cell, width: cols * cell, height: cell }] : [],
    legend: { caption: legendCaption(map, scale), colors: legendColors(scale), min: formatValue(scale.min), max: formatValue(scale.max) },
    colors: { background: theme.background, foreground: theme.foreground, muted: theme.mutedForeground, highlight: theme.highlight },
    font: theme.uiFont,
  });
}

function legendColors(scale: ColorScale): string[] {
  return Array.from({ length: LEGEND_STOPS }, (_, i) => scale.cssColor(scale.min + ((scale.max - scale.min) * i) / (LEGEND_STOPS - 1)));
}
