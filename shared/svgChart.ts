// Export for papers: a chart as a standalone SVG document, vector text and lines around an embedded
// raster. Pure (no DOM, no Node, no VS Code), so the panel's views can each describe what they show
// as an SvgChart and share this one writer: the heatmap's Export View (webview/heatmapPicture.ts)
// passes its map as a PNG; a bar chart passes `bars`, or, for bars of its own geometry (the Explain
// tab's signed A1 and −λ·A2 segments, webview/explainSvg.ts), filled `rects`; a graph (the Flow
// tab's, webview/flowSvg.ts) passes `lines` and `circles`. Several charts can stack in one document
// (chartsSvg).
// Every text (titles, tick labels: a model's tokens, the user's file names) is escaped as XML
// character data, so a token such as `</svg><script>` is shown, never parsed.

/** One axis: its title and its ticks, each at a position along the axis in plot units (0 = the
 *  plot's left edge for x, its top edge for y). */
export interface SvgAxis {
  title: string;
  ticks: readonly { at: number; label: string }[];
}

/** Bars from a baseline, one per category: category i spans [i, i + 1) * width / values.length
 *  along x; a value v is drawn from `min`..`max` mapped onto the plot's height (bottom to top), so
 *  the bar of v runs from the level of max(min, 0) to v's. */
export interface SvgBars {
  values: readonly number[];
  min: number;
  max: number;
  /** One colour, or one per bar. */
  colors: string | readonly string[];
}

/** A colour legend under the plot: a gradient through `colors` (evenly spaced) from `min` to `max`. */
export interface SvgLegend {
  caption: string;
  colors: readonly string[];
  min: string;
  max: string;
}

export interface SvgChart {
  title: string;
  /** The plot area's size in SVG px. */
  width: number;
  height: number;
  x: SvgAxis;
  y: SvgAxis;
  /** A PNG (data URL) stretched over the whole plot area, one image pixel per cell, not smoothed. */
  image?: string;
  bars?: SvgBars;
  /** Outlined rectangles over the plot (plot units): a highlighted row, a selected head. */
  marks?: readonly { x: number; y: number; width: number; height: number }[];
  /** Filled rectangles over the plot (plot units), each named by its `role` (its class). */
  rects?: readonly { x: number; y: number; width: number; height: number; fill: string; role: string }[];
  /** Lines over the plot (plot units), each named by its `role` (its class); dashed ones 4 on, 3 off. */
  lines?: readonly { x1: number; y1: number; x2: number; y2: number; stroke: string; width: number; dashed: boolean; opacity: number; role: string }[];
  /** Filled circles over the plot (plot units), each named by its `role` and described by its `title`
   *  (a tooltip, and what a reader of the file finds). */
  circles?: readonly { x: number; y: number; radius: number; fill: string; role: string; title: string }[];
  legend?: SvgLegend;
  colors: { background: string; foreground: string; muted: string; highlight: string };
  /** CSS font-family of the text. */
  font: string;
}

/** Room around the plot (px): tick labels and axis titles, the title above, the legend below. */
const TITLE_HEIGHT = 28;
const TICK_LABEL_SPACE = 96;
const AXIS_TITLE_SPACE = 18;
const LEGEND_HEIGHT = 44;
const MARGIN = 8;
const FONT_SIZE = 11;

/** The SVG document of a chart (UTF-8 text, with its XML declaration). */
export function chartSvg(chart: SvgChart): string {
  return chartsSvg([chart]);
}

