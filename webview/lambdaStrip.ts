// The λ strip beside a heatmap, for a model whose λ varies per token and head (DIFF V2): one cell
// per cell row of the map (a query, or the mean of the queries a pooled row covers), level with
// the map's rows, coloured by that λ for the map's head (the hue of A2, which λ multiplies).
// Hovering it names the row's λ in the map's readout; the canvas
// is hidden from screen readers, whose cell descriptions carry the same λ. It lists its values
// (data-values). Every heatmap has one (heatmap.ts), shown when its map carries λ per row.

import { putScaledValues } from './canvas';
import { lambdaRange } from '../shared/lambda';
import { ColorScale, type Theme } from './colors';
import { element, textElement } from './view';

/** Width of the strip (CSS px). */
const STRIP_WIDTH = 10;
/** Room the strip takes beside the map: its width and the gap before it. */
export const STRIP_ROOM = STRIP_WIDTH + 4;

export class LambdaStrip {
  /** The strip's heading, above it (over the column labels' row). */
  readonly label = textElement('div', 'λ', 'lambda-strip-label');
  readonly canvas: HTMLCanvasElement;
  private values: Float32Array | undefined;

  constructor(idPrefix: string, onHover: (row: number | undefined) => void) {
    this.canvas = element('canvas', 'lambda-strip', `${idPrefix}lambda-strip`);
    this.canvas.setAttribute('aria-hidden', 'true');
    this.canvas.title = 'λ of each query token for this head';
    this.label.setAttribute('aria-hidden', 'true');
    this.show(undefined, undefined);
    this.canvas.addEventListener('pointermove', (event) => onHover(this.rowAt(event.clientY)));
    this.canvas.addEventListener('pointerleave', () => onHover(undefined));
  }

  /** Whether the strip is shown (the map has a λ per query row). */
  get shown(): boolean {
    return this.values !== undefined;
  }

  /** Paints λ per cell row, or hides the strip (undefined: one λ for the whole layer). */
  show(values: Float32Array | undefined, theme: Theme | undefined): void {
    this.values = values;
    this.canvas.hidden = this.label.hidden = !values;
    // The values it shows, for a reader (and a test) that cannot read colours.
    if (values) this.canvas.dataset.values = Array.from(values).join(',');
    else delete this.canvas.dataset.values;
    if (!values || !theme) return;
    this.canvas.width = 1;
    this.canvas.height = values.length;
    const context = this.canvas.getContext('2d')!;
    putScaledValues(context, context.createImageData(1, values.length), values, stripScale(theme, values));
  }

  /** Sizes the strip to the map's rows, `height` CSS px. */
  layout(height: number): void {
    if (!this.values) return;
    this.canvas.style.width = `${STRIP_WIDTH}px`;
    this.canvas.style.height = `${height}px`;
  }

  private rowAt(clientY: number): number | undefined {
    if (!this.values) return undefined;
    const bounds = this.canvas.getBoundingClientRect();
    const row = Math.floor(((clientY - bounds.top) / bounds.height) * this.values.length);
    return row >= 0 && row < this.values.length ? row : undefined;
  }
}

/** One scale for every strip, so a colour means the same λ beside any head and in either What-if
 *  run (λ × 0.5 looks paler): up to 1 (a pure difference; DIFF V2's λ = sigmoid(x W_λ) stays
 *  below it), further only for a larger λ a what-if set, diverging once a what-if makes it negative. */
function stripScale(theme: Theme, values: Float32Array): ColorScale {
  const [low, high] = lambdaRange(values);
  return new ColorScale(theme, theme.negative, low < 0, Math.max(1, Math.abs(low), Math.abs(high)));
}
