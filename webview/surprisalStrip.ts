// The what-if's per-token surprisal difference (bits, as the hover gives surprisal) along the text:
// one canvas cell per token on a diverging scale centred on 0 (the theme's positive colour, red in
// the default themes = the token became more surprising; negative = less), its colour bar under it,
// and the sum. Hovering a cell names its token and value. The strip lists its values (data-values)
// and says which request it shows.

import type { TokenInfo } from '../shared/inspection';
import { ColorScale, type Theme } from './colors';
import { drawLegend, sizeCanvas } from './canvas';
import { formatValue, visibleText } from './format';
import { describeElement, element, textElement } from './view';

const CELL_HEIGHT = 18;
const MAX_CELL_WIDTH = 12;
/** The colour bar under the strip (drawLegend: caption, bar and tick labels). */
const SCALE_WIDTH = 240;
const SCALE_HEIGHT = 40;

export class SurprisalStrip {
  readonly element = element('div', 'surprisal-strip');
  private readonly canvas = element('canvas', 'surprisal-canvas', 'surprisal-strip');
  private readonly scale = element('canvas', 'surprisal-scale', 'surprisal-scale');
  private readonly total = element('p', 'note surprisal-sum', 'surprisal-sum');
  private readonly readout = element('p', 'note surprisal-readout');
  private values: Float32Array = new Float32Array();
  private tokens: readonly TokenInfo[] = [];

  constructor() {
    const caption = textElement('p', 'Surprisal difference per token, what-if − unmodified (bits): red = more surprising, blue = less.', 'note');
    this.canvas.setAttribute('role', 'img');
    this.readout.setAttribute('aria-live', 'polite');
    this.scale.setAttribute('aria-hidden', 'true'); // the sum and the readout say the values
    this.element.append(caption, this.canvas, this.scale, this.total, this.readout);
    this.canvas.addEventListener('mousemove', (event) => {
      const token = Math.floor((event.offsetX / this.canvas.clientWidth) * this.values.length);
      if (token < 0 || token >= this.values.length) return;
      this.readout.textContent = `token ${token} «${visibleText(this.tokens[token]?.text ?? '')}»: ${formatValue(this.values[token])}`;
    });
  }

  /** Draws the differences of one request (undefined: clears the strip). */
  show(values: Float32Array | undefined, tokens: readonly TokenInfo[], theme: Theme, describe: Record<string, string | number> | undefined): void {
    this.values = values ?? new Float32Array();
    this.tokens = tokens;
    const { canvas } = this;
    const cell = Math.max(1, Math.min(MAX_CELL_WIDTH, Math.floor(Math.max(200, this.element.clientWidth) / Math.max(1, this.values.length))));
    canvas.width = Math.max(1, this.values.length * cell);
    canvas.height = CELL_HEIGHT;
    const context = canvas.getContext('2d')!;
    context.clearRect(0, 0, canvas.width, canvas.height);
    let maxAbs = 0;
    let sum = 0;
    for (const value of this.values) {
      maxAbs = Math.max(maxAbs, Math.abs(value));
      sum += value;
    }
    // One pixel per token, stretched to the cells (no smoothing): one putImageData.
    const image = new ImageData(Math.max(1, this.values.length), 1);
    const colours = new ColorScale(theme, theme.positive, true, maxAbs);
    colours.paint(this.values, image.data);
    const scratch = element('canvas');
    [scratch.width, scratch.height] = [image.width, 1];
    scratch.getContext('2d')!.putImageData(image, 0, 0);
    context.imageSmoothingEnabled = false;
    if (this.values.length > 0) context.drawImage(scratch, 0, 0, canvas.width, canvas.height);
    this.scale.hidden = !values;
    if (values) drawLegend(sizeCanvas(this.scale, SCALE_WIDTH, SCALE_HEIGHT), theme, colours, 'surprisal difference (bits)', 0, 0, SCALE_WIDTH);
    canvas.setAttribute('aria-label', `surprisal difference of ${this.values.length} tokens, sum ${formatValue(sum)} bits`);
    this.total.textContent = values ? `Sum: ${sum >= 0 ? '+' : '−'}${formatValue(Math.abs(sum))} bits over ${this.values.length} tokens (largest change ${formatValue(maxAbs)})` : '';
    this.readout.textContent = '';
    describeElement(canvas, describe && { ...describe, values: Array.from(this.values).join(','), sum });
  }
}
