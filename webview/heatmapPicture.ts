// What a heatmap (heatmap.ts) draws around its cells, on screen and in Export View's picture: the
// size of a token, the colour legend with its caption, and the exported PNG, which composes the
// map as last computed with its token labels, legend and title.

import type { TokenInfo } from '../shared/inspection';
import { drawLegend, drawText, fillBackground } from './canvas';
import type { ColorScale, Theme } from './colors';
import { formatValue, VIEW_LABELS } from './format';
import { drawTokenLabels, LABEL_SPACE } from './heatmapLabels';
import type { ShownMap } from './types';
import { isPooled } from './viewport';

/** Largest token side (CSS px), so that a short text or a deep zoom does not give giant cells. */
export const MAX_CELL = 28;
export const LEGEND_HEIGHT = 40;
/** Side (px) the exported heatmap aims for. */
const EXPORT_SIDE = 768;

/** The legend's caption: the view, head and value range of a map, and how its cells pool. */
export function legendCaption(map: ShownMap, scale: ColorScale): string {
  const range = scale.signed ? `±${formatValue(scale.max)}` : `0…${formatValue(scale.max)}`;
  const pooled = isPooled(map.viewport) ? ` · cells: ${map.viewport.pooling}` : '';
  return `${VIEW_LABELS[map.view]} · layer ${map.layer} · head ${map.head} · ${range}${pooled} · colour ∝ √|value|`;
}

/** A heatmap as it is exported: its map's cells drawn on `cells` (one pixel a cell), on `scale`. */
export interface ExportedMap {
  cells: HTMLCanvasElement;
  map: ShownMap;
  scale: ColorScale;
  tokens: readonly TokenInfo[];
  query: number;
}

/** The map over its own viewport, its labels, legend and title composed into one PNG (data URL);
 *  a small picture that says so without a map. */
export function heatmapPng(shown: ExportedMap | undefined, theme: Theme, title: string): string {
  const canvas = document.createElement('canvas');
  const context = canvas.getContext('2d')!;
  if (!shown) {
    canvas.width = 320;
    canvas.height = 40;
    fillBackground(context, theme, canvas.width, canvas.height);
    drawText(context, theme, 'No map to export', 8, 24);
    return canvas.toDataURL('image/png');
  }
  const { cells, map, scale, tokens, query } = shown;
  const { viewport } = map;
  const rows = { first: viewport.firstRow, end: viewport.endRow };
  const keys = { first: viewport.firstKey, end: viewport.endKey };
  const span = Math.max(rows.end - rows.first, keys.end - keys.first);
  const tokenPx = span <= EXPORT_SIDE ? Math.max(1, Math.min(MAX_CELL, Math.floor(EXPORT_SIDE / span))) : EXPORT_SIDE / span;
  const [width, height] = [(keys.end - keys.first) * tokenPx, (rows.end - rows.first) * tokenPx];
  const titleHeight = 24;
  canvas.width = Math.ceil(LABEL_SPACE + width + 16);
  canvas.height = Math.ceil(titleHeight + LABEL_SPACE + height + 8 + LEGEND_HEIGHT);
  fillBackground(context, theme, canvas.width, canvas.height);
  drawText(context, theme, title, 8, 16, { maxWidth: canvas.width - 16 });
  const top = titleHeight + LABEL_SPACE;
  context.imageSmoothingEnabled = false;
  context.drawImage(cells, LABEL_SPACE, top, width, height);
  if (query >= rows.first && query < rows.end) {
    context.strokeStyle = theme.highlight;
    context.lineWidth = 1;
    context.strokeRect(LABEL_SPACE - 0.5, top + (query - rows.first) * tokenPx - 0.5, width + 1, Math.max(1, tokenPx) + 1);
  }
  drawTokenLabels(context, theme, tokens, 'rows', tokenPx, 0, top, query, LABEL_SPACE, rows);
  drawTokenLabels(context, theme, tokens, 'columns', tokenPx, LABEL_SPACE, titleHeight, -1, LABEL_SPACE, keys);
  drawLegend(context, theme, scale, legendCaption(map, scale), LABEL_SPACE, top + height + 8, Math.min(width, 480));
  return canvas.toDataURL('image/png');
}
