// The large T x T heatmap of one head's map (row = query, column = key). The map is one ImageData,
// one pixel per cell, put in a single call into #heatmap (whose drawing buffer stays exactly T x T
// so its pixels are the data's colours) and scaled up by CSS with image-rendering: pixelated.
// Token labels are drawn on two thin canvases (heatmapLabels.ts), thinned out when cells are small
// and given less room in a short panel; the hover readout gives every cell's exact value. The locked query row, the hover cross and the keyboard's focused
// cell are positioned <div>s, so highlighting never touches the data pixels. A row the user locks is
// marked at once (so that ↑/↓ step from it); the panel state's query replaces it when the host
// answers. The keyboard walks the focused cell (the locked row, a key column of it) and a live
// region says each cell it reaches; "View as table" lists the row's strongest keys (mapTable.ts).
// A caption under the readout says which softmax heads the map's A1 and A2 are; a model whose λ
// varies per token gets the λ strip beside the map (lambdaStrip.ts).

import type { TokenInfo } from '../shared/inspection';
import type { MapView } from '../shared/model';
import { drawLegend, drawText, fillBackground, putScaledValues, sizeCanvas } from './canvas';
import { scaleForView, type ColorScale, type Theme } from './colors';
import { formatValue, VIEW_LABELS } from './format';
import { drawTokenLabels, LABEL_SPACE, labelSpaceFor, type DrawnLabels } from './heatmapLabels';
import { LambdaStrip, STRIP_ROOM } from './lambdaStrip';
import { cellAfterKey, KEYBOARD_HELP, MapText, mapName, type MapCell } from './mapTable';
import { describeElement, element } from './view';

export interface ShownMap {
  runId: number;
  layer: number;
  head: number;
  view: MapView;
  size: number;
  data: Float32Array;
  /** λ of each query row for this head, for a model whose λ varies per token (DIFF V2). */
  lambda?: Float32Array;
}

/** Largest cell side (CSS px), so that a short text does not give giant cells. */
const MAX_CELL = 28;
const LEGEND_HEIGHT = 40;
/** Side (px) the exported heatmap aims for. */
const EXPORT_SIDE = 768;

export class HeatmapView {
  readonly canvas: HTMLCanvasElement;
  private readonly context: CanvasRenderingContext2D;
  private readonly frame: HTMLElement;
  private readonly rowLabels: HTMLCanvasElement;
  private readonly columnLabels: HTMLCanvasElement;
  private readonly lockedRow: HTMLElement;
  private readonly hoverRow: HTMLElement;
  private readonly hoverColumn: HTMLElement;
  private readonly focusCell: HTMLElement;
  private readonly legend: HTMLCanvasElement;
  private readonly caption: HTMLElement;
  private readonly strip: LambdaStrip;
  private readonly text: MapText;
  private image: ImageData | undefined;
  private map: ShownMap | undefined;
  private scale: ColorScale | undefined;
  private tokens: readonly TokenInfo[] = [];
  private query = 0;
  /** The key column of the keyboard's focused cell (its row is the locked query). */
  private focusKey = 0;
  private cellPx = 1;
  /** The token labels' room left of and above the map (CSS px), less in a short panel. */
  private labelSpace = LABEL_SPACE;
  private hoverQuery = -1;
  private hoverKey = -1;
  private hoverFrame = 0;
  private pointerX = NaN;
  private pointerY = NaN;
  /** What the last render() was given: the state's map, tokens and query. */
  private rendered: { map?: ShownMap; tokens?: readonly TokenInfo[]; query?: number } = {};

