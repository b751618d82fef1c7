// Attention sinks in the panel (shared/sinks.ts): under the overview, with its Sinks toggle on, a
// grid of every layer × head with each head's shares on the first token (BOS) as text and as a
// small bar chart (A1, A2 and |A1 − λ·A2| for a differential head, the softmax map's for a baseline);
// in Compare, a table of both models' shares side by side. Every number is text (textContent) or a
// canvas drawing; each cell and row also carries its shares as data-* for a reader and the tests.

import type { InspectionMeta } from '../shared/protocol';
import { SINK_TOKEN_NOTE, type LayerSinks } from '../shared/sinks';
import type { Theme } from './colors';
import { createToggleButton } from './controls';
import { describeElement, element, textElement } from './view';

/** The shares a head has, in the order they are shown. */
const SHARES = [
  { key: 'a1', label: 'A1' },
  { key: 'a2', label: 'A2' },
  { key: 'diff', label: '|A1−λA2|' },
] as const;
type ShareKey = (typeof SHARES)[number]['key'];

const BAR_WIDTH = 6;
const BAR_HEIGHT = 24;

/** A share as shown: a percentage with one decimal. */
export function formatShare(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/** One head's shares, in SHARES' order (a baseline's: its softmax share alone). */
function headShares(layer: LayerSinks, head: number): { key: ShareKey; label: string; share: number }[] {
  return SHARES.flatMap(({ key, label }) => {
    const share = layer[key]?.[head];
    return share === undefined ? [] : [{ key, label: layer.a2 ? label : 'softmax', share }];
  });
}

/** The toggle and, while it is on, the grid of every head's shares. */
export class SinkOverview {
  readonly toggle: HTMLElement;
  readonly element = element('div', 'sink-overview', 'sinks');
  private readonly note = element('div', 'sink-note');
  private readonly grid = element('div', 'sink-grid');

  constructor(onToggle: (on: boolean) => void) {
    this.toggle = createToggleButton('sinks-toggle', 'Sinks', onToggle);
    this.toggle.title = 'Show each head’s attention share on the first token (BOS)';
    this.element.append(this.note, this.grid);
  }

  render(meta: InspectionMeta | undefined, sinks: LayerSinks[] | undefined, on: boolean, theme: Theme): void {
    this.toggle.setAttribute('aria-pressed', String(on));
    this.toggle.setAttribute('appearance', on ? 'primary' : 'secondary');
    this.element.hidden = !on || !meta;
    describeElement(this.element, meta && { runId: meta.runId, state: sinks ? 'ready' : 'pending' });
    if (this.element.hidden || !meta) return;
    this.note.textContent = sinks ? `Attention sinks: ${SINK_TOKEN_NOTE}.` : 'Computing the attention sinks…';
    this.draw(meta, sinks, theme);
  }

  private draw(meta: InspectionMeta, sinks: LayerSinks[] | undefined, theme: Theme): void {
    const { nHead } = meta.model;
    this.grid.style.gridTemplateColumns = `auto repeat(${nHead}, auto)`;
    const cells: HTMLElement[] = [element('div')];
    for (let head = 0; head < nHead; head++) cells.push(textElement('div', `H${head}`, 'overview-head'));
    for (const layer of sinks ?? []) {
      cells.push(textElement('div', `L${layer.layer}`, 'overview-layer'));
      for (let head = 0; head < nHead; head++) cells.push(sinkCell(layer, head, theme));
    }
    this.grid.replaceChildren(...cells);
  }
}

/** A head's shares: a bar per share (height ∝ share) and a line of text per share. */
function sinkCell(layer: LayerSinks, head: number, theme: Theme): HTMLElement {
  const shares = headShares(layer, head);
  const cell = element('div', 'sink-cell');
  cell.dataset.layer = String(layer.layer);
  cell.dataset.head = String(head);
  for (const { key, share } of shares) cell.dataset[key] = String(share);
  cell.setAttribute('role', 'img');
  cell.setAttribute('aria-label', `layer ${layer.layer} head ${head}: ${shares.map(({ label, share }) => `${label} ${formatShare(share)}`).join(', ')} on the first token`);
  const bars = document.createElement('canvas');
  bars.width = shares.length * (BAR_WIDTH + 1);
  bars.height = BAR_HEIGHT;
  const context = bars.getContext('2d')!;
  const colors: Record<ShareKey, string> = { a1: theme.positive, a2: theme.negative, diff: theme.highlight };
  shares.forEach(({ key, share }, n) => {
    context.fillStyle = colors[key];
    const height = Math.max(1, Math.round(share * BAR_HEIGHT));
    context.fillRect(n * (BAR_WIDTH + 1), BAR_HEIGHT - height, BAR_WIDTH, height);
  });
  const lines = element('div', 'sink-text');
  lines.setAttribute('aria-hidden', 'true');
  for (const { label, share } of shares) lines.append(textElement('div', `${label} ${formatShare(share)}`));
  cell.append(bars, lines);
  return cell;
}

/** Compare's table: per layer and head, the model's shares beside the baseline's (a DIFF head's
 *  A1, A2 and |A1 − λ·A2| beside the baseline's softmax heads; a baseline with more heads, as a
 *  Llama beside DiffLlama, fills the rows past the model's heads alone). */
export function renderSinkTable(table: HTMLTableElement, panes: { meta: InspectionMeta; sinks: LayerSinks[] | undefined }[]): void {
  const ready = panes.every((pane) => pane.sinks);
  describeElement(table, { runId: panes[0].meta.runId, state: ready ? 'ready' : 'pending' });
  const caption = textElement('caption', ready ? `Attention sinks: ${SINK_TOKEN_NOTE}.` : 'Computing the attention sinks…');
  if (!ready) return void table.replaceChildren(caption);
  const columns = panes.map(({ meta, sinks }) => ({ name: meta.model.name, labels: headShares(sinks![0], 0).map((s) => s.label), sinks: sinks! }));
  const header = document.createElement('tr');
  header.append(textElement('th', 'Layer'), textElement('th', 'Head'));
  for (const { name, labels } of columns) for (const label of labels) header.append(textElement('th', `${name} ${label}`));
  const body = document.createElement('tbody');
  const layers = Math.max(...columns.map((c) => c.sinks.length));
  for (let layer = 0; layer < layers; layer++) {
    const heads = Math.max(...columns.map((c) => c.sinks[layer]?.a1.length ?? 0));
    for (let head = 0; head < heads; head++) {
      const row = document.createElement('tr');
      row.dataset.layer = String(layer);
      row.dataset.head = String(head);
      row.append(textElement('th', String(layer)), textElement('th', String(head)));
      columns.forEach(({ labels, sinks }, pane) => {
        const shares = sinks[layer] && head < sinks[layer].a1.length ? headShares(sinks[layer], head) : [];
        for (const { key, share } of shares) row.dataset[`${pane === 0 ? 'main' : 'compare'}${key[0].toUpperCase()}${key.slice(1)}`] = String(share);
        for (let n = 0; n < labels.length; n++) row.append(textElement('td', shares[n] ? formatShare(shares[n].share) : ''));
      });
      body.append(row);
    }
  }
  const head = document.createElement('thead');
  head.append(header);
  table.replaceChildren(caption, head, body);
}
