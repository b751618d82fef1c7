// How the pointer and the keyboard drive a heatmap (heatmap.ts): a click locks the row under it and
// focuses that cell, a drag pans, the wheel zooms around the token under the pointer, and the keys
// zoom (+, −, 0), pan (Shift+arrows) or walk the focused cell (mapTable.ts cellAfterKey). The hover
// cross marks the cell under the pointer (the tokens it covers) and the readout names it, at most
// once per frame. Pointer positions are kept as client coordinates and turned into cells once per
// frame (event.offsetX is rounded to whole pixels, which picks the wrong cell on subpixel
// layouts); the map's box, not the canvas, takes them: a zoomed-out preview covers only part of it.

import type { MapViewport } from '../shared/inspection';
import { cellAfterKey, type MapCell } from './mapTable';
import type { ShownMap } from './types';
import { element } from './view';
import { cellAt, panned, tokensPerCell, type ViewportCell } from './viewport';

/** The zoom of a +/− button or key: the span halves or doubles. */
export const ZOOM_STEP = 2;
/** Wheel travel (px) that zooms by ZOOM_STEP. */
const WHEEL_PER_STEP = 200;
/** Pointer travel (CSS px) past which a press on the map is a drag, not a click. */
const DRAG_THRESHOLD = 4;

/** The heatmap as its input finds it at an event. */
export interface HeatmapPlace {
  map: ShownMap;
  /** The viewport shown: the map's own, or one asked for whose map is on its way. */
  target: MapViewport;
  /** Tokens of the map's run. */
  tokenCount: number;
  /** CSS px a token along either axis of the target (below 1 when cells pool tokens). */
  tokenPx: number;
  /** The keyboard's focused cell: the locked query row and a key. */
  focused: MapCell;
}

/** What the input asks of its heatmap. */
export interface HeatmapMoves {
  /** Where the heatmap is now (undefined without a map). */
  place(): HeatmapPlace | undefined;
  /** Shows a viewport (asking the host for its map). */
  ask(viewport: MapViewport): void;
  /** Zooms by `factor` (< 1: in) around a token pair, by default the middle of the view. */
  zoomBy(factor: number, anchor?: MapCell): void;
  showWhole(): void;
  /** Moves the focused cell where the user clicked or stepped (a new row is locked). */
  focusOn(cell: MapCell): void;
  /** The keyboard reached a cell: say it, and pan the view to it. */
  reached(cell: MapCell): void;
  /** Names a cell in the readout: the hovered one, else the focused one while the map has focus. */
  showReadout(hovered?: MapCell): void;
}

export class HeatmapInput {
  /** The hover cross: the rows and the keys of the cell under the pointer. */
  readonly hoverRow = element('div', 'hover-row');
  readonly hoverColumn = element('div', 'hover-column');
  private hovered: ViewportCell | undefined;
  private hoverFrame = 0;
  private pointerX = NaN;
  private pointerY = NaN;
  /** A press on the map: where it started and the viewport then; moved once it became a drag. */
  private drag: { x: number; y: number; target: MapViewport; moved: boolean } | undefined;
  private dragEnded = false;

  /** Listens on the map's box `stack` and on its focusable `canvas`. */
  constructor(
    private readonly stack: HTMLElement,
    canvas: HTMLCanvasElement,
    private readonly moves: HeatmapMoves,
  ) {
    this.hoverRow.hidden = this.hoverColumn.hidden = true;
    stack.addEventListener('pointermove', (event) => this.onPointerMove(event));
    stack.addEventListener('pointerleave', () => this.hover(NaN, NaN));
    stack.addEventListener('pointerdown', (event) => {
      const place = moves.place();
      if (event.button !== 0 || !place) return;
      this.drag = { x: event.clientX, y: event.clientY, target: place.target, moved: false };
      stack.setPointerCapture(event.pointerId);
    });
    const endDrag = () => {
      this.dragEnded = this.drag?.moved ?? false;
      this.drag = undefined;
    };
    stack.addEventListener('pointerup', endDrag);
    stack.addEventListener('pointercancel', endDrag);
    stack.addEventListener('click', (event) => {
      if (this.dragEnded) return void (this.dragEnded = false); // the end of a drag, not a click
      const cell = this.tokenAt(event.clientX, event.clientY);
      if (cell) moves.focusOn(cell);
      canvas.focus({ preventScroll: true });
    });
    stack.addEventListener('wheel', (event) => this.onWheel(event), { passive: false });
    canvas.addEventListener('keydown', (event) => this.onKey(event));
  }

