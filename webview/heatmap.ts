// The large heatmap of one head's map (row = query, column = key) over a viewport: the host sends
// the cells of a rectangle of query rows and keys, at most one cell per device pixel (a cell pools
// the tokens it covers by mean or signed max: the pooling switch, shown while cells pool), and the
// cells are one ImageData put in a single call into #heatmap (its drawing buffer stays exactly the
// cells, so its pixels are the data's colours), scaled by CSS with image-rendering: pixelated.
// Zoom (wheel, the +/− buttons, the + and − keys) and pan (drag, Shift+arrows) change the viewport
// the panel shows: the last map's image is moved and scaled to it at once, and the host's map for
// it replaces it when it arrives (data-pending says which). The view goes down to one cell per
// token and further, to MAX_CELL px a token. Token labels of the visible rows and keys are drawn on
// two thin canvases (heatmapLabels.ts); the hover readout names a cell's tokens (their ranges where
// it pools) and value. The locked query row, the hover cross and the keyboard's focused cell are
// positioned <div>s, so highlighting never touches the data pixels; the locked query's own row is
// drawn at full resolution in a strip under the map (queryStrip.ts). A row the user locks is
// marked at once (so that ↑/↓ step from it); the panel state's query replaces it when the host
// answers. The keyboard walks the focused cell (the locked row, a key column of it; a step is one
// cell) and a live region says each cell it reaches; "View as table" lists the row's strongest
// keys (mapTable.ts). The zoom buttons and the pooling switch sit beside the readout; a caption
// under it says which softmax heads the map's A1 and A2 are and which tokens the view shows; a
// model whose λ varies per token gets the λ strip beside the map (lambdaStrip.ts).

import { holdsQueryRow, POOLINGS, viewportCells, wholeMap, type MapViewport, type TokenInfo } from '../shared/inspection';
import { MAP_CELLS_MAX } from '../shared/protocol';
import { drawLegend, drawText, fillBackground, putScaledValues, sizeCanvas } from './canvas';
import { scaleForView, type ColorScale, type Theme } from './colors';
import { createButton, createPoolingSwitch, type PoolingSwitch } from './controls';
import { formatValue, VIEW_LABELS } from './format';
import { drawTokenLabels, LABEL_SPACE, labelSpaceFor, type DrawnLabels } from './heatmapLabels';
import { LambdaStrip, STRIP_ROOM } from './lambdaStrip';
import { cellAfterKey, KEYBOARD_HELP, MapText, mapName, type MapCell } from './mapTable';
import { QueryStrip } from './queryStrip';
import type { ShownMap } from './types';
import { describeElement, element } from './view';
import { cellAt, isPooled, lockedRow, panned, sameViewport, showing, tokensPerCell, zoomed, type ViewportCell } from './viewport';

/** Largest token side (CSS px), so that a short text or a deep zoom does not give giant cells. */
const MAX_CELL = 28;
const LEGEND_HEIGHT = 40;
/** Side (px) the exported heatmap aims for. */
const EXPORT_SIDE = 768;
/** The zoom of a +/− button or key: the span halves or doubles. */
const ZOOM_STEP = 2;
/** Wheel travel (px) that zooms by ZOOM_STEP. */
const WHEEL_PER_STEP = 200;
/** Pointer travel (CSS px) past which a press on the map is a drag, not a click. */
const DRAG_THRESHOLD = 4;

/** What a heatmap asks of its owner. */
export interface HeatmapRequests {
  /** The user locked a query row (a token of the map's run). */
  lockQuery(query: number): void;
  /** The user zoomed, panned or picked the pooling: the viewport to show (the map's run's tokens). */
  viewport(viewport: MapViewport): void;
  /** The map's side in device pixels changed. Only the Maps tab's heatmap has it: the host pools a
   *  new run's whole map to it, and the heatmap asks again for a pooled map of another size. */
  cells?(cells: number): void;
}

