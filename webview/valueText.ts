// A number as the panel writes it, apart from the DOM helpers of format.ts so that the SVG writers
// the unit tests run under Node can share it.

/** A value with 4 significant digits and a real minus sign. */
export function formatValue(value: number): string {
  const text = Math.abs(value) >= 1e-4 || value === 0 ? value.toPrecision(4) : value.toExponential(2);
  return text.replace('-', '−');
}
