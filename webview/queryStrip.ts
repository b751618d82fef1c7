// The locked query's row at full resolution, a strip under the heatmap: one cell per key cell of
// the map's viewport (the host computes the row on its own when the map's cell rows pool several
// queries), coloured on the map's scale and placed under the map's key columns, so the keys a
// single query retrieves stay visible however many queries a map row covers. Hovering it names the
// key cell's value in the readout. It says which query it shows (data-query; data-run-id, -layer,
// -head, -view) for a reader and the tests. Styled here (the panel's style sheet has no rule for it).

import type { ColorScale } from './colors';
import { describeElement, element, QUERY_STRIP_GAP, QUERY_STRIP_HEIGHT } from './view';

export class QueryStrip {
  /** "query N", left of the strip (under the row labels). */
  readonly label = element('div', 'query-strip-label');
  /** The strip's clip box, under the map. */
  readonly frame = element('div', 'query-strip-frame');
  readonly canvas: HTMLCanvasElement;
  private shownColumns = 0;

  constructor(idPrefix: string, onHover: (col: number | undefined) => void) {
    this.canvas = element('canvas', 'query-strip', `${idPrefix}query-strip`);
    this.canvas.setAttribute('aria-hidden', 'true'); // the readout and View as table say the same
    this.canvas.title = 'The locked query’s row at full resolution';
    Object.assign(this.frame.style, { gridArea: '3 / 2', position: 'relative', overflow: 'hidden', height: `${QUERY_STRIP_HEIGHT}px`, marginTop: `${QUERY_STRIP_GAP}px` });
    Object.assign(this.canvas.style, { position: 'absolute', top: '0', height: '100%', imageRendering: 'pixelated' });
    Object.assign(this.label.style, {
      gridArea: '3 / 1',
      marginTop: `${QUERY_STRIP_GAP}px`,
      paddingRight: '4px',
      fontSize: '0.85em',
      lineHeight: `${QUERY_STRIP_HEIGHT}px`,
      textAlign: 'right',
      whiteSpace: 'nowrap',
      overflow: 'hidden',
      color: 'var(--vscode-descriptionForeground)',
    });
    this.label.setAttribute('aria-hidden', 'true');
    this.frame.append(this.canvas);
    this.show(undefined, undefined, undefined);
    this.canvas.addEventListener('pointermove', (event) => onHover(this.columnAt(event.clientX)));
    this.canvas.addEventListener('pointerleave', () => onHover(undefined));
  }

  /** Paints the row (one value per key cell) on the map's scale; hides the strip without one.
   *  `described` says what it shows (data-*). */
  show(values: Float32Array | undefined, scale: ColorScale | undefined, described: (Record<string, string | number> & { query: number }) | undefined): void {
    const shown = values !== undefined && scale !== undefined && described !== undefined;
    this.frame.hidden = this.label.hidden = !shown;
    describeElement(this.canvas, shown ? described : undefined);
    this.shownColumns = shown ? values.length : 0;
    if (!shown) return;
    this.label.textContent = `query ${described.query}`;
    this.canvas.width = values.length;
    this.canvas.height = 1;
    const context = this.canvas.getContext('2d')!;
    const image = context.createImageData(values.length, 1);
    scale.paint(values, image.data);
    context.putImageData(image, 0, 0);
  }

  /** Sizes the strip to the map: the frame as wide as the map's box, the row where the map's key
   *  columns are (`left` and `width` CSS px, as the map's canvas is placed in its box). */
  layout(boxWidth: number, left: number, width: number): void {
    this.frame.style.width = `${boxWidth}px`;
    this.canvas.style.width = `${width}px`;
    this.canvas.style.transform = `translateX(${left}px)`;
  }

  private columnAt(clientX: number): number | undefined {
    const bounds = this.canvas.getBoundingClientRect();
    const col = Math.floor(((clientX - bounds.left) / bounds.width) * this.shownColumns);
    return col >= 0 && col < this.shownColumns ? col : undefined;
  }
}