export class HeatmapView {
  readonly canvas: HTMLCanvasElement;
  private readonly context: CanvasRenderingContext2D;
  private readonly frame: HTMLElement;
  private readonly stack: HTMLElement;
  private readonly rowLabels: HTMLCanvasElement;
  private readonly columnLabels: HTMLCanvasElement;
  private readonly lockedRow: HTMLElement;
  private readonly hoverRow: HTMLElement;
  private readonly hoverColumn: HTMLElement;
  private readonly focusCell: HTMLElement;
  private readonly legend: HTMLCanvasElement;
  private readonly caption: HTMLElement;
  /** The caption's part that says what the map's head is made of. */
  private readonly headCaption: HTMLElement;
  private readonly strip: LambdaStrip;
  private readonly queryStrip: QueryStrip;
  private readonly text: MapText;
  private readonly zoomBar: HTMLElement;
  private readonly pooling: PoolingSwitch;
  private readonly viewportLabel: HTMLElement;
  private image: ImageData | undefined;
  private map: ShownMap | undefined;
  /** What the heatmap shows: the map's viewport, or one asked for whose map is on its way. */
  private target: MapViewport | undefined;
  private scale: ColorScale | undefined;
  private tokens: readonly TokenInfo[] = [];
  private query = 0;
  /** The key column of the keyboard's focused cell (its row is the locked query). */
  private focusKey = 0;
  /** CSS px a token along either axis of the target viewport (below 1 when cells pool tokens). */
  private tokenPx = 0;
  /** The width (CSS px) the map may take, and the target it was laid out for. */
  private available = 0;
  private laidOut: MapViewport | undefined;
  /** The map's side in device pixels: the cells a side a viewport asks for. */
  private cells = 0;
  /** The token labels' room left of and above the map (CSS px), less in a short panel. */
  private labelSpace = LABEL_SPACE;
  private hovered: ViewportCell | undefined;
  private hoverFrame = 0;
  private pointerX = NaN;
  private pointerY = NaN;
  /** A press on the map: where it started and the viewport then; moved once it became a drag. */
  private drag: { x: number; y: number; target: MapViewport; moved: boolean } | undefined;
  private dragEnded = false;
  /** What the last render() was given: the state's map, tokens, query and target viewport. */
  private rendered: { map?: ShownMap; tokens?: readonly TokenInfo[]; query?: number; target?: MapViewport } = {};

