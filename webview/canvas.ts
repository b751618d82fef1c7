// Drawing on 2D canvases, shared by the views: device-pixel sizing, theme fonts and UI text, values
// coloured by a ColorScale into an ImageData put in one call, and the colour bar of a scale. Text
// from the user's document is drawn with fillText, which never interprets it.

import { scaleLinear } from 'd3-scale';
import type { ColorScale, Theme } from './colors';

/** Gives a canvas a CSS size and a device-pixel buffer; returns its context in CSS px units. */
export function sizeCanvas(canvas: HTMLCanvasElement, width: number, height: number): CanvasRenderingContext2D {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const context = canvas.getContext('2d')!;
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  return context;
}

/** Paints [0, width) x [0, height) in the theme's background (canvases are transparent otherwise). */
export function fillBackground(context: CanvasRenderingContext2D, theme: Theme, width: number, height: number): void {
  context.fillStyle = theme.background;
  context.fillRect(0, 0, width, height);
}

/** The CSS font of UI text (or of token text) at a pixel size. */
export function themeFont(theme: Theme, sizePx: number, family: 'ui' | 'token' = 'ui'): string {
  return `${sizePx}px ${family === 'ui' ? theme.uiFont : theme.tokenFont}`;
}

export interface TextStyle {
  /** Pixel size (default 12). */
  size?: number;
  /** Fill colour (default the theme's foreground). */
  color?: string;
  maxWidth?: number;
}

/** One line of UI text, left-aligned on its baseline at (x, y). */
export function drawText(context: CanvasRenderingContext2D, theme: Theme, text: string, x: number, y: number, style: TextStyle = {}): void {
  context.font = themeFont(theme, style.size ?? 12);
  context.fillStyle = style.color ?? theme.foreground;
  context.textAlign = 'left';
  context.textBaseline = 'alphabetic';
  context.fillText(text, x, y, style.maxWidth);
}

/** Colours `values` (one per pixel of `image`, row-major) with `scale` and puts them at the canvas's
 *  origin in a single putImageData. */
export function putScaledValues(context: CanvasRenderingContext2D, image: ImageData, values: ArrayLike<number>, scale: ColorScale): void {
  scale.paint(values, image.data);
  context.putImageData(image, 0, 0);
}

/** A colour bar with ticks and a caption; positions are linear in value (the colours are not). */
export function drawLegend(
  context: CanvasRenderingContext2D,
  theme: Theme,
  scale: ColorScale,
  caption: string,
  x: number,
  y: number,
  width: number,
): void {
  const barTop = y + 16;
  const barHeight = 10;
  const steps = Math.max(2, Math.round(width));
  const values = new Float32Array(steps);
  for (let i = 0; i < steps; i++) values[i] = scale.min + ((scale.max - scale.min) * i) / (steps - 1);
  // The bar is painted 1 px high and stretched, so it goes through a scratch canvas.
  const scratch = document.createElement('canvas');
  scratch.width = steps;
  scratch.height = 1;
  putScaledValues(scratch.getContext('2d')!, new ImageData(steps, 1), values, scale);
  context.imageSmoothingEnabled = false;
  context.drawImage(scratch, x, barTop, width, barHeight);
  context.strokeStyle = theme.mutedForeground;
  context.lineWidth = 1;
  context.strokeRect(x + 0.5, barTop + 0.5, width - 1, barHeight - 1);

  const fitted = fitCaption(context, theme, caption, width);
  drawText(context, theme, fitted.text, x, y + 11, { size: fitted.size });
  context.font = themeFont(theme, 11);
  const axis = scaleLinear().domain([scale.min, scale.max]).range([x, x + width]);
  const format = axis.tickFormat(5);
  context.textBaseline = 'top';
  for (const tick of axis.ticks(5)) {
    const at = axis(tick);
    context.fillRect(Math.round(at), barTop + barHeight, 1, 3);
    context.textAlign = at - x < 12 ? 'left' : x + width - at < 12 ? 'right' : 'center';
    context.fillText(format(tick).replace('-', '−'), at, barTop + barHeight + 4);
  }
}

/** Legend captions are drawn at 11 px, down to 9 px where that fits the width; past that cut with an
 *  ellipsis (the legend's tooltip has it whole), never squeezed sideways into unreadable glyphs. */
const CAPTION_SIZES = [11, 10, 9];

function fitCaption(context: CanvasRenderingContext2D, theme: Theme, caption: string, width: number): { text: string; size: number } {
  const fits = (text: string, size: number) => {
    context.font = themeFont(theme, size);
    return context.measureText(text).width <= width;
  };
  for (const size of CAPTION_SIZES) if (fits(caption, size)) return { text: caption, size };
  const size = CAPTION_SIZES[CAPTION_SIZES.length - 1];
  const chars = [...caption];
  let kept = chars.length;
  while (kept > 0 && !fits(`${chars.slice(0, kept).join('').trimEnd()}…`, size)) kept--;
  return { text: `${chars.slice(0, kept).join('').trimEnd()}…`, size };
}
