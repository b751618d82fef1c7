// The panel's colour scales without a browser (webview/colors.ts): a map's zero is the editor's
// background, its largest magnitude the view's hue, and the scale is a square root in Lab between
// them (so that many small weights stay visible beside a few large ones); the signed view and any
// data with negative values diverge around the background.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { color } from 'd3-color';
import { interpolateLab } from 'd3-interpolate';
import { ColorScale, FALLBACK_THEMES, scaleForView } from '../../webview/colors';

/** The dark theme the panel falls back to: a red positive hue, a blue negative one. */
const THEME = FALLBACK_THEMES.dark;

type Rgba = [number, number, number, number];

/** The RGBA a scale paints each value. */
function painted(scale: ColorScale, values: number[]): Rgba[] {
  const pixels = new Uint8ClampedArray(values.length * 4);
  scale.paint(values, pixels);
  return values.map((_, i) => Array.from(pixels.subarray(i * 4, i * 4 + 4)) as Rgba);
}

/** An opaque colour given as CSS text. */
function rgba(css: string): Rgba {
  const { r, g, b } = color(css)!.rgb();
  return [Math.round(r), Math.round(g), Math.round(b), 255];
}

/** Whether two colours differ by at most one step per channel (the lookup table's rounding). */
function assertNear(actual: Rgba, expected: Rgba, what: string): void {
  assert.ok(actual.every((channel, i) => Math.abs(channel - expected[i]) <= 1), `${what}: ${actual} is not ${expected}`);
}

test('a sequential scale runs from the background at 0 to the hue at its maximum, clamped beyond', () => {
  const scale = new ColorScale(THEME, THEME.positive, false, 0.8);
  assert.deepEqual([scale.signed, scale.min, scale.max], [false, 0, 0.8]);
  const [zero, top, beyond, below] = painted(scale, [0, 0.8, 5, -1]);
  assert.deepEqual(zero, rgba(THEME.background));
  assert.deepEqual(top, rgba(THEME.positive));
  assert.deepEqual(beyond, top);
  assert.deepEqual(below, zero);
});

test('a square-root scale: a quarter of the maximum is halfway (in Lab) from the background to the hue', () => {
  const scale = new ColorScale(THEME, THEME.negative, false, 2);
  const [quarter] = painted(scale, [0.5]);
  assertNear(quarter, rgba(interpolateLab(THEME.background, THEME.negative)(Math.sqrt(0.5 / 2))), 'value 0.5 of 2');
});

test('a signed scale diverges around the background: the negative hue below, the positive above', () => {
  const scale = new ColorScale(THEME, THEME.positive, true, 3);
  assert.deepEqual([scale.signed, scale.min, scale.max], [true, -3, 3]);
  const [low, zero, high, lowQuarter] = painted(scale, [-3, 0, 3, -0.75]);
  assert.deepEqual(low, rgba(THEME.negative));
  assert.deepEqual(zero, rgba(THEME.background), '0 has its own entry of the table');
  assert.deepEqual(high, rgba(THEME.positive));
  assertNear(lowQuarter, rgba(interpolateLab(THEME.background, THEME.negative)(Math.sqrt(0.75 / 3))), 'a quarter of the way down');
});

test('a view’s scale: signed for A1−λ·A2 or negative data, the positive hue for A1, its extent the largest magnitude', () => {
  const diff = scaleForView(THEME, 'diff', [0.1, 0.4, 0.2]);
  assert.deepEqual([diff.signed, diff.min, diff.max], [true, -0.4, 0.4], 'A1−λ·A2 is signed even where no value is negative');
  const a1 = scaleForView(THEME, 'a1', new Float32Array([0.25, 0.5, NaN]));
  assert.deepEqual([a1.signed, a1.max], [false, 0.5], 'NaN is left out of the extent');
  assert.deepEqual(painted(a1, [0.5])[0], rgba(THEME.positive));
  const a2 = scaleForView(THEME, 'a2', [0, 0.3]);
  assert.deepEqual(painted(a2, [0.3])[0], rgba(THEME.negative), 'A2, the subtracted map, in the negative hue');
  const lambdaA2 = scaleForView(THEME, 'lambdaA2', [-0.6, 0.2]);
  assert.deepEqual([lambdaA2.signed, lambdaA2.min, lambdaA2.max], [true, -0.6, 0.6], 'a negative λ makes λ·A2 signed');
  const empty = scaleForView(THEME, 'a1', new Float32Array(4));
  assert.deepEqual([empty.max, painted(empty, [0])[0]], [1, rgba(THEME.background)], 'an all-zero map is all background');
});