  constructor(
    parent: HTMLElement,
    private theme: Theme,
    private readonly requests: HeatmapRequests,
    /** Prefixes the element ids (#heatmap, #legend, #readout…) of a second map on the page. */
    idPrefix = '',
  ) {
    this.frame = element('div', 'heatmap-frame');
    const grid = element('div', 'heatmap-grid');
    this.rowLabels = element('canvas', 'row-labels');
    this.columnLabels = element('canvas', 'column-labels');
    this.stack = element('div', 'heatmap-stack');
    // The map's box clips the last image while it is moved and scaled to a new viewport.
    this.stack.style.overflow = 'hidden';
    this.stack.style.touchAction = 'none';
    this.canvas = element('canvas', 'heatmap-canvas', `${idPrefix}heatmap`);
    Object.assign(this.canvas.style, { position: 'absolute', left: '0', top: '0', transformOrigin: '0 0' });
    this.canvas.tabIndex = 0;
    // A widget with its own keys: screen readers pass them through and hear the live region.
    this.canvas.setAttribute('role', 'application');
    this.canvas.setAttribute('aria-roledescription', 'heatmap grid');
    this.canvas.setAttribute('aria-description', KEYBOARD_HELP);
    this.canvas.setAttribute('aria-label', mapName(undefined, 0));
    this.context = this.canvas.getContext('2d')!;
    this.lockedRow = element('div', 'locked-row');
    this.hoverRow = element('div', 'hover-row');
    this.hoverColumn = element('div', 'hover-column');
    this.focusCell = element('div', 'focus-cell');
    this.lockedRow.hidden = this.hoverRow.hidden = this.hoverColumn.hidden = this.focusCell.hidden = true;
    this.stack.append(this.canvas, this.lockedRow, this.hoverRow, this.hoverColumn, this.focusCell);
    this.strip = new LambdaStrip(idPrefix, (row) => (row === undefined ? this.showReadout() : this.text.showLambda(row)));
    this.queryStrip = new QueryStrip(idPrefix, (col) => (col === undefined ? this.showReadout() : this.text.showRowCell(col)));
    grid.append(
      element('div', 'heatmap-corner'),
      this.columnLabels,
      this.strip.label,
      this.rowLabels,
      this.stack,
      this.strip.canvas,
      this.queryStrip.label,
      this.queryStrip.frame,
    );
    this.frame.append(grid);
    this.legend = element('canvas', 'legend', `${idPrefix}legend`);
    this.caption = element('div', 'heatmap-caption');
    // One line (the whole text is its tooltip), so that the map keeps the panel's height.
    Object.assign(this.caption.style, { whiteSpace: 'nowrap', overflow: 'hidden', textOverflow: 'ellipsis' });
    this.headCaption = element('span', '', `${idPrefix}heatmap-caption`);
    this.text = new MapText(idPrefix);
    const zoom = (factor: number) => () => this.zoomBy(factor);
    this.pooling = createPoolingSwitch(`${idPrefix}pooling-switch`, (pooling) => this.target && this.ask({ ...this.target, pooling }));
    this.viewportLabel = element('span', 'heatmap-viewport', `${idPrefix}viewport`);
    this.caption.append(this.headCaption, this.viewportLabel);
    // Beside the readout, not in a row of their own: the map keeps the panel's height.
    this.zoomBar = element('div', 'heatmap-zoom');
    Object.assign(this.zoomBar.style, { display: 'flex', alignItems: 'center', gap: '4px', flex: 'none' });
    this.zoomBar.append(
      createButton(`${idPrefix}zoom-out`, '−', 'Zoom out (−)', zoom(ZOOM_STEP)),
      createButton(`${idPrefix}zoom-in`, '+', 'Zoom in (+)', zoom(1 / ZOOM_STEP)),
      createButton(`${idPrefix}zoom-whole`, '⤢', 'Show the whole map (0)', () => this.showWhole()),
      this.pooling.element,
    );
    this.text.toolbar.append(this.zoomBar);
    parent.append(this.text.toolbar, this.caption, this.text.announcer, this.frame, this.legend, this.text.table);

    // Pointer positions are kept as client coordinates and turned into cells once per frame
    // (event.offsetX is rounded to whole pixels, which picks the wrong cell on subpixel layouts).
    // The map's box, not the canvas, takes them: a zoomed-out preview covers only part of it.
    this.stack.addEventListener('pointermove', (event) => this.onPointerMove(event));
    this.stack.addEventListener('pointerleave', () => this.hover(NaN, NaN));
    this.stack.addEventListener('pointerdown', (event) => {
      if (event.button !== 0 || !this.target) return;
      this.drag = { x: event.clientX, y: event.clientY, target: this.target, moved: false };
      this.stack.setPointerCapture(event.pointerId);
    });
    const endDrag = () => {
      this.dragEnded = this.drag?.moved ?? false;
      this.drag = undefined;
    };
    this.stack.addEventListener('pointerup', endDrag);
    this.stack.addEventListener('pointercancel', endDrag);
    this.stack.addEventListener('click', (event) => {
      if (this.dragEnded) return void (this.dragEnded = false); // the end of a drag, not a click
      const cell = this.tokenAt(event.clientX, event.clientY);
      if (cell) this.focusOn(cell);
      this.canvas.focus({ preventScroll: true });
    });
    this.stack.addEventListener('wheel', (event) => this.onWheel(event), { passive: false });
    this.canvas.addEventListener('keydown', (event) => this.onKey(event));
    // The readout follows the focused cell while the map has the focus, which starts on that cell.
    this.canvas.addEventListener('focus', () => {
      this.showReadout();
      this.text.announce({ query: this.query, key: this.focusKey });
    });
    this.canvas.addEventListener('blur', () => this.showReadout());
    new ResizeObserver(() => this.layout()).observe(this.frame);
  }

