// The quantisation what-if (the paper's Figure 8): per layer, the error of quantising its attention
// logits to each of QUANT_BITS, as a table (#quantisation: one row per layer with data-layer, each
// number a cell with data-metric and data-bits; the chosen bit width's cells have class "chosen").

import type { LayerOutliers } from '../shared/inspection';
import { QUANT_BITS, type QuantBits } from '../shared/model';
import { formatValue } from './format';
import { textElement } from './view';

const METRICS: { key: 'logitRelRmse' | 'attentionError'; title: string; tooltip: string }[] = [
  {
    key: 'logitRelRmse',
    title: 'logit relative RMS error',
    tooltip: 'sqrt(Σ(x′ − x)² / Σx²) over the layer’s attention logits',
  },
  {
    key: 'attentionError',
    title: 'attention error',
    tooltip: 'mean over heads and query rows of ½·Σ|row′ − row| of the effective attention (A1 − λ·A2 divided by 1 − λ, or A)',
  },
];

/** Fills the table with the layers' errors, the chosen bit width (null: none) emphasised. */
export function renderQuantisationTable(table: HTMLTableElement, layers: readonly LayerOutliers[] | undefined, chosen: QuantBits | null): void {
  if (!layers || layers.length === 0) {
    table.replaceChildren();
    table.hidden = true;
    return;
  }
  table.hidden = false;
  const caption = document.createElement('caption');
  caption.textContent =
    'Error of quantising each layer’s attention logits absmax (one scale per layer, top level = top-1): ' +
    'relative RMS error of the logits, and total-variation distance of the attention rows (DIFF’s divided by 1 − λ).';
  const head = document.createElement('thead');
  const groups = document.createElement('tr');
  const layerHeader = textElement('th', 'Layer');
  layerHeader.rowSpan = 2;
  groups.append(layerHeader);
  const widths = document.createElement('tr');
  for (const { title, tooltip } of METRICS) {
    const group = textElement('th', title);
    group.colSpan = QUANT_BITS.length;
    group.title = tooltip;
    groups.append(group);
    for (const bits of QUANT_BITS) widths.append(emphasised(textElement('th', `${bits}-bit`), bits, chosen));
  }
  head.append(groups, widths);
  const body = document.createElement('tbody');
  for (const { layer, quantisation } of layers) {
    const row = document.createElement('tr');
    row.dataset.layer = String(layer);
    row.append(textElement('th', String(layer)));
    for (const { key } of METRICS) {
      for (const bits of QUANT_BITS) {
        const error = quantisation.find((entry) => entry.bits === bits);
        const value = textElement('td', error ? formatValue(error[key]) : '–');
        value.dataset.metric = key;
        value.dataset.bits = String(bits);
        row.append(emphasised(value, bits, chosen));
      }
    }
    body.append(row);
  }
  table.replaceChildren(caption, head, body);
}


function emphasised(element: HTMLTableCellElement, bits: QuantBits, chosen: QuantBits | null): HTMLTableCellElement {
  element.classList.toggle('chosen', bits === chosen);
  return element;
}