  constructor(
    parent: HTMLElement,
    private theme: Theme,
    private readonly onLockQuery: (query: number) => void,
    /** Prefixes the element ids (#heatmap, #legend, #readout) of a second map on the page. */
    idPrefix = '',
  ) {
    this.frame = element('div', 'heatmap-frame');
    const grid = element('div', 'heatmap-grid');
    this.rowLabels = element('canvas', 'row-labels');
    this.columnLabels = element('canvas', 'column-labels');
    const stack = element('div', 'heatmap-stack');
    this.canvas = element('canvas', 'heatmap-canvas', `${idPrefix}heatmap`);
    this.canvas.tabIndex = 0;
    // A widget with its own keys: screen readers pass them through and hear the live region.
    this.canvas.setAttribute('role', 'application');
    this.canvas.setAttribute('aria-roledescription', 'heatmap grid');
    this.canvas.setAttribute('aria-description', KEYBOARD_HELP);
    this.canvas.setAttribute('aria-label', mapName(undefined));
    this.context = this.canvas.getContext('2d')!;
    this.lockedRow = element('div', 'locked-row');
    this.hoverRow = element('div', 'hover-row');
    this.hoverColumn = element('div', 'hover-column');
    this.focusCell = element('div', 'focus-cell');
    this.lockedRow.hidden = this.hoverRow.hidden = this.hoverColumn.hidden = this.focusCell.hidden = true;
    stack.append(this.canvas, this.lockedRow, this.hoverRow, this.hoverColumn, this.focusCell);
    this.strip = new LambdaStrip(idPrefix, (query) => (query === undefined ? this.showReadout() : this.text.showLambda(query)));
    grid.append(element('div', 'heatmap-corner'), this.columnLabels, this.strip.label, this.rowLabels, stack, this.strip.canvas);
    this.frame.append(grid);
    this.legend = element('canvas', 'legend', `${idPrefix}legend`);
    this.caption = element('div', 'heatmap-caption', `${idPrefix}heatmap-caption`);
    this.text = new MapText(idPrefix);
    parent.append(this.text.toolbar, this.caption, this.text.announcer, this.frame, this.legend, this.text.table);

    // Pointer positions are kept as client coordinates and turned into cells once per frame
    // (event.offsetX is rounded to whole pixels, which picks the wrong cell on subpixel layouts).
    this.canvas.addEventListener('pointermove', (event) => this.hover(event.clientX, event.clientY));
    this.canvas.addEventListener('pointerleave', () => this.hover(NaN, NaN));
    this.canvas.addEventListener('click', (event) => {
      const cell = this.cellAt(event.clientX, event.clientY);
      if (cell.query >= 0) this.focusOn(cell);
    });
    this.canvas.addEventListener('keydown', (event) => this.onKey(event));
    // The readout follows the focused cell while the map has the focus, which starts on that cell.
    this.canvas.addEventListener('focus', () => {
      this.showReadout();
      this.text.announce({ query: this.query, key: this.focusKey });
    });
    this.canvas.addEventListener('blur', () => this.showReadout());
    new ResizeObserver(() => this.layout()).observe(this.frame);
  }

  /** Shows the panel state's map and locked query: draws only a new map (or tokens), and moves the
   *  locked row only when the state's query changed, so a row the user just locked stays marked.
   *  `caption` says what the map's head is made of (its softmax heads). */
  render(map: ShownMap | undefined, tokens: readonly TokenInfo[], query: number, caption = ''): void {
    if (this.caption.textContent !== caption) this.caption.textContent = this.caption.title = caption;
    const { rendered } = this;
    if (map !== rendered.map || (map && tokens !== rendered.tokens)) {
      if (map) this.show(map, tokens, query);
      else this.clear();
    } else if (query !== rendered.query) this.setQuery(query);
    this.rendered = { map, tokens, query };
  }

  /** Draws a map with one putImageData. */
  private show(map: ShownMap, tokens: readonly TokenInfo[], query: number): void {
    this.map = map;
    this.tokens = tokens;
    this.query = query;
    this.focusKey = Math.min(this.focusKey, query);
    const { size } = map;
    if (this.canvas.width !== size || this.canvas.height !== size) {
      this.canvas.width = size;
      this.canvas.height = size;
    }
    if (!this.image || this.image.width !== size) this.image = this.context.createImageData(size, size);
    this.paint();
    this.strip.show(map.lambda, this.theme);
    this.cellPx = 0; // forces the layout (labels, overlays) for the new map
    this.layout();
    this.showText();
  }

  /** Moves the focused cell where the user clicked or stepped; a new row is locked at once and
   *  sent to the host. */
  private focusOn({ query, key }: MapCell): void {
    this.focusKey = key;
    if (query !== this.query) {
      this.setQuery(query);
      this.onLockQuery(query);
    } else {
      this.placeFocusCell();
      this.showText();
    }
  }

  /** Locks another query row (the data stay; only the highlight and labels move). */
  private setQuery(query: number): void {
    this.query = query;
    this.focusKey = Math.min(this.focusKey, query);
    this.placeLockedRow();
    this.placeFocusCell();
    this.drawRowLabels();
    this.showText();
  }

  /** The text that follows the map and the locked row: readout, table, accessible name, data-*. */
  private showText(): void {
    this.text.show(this.map, this.tokens, this.query);
    this.showReadout();
    this.canvas.setAttribute('aria-label', mapName(this.map));
    this.describe();
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    if (!this.map) return;
    this.paint();
    this.strip.show(this.map.lambda, theme);
    this.drawRowLabels();
    this.drawColumnLabels();
    this.drawLegend();
  }