  /** Shows the panel state's map and locked query over `target` (the viewport the panel shows:
   *  the map's own, or a newer one asked for): draws only a new map (or tokens), moves the locked
   *  row only when the state's query changed, so a row the user just locked stays marked, and
   *  moves the image only for a new target. `caption` says what the map's head is made of. */
  render(map: ShownMap | undefined, tokens: readonly TokenInfo[], query: number, caption = '', target = map?.viewport): void {
    if (this.headCaption.textContent !== caption) this.headCaption.textContent = caption;
    const { rendered } = this;
    if (map !== rendered.map || (map && tokens !== rendered.tokens)) {
      if (map) this.show(map, tokens, query, target ?? map.viewport);
      else this.clear();
    } else {
      if (query !== rendered.query) this.setQuery(query);
      if (map && target && target !== rendered.target) this.setTarget(target);
    }
    this.rendered = { map, tokens, query, target };
  }

  /** Draws a map with one putImageData. */
  private show(map: ShownMap, tokens: readonly TokenInfo[], query: number, target: MapViewport): void {
    this.map = map;
    this.tokens = tokens;
    this.query = query;
    this.target = target;
    this.focusKey = Math.min(this.focusKey, query);
    const { rows, cols } = viewportCells(map.viewport);
    if (this.canvas.width !== cols || this.canvas.height !== rows) {
      this.canvas.width = cols;
      this.canvas.height = rows;
    }
    if (!this.image || this.image.width !== cols || this.image.height !== rows) this.image = this.context.createImageData(cols, rows);
    this.paint();
    this.strip.show(map.lambda, this.theme);
    this.laidOut = undefined; // forces the layout (labels, overlays) for the new map
    this.layout();
    this.showText();
  }

  private setTarget(target: MapViewport): void {
    this.target = target;
    this.layout();
    this.describe();
  }

  /** Asks for a viewport (the owner turns it into the state's target and a request to the host). */
  private ask(viewport: MapViewport): void {
    if (!this.target || !sameViewport(viewport, this.target)) this.requests.viewport(viewport);
  }

  /** Zooms by `factor` (< 1: in) around a token pair, by default the middle of the view. */
  private zoomBy(factor: number, anchor?: MapCell): void {
    const { map, target } = this;
    if (!map || !target) return;
    const anchorRow = anchor?.query ?? (target.firstRow + target.endRow) / 2;
    const anchorKey = anchor?.key ?? (target.firstKey + target.endKey) / 2;
    const minSpan = Math.max(1, Math.ceil(this.available / MAX_CELL));
    this.ask(zoomed(target, this.tokens.length, factor, anchorRow, anchorKey, minSpan, this.cellsWanted()));
  }

  private showWhole(): void {
    if (this.target) this.ask(wholeMap(this.tokens.length, this.cellsWanted(), this.target.pooling));
  }

  /** Cells a side a viewport asks for: the map's side in device pixels (the cells it had until the
   *  panel has a layout). */
  private cellsWanted(): number {
    return this.cells || this.target?.rows || 1;
  }

  /** Moves the focused cell where the user clicked or stepped; a new row is locked at once and
   *  sent to the host. */
  private focusOn({ query, key }: MapCell): void {
    this.focusKey = key;
    if (query !== this.query) {
      this.setQuery(query);
      this.requests.lockQuery(query);
    } else {
      this.placeFocusCell();
      this.showText();
    }
  }

  /** Locks another query row (the data stay; only the highlight, labels and row strip move). */
  private setQuery(query: number): void {
    this.query = query;
    this.focusKey = Math.min(this.focusKey, query);
    this.placeLockedRow();
    this.placeFocusCell();
    this.drawRowLabels();
    this.paintQueryRow();
    this.showText();
  }

