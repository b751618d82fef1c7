// The quantisation what-if (the paper's Figure 8): per layer, the error of quantising its attention
// logits to each of QUANT_BITS, as a table (one row per layer with data-layer, each number a cell
// with data-metric and data-bits; the chosen bit width's cells have class "chosen"). The table says
// which run it shows (data-run-id) and whether its numbers are there yet (data-state "pending"
// while the host computes them, after the histograms; then "ready").

import type { LayerQuantisation } from '../shared/inspection';
import { QUANT_BITS, type QuantBits } from '../shared/model';
import type { InspectionMeta } from '../shared/protocol';
import { formatValue } from './format';
import { describeElement, textElement } from './view';

const METRICS: { key: 'logitRelRmse' | 'attentionError'; title: string; tooltip: string }[] = [
  {
    key: 'logitRelRmse',
    title: 'logit relative RMS error',
    tooltip: 'sqrt(Σ(x′ − x)² / Σx²) over the layer’s attention logits',
  },
  {
    key: 'attentionError',
    title: 'attention error',
    tooltip:
      'mean over heads and query rows of ½·Σj|row′j − rowj| / Σj|rowj|: the distance between the effective attention rows ' +
      '(A1 − λ·A2, or a baseline’s A) from quantised and exact logits, divided by the exact row’s absolute mass. ' +
      'That is 1 for a softmax row (so the figure is the total-variation distance), and defined for every λ, also λ ≥ 1, ' +
      'where the row sum 1 − λ is 0 or negative.',
  },
];

/** Fills the table with a run's errors (undefined: still computing, or not, after `failure`), the
 *  chosen bit width (null: none) emphasised; hidden without a run. */
export function renderQuantisationTable(
  table: HTMLTableElement,
  meta: InspectionMeta | undefined,
  layers: readonly LayerQuantisation[] | undefined,
  chosen: QuantBits | null,
  failure?: string,
): void {
  describeElement(table, meta && { runId: meta.runId, state: layers ? 'ready' : 'pending' });
  table.hidden = !meta;
  const caption = document.createElement('caption');
  if (!meta || !layers) {
    caption.textContent = failure === undefined ? 'Computing the quantisation what-if…' : `No quantisation what-if: ${failure}`;
    table.replaceChildren(...(meta ? [caption] : []));
    return;
  }
  caption.textContent =
    'Error of quantising each layer’s attention logits absmax (one scale per layer, top level = top-1): ' +
    'relative RMS error of the logits, and attention error = mean over heads and query rows of ½·Σ|row′ − row| / Σ|row|: ' +
    'the change of each effective attention row divided by the exact row’s absolute mass, which is 1 for a softmax row ' +
    '(so a baseline’s is its total-variation distance) and, unlike DIFF’s row sum 1 − λ, never 0 or negative, whatever λ.';
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
  for (const { layer, errors } of layers) {
    const row = document.createElement('tr');
    row.dataset.layer = String(layer);
    row.append(textElement('th', String(layer)));
    for (const { key } of METRICS) {
      for (const bits of QUANT_BITS) {
        const error = errors.find((entry) => entry.bits === bits);
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
