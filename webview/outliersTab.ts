// The "Outliers" tab: a line saying what an outlier is, the quantisation grid switch, the table of each layer's quantisation errors
// and the model's activation and attention-logit histograms per layer with the chosen grid drawn
// over the logits (the paper's Table 5 and Figure 8). The host computes them when this tab (or
// Compare) is first shown for a run: the histograms, then the table's what-if.

import type { LayerQuantisation } from '../shared/inspection';
import type { QuantBits } from '../shared/model';
import type { InspectionMeta } from '../shared/protocol';
import type { Theme } from './colors';
import { createQuantSwitch, type QuantSwitch } from './controls';
import { HistogramsView } from './histograms';
import { renderQuantisationTable } from './quantisation';
import { failureOf } from './state';
import type { PanelState } from './types';
import { element, textElement, whenChanged, type HostRequests, type PanelView } from './view';

const OUTLIERS_EXPLAINED =
  'Outliers are activations far larger than the rest (a few hidden-state channels, a few attention logits): they stretch the range a low-bit number must cover, so quantising loses more. The DiffTransformer is meant to have fewer and smaller ones than a standard Transformer.';

export class OutliersTab implements PanelView {
  readonly element = element('div', 'tab-content');
  private readonly quantSwitch: QuantSwitch;
  private readonly table = element('table', 'data-table', 'quantisation');
  private readonly histograms: HistogramsView;

  constructor(theme: Theme, host: HostRequests, onQuantBits: (bits: QuantBits | null) => void) {
    this.quantSwitch = createQuantSwitch(onQuantBits);
    this.histograms = new HistogramsView('histograms', theme, (first, end) => host.reveal('main', first, end));
    // The tab's name is the paper's word: one line says what it means before any number.
    const explanation = textElement('p', OUTLIERS_EXPLAINED, 'note outliers-explained');
    explanation.id = 'outliers-explained';
    this.element.append(explanation, this.quantSwitch.element, this.table, this.histograms.element);
  }

  render({ meta, outliers, quantisation, quantBits, status }: PanelState): void {
    const failure = failureOf(status);
    this.quantSwitch.show(quantBits);
    this.histograms.setQuantBits(quantBits);
    this.histograms.render(meta && outliers, meta, failure);
    this.fillTable(meta, quantisation, quantBits, failure);
  }

  setTheme(theme: Theme): void {
    this.histograms.setTheme(theme);
  }

  private readonly fillTable = whenChanged((meta: InspectionMeta | undefined, layers: LayerQuantisation[] | undefined, bits: QuantBits | null, failure: string | undefined) =>
    renderQuantisationTable(this.table, meta, layers, bits, failure),
  );
}
