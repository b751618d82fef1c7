// A heatmap for keyboard and screen-reader users: the keys that walk its cells, the map's
// accessible name, the one-line description of a cell (the readout and the live region say it),
// and the "View as table" list of a query row's strongest keys with their values.

import type { TokenInfo } from '../shared/inspection';
import { createToggleButton } from './controls';
import { formatValue, VIEW_LABELS, visibleTextElement } from './format';
import type { ShownMap } from './heatmap';
import { describeElement, element, textElement } from './view';

/** Keys listed in the table of a row. */
const TABLE_KEYS = 10;
/** Rows that PageUp / PageDown move the locked query by. */
const PAGE_ROWS = 10;

export const KEYBOARD_HELP =
  'Up and Down lock the previous or next query row, Left and Right move along its keys, Home and End go to its first or last key, Page Up and Page Down move 10 rows, Control+Home and Control+End go to the first or last cell.';

/** A cell of a map: a query row and a key column. */
export interface MapCell {
  query: number;
  key: number;
}

/** The cell a key moves to in a size x size causal map (undefined: not a key of the grid). The
 *  row is the query (↑/↓, PageUp/PageDown, Ctrl+Home/End); the column stays among the keys that
 *  query sees, 0..query (←/→, Home/End). */
export function cellAfterKey({ query, key }: MapCell, event: KeyboardEvent, size: number): MapCell | undefined {
  const toEnd = event.ctrlKey || event.metaKey;
  const steps: Record<string, () => void> = {
    ArrowUp: () => (query -= 1),
    ArrowDown: () => (query += 1),
    PageUp: () => (query -= PAGE_ROWS),
    PageDown: () => (query += PAGE_ROWS),
    ArrowLeft: () => (key -= 1),
    ArrowRight: () => (key += 1),
    Home: () => (toEnd ? (query = key = 0) : (key = 0)),
    End: () => (toEnd ? (query = key = size - 1) : (key = query)),
  };
  if (event.altKey || !Object.hasOwn(steps, event.key)) return undefined;
  steps[event.key]();
  query = Math.max(0, Math.min(size - 1, query));
  return { query, key: Math.max(0, Math.min(query, key)) };
}

/** The text beside a map: the readout, a visually hidden live region that says each cell the
 *  keyboard reaches, and the "View as table" toggle with the locked row's strongest keys. Element
 *  ids: PREFIXreadout, PREFIXheatmap-status, PREFIXmap-table-toggle, PREFIXmap-table. */
export class MapText {
  /** The readout and the table toggle, placed above the map. */
  readonly toolbar = element('div', 'heatmap-toolbar');
  readonly announcer: HTMLElement;
  readonly table: HTMLTableElement;
  private readonly readout: HTMLElement;
  private map: ShownMap | undefined;
  private tokens: readonly TokenInfo[] = [];
  private query = 0;

  constructor(idPrefix: string) {
    this.readout = element('div', 'readout', `${idPrefix}readout`);
    this.announcer = element('div', 'visually-hidden', `${idPrefix}heatmap-status`);
    this.announcer.setAttribute('role', 'status');
    this.announcer.setAttribute('aria-live', 'polite');
    this.table = element('table', 'data-table map-table', `${idPrefix}map-table`);
    this.table.hidden = true;
    const toggle = createToggleButton(`${idPrefix}map-table-toggle`, 'View as table', (pressed) => {
      this.table.hidden = !pressed;
      this.fillTable();
    });
    this.toolbar.append(this.readout, toggle);
  }

  /** The map and locked query row the text is about. */
  show(map: ShownMap | undefined, tokens: readonly TokenInfo[], query: number): void {
    this.map = map;
    this.tokens = tokens;
    this.query = query;
    if (!map) this.readout.textContent = this.announcer.textContent = '';
    this.fillTable();
  }

  /** The readout names a cell (hovered or focused), or else the locked query. */
  showCell(cell: MapCell | undefined): void {
    const { map, tokens, query } = this;
    if (!map) return;
    this.readout.replaceChildren(
      ...(cell
        ? describeCell(map, tokens, cell)
        : [`Query ${query} `, ...quoted(tokens, query), ' locked · hover a cell for its value, click a row (or focus the map and use the arrow keys) to lock it']),
    );
  }