  /** Forgets the map (e.g. the inspection was cleared). */
  private clear(): void {
    this.map = undefined;
    this.strip.show(undefined, undefined);
    this.canvas.width = 0;
    this.canvas.height = 0;
    for (const canvas of [this.rowLabels, this.columnLabels, this.legend]) canvas.width = canvas.height = 0;
    this.lockedRow.hidden = this.focusCell.hidden = true;
    this.hover(NaN, NaN);
    this.showText();
  }

  /** The map, its labels, legend and title composed into one PNG (data URL). */
  exportPng(title: string): string {
    const canvas = document.createElement('canvas');
    const context = canvas.getContext('2d')!;
    const { map, scale, theme } = this;
    if (!map || !scale) {
      canvas.width = 320;
      canvas.height = 40;
      fillBackground(context, theme, canvas.width, canvas.height);
      drawText(context, theme, 'No map to export', 8, 24);
      return canvas.toDataURL('image/png');
    }
    const cell = Math.max(1, Math.min(MAX_CELL, Math.floor(EXPORT_SIDE / map.size)));
    const side = map.size * cell;
    const titleHeight = 24;
    canvas.width = LABEL_SPACE + side + 16;
    canvas.height = titleHeight + LABEL_SPACE + side + 8 + LEGEND_HEIGHT;
    fillBackground(context, theme, canvas.width, canvas.height);
    drawText(context, theme, title, 8, 16, { maxWidth: canvas.width - 16 });
    const top = titleHeight + LABEL_SPACE;
    context.imageSmoothingEnabled = false;
    context.drawImage(this.canvas, LABEL_SPACE, top, side, side);
    context.strokeStyle = theme.highlight;
    context.lineWidth = 1;
    context.strokeRect(LABEL_SPACE - 0.5, top + this.query * cell - 0.5, side + 1, cell + 1);
    drawTokenLabels(context, theme, this.tokens, 'rows', cell, 0, top, this.query);
    drawTokenLabels(context, theme, this.tokens, 'columns', cell, LABEL_SPACE, titleHeight, -1);
    drawLegend(context, theme, scale, legendCaption(map, scale), LABEL_SPACE, top + side + 8, Math.min(side, 480));
    return canvas.toDataURL('image/png');
  }

  /** Says on the canvas what it shows (data-run-id, -view, -layer, -head, -query), so that a reader
   *  (and a test) can tell this map from an earlier one. */
  private describe(): void {
    const { map } = this;
    describeElement(this.canvas, map && { runId: map.runId, view: map.view, layer: map.layer, head: map.head, query: this.query });
  }

  private paint(): void {
    const { map, image } = this;
    if (!map || !image) return;
    this.scale = scaleForView(this.theme, map.view, map.data);
    putScaledValues(this.context, image, map.data, this.scale);
  }

  /** Sizes the map to fill the frame's width: whole CSS pixels per cell once cells are a few
   *  pixels big (crisp, even cells), fractional below that, never under 1 (long texts scroll). */
  private layout(): void {
    const { map } = this;
    const labelSpace = labelSpaceFor(this.frame.clientWidth);
    const available = this.frame.clientWidth - labelSpace - 4 - (this.strip.shown ? STRIP_ROOM : 0);
    if (!map || available <= 0) return;
    const fit = available / map.size;
    const cellPx = fit >= 3 ? Math.min(MAX_CELL, Math.floor(fit)) : Math.max(1, fit);
    if (cellPx === this.cellPx && labelSpace === this.labelSpace) return;
    this.cellPx = cellPx;
    this.labelSpace = labelSpace;
    const side = `${map.size * cellPx}px`;
    this.canvas.style.width = side;
    this.canvas.style.height = side;
    this.hoverRow.style.height = `${cellPx}px`;
    this.hoverColumn.style.width = `${cellPx}px`;
    this.lockedRow.style.height = `${cellPx}px`;
    this.focusCell.style.width = this.focusCell.style.height = `${cellPx}px`;
    this.strip.layout(cellPx);
    this.placeLockedRow();
    this.placeFocusCell();
    this.drawRowLabels();
    this.drawColumnLabels();
    this.drawLegend();
  }

  private placeLockedRow(): void {
    this.lockedRow.hidden = !this.map;
    this.lockedRow.style.transform = `translateY(${this.query * this.cellPx}px)`;
  }

