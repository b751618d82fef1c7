// Text helpers shared by the views. Token texts are untrusted: they only ever reach the page through
// textContent (view.ts's textElement) or canvas fillText, and these helpers only make whitespace
// visible.

import type { MapView } from '../shared/model';

export const VIEW_LABELS: Record<MapView, string> = {
  a1: 'A1',
  a2: 'A2',
  lambdaA2: 'λ·A2',
  diff: 'A1−λ·A2',
};

const VISIBLE_WHITESPACE: Record<string, string> = { '\n': '↵', '\r': '␍', '\t': '→', ' ': '·' };

/** A token's text with whitespace and control characters made visible, shortened to maxLength. */
export function visibleText(text: string, maxLength = 24): string {
  let shown = '';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    shown += VISIBLE_WHITESPACE[char] ?? (code < 0x20 || code === 0x7f ? '�' : char);
  }
  if (shown === '') return '∅';
  return shown.length > maxLength ? `${shown.slice(0, maxLength - 1)}…` : shown;
}

/** A value with 4 significant digits and a real minus sign. */
export function formatValue(value: number): string {
  const text = Math.abs(value) >= 1e-4 || value === 0 ? value.toPrecision(4) : value.toExponential(2);
  return text.replace('-', '−');
}

/** lambda with 3 decimals, as the model card and the CLI print it. */
export function formatLambda(lambda: number): string {
  return lambda.toFixed(3);
}
