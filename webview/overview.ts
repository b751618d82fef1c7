// The overview grid: one small canvas per layer (rows) and head (columns) showing the current
// view's average-pooled thumbnail, with lambda in the row labels; clicking one selects it. All
// thumbnails of a view share one colour scale so heads can be compared.

import type { MapView } from '../shared/model';
import type { InspectionMeta } from '../shared/protocol';
import { putScaledValues } from './canvas';
import { scaleForView, type Theme } from './colors';
import { formatLambda, VIEW_LABELS } from './format';
import { textElement } from './view';

export class OverviewGrid {
  private thumbnails: HTMLCanvasElement[] = [];
  private shape = '';

  constructor(
    private readonly container: HTMLElement,
    private readonly lambdaLine: HTMLElement,
    onSelect: (layer: number, head: number) => void,
  ) {
    const pick = (target: EventTarget | null): void => {
      const thumbnail = target instanceof HTMLCanvasElement ? target : undefined;
      if (thumbnail?.dataset.layer && thumbnail.dataset.head) onSelect(Number(thumbnail.dataset.layer), Number(thumbnail.dataset.head));
    };
    container.addEventListener('click', (event) => pick(event.target));
    container.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        pick(event.target);
      }
    });
  }

  /** Draws every thumbnail of a view (values: nLayer * nHead thumbnails, layer-major). */
  show(meta: InspectionMeta, values: Float32Array | undefined, view: MapView, theme: Theme): void {
    const { nLayer, nHead } = meta.model;
    const size = meta.thumbnailSize;
    this.build(meta);
    this.lambdaLine.textContent =
      meta.lambda.length > 0
        ? `λ per layer: ${meta.lambda.map((lambda, layer) => `L${layer} ${formatLambda(lambda)}`).join(' · ')}`
        : 'Baseline model: one softmax map per head, no λ.';
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
      canvas.title = `Layer ${canvas.dataset.layer}, head ${canvas.dataset.head} · ${VIEW_LABELS[view]}`;
    });
  }

  /** Marks the selected thumbnail. */
  select(layer: number, head: number): void {
    for (const canvas of this.thumbnails) {
      const selected = Number(canvas.dataset.layer) === layer && Number(canvas.dataset.head) === head;
      canvas.classList.toggle('selected', selected);
      canvas.setAttribute('aria-pressed', String(selected));
    }
  }

  clear(): void {
    this.container.replaceChildren();
    this.lambdaLine.textContent = '';
    this.thumbnails = [];
    this.shape = '';
  }

  /** Creates the grid's cells when the model's shape changes: a header row of heads, then per
   *  layer a label (with lambda) and nHead canvases. */
  private build(meta: InspectionMeta): void {
    const { nLayer, nHead } = meta.model;
    const shape = `${nLayer}x${nHead}x${meta.thumbnailSize}:${meta.lambda.join()}`;
    if (shape === this.shape) return;
    this.shape = shape;
    this.container.style.gridTemplateColumns = `auto repeat(${nHead}, var(--thumbnail-size))`;
    const cells: HTMLElement[] = [textElement('div', '', 'overview-corner')];
    for (let head = 0; head < nHead; head++) cells.push(textElement('div', `H${head}`, 'overview-head'));
    this.thumbnails = [];
    for (let layer = 0; layer < nLayer; layer++) {
      const label = textElement('div', `L${layer}`, 'overview-layer');
      if (meta.lambda.length > layer) label.append(textElement('span', `λ ${formatLambda(meta.lambda[layer])}`, 'overview-lambda'));
      cells.push(label);
      for (let head = 0; head < nHead; head++) {
        const canvas = document.createElement('canvas');
        canvas.className = 'thumbnail';
        canvas.width = canvas.height = meta.thumbnailSize;
        canvas.dataset.layer = String(layer);
        canvas.dataset.head = String(head);
        canvas.tabIndex = 0;
        canvas.setAttribute('role', 'button');
        this.thumbnails.push(canvas);
        cells.push(canvas);
      }
    }
    this.container.replaceChildren(...cells);
  }
}
