// The heatmap's token labels, drawn on canvas along its rows (left of the map) or columns (above
// it) for the tokens its viewport shows, and the room they get: a short panel gives the map most
// of its width, the labels what is left.

import type { MapViewport, TokenInfo } from '../shared/inspection';
import { sizeCanvas, themeFont } from './canvas';
import type { Theme } from './colors';
import { visibleText } from './format';
import { describeElement, element } from './view';
import type { TokenRange } from './viewport';

/** Room for the token labels left of and above the map (CSS px) in a frame wide enough for it. */
export const LABEL_SPACE = 96;
/** The least room for labels: an index or a few characters. */
const MIN_LABEL_SPACE = 32;
/** The share of the frame's width the labels take when that is less than LABEL_SPACE. */
const LABEL_SHARE = 0.3;
/** Below this cell side labels are thinned out to every few tokens. */
const LABEL_FONT_MAX = 12;
const LABEL_FONT_MIN = 9;

/** The labels' room in a heatmap frame `frameWidth` px wide (also their height above the map):
 *  LABEL_SPACE, less in a narrow frame (a short panel) so that the map keeps most of the width. */
export function labelSpaceFor(frameWidth: number): number {
  return Math.round(Math.max(MIN_LABEL_SPACE, Math.min(LABEL_SPACE, frameWidth * LABEL_SHARE)));
}

/** What drawTokenLabels drew: each label's token and the centre of its line along the axis (CSS
 *  px), and the pitch, the least distance between two centres that keeps labels apart. */
export interface DrawnLabels {
  labels: { index: number; centre: number }[];
  pitch: number;
}

/** Token labels of the tokens `shown` (token `shown.first` at the start of the axis, `tokenPx` px
 *  apart) along the rows (right-aligned, left of the map) or columns (vertical, above it) in
 *  `space` px: every token when they are tall enough for text, otherwise every stride-th with its
 *  index (the multiples of the stride, so that they stay put while the map pans). The locked
 *  query's label is drawn when it is shown, in the highlight colour on the background, and the
 *  labels that would overlap it are left out. */
export function drawTokenLabels(
  context: CanvasRenderingContext2D,
  theme: Theme,
  tokens: readonly TokenInfo[],
  axis: 'rows' | 'columns',
  tokenPx: number,
  x: number,
  y: number,
  locked: number,
  space = LABEL_SPACE,
  shown: TokenRange = { first: 0, end: tokens.length },
): DrawnLabels {
  const fontPx = Math.max(LABEL_FONT_MIN, Math.min(LABEL_FONT_MAX, tokenPx - 2));
  const pitch = fontPx + 2;
  const stride = Math.max(1, Math.ceil(pitch / tokenPx));
  context.font = themeFont(theme, fontPx, 'token');
  context.textBaseline = 'middle';
  // Texts are cut to the characters the room holds rather than squeezed by fillText's maxWidth.
  const fits = Math.max(1, Math.floor((space - 8) / context.measureText('0').width));
  const centreOf = (index: number) => Math.max(fontPx / 2, (index - shown.first + 0.5) * tokenPx); // the first label stays whole
  const label = (index: number, highlighted: boolean): void => {
    const prefix = stride === 1 ? '' : `${index} `;
    const text = prefix + visibleText(tokens[index].text, Math.max(1, Math.min(stride === 1 ? 12 : 8, fits - prefix.length)));
    const along = centreOf(index);
    context.fillStyle = highlighted ? theme.highlight : theme.mutedForeground;
    context.save();
    if (axis === 'rows') {
      context.textAlign = 'right';
      context.translate(x + space - 4, y + along);
    } else {
      context.textAlign = 'left';
      context.translate(x + along, y + space - 4);
      context.rotate(-Math.PI / 2);
    }
    if (highlighted) {
      const width = Math.min(space - 4, context.measureText(text).width + 4);
      context.fillStyle = theme.background;
      context.fillRect(axis === 'rows' ? -width : -2, -fontPx / 2 - 1, width, pitch);
      context.fillStyle = theme.highlight;
    }
    context.fillText(text, 0, 0, space - 8);
    context.restore();
  };
  const end = Math.min(shown.end, tokens.length);
  const hasLocked = locked >= shown.first && locked < end;
  const clearOfLocked = (index: number) => !hasLocked || Math.abs(centreOf(index) - centreOf(locked)) >= pitch;
  const drawn: number[] = [];
  for (let index = Math.ceil(shown.first / stride) * stride; index < end; index += stride) if (index !== locked && clearOfLocked(index)) drawn.push(index);
  if (hasLocked) drawn.push(locked);
  for (const index of drawn) label(index, index === locked);
  return { labels: drawn.map((index) => ({ index, centre: centreOf(index) })), pitch };
}

/** The heatmap's two label canvases: its query rows' tokens left of the map, its keys' above it,
 *  for the viewport `target` it shows, `tokenPx` CSS px a token, in `space` px of room. */
export class TokenLabels {
  readonly rows = element('canvas', 'row-labels');
  readonly columns = element('canvas', 'column-labels');

  /** The rows' labels, the locked query's highlighted and clear of the others. */
  drawRows(theme: Theme, tokens: readonly TokenInfo[], target: MapViewport | undefined, tokenPx: number, space: number, query: number): void {
    const side = target ? (target.endRow - target.firstRow) * tokenPx : 0;
    const context = sizeCanvas(this.rows, space, side);
    const shown = target && { first: target.firstRow, end: target.endRow };
    const drawn = drawTokenLabels(context, theme, shown ? tokens : [], 'rows', tokenPx || 1, 0, 0, query, space, shown);
    describeLabels(this.rows, drawn);
  }

  drawColumns(theme: Theme, tokens: readonly TokenInfo[], target: MapViewport | undefined, tokenPx: number, space: number): void {
    const side = target ? (target.endKey - target.firstKey) * tokenPx : 0;
    const context = sizeCanvas(this.columns, side, space);
    const shown = target && { first: target.firstKey, end: target.endKey };
    drawTokenLabels(context, theme, shown ? tokens : [], 'columns', tokenPx || 1, 0, 0, -1, space, shown);
  }
}

/** Says on a labels canvas which token labels it drew, where (data-labels: "index:centre …", CSS
 *  px along the axis) and how far apart they must be (data-label-pitch): canvas text is not in the
 *  page, and a test checks that none overlaps the locked row's. */
function describeLabels(canvas: HTMLCanvasElement, { labels, pitch }: DrawnLabels): void {
  describeElement(canvas, { labels: labels.map(({ index, centre }) => `${index}:${centre}`).join(' '), labelPitch: pitch });
}
