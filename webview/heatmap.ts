// The large heatmap of one head's map (row = query, column = key) over a viewport: the host sends
// the cells of a rectangle of query rows and keys, at most one cell per device pixel (a cell pools
// the tokens it covers by mean or signed max), and the cells are one ImageData put in a single call
// into #heatmap (its drawing buffer stays exactly the cells, so its pixels are the data's colours),
// scaled by CSS with image-rendering: pixelated. A zoom or pan (heatmapInput.ts, heatmapZoom.ts)
// moves and scales the last map's image to the new viewport at once, and the host's map for it
// replaces it when it arrives (data-pending says which); the view goes down to one cell per token
// and further, to MAX_CELL px a token. The locked query row, the hover cross and the keyboard's
// focused cell are positioned <div>s, so highlighting never touches the data pixels. A row the
// user locks is marked at once (so that ↑/↓ step from it); the panel state's query replaces it
// when the host answers. Around the map: token labels (heatmapLabels.ts), the readout, live region
// and table (mapTable.ts), the locked query's own row at full resolution (queryStrip.ts), the λ
// strip of a model whose λ varies per token (lambdaStrip.ts) and the legend (heatmapPicture.ts).

import { holdsQueryRow, viewportCells, wholeMap, type MapViewport, type TokenInfo } from '../shared/inspection';
import { MAP_CELLS_MAX, type ExportFormat } from '../shared/protocol';
import { drawLegend, putScaledValues, sizeCanvas } from './canvas';
import { scaleForView, type ColorScale, type Theme } from './colors';
import { HeatmapInput } from './heatmapInput';
import { LABEL_SPACE, labelSpaceFor, TokenLabels } from './heatmapLabels';
import { heatmapPng, LEGEND_HEIGHT, legendCaption, MAX_CELL } from './heatmapPicture';
import { heatmapSvg } from './heatmapSvg';
import { HeatmapZoom } from './heatmapZoom';
import { LambdaStrip, STRIP_ROOM } from './lambdaStrip';
import { KEYBOARD_HELP, MapText, mapName, type MapCell } from './mapTable';
import { QueryStrip } from './queryStrip';
import type { ShownMap } from './types';
import { describeElement, element } from './view';
import { isPooled, lockedRow, sameViewport, showing, zoomed } from './viewport';

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
  private readonly labels = new TokenLabels();
  private readonly lockedRow: HTMLElement;
  private readonly focusCell: HTMLElement;
  private readonly input: HeatmapInput;
  private readonly legend: HTMLCanvasElement;
  private readonly strip: LambdaStrip;
  private readonly queryStrip: QueryStrip;
  private readonly text: MapText;
  private readonly zoom: HeatmapZoom;
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
    this.focusCell = element('div', 'focus-cell');
    this.lockedRow.hidden = this.focusCell.hidden = true;
    this.input = new HeatmapInput(this.stack, this.canvas, {
      place: () => {
        const { map, target } = this;
        return map && target && { map, target, tokenCount: this.tokens.length, tokenPx: this.tokenPx, focused: { query: this.query, key: this.focusKey } };
      },
      ask: (viewport) => this.ask(viewport),
      zoomBy: (factor, anchor) => this.zoomBy(factor, anchor),
      showWhole: () => this.showWhole(),
      focusOn: (cell) => this.focusOn(cell),
      reached: (cell) => this.reached(cell),
      showReadout: (hovered) => this.showReadout(hovered),
    });
    this.stack.append(this.canvas, this.lockedRow, this.input.hoverRow, this.input.hoverColumn, this.focusCell);
    this.strip = new LambdaStrip(idPrefix, (row) => (row === undefined ? this.showReadout() : this.text.showLambda(row)));
    this.queryStrip = new QueryStrip(idPrefix, (col) => (col === undefined ? this.showReadout() : this.text.showRowCell(col)));
    grid.append(
      element('div', 'heatmap-corner'),
      this.labels.columns,
      this.strip.label,
      this.labels.rows,
      this.stack,
      this.strip.canvas,
      this.queryStrip.label,
      this.queryStrip.frame,
    );
    this.frame.append(grid);
    this.legend = element('canvas', 'legend', `${idPrefix}legend`);
    this.text = new MapText(idPrefix);
    this.zoom = new HeatmapZoom(idPrefix, {
      zoomBy: (factor) => this.zoomBy(factor),
      showWhole: () => this.showWhole(),
      pool: (pooling) => this.target && this.ask({ ...this.target, pooling }),
    });
    this.text.toolbar.append(this.zoom.bar);
    parent.append(this.text.toolbar, this.zoom.caption, this.text.announcer, this.frame, this.legend, this.text.table);
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
    this.zoom.setHead(caption);
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
    if (this.canvas.width !== cols || this.canvas.height !== rows) [this.canvas.width, this.canvas.height] = [cols, rows];
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

  /** Says a cell the keyboard reached and pans the view to it. */
  private reached(cell: MapCell): void {
    this.text.announce(cell);
    if (this.target) this.ask(showing(this.target, this.tokens.length, cell.query, cell.key));
    this.focusCell.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }

  /** Locks another query row (the data stay; only the highlight, labels and row strip move). */
  private setQuery(query: number): void {
    this.query = query;
    this.focusKey = Math.min(this.focusKey, query);
    this.placeLockedRow();
    this.placeFocusCell();
    this.labels.drawRows(this.theme, this.tokens, this.target, this.tokenPx, this.labelSpace, this.query);
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
    this.drawLabels();
    this.drawLegend();
  }

  /** Forgets the map (e.g. the inspection was cleared). */
  private clear(): void {
    this.map = this.target = undefined;
    this.strip.show(undefined, undefined);
    this.queryStrip.show(undefined, undefined, undefined);
    for (const canvas of [this.canvas, this.labels.rows, this.labels.columns, this.legend]) canvas.width = canvas.height = 0;
    this.lockedRow.hidden = this.focusCell.hidden = true;
    this.zoom.hide();
    this.input.leave();
    this.showText();
  }

  /** The map as last computed (its own viewport, not a pending one), its labels, legend and title
   *  composed into one PNG (data URL) or an SVG document (none without a map). */
  exportImage(title: string, format: ExportFormat): string {
    const shown = this.map && this.scale && { cells: this.canvas, map: this.map, scale: this.scale, tokens: this.tokens, query: this.query };
    return format === 'svg' && shown ? heatmapSvg(shown, this.theme, title) : heatmapPng(shown, this.theme, title);
  }

  /** Says on the canvas what it shows (data-run-id, -view, -layer, -head, -query; the viewport its
   *  cells cover, data-first-row, -end-row, -first-key, -end-key, -rows, -cols (cells), -pooling,
   *  and the request they answer, data-request-id; data-pending while a newer viewport is asked
   *  for), so that a reader (and a test) can tell this map from an earlier one. */
  private describe(): void {
    const { map, target } = this;
    this.canvas.toggleAttribute('aria-busy', this.pending);
    if (!map) return describeElement(this.canvas, undefined);
    const { runId, view, layer, head, requestId, viewport } = map;
    const { firstRow, endRow, firstKey, endKey, pooling } = viewport;
    const { rows, cols } = viewportCells(viewport);
    const { query, pending } = this;
    describeElement(this.canvas, { runId, view, layer, head, query, requestId, firstRow, endRow, firstKey, endKey, rows, cols, pooling, pending: String(pending) });
    this.zoom.show(target ?? map.viewport, isPooled(map.viewport), this.pending);
  }

  /** Whether the heatmap shows a viewport whose map has not arrived (the last image scaled). */
  private get pending(): boolean {
    return this.map !== undefined && this.target !== undefined && this.target !== this.map.viewport;
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
    this.drawLabels();
    this.drawLegend();
    this.describe();
    this.input.relayout();
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

  /** The token labels of the target's rows (the locked query's highlighted) and keys. */
  private drawLabels(): void {
    this.labels.drawRows(this.theme, this.tokens, this.target, this.tokenPx, this.labelSpace, this.query);
    this.labels.drawColumns(this.theme, this.tokens, this.target, this.tokenPx, this.labelSpace);
  }

  private drawLegend(): void {
    if (!this.map || !this.scale) return;
    const width = Math.max(160, Math.min(this.frame.clientWidth - 8, 480));
    const context = sizeCanvas(this.legend, width, LEGEND_HEIGHT);
    const caption = legendCaption(this.map, this.scale);
    this.legend.title = caption; // whole, where the canvas cuts it
    drawLegend(context, this.theme, this.scale, caption, 0, 0, width);
  }

  /** The readout names the hovered cell, else the focused one while the map has the focus. */
  private showReadout(hovered?: MapCell): void {
    const focused = document.activeElement === this.canvas ? { query: this.query, key: this.focusKey } : undefined;
    this.text.showCell(hovered ?? focused);
  }
}