  /** The focused cell's mark (shown by CSS while the map has the focus). */
  private placeFocusCell(): void {
    this.focusCell.hidden = !this.map;
    this.focusCell.style.transform = `translate(${this.focusKey * this.cellPx}px, ${this.query * this.cellPx}px)`;
  }

  private drawRowLabels(): void {
    const side = (this.map?.size ?? 0) * this.cellPx;
    const context = sizeCanvas(this.rowLabels, this.labelSpace, side);
    const drawn = drawTokenLabels(context, this.theme, this.tokens, 'rows', this.cellPx, 0, 0, this.query, this.labelSpace);
    describeLabels(this.rowLabels, drawn);
  }

  private drawColumnLabels(): void {
    const side = (this.map?.size ?? 0) * this.cellPx;
    const context = sizeCanvas(this.columnLabels, side, this.labelSpace);
    drawTokenLabels(context, this.theme, this.tokens, 'columns', this.cellPx, 0, 0, -1, this.labelSpace);
  }

  private drawLegend(): void {
    if (!this.map || !this.scale) return;
    const width = Math.max(160, Math.min(this.frame.clientWidth - 8, 480));
    const context = sizeCanvas(this.legend, width, LEGEND_HEIGHT);
    drawLegend(context, this.theme, this.scale, legendCaption(this.map, this.scale), 0, 0, width);
  }

  /** The cell under a client position ({-1, -1} outside the map). */
  private cellAt(clientX: number, clientY: number): { query: number; key: number } {
    const size = this.map?.size ?? 0;
    const bounds = this.canvas.getBoundingClientRect();
    const key = Math.floor(((clientX - bounds.left) / bounds.width) * size);
    const query = Math.floor(((clientY - bounds.top) / bounds.height) * size);
    return key >= 0 && key < size && query >= 0 && query < size ? { query, key } : { query: -1, key: -1 };
  }

  /** Records the pointer; the readout and cross move at most once per frame. */
  private hover(clientX: number, clientY: number): void {
    this.pointerX = clientX;
    this.pointerY = clientY;
    if (!this.hoverFrame) this.hoverFrame = requestAnimationFrame(() => this.showHover());
  }

  private showHover(): void {
    this.hoverFrame = 0;
    const { query, key } = Number.isNaN(this.pointerX) ? { query: -1, key: -1 } : this.cellAt(this.pointerX, this.pointerY);
    if (query === this.hoverQuery && key === this.hoverKey) return;
    this.hoverQuery = query;
    this.hoverKey = key;
    const inside = query >= 0;
    this.hoverRow.hidden = !inside;
    this.hoverColumn.hidden = !inside;
    if (inside) {
      this.hoverRow.style.transform = `translateY(${query * this.cellPx}px)`;
      this.hoverColumn.style.transform = `translateX(${key * this.cellPx}px)`;
    }
    this.showReadout();
  }

  /** The readout names the hovered cell, else the focused one while the map has the focus. */
  private showReadout(): void {
    const hovered = this.hoverQuery >= 0 ? { query: this.hoverQuery, key: this.hoverKey } : undefined;
    const focused = document.activeElement === this.canvas ? { query: this.query, key: this.focusKey } : undefined;
    this.text.showCell(hovered ?? focused);
  }

  /** Walks the focused cell with the keys of a grid and says the cell it reaches. */
  private onKey(event: KeyboardEvent): void {
    const { map } = this;
    const cell = map && cellAfterKey({ query: this.query, key: this.focusKey }, event, map.size);
    if (!cell) return;
    event.preventDefault();
    this.focusOn(cell);
    this.text.announce(cell);
    this.focusCell.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }
}

function legendCaption(map: ShownMap, scale: ColorScale): string {
  const range = scale.signed ? `±${formatValue(scale.max)}` : `0…${formatValue(scale.max)}`;
  return `${VIEW_LABELS[map.view]} · layer ${map.layer} · head ${map.head} · ${range} · colour ∝ √|value|`;
}

/** Says on a labels canvas which token labels it drew, where (data-labels: "index:centre …", CSS
 *  px along the axis) and how far apart they must be (data-label-pitch): canvas text is not in the
 *  page, and a test checks that none overlaps the locked row's. */
function describeLabels(canvas: HTMLCanvasElement, { labels, pitch }: DrawnLabels): void {
  describeElement(canvas, { labels: labels.map(({ index, centre }) => `${index}:${centre}`).join(' '), labelPitch: pitch });
}
