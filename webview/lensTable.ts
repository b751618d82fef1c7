// The logit lens at the locked query: per layer (rows), the top next-token predictions its hidden
// state gives through the final norm and the LM head, and the line "decided at layer N" (the first
// layer from which the top-1 stays the final layer's; that row and the ones after it are marked).
// The table says which run and query it shows (data-run-id, data-query, data-decided-at), each row
// its layer and top-1 text (data-layer, data-top).

import { decidedAtLayer } from '../shared/inspection';
import type { InspectionMeta } from '../shared/protocol';
import { formatValue, visibleTextElement } from './format';
import type { ShownLens } from './types';
import { describeElement, element, textElement, whenChanged } from './view';

export class LensTable {
  readonly element = element('div', 'lens', 'lens');

  readonly render = whenChanged((lens: ShownLens | undefined, meta: InspectionMeta | undefined) => {
    const decided = lens && decidedAtLayer(lens.layers);
    describeElement(this.element, lens && meta && { runId: meta.runId, query: lens.query, ...(decided === undefined ? {} : { decidedAt: decided }) });
    if (!lens || !meta) {
      this.element.replaceChildren();
      return;
    }
    if (lens.unavailable) {
      this.element.replaceChildren(textElement('p', `No logit lens: ${lens.unavailable}`, 'note'));
      return;
    }
    const heading = textElement('p', `Logit lens at query ${lens.query} `, 'note lens-heading');
    if (meta.tokens[lens.query]) heading.append('«', visibleTextElement(meta.tokens[lens.query].text), '»');
    if (decided !== undefined) heading.append(` · decided at layer ${decided}`);
    const table = element('table', 'data-table lens-table');
    const columns = Math.max(0, ...lens.layers.map((layer) => layer.predictions.length));
    table.setAttribute('aria-label', `Logit lens at query ${lens.query}: the top ${columns} next-token predictions after each layer`);
    const head = element('tr');
    head.append(textElement('th', 'Layer'), ...Array.from({ length: columns }, (_, rank) => textElement('th', `Top ${rank + 1}`)));
    const rows = lens.layers.map(({ layer, predictions }) => {
      const row = element('tr');
      row.dataset.layer = String(layer);
      row.dataset.top = predictions[0]?.text ?? '';
      row.classList.toggle('decided', decided !== undefined && layer >= decided);
      row.append(textElement('th', String(layer)));
      for (const prediction of predictions) {
        const cell = element('td');
        cell.append(visibleTextElement(prediction.text), textElement('span', ` ${formatValue(prediction.prob)}`, 'span-score'));
        row.append(cell);
      }
      return row;
    });
    const thead = element('thead');
    const tbody = element('tbody');
    thead.append(head);
    tbody.append(...rows);
    table.append(thead, tbody);
    this.element.replaceChildren(heading, table);
  });
}
