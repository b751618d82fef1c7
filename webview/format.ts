// Text helpers shared by the views. Token texts are untrusted: they only ever reach the page through
// textContent or canvas fillText, with whitespace, control characters and byte fragments made
// visible as signs (shared/tokenText.ts, as in the editor's hover), styled .token-escape in the DOM.

import type { MapView } from '../shared/model';
import { visiblePieces } from '../shared/tokenText';

export { visibleText } from '../shared/tokenText';
export { formatValue } from './valueText';

export const VIEW_LABELS: Record<MapView, string> = {
  a1: 'A1',
  a2: 'A2',
  lambdaA2: 'λ·A2',
  diff: 'A1−λ·A2',
};

/** A token's text as a <span class="token-text"> whose signs are <span class="token-escape">
 *  (whitespace, byte fragments): text only, never parsed as HTML. */
export function visibleTextElement(text: string, maxLength = 24, className = 'token-text'): HTMLSpanElement {
  const shown = document.createElement('span');
  shown.className = className;
  for (const piece of visiblePieces(text, maxLength)) {
    if (!piece.sign) {
      shown.append(piece.text);
      continue;
    }
    const sign = document.createElement('span');
    sign.className = 'token-escape';
    sign.textContent = piece.text;
    shown.append(sign);
  }
  return shown;
}
