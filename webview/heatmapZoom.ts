// A heatmap's zoom bar and caption (heatmap.ts): the −, + and ⤢ buttons and the pooling switch
// (shown while cells pool tokens) sit beside the readout, not in a row of their own, and the
// caption under them is one line (the whole text is its tooltip), so that the map keeps the
// panel's height. The caption says what the map's head is made of and which tokens the view shows.

import { POOLINGS, type MapViewport } from '../shared/inspection';
import { createButton, createPoolingSwitch, type Pooling, type PoolingSwitch } from './controls';
import { ZOOM_STEP } from './heatmapInput';
import { element } from './view';
import { isPooled, tokensPerCell } from './viewport';

/** What the zoom bar asks of its heatmap. */
export interface ZoomRequests {
  /** Zoom by `factor` (< 1: in) around the middle of the view. */
  zoomBy(factor: number): void;
  showWhole(): void;
  pool(pooling: Pooling): void;
}

/** Element ids: PREFIXzoom-out, -zoom-in, -zoom-whole, PREFIXpooling-switch, PREFIXheatmap-caption
 *  (the head's part of the caption) and PREFIXviewport (the view's part). */
export class HeatmapZoom {
  readonly bar = element('div', 'heatmap-zoom');
  readonly caption = element('div', 'heatmap-caption');
  private readonly headCaption: HTMLElement;
  private readonly viewportLabel: HTMLElement;
  private readonly pooling: PoolingSwitch;

  constructor(idPrefix: string, requests: ZoomRequests) {
    Object.assign(this.caption.style, { whiteSpace: 'nowrap', overflow: 'hidden', textOverflow: 'ellipsis' });
    this.headCaption = element('span', '', `${idPrefix}heatmap-caption`);
    this.pooling = createPoolingSwitch(`${idPrefix}pooling-switch`, (pooling) => requests.pool(pooling));
    this.viewportLabel = element('span', 'heatmap-viewport', `${idPrefix}viewport`);
    this.caption.append(this.headCaption, this.viewportLabel);
    Object.assign(this.bar.style, { display: 'flex', alignItems: 'center', gap: '4px', flex: 'none' });
    this.bar.append(
      createButton(`${idPrefix}zoom-out`, '−', 'Zoom out (−)', () => requests.zoomBy(ZOOM_STEP)),
      createButton(`${idPrefix}zoom-in`, '+', 'Zoom in (+)', () => requests.zoomBy(1 / ZOOM_STEP)),
      createButton(`${idPrefix}zoom-whole`, '⤢', 'Show the whole map (0)', () => requests.showWhole()),
      this.pooling.element,
    );
  }

  /** The caption's first part: what the map's head is made of ('' for nothing). */
  setHead(text: string): void {
    if (this.headCaption.textContent !== text) this.headCaption.textContent = text;
  }

  /** Shows the bar for the viewport `target` the heatmap shows (its map's cells `mapPooled` or
   *  not; `pending` while the map for `target` is on its way) and says in the caption what the
   *  view shows. */
  show(target: MapViewport, mapPooled: boolean, pending: boolean): void {
    this.bar.hidden = false;
    this.pooling.element.hidden = !isPooled(target) && !mapPooled;
    this.pooling.show(POOLINGS, target.pooling);
    const perCell = tokensPerCell(target);
    const cells = perCell.rows * perCell.keys > 1 ? `${perCell.rows}×${perCell.keys} tokens a cell (${target.pooling})` : 'one cell per token';
    const rows = `queries ${target.firstRow}–${target.endRow - 1}`;
    const keys = `keys ${target.firstKey}–${target.endKey - 1}`;
    const separator = this.headCaption.textContent ? ' · ' : '';
    this.viewportLabel.textContent = `${separator}${rows}, ${keys} · ${cells}${pending ? ' · computing…' : ''}`;
    this.caption.title = this.caption.textContent ?? '';
  }

  hide(): void {
    this.bar.hidden = true;
  }
}