  /** The map moved under the pointer (a new layout): the cross and readout follow. */
  relayout(): void {
    this.hovered = undefined;
    this.hover(this.pointerX, this.pointerY);
  }

  /** Forgets the pointer (the map was cleared). */
  leave(): void {
    this.hover(NaN, NaN);
  }

  /** The token pair under a client position, in the target viewport (undefined outside it). */
  private tokenAt(clientX: number, clientY: number): MapCell | undefined {
    const target = this.moves.place()?.target;
    if (!target || Number.isNaN(clientX)) return undefined;
    const bounds = this.stack.getBoundingClientRect();
    const key = target.firstKey + Math.floor(((clientX - bounds.left) / bounds.width) * (target.endKey - target.firstKey));
    const query = target.firstRow + Math.floor(((clientY - bounds.top) / bounds.height) * (target.endRow - target.firstRow));
    const inside = key >= target.firstKey && key < target.endKey && query >= target.firstRow && query < target.endRow;
    return inside ? { query, key } : undefined;
  }

  private onPointerMove(event: PointerEvent): void {
    const { drag } = this;
    const place = this.moves.place();
    if (drag && place && event.buttons & 1 && place.tokenPx > 0) {
      const [dx, dy] = [event.clientX - drag.x, event.clientY - drag.y];
      if (drag.moved || Math.hypot(dx, dy) >= DRAG_THRESHOLD) {
        drag.moved = true;
        this.moves.ask(panned(drag.target, place.tokenCount, -Math.round(dy / place.tokenPx), -Math.round(dx / place.tokenPx)));
      }
    }
    this.hover(event.clientX, event.clientY);
  }

  /** The wheel zooms around the token under the pointer. */
  private onWheel(event: WheelEvent): void {
    if (!this.moves.place()) return;
    event.preventDefault();
    const pixels = event.deltaMode === WheelEvent.DOM_DELTA_LINE ? event.deltaY * 16 : event.deltaY;
    const factor = Math.min(ZOOM_STEP, Math.max(1 / ZOOM_STEP, ZOOM_STEP ** (pixels / WHEEL_PER_STEP)));
    if (factor !== 1) this.moves.zoomBy(factor, this.tokenAt(event.clientX, event.clientY));
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
    const place = this.moves.place();
    const at = this.tokenAt(this.pointerX, this.pointerY);
    const cell = at && place ? cellAt(place.map.viewport, at.query, at.key) : undefined;
    const same = cell && this.hovered && cell.row === this.hovered.row && cell.col === this.hovered.col;
    if (same || (!cell && !this.hovered && !at)) return;
    this.hovered = cell;
    this.hoverRow.hidden = this.hoverColumn.hidden = !cell || !place;
    if (cell && place) {
      const { target, tokenPx: px } = place;
      this.hoverRow.style.transform = `translateY(${(cell.queries.first - target.firstRow) * px}px)`;
      this.hoverRow.style.height = `${(cell.queries.end - cell.queries.first) * px}px`;
      this.hoverColumn.style.transform = `translateX(${(cell.keys.first - target.firstKey) * px}px)`;
      this.hoverColumn.style.width = `${(cell.keys.end - cell.keys.first) * px}px`;
    }
    this.moves.showReadout(cell && at);
  }

  /** Keys: + and − zoom around the focused cell, 0 shows the whole map, Shift+arrows pan by a
   *  quarter of the view; the others walk the focused cell (one cell a step), and the view follows
   *  it, saying each cell it reaches. */
  private onKey(event: KeyboardEvent): void {
    const place = this.moves.place();
    if (!place) return;
    const { map, target, tokenCount: T, focused } = place;
    const plain = !event.ctrlKey && !event.metaKey && !event.altKey;
    const panKeys: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    if (plain && (event.key === '+' || event.key === '=')) this.moves.zoomBy(1 / ZOOM_STEP, focused);
    else if (plain && (event.key === '-' || event.key === '_')) this.moves.zoomBy(ZOOM_STEP, focused);
    else if (plain && event.key === '0') this.moves.showWhole();
    else if (plain && event.shiftKey && Object.hasOwn(panKeys, event.key)) {
      const [rows, keys] = panKeys[event.key];
      const quarter = (first: number, end: number) => Math.max(1, Math.round((end - first) / 4));
      this.moves.ask(panned(target, T, rows * quarter(target.firstRow, target.endRow), keys * quarter(target.firstKey, target.endKey)));
    } else {
      const cell = cellAfterKey(focused, event, T, tokensPerCell(map.viewport));
      if (!cell) return;
      this.moves.focusOn(cell);
      this.moves.reached(cell);
    }
    event.preventDefault();
  }
}