  /** The readout names a query row's λ (the λ strip is hovered). */
  showLambda(query: number): void {
    const { map, tokens } = this;
    if (map?.lambda) this.readout.replaceChildren(`query ${query} `, ...quoted(tokens, query), ` · λ = ${formatValue(map.lambda[query])} (layer ${map.layer}, head ${map.head})`);
  }

  /** Says a cell the keyboard reached to screen readers. */
  announce(cell: MapCell): void {
    if (this.map) this.announcer.replaceChildren(...describeCell(this.map, this.tokens, cell));
  }

  private fillTable(): void {
    if (!this.table.hidden) renderKeyTable(this.table, this.map, this.tokens, this.query);
  }
}

/** The map's accessible name: "Attention map, layer 2 head 1, A1−λ·A2, 57 tokens". */
export function mapName(map: ShownMap | undefined): string {
  return map ? `Attention map, layer ${map.layer} head ${map.head}, ${VIEW_LABELS[map.view]}, ${map.size} tokens` : 'Attention map (none yet)';
}

/** "query 5 «x» → key 3 «y» · A1−λ·A2 = 0.1234": what the readout shows and the live region says. */
function describeCell(map: ShownMap, tokens: readonly TokenInfo[], { query, key }: MapCell): (string | Node)[] {
  const value = map.data[query * map.size + key];
  const masked = key > query ? ' (masked: key after query)' : '';
  return [
    `query ${query} `,
    ...quoted(tokens, query),
    ` → key ${key} `,
    ...quoted(tokens, key),
    ` · ${VIEW_LABELS[map.view]} = ${formatValue(value)}${masked}`,
    ...(map.lambda ? [` · λ = ${formatValue(map.lambda[query])}`] : []),
  ];
}

/** A token's text in «», its whitespace and bytes shown as signs in their own style (nothing past
 *  the tokens). */
function quoted(tokens: readonly TokenInfo[], index: number): (string | Node)[] {
  const token = tokens[index];
  return token ? ['«', visibleTextElement(token.text), '»'] : [];
}

/** The keys 0..query of a row (the ones a causal query sees), strongest first. */
function strongestKeys(map: ShownMap, query: number, count: number): number[] {
  const row = map.data.subarray(query * map.size, query * map.size + query + 1);
  return Array.from(row.keys())
    .sort((a, b) => row[b] - row[a] || a - b)
    .slice(0, count);
}

/** Fills the table with the row's strongest keys: rank, key index, key token, value. The table says
 *  which run, layer, head, view and query it lists (data-*), like the map it stands for. */
function renderKeyTable(table: HTMLTableElement, map: ShownMap | undefined, tokens: readonly TokenInfo[], query: number): void {
  describeElement(table, map && { runId: map.runId, layer: map.layer, head: map.head, view: map.view, query });
  if (!map) {
    table.replaceChildren();
    return;
  }
  const caption = document.createElement('caption');
  caption.append(`Strongest keys of query ${query} `, ...quoted(tokens, query), ` in ${VIEW_LABELS[map.view]}, layer ${map.layer} head ${map.head}`);
  const header = document.createElement('tr');
  for (const title of ['Rank', 'Key', 'Token', VIEW_LABELS[map.view]]) {
    const cell = textElement('th', title, title === 'Token' ? 'map-table-token' : undefined);
    cell.scope = 'col';
    header.append(cell);
  }
  const rows = strongestKeys(map, query, TABLE_KEYS).map((key, rank) => {
    const row = document.createElement('tr');
    row.dataset.key = String(key);
    row.append(
      textElement('td', String(rank + 1)),
      textElement('td', String(key)),
      cellOf(visibleTextElement(tokens[key]?.text ?? ''), 'map-table-token'),
      textElement('td', formatValue(map.data[query * map.size + key])),
    );
    return row;
  });
  const head = document.createElement('thead');
  head.append(header);
  const body = document.createElement('tbody');
  body.append(...rows);
  table.replaceChildren(caption, head, body);
}

/** A table cell holding `content`. */
function cellOf(content: Node, className: string): HTMLTableCellElement {
  const cell = element('td', className);
  cell.append(content);
  return cell;
}
