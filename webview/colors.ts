// Colours come from the VS Code theme (its --vscode-* CSS variables, read by theme.ts) and are
// interpolated with d3, so a map's zero is always the editor background and the panel follows theme
// changes. This module touches no DOM, so the unit tests run it under Node.
//
// Hues: A1 (the map that adds) uses the "positive" hue, A2 and lambda*A2 (the map that is
// subtracted) the "negative" hue, and the signed A1 - lambda*A2 uses both around a zero-centred,
// symmetric scale. All scales are square-root scales so that the many small attention weights stay
// visible next to a few large ones; legends show the true values.

import { color } from 'd3-color';
import { interpolateLab, piecewise } from 'd3-interpolate';
import { scaleDivergingSqrt, scaleSequentialSqrt, type ScaleDiverging, type ScaleSequential } from 'd3-scale';
import type { MapView } from '../shared/model';

export interface Theme {
  background: string;
  foreground: string;
  mutedForeground: string;
  positive: string;
  negative: string;
  /** Outlines: locked row, selected thumbnail. */
  highlight: string;
  /** Histogram bars. */
  bars: string;
  /** Quantisation grid lines over the logit histograms. */
  grid: string;
  uiFont: string;
  tokenFont: string;
}

const DARK_FALLBACK: Theme = {
  background: '#1e1e1e',
  foreground: '#cccccc',
  mutedForeground: '#9d9d9d',
  positive: '#f14c4c',
  negative: '#3794ff',
  highlight: '#cca700',
  bars: '#d18616',
  grid: '#b180d7',
  uiFont: 'sans-serif',
  tokenFont: 'monospace',
};

const LIGHT_FALLBACK: Theme = {
  ...DARK_FALLBACK,
  background: '#ffffff',
  foreground: '#3b3b3b',
  mutedForeground: '#717171',
  positive: '#e51400',
  negative: '#1a85ff',
  highlight: '#bf8803',
  grid: '#652d90',
};

/** The colours and fonts where the page lacks a variable (theme.ts), for a dark and a light theme. */
export const FALLBACK_THEMES: Record<'dark' | 'light', Theme> = { dark: DARK_FALLBACK, light: LIGHT_FALLBACK };

/** Entries of the lookup table (odd, so that 0 of a symmetric domain has its own exact entry). */
const LUT_SIZE = 4097;

/** A theme colour scale over a value domain, with a lookup table for painting many cells fast. */
export class ColorScale {
  readonly signed: boolean;
  readonly min: number;
  readonly max: number;
  private readonly lut = new Uint8ClampedArray(LUT_SIZE * 4);

  /** signed: a diverging scale over [-maxAbs, maxAbs]; otherwise sequential over [0, maxAbs]. */
  constructor(theme: Theme, hue: string, signed: boolean, maxAbs: number) {
    const extent = maxAbs > 0 && Number.isFinite(maxAbs) ? maxAbs : 1;
    this.signed = signed;
    this.min = signed ? -extent : 0;
    this.max = extent;
    const scale: ScaleSequential<string> | ScaleDiverging<string> = signed
      ? scaleDivergingSqrt(piecewise(interpolateLab, [theme.negative, theme.background, theme.positive])).domain([-extent, 0, extent])
      : scaleSequentialSqrt(interpolateLab(theme.background, hue)).domain([0, extent]);
    for (let i = 0; i < LUT_SIZE; i++) {
      const rgb = color(scale(this.min + ((this.max - this.min) * i) / (LUT_SIZE - 1)))!.rgb();
      this.lut[i * 4] = rgb.r;
      this.lut[i * 4 + 1] = rgb.g;
      this.lut[i * 4 + 2] = rgb.b;
    }
  }

  /** Writes the RGBA colour of every value into pixels (4 bytes per value, same order). */
  paint(values: ArrayLike<number>, pixels: Uint8ClampedArray): void {
    for (let i = 0, p = 0; i < values.length; i++, p += 4) {
      const at = this.entry(values[i]);
      pixels[p] = this.lut[at];
      pixels[p + 1] = this.lut[at + 1];
      pixels[p + 2] = this.lut[at + 2];
      pixels[p + 3] = 255;
    }
  }

  /** A value's colour as CSS (an SVG legend's gradient stops). */
  cssColor(value: number): string {
    const at = this.entry(value);
    return `rgb(${this.lut[at]}, ${this.lut[at + 1]}, ${this.lut[at + 2]})`;
  }

  /** Where a value's colour starts in the lookup table (clamped to the domain). */
  private entry(value: number): number {
    const at = Math.round((value - this.min) * ((LUT_SIZE - 1) / (this.max - this.min)));
    return (at < 0 ? 0 : at >= LUT_SIZE ? LUT_SIZE - 1 : at) * 4;
  }
}

/** The scale for a view's values: diverging for the signed view (or any data with negative
 *  values, e.g. lambda*A2 with a negative lambda), sequential otherwise. */
export function scaleForView(theme: Theme, view: MapView, values: ArrayLike<number>): ColorScale {
  const { min, max } = extent(values);
  const signed = view === 'diff' || min < 0;
  const hue = view === 'a1' ? theme.positive : theme.negative;
  return new ColorScale(theme, hue, signed, Math.max(Math.abs(min), Math.abs(max)));
}

/** Smallest and largest value of an array (NaN ignored). */
function extent(values: ArrayLike<number>): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return min <= max ? { min, max } : { min: 0, max: 0 };
}
