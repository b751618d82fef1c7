// The overview grid: one small canvas per layer (rows) and head (columns) showing the current
// view's average-pooled thumbnail, with lambda in the row labels (and, for a model whose λ varies
// per token, each head's λ range under its thumbnail); clicking one selects it. All
// thumbnails of a view share one colour scale so heads can be compared. For the keyboard it is one
// tab stop, a listbox with roving focus: the arrows move between thumbnails, Enter or Space opens one.

import type { MapView } from '../shared/model';
import type { InspectionMeta } from '../shared/protocol';
import { putScaledValues } from './canvas';
import { scaleForView, type Theme } from './colors';
import { VIEW_LABELS } from './format';
import { headLambda, lambdaPerToken, layerLambda, subHeadNote } from './heads';
import { textElement } from './view';

export class OverviewGrid {
  private thumbnails: HTMLCanvasElement[] = [];
  private nHead = 0;
  private shape = '';

  constructor(
    private readonly container: HTMLElement,
    private readonly lambdaLine: HTMLElement,
    onSelect: (layer: number, head: number) => void,
    /** A right-click (or the context-menu key) on a thumbnail, at client position (x, y). */
    onContextMenu: (layer: number, head: number, x: number, y: number) => void,
  ) {
    container.setAttribute('role', 'listbox');
    container.setAttribute('aria-label', 'Overview: every layer and head');
    const pick = (target: EventTarget | null): void => {
      const thumbnail = target instanceof HTMLCanvasElement ? target : undefined;
      if (!thumbnail?.dataset.layer || !thumbnail.dataset.head) return;
      this.moveTabStop(thumbnail);
      onSelect(Number(thumbnail.dataset.layer), Number(thumbnail.dataset.head));
    };
    container.addEventListener('click', (event) => pick(event.target));
    container.addEventListener('contextmenu', (event) => {
      const thumbnail = event.target instanceof HTMLCanvasElement ? event.target : undefined;
      if (!thumbnail?.dataset.layer || !thumbnail.dataset.head) return;
      event.preventDefault(); // our menu, not VS Code's
      const box = thumbnail.getBoundingClientRect();
      const [x, y] = event.button === 2 ? [event.clientX, event.clientY] : [box.left, box.bottom];
      onContextMenu(Number(thumbnail.dataset.layer), Number(thumbnail.dataset.head), x, y);
    });
    container.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        pick(event.target);
      } else if (event.target instanceof HTMLCanvasElement) this.moveFocus(event);
    });
  }

  /** Draws every thumbnail of a view (values: nLayer * nHead thumbnails, layer-major). */
  show(meta: InspectionMeta, values: Float32Array | undefined, view: MapView, theme: Theme): void {
    const { nLayer, nHead } = meta.model;
    const size = meta.thumbnailSize;
    this.build(meta);
    this.showLambdas(meta);
    const expected = nLayer * nHead * size * size;
    if (!values || values.length !== expected || size === 0) {
      if (values) console.warn(`thumbnails of '${view}': ${values.length} values, expected ${expected}`);
      for (const canvas of this.thumbnails) canvas.getContext('2d')!.clearRect(0, 0, canvas.width, canvas.height);
      return;
    }
    const scale = scaleForView(theme, view, values);
    const image = new ImageData(size, size);
    this.thumbnails.forEach((canvas, index) => {
      putScaledValues(canvas.getContext('2d')!, image, values.subarray(index * size * size, (index + 1) * size * size), scale);
      const [layer, head] = [Number(canvas.dataset.layer), Number(canvas.dataset.head)];
      const details = [headLambda(meta, layer, head), subHeadNote(meta.model, head)].filter(Boolean);
      canvas.title = [`Layer ${layer}, head ${head} · ${VIEW_LABELS[view]}`, ...details].join(' · ');
    });
  }

  /** The λ line: one element per layer (.lambda-entry, which CSS keeps on one line), so that a
   *  narrow panel wraps the line between entries, never inside one. */
  private showLambdas(meta: InspectionMeta): void {
    const layers = Array.from({ length: meta.model.nLayer }, (_, layer) => layerLambda(meta, layer));
    if (!layers.some(Boolean)) {
      this.lambdaLine.textContent = 'Baseline model: one softmax map per head, no λ.';
      return;
    }
    const entries = layers.map((lambda, layer) => textElement('span', `L${layer} ${lambda}`, 'lambda-entry'));
    const title = lambdaPerToken(meta) ? 'λ per token and head, range in each layer: ' : 'λ per layer: ';
    this.lambdaLine.replaceChildren(title, ...entries.flatMap((entry, index) => (index > 0 ? [' · ', entry] : [entry])));
  }

  /** Marks the selected thumbnail; it is the tab stop unless the focus is in the grid. */
  select(layer: number, head: number): void {
    for (const canvas of this.thumbnails) {
      const selected = Number(canvas.dataset.layer) === layer && Number(canvas.dataset.head) === head;
      canvas.classList.toggle('selected', selected);
      canvas.setAttribute('aria-selected', String(selected));
      if (selected && !this.container.contains(document.activeElement)) this.moveTabStop(canvas);
    }
  }

  /** Makes one thumbnail the grid's only tab stop. */
  private moveTabStop(target: HTMLCanvasElement): void {
    for (const canvas of this.thumbnails) canvas.tabIndex = canvas === target ? 0 : -1;
  }

  /** Arrows move the focus by a head (←/→) or a layer (↑/↓), Home/End to the layer's first or
   *  last head (with Ctrl: the first or last thumbnail). */
  private moveFocus(event: KeyboardEvent): void {
    const from = this.thumbnails.indexOf(event.target as HTMLCanvasElement);
    const { nHead } = this;
    const rowStart = from - (from % nHead);
    const toEnd = event.ctrlKey || event.metaKey;
    const targets: Record<string, number> = {
      ArrowLeft: from - 1,
      ArrowRight: from + 1,
      ArrowUp: from - nHead,
      ArrowDown: from + nHead,
      Home: toEnd ? 0 : rowStart,
      End: toEnd ? this.thumbnails.length - 1 : rowStart + nHead - 1,
    };
    if (from < 0 || !Object.hasOwn(targets, event.key)) return;
    event.preventDefault();
    const target = this.thumbnails[targets[event.key]];
    if (!target) return;
    this.moveTabStop(target);
    target.focus();
  }

  clear(): void {
    this.container.replaceChildren();
    this.lambdaLine.textContent = '';
    this.thumbnails = [];
    this.nHead = 0;
    this.shape = '';
  }

  /** Creates the grid's cells when the model's shape or λ changes: a header row of heads, then per
   *  layer a label (with lambda) and nHead canvases, and for λ per token a row of each head's range. */
  private build(meta: InspectionMeta): void {
    const { nLayer, nHead } = meta.model;
    const shape = `${nLayer}x${nHead}x${meta.thumbnailSize}:${meta.lambda.join()}:${meta.lambdaRanges.flat(2).join()}`;
    if (shape === this.shape) return;
    this.shape = shape;
    this.nHead = nHead;
    this.container.style.gridTemplateColumns = `auto repeat(${nHead}, var(--thumbnail-size))`;
    // The labels are for the eye; each thumbnail's name says its layer, head and λ.
    const hiddenLabel = (text: string, className: string) => {
      const label = textElement('div', text, className);
      label.setAttribute('aria-hidden', 'true');
      return label;
    };
    const cells: HTMLElement[] = [hiddenLabel('', 'overview-corner')];
    for (let head = 0; head < nHead; head++) cells.push(hiddenLabel(`H${head}`, 'overview-head'));
    this.thumbnails = [];
    for (let layer = 0; layer < nLayer; layer++) {
      const label = hiddenLabel(`L${layer}`, 'overview-layer');
      const lambda = layerLambda(meta, layer);
      if (lambda) label.append(textElement('span', lambda, 'overview-lambda'));
      cells.push(label);
      for (let head = 0; head < nHead; head++) {
        const headText = headLambda(meta, layer, head);
        const canvas = document.createElement('canvas');
        canvas.className = 'thumbnail';
        canvas.width = canvas.height = meta.thumbnailSize;
        canvas.dataset.layer = String(layer);
        canvas.dataset.head = String(head);
        canvas.tabIndex = -1;
        canvas.setAttribute('role', 'option');
        canvas.setAttribute('aria-label', `layer ${layer} head ${head}${headText && `, ${headText}`}`);
        this.thumbnails.push(canvas);
        cells.push(canvas);
      }
      if (lambdaPerToken(meta)) {
        // Each head's own range, under its thumbnail (its name above says the same).
        cells.push(hiddenLabel('', 'overview-corner'));
        for (let head = 0; head < nHead; head++) cells.push(hiddenLabel(shortRange(meta.lambdaRanges[layer][head]), 'overview-head-lambda'));
      }
    }
    this.container.replaceChildren(...cells);
  }
}

/** A λ range narrow enough for a thumbnail's width, on two lines: ".12–" over ".87". */
function shortRange([min, max]: readonly [number, number]): string {
  const short = (value: number) => value.toFixed(2).replace(/^(-?)0\./, '$1.').replace('-', '−');
  return `${short(min)}–\n${short(max)}`;
}