/** One document of several charts, one under the other, on the first chart's background and font. */
export function chartsSvg(charts: readonly [SvgChart, ...SvgChart[]]): string {
  const laid = charts.map((chart, index) => chartBody(chart, `legend-scale-${index}`));
  const width = Math.max(...laid.map((chart) => chart.width));
  const height = laid.reduce((total, chart) => total + chart.height, 0);
  const { background, foreground } = charts[0].colors;
  let top = 0;
  const bodies = laid.map((chart) => {
    const body = [`<g transform="translate(0 ${top})">`, ...chart.parts.map((part) => `  ${part}`), '</g>'];
    top += chart.height;
    return body;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${attr(charts[0].font)}" font-size="${FONT_SIZE}" fill="${attr(foreground)}">`,
    `  <rect width="${width}" height="${height}" fill="${attr(background)}"/>`,
    ...bodies.flat().map((part) => `  ${part}`),
    '</svg>',
    '',
  ].join('\n');
}

/** A chart's elements from (0, 0), and the room they take. */
function chartBody(chart: SvgChart, legendId: string): { parts: string[]; width: number; height: number } {
  const left = MARGIN + AXIS_TITLE_SPACE + TICK_LABEL_SPACE;
  const top = TITLE_HEIGHT;
  const legendTop = top + chart.height + TICK_LABEL_SPACE + AXIS_TITLE_SPACE;
  const width = Math.ceil(left + chart.width + MARGIN);
  const height = Math.ceil(legendTop + (chart.legend ? LEGEND_HEIGHT : 0) + MARGIN);
  const { muted, highlight } = chart.colors;
  const parts = [
    text(chart.title, MARGIN, 18, { size: 13 }),
    `<g transform="translate(${left} ${top})">`,
    ...(chart.image ? [`<image width="${num(chart.width)}" height="${num(chart.height)}" preserveAspectRatio="none" style="image-rendering:pixelated;image-rendering:crisp-edges" href="${attr(chart.image)}"/>`] : []),
    ...(chart.bars ? bars(chart.bars, chart.width, chart.height) : []),
    ...(chart.rects ?? []).map((r) => `<rect class="${attr(r.role)}" x="${num(r.x)}" y="${num(r.y)}" width="${num(r.width)}" height="${num(r.height)}" fill="${attr(r.fill)}"/>`),
    ...(chart.lines ?? []).map((l) => `<line class="${attr(l.role)}" x1="${num(l.x1)}" y1="${num(l.y1)}" x2="${num(l.x2)}" y2="${num(l.y2)}" stroke="${attr(l.stroke)}" stroke-width="${num(l.width)}" stroke-opacity="${num(l.opacity)}"${l.dashed ? ' stroke-dasharray="4 3"' : ''}/>`),
    ...(chart.circles ?? []).map((c) => `<circle class="${attr(c.role)}" cx="${num(c.x)}" cy="${num(c.y)}" r="${num(c.radius)}" fill="${attr(c.fill)}"><title>${escapeXml(c.title)}</title></circle>`),
    ...(chart.marks ?? []).map((m) => `<rect x="${num(m.x)}" y="${num(m.y)}" width="${num(m.width)}" height="${num(m.height)}" fill="none" stroke="${attr(highlight)}"/>`),
    `<rect width="${num(chart.width)}" height="${num(chart.height)}" fill="none" stroke="${attr(muted)}"/>`,
    ...chart.y.ticks.map(({ at, label }) => `<line x1="-4" x2="0" y1="${num(at)}" y2="${num(at)}" stroke="${attr(muted)}"/>` + text(label, -6, at, { anchor: 'end', middle: true })),
    ...chart.x.ticks.map(({ at, label }) => `<line x1="${num(at)}" x2="${num(at)}" y1="${num(chart.height)}" y2="${num(chart.height + 4)}" stroke="${attr(muted)}"/>` + text(label, 0, 0, { anchor: 'end', middle: true, transform: `translate(${num(at)} ${num(chart.height + 6)}) rotate(-60)` })),
    text(chart.x.title, chart.width / 2, chart.height + TICK_LABEL_SPACE + 12, { anchor: 'middle' }),
    text(chart.y.title, 0, 0, { anchor: 'middle', transform: `translate(${-TICK_LABEL_SPACE - 6} ${num(chart.height / 2)}) rotate(-90)` }),
    '</g>',
    ...(chart.legend ? legend(chart.legend, legendId, MARGIN, legendTop, Math.min(480, width - 2 * MARGIN), muted) : []),
  ];
  return { parts, width, height };
}

function bars({ values, min, max, colors }: SvgBars, width: number, height: number): string[] {
  const level = (v: number) => height * (1 - (Math.min(max, Math.max(min, v)) - min) / (max - min || 1));
  const base = level(Math.max(min, 0));
  const step = width / Math.max(1, values.length);
  return values.map((v, i) => {
    const [y0, y1] = [level(v), base].sort((a, b) => a - b);
    const fill = typeof colors === 'string' ? colors : colors[i];
    return `<rect x="${num(i * step + step * 0.1)}" y="${num(y0)}" width="${num(step * 0.8)}" height="${num(y1 - y0)}" fill="${attr(fill)}"/>`;
  });
}

function legend({ caption, colors, min, max }: SvgLegend, id: string, x: number, y: number, width: number, muted: string): string[] {
  const stops = colors.map((c, i) => `<stop offset="${num(colors.length > 1 ? i / (colors.length - 1) : 0)}" stop-color="${attr(c)}"/>`);
  return [
    `<defs><linearGradient id="${id}">${stops.join('')}</linearGradient></defs>`,
    text(caption, x, y + 11),
    `<rect x="${x}" y="${y + 16}" width="${num(width)}" height="10" fill="url(#${id})" stroke="${attr(muted)}"/>`,
    text(min, x, y + 38),
    text(max, x + width, y + 38, { anchor: 'end' }),
  ];
}

function text(content: string, x: number, y: number, options: { anchor?: 'start' | 'middle' | 'end'; middle?: boolean; size?: number; transform?: string } = {}): string {
  const attributes = [
    `x="${num(x)}"`,
    `y="${num(y)}"`,
    ...(options.anchor && options.anchor !== 'start' ? [`text-anchor="${options.anchor}"`] : []),
    ...(options.middle ? ['dominant-baseline="middle"'] : []),
    ...(options.size ? [`font-size="${options.size}"`] : []),
    ...(options.transform ? [`transform="${options.transform}"`] : []),
  ];
  // xml:space keeps a token's leading or repeated spaces.
  return `<text xml:space="preserve" ${attributes.join(' ')}>${escapeXml(content)}</text>`;
}

/** A number as SVG writes it: at most 3 decimals. */
function num(value: number): string {
  return String(Math.round(value * 1000) / 1000);
}

/** Characters XML 1.0 does not allow in a document (most control characters, lone surrogates,
 *  U+FFFE and U+FFFF), which a token may hold: each is written as U+FFFD. */
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Text as XML character data or an attribute value: &, <, >, " and ' as entities. */
export function escapeXml(value: string): string {
  return value.replace(NOT_XML, '\uFFFD').replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]};`);
}

const attr = escapeXml;