  /** The text that follows the map and the locked row: readout, table, accessible name, data-*. */
  private showText(): void {
    this.text.show(this.map, this.tokens, this.query);
    this.showReadout();
    this.canvas.setAttribute('aria-label', mapName(this.map, this.tokens.length));
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
    this.map = this.target = undefined;
    this.strip.show(undefined, undefined);
    this.queryStrip.show(undefined, undefined, undefined);
    this.canvas.width = 0;
    this.canvas.height = 0;
    for (const canvas of [this.rowLabels, this.columnLabels, this.legend]) canvas.width = canvas.height = 0;
    this.lockedRow.hidden = this.focusCell.hidden = true;
    this.zoomBar.hidden = true;
    this.hover(NaN, NaN);
    this.showText();
  }

  /** The map as last computed (its own viewport, not a pending one), its labels, legend and title
   *  composed into one PNG (data URL). */
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
    context.drawImage(this.canvas, LABEL_SPACE, top, width, height);
    if (this.query >= rows.first && this.query < rows.end) {
      context.strokeStyle = theme.highlight;
      context.lineWidth = 1;
      context.strokeRect(LABEL_SPACE - 0.5, top + (this.query - rows.first) * tokenPx - 0.5, width + 1, Math.max(1, tokenPx) + 1);
    }
    drawTokenLabels(context, theme, this.tokens, 'rows', tokenPx, 0, top, this.query, LABEL_SPACE, rows);
    drawTokenLabels(context, theme, this.tokens, 'columns', tokenPx, LABEL_SPACE, titleHeight, -1, LABEL_SPACE, keys);
    drawLegend(context, theme, scale, legendCaption(map, scale), LABEL_SPACE, top + height + 8, Math.min(width, 480));
    return canvas.toDataURL('image/png');
  }

  /** Says on the canvas what it shows (data-run-id, -view, -layer, -head, -query; the viewport its
   *  cells cover, data-first-row, -end-row, -first-key, -end-key, -rows, -cols (cells), -pooling,
   *  and the request they answer, data-request-id; data-pending while a newer viewport is asked
   *  for), so that a reader (and a test) can tell this map from an earlier one. */
  private describe(): void {
    const { map, target } = this;
    this.canvas.toggleAttribute('aria-busy', this.pending);
    if (!map) return describeElement(this.canvas, undefined);
    const { rows, cols } = viewportCells(map.viewport);
    const { firstRow, endRow, firstKey, endKey, pooling } = map.viewport;
    describeElement(this.canvas, {
      runId: map.runId,
      view: map.view,
      layer: map.layer,
      head: map.head,
      query: this.query,
      requestId: map.requestId,
      firstRow,
      endRow,
      firstKey,
      endKey,
      rows,
      cols,
      pooling,
      pending: String(this.pending),
    });
    this.showZoomState(target ?? map.viewport);
  }

  /** Whether the heatmap shows a viewport whose map has not arrived (the last image scaled). */
  private get pending(): boolean {
    return this.map !== undefined && this.target !== undefined && this.target !== this.map.viewport;
  }

  /** The zoom bar: the pooling switch while cells pool tokens, and what the view shows. */
  private showZoomState(target: MapViewport): void {
    this.zoomBar.hidden = false;
    this.pooling.element.hidden = !isPooled(target) && !(this.map && isPooled(this.map.viewport));
    this.pooling.show(POOLINGS, target.pooling);
    const perCell = tokensPerCell(target);
    const cells = perCell.rows * perCell.keys > 1 ? `${perCell.rows}×${perCell.keys} tokens a cell (${target.pooling})` : 'one cell per token';
    const rows = `queries ${target.firstRow}–${target.endRow - 1}`;
    const keys = `keys ${target.firstKey}–${target.endKey - 1}`;
    const separator = this.headCaption.textContent ? ' · ' : '';
    this.viewportLabel.textContent = `${separator}${rows}, ${keys} · ${cells}${this.pending ? ' · computing…' : ''}`;
    this.caption.title = this.caption.textContent ?? '';
  }

  private paint(): void {
    const { map, image } = this;
    if (!map || !image) return;
    this.scale = scaleForView(this.theme, map.view, map.data);
    putScaledValues(this.context, image, map.data, this.scale);
    this.paintQueryRow();
  }

  /** The locked query's row in the strip under the map, on the map's scale, where the map lacks
   *  it (its rows pool queries, or the query is out of view; shown once the host's row arrives). */
  private paintQueryRow(): void {
    const { map, query } = this;
    const values = map && !holdsQueryRow(map.viewport, query) ? lockedRow(map, query) : undefined;
    this.queryStrip.show(values, this.scale, map && { runId: map.runId, layer: map.layer, head: map.head, view: map.view, query });
  }

  /** Sizes the target viewport to fill the frame's width: whole CSS pixels per token once tokens
   *  are a few pixels big (crisp, even cells), fractional below that, at most MAX_CELL; then moves
   *  and scales the map's image to where its viewport lies in the target. */
  private layout(): void {
    const labelSpace = labelSpaceFor(this.frame.clientWidth);
    const available = this.frame.clientWidth - labelSpace - 4 - (this.strip.shown ? STRIP_ROOM : 0);
    if (available <= 0) return;
    this.available = available;
    this.reportCells(available);
    const { map, target } = this;
    if (!map || !target) return;
    const span = Math.max(target.endRow - target.firstRow, target.endKey - target.firstKey);
    const fit = available / span;
    const tokenPx = fit >= 3 ? Math.min(MAX_CELL, Math.floor(fit)) : fit;
    if (tokenPx === this.tokenPx && labelSpace === this.labelSpace && target === this.laidOut) return;
    [this.tokenPx, this.labelSpace, this.laidOut] = [tokenPx, labelSpace, target];
    const [width, height] = [(target.endKey - target.firstKey) * tokenPx, (target.endRow - target.firstRow) * tokenPx];
    this.stack.style.width = `${width}px`;
    this.stack.style.height = `${height}px`;
    const shown = map.viewport;
    const left = (shown.firstKey - target.firstKey) * tokenPx;
    const top = (shown.firstRow - target.firstRow) * tokenPx;
    const mapWidth = (shown.endKey - shown.firstKey) * tokenPx;
    this.canvas.style.width = `${mapWidth}px`;
    this.canvas.style.height = `${(shown.endRow - shown.firstRow) * tokenPx}px`;
    this.canvas.style.transform = `translate(${left}px, ${top}px)`;
    this.lockedRow.style.height = `${Math.max(2, tokenPx)}px`;
    this.focusCell.style.width = this.focusCell.style.height = `${tokenPx}px`;
    this.strip.layout(height);
    this.queryStrip.layout(width, left, mapWidth);
    this.placeLockedRow();
    this.placeFocusCell();
    this.drawRowLabels();
    this.drawColumnLabels();
    this.drawLegend();
    this.describe();
    this.hovered = undefined; // the cell under the pointer moved
    this.hover(this.pointerX, this.pointerY);
  }

  /** Tells the owner the map's side in device pixels, and asks again for a pooled map whose cells
   *  are fewer or more than that (only the heatmap that reports it: one size for the shared viewport). */
  private reportCells(available: number): void {
    const cells = Math.max(1, Math.min(MAP_CELLS_MAX, Math.round(available * (window.devicePixelRatio || 1))));
    if (cells === this.cells) return;
    this.cells = cells;
    if (!this.requests.cells) return;
    this.requests.cells(cells);
    const { map, target } = this;
    if (map && target === map.viewport && isPooled(target) && target.rows !== cells) this.ask({ ...target, rows: cells, cols: cells });
  }

  /** The locked row's mark, where the query is in view. */
  private placeLockedRow(): void {
    const { target } = this;
    this.lockedRow.hidden = !this.map || !target || this.query < target.firstRow || this.query >= target.endRow;
    if (target) this.lockedRow.style.transform = `translateY(${(this.query - target.firstRow) * this.tokenPx}px)`;
  }

  /** The focused cell's mark (shown by CSS while the map has the focus), where it is in view. */
  private placeFocusCell(): void {
    const { target } = this;
    const inView = target && this.query >= target.firstRow && this.query < target.endRow && this.focusKey >= target.firstKey && this.focusKey < target.endKey;
    this.focusCell.hidden = !this.map || !inView;
    if (target) this.focusCell.style.transform = `translate(${(this.focusKey - target.firstKey) * this.tokenPx}px, ${(this.query - target.firstRow) * this.tokenPx}px)`;
  }

  private drawRowLabels(): void {
    const { target } = this;
    const side = target ? (target.endRow - target.firstRow) * this.tokenPx : 0;
    const context = sizeCanvas(this.rowLabels, this.labelSpace, side);
    const shown = target && { first: target.firstRow, end: target.endRow };
    const drawn = drawTokenLabels(context, this.theme, shown ? this.tokens : [], 'rows', this.tokenPx || 1, 0, 0, this.query, this.labelSpace, shown);
    describeLabels(this.rowLabels, drawn);
  }

  private drawColumnLabels(): void {
    const { target } = this;
    const side = target ? (target.endKey - target.firstKey) * this.tokenPx : 0;
    const context = sizeCanvas(this.columnLabels, side, this.labelSpace);
    const shown = target && { first: target.firstKey, end: target.endKey };
    drawTokenLabels(context, this.theme, shown ? this.tokens : [], 'columns', this.tokenPx || 1, 0, 0, -1, this.labelSpace, shown);
  }

  private drawLegend(): void {
    if (!this.map || !this.scale) return;
    const width = Math.max(160, Math.min(this.frame.clientWidth - 8, 480));
    const context = sizeCanvas(this.legend, width, LEGEND_HEIGHT);
    const caption = legendCaption(this.map, this.scale);
    this.legend.title = caption; // whole, where the canvas cuts it
    drawLegend(context, this.theme, this.scale, caption, 0, 0, width);
  }

  /** The token pair under a client position, in the target viewport (undefined outside it). */
  private tokenAt(clientX: number, clientY: number): MapCell | undefined {
    const { target } = this;
    if (!target || Number.isNaN(clientX)) return undefined;
    const bounds = this.stack.getBoundingClientRect();
    const key = target.firstKey + Math.floor(((clientX - bounds.left) / bounds.width) * (target.endKey - target.firstKey));
    const query = target.firstRow + Math.floor(((clientY - bounds.top) / bounds.height) * (target.endRow - target.firstRow));
    const inside = key >= target.firstKey && key < target.endKey && query >= target.firstRow && query < target.endRow;
    return inside ? { query, key } : undefined;
  }

  private onPointerMove(event: PointerEvent): void {
    const { drag } = this;
    if (drag && event.buttons & 1 && this.tokenPx > 0) {
      const [dx, dy] = [event.clientX - drag.x, event.clientY - drag.y];
      if (drag.moved || Math.hypot(dx, dy) >= DRAG_THRESHOLD) {
        drag.moved = true;
        this.ask(panned(drag.target, this.tokens.length, -Math.round(dy / this.tokenPx), -Math.round(dx / this.tokenPx)));
      }
    }
    this.hover(event.clientX, event.clientY);
  }

  /** The wheel zooms around the token under the pointer. */
  private onWheel(event: WheelEvent): void {
    if (!this.map) return;
    event.preventDefault();
    const pixels = event.deltaMode === WheelEvent.DOM_DELTA_LINE ? event.deltaY * 16 : event.deltaY;
    const factor = Math.min(ZOOM_STEP, Math.max(1 / ZOOM_STEP, ZOOM_STEP ** (pixels / WHEEL_PER_STEP)));
    if (factor !== 1) this.zoomBy(factor, this.tokenAt(event.clientX, event.clientY));
  }

  /** Records the pointer; the readout and cross move at most once per frame. */
  private hover(clientX: number, clientY: number): void {
    this.pointerX = clientX;
    this.pointerY = clientY;
    if (!this.hoverFrame) this.hoverFrame = requestAnimationFrame(() => this.showHover());
  }

  /** Marks the map cell under the pointer (the tokens it covers) and names it in the readout. */
  private showHover(): void {
    this.hoverFrame = 0;
    const { map, target } = this;
    const at = this.tokenAt(this.pointerX, this.pointerY);
    const cell = at && map ? cellAt(map.viewport, at.query, at.key) : undefined;
    const same = cell && this.hovered && cell.row === this.hovered.row && cell.col === this.hovered.col;
    if (same || (!cell && !this.hovered && !at)) return;
    this.hovered = cell;
    this.hoverRow.hidden = this.hoverColumn.hidden = !cell || !target;
    if (cell && target) {
      const px = this.tokenPx;
      this.hoverRow.style.transform = `translateY(${(cell.queries.first - target.firstRow) * px}px)`;
      this.hoverRow.style.height = `${(cell.queries.end - cell.queries.first) * px}px`;
      this.hoverColumn.style.transform = `translateX(${(cell.keys.first - target.firstKey) * px}px)`;
      this.hoverColumn.style.width = `${(cell.keys.end - cell.keys.first) * px}px`;
    }
    this.showReadout(cell && at);
  }

  /** The readout names the hovered cell, else the focused one while the map has the focus. */
  private showReadout(hovered?: MapCell): void {
    const focused = document.activeElement === this.canvas ? { query: this.query, key: this.focusKey } : undefined;
    this.text.showCell(hovered ?? focused);
  }

  /** Keys: + and − zoom around the focused cell, 0 shows the whole map, Shift+arrows pan by a
   *  quarter of the view; the others walk the focused cell (one cell a step), and the view follows
   *  it, saying each cell it reaches. */
  private onKey(event: KeyboardEvent): void {
    const { map, target } = this;
    if (!map || !target) return;
    const T = this.tokens.length;
    const focused = { query: this.query, key: this.focusKey };
    const plain = !event.ctrlKey && !event.metaKey && !event.altKey;
    const panKeys: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    if (plain && (event.key === '+' || event.key === '=')) this.zoomBy(1 / ZOOM_STEP, focused);
    else if (plain && (event.key === '-' || event.key === '_')) this.zoomBy(ZOOM_STEP, focused);
    else if (plain && event.key === '0') this.showWhole();
    else if (plain && event.shiftKey && Object.hasOwn(panKeys, event.key)) {
      const [rows, keys] = panKeys[event.key];
      const quarter = (first: number, end: number) => Math.max(1, Math.round((end - first) / 4));
      this.ask(panned(target, T, rows * quarter(target.firstRow, target.endRow), keys * quarter(target.firstKey, target.endKey)));
    } else {
      const cell = cellAfterKey(focused, event, T, tokensPerCell(map.viewport));
      if (!cell) return;
      this.focusOn(cell);
      this.text.announce(cell);
      this.ask(showing(target, T, cell.query, cell.key));
      this.focusCell.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    }
    event.preventDefault();
  }
}

function legendCaption(map: ShownMap, scale: ColorScale): string {
  const range = scale.signed ? `±${formatValue(scale.max)}` : `0…${formatValue(scale.max)}`;
  const pooled = isPooled(map.viewport) ? ` · cells: ${map.viewport.pooling}` : '';
  return `${VIEW_LABELS[map.view]} · layer ${map.layer} · head ${map.head} · ${range}${pooled} · colour ∝ √|value|`;
}

/** Says on a labels canvas which token labels it drew, where (data-labels: "index:centre …", CSS
 *  px along the axis) and how far apart they must be (data-label-pitch): canvas text is not in the
 *  page, and a test checks that none overlaps the locked row's. */
function describeLabels(canvas: HTMLCanvasElement, { labels, pitch }: DrawnLabels): void {
  describeElement(canvas, { labels: labels.map(({ index, centre }) => `${index}:${centre}`).join(' '), labelPitch: pitch });
}
