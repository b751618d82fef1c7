// A heatmap for keyboard and screen-reader users: the keys that walk its cells, the map's
// accessible name, the one-line description of a cell (the readout and the live region say it:
// its query and key tokens, or the token ranges a pooled cell covers, and its value), and the
// "View as table" list of the locked row's strongest keys with their values.

import { viewportCells, type TokenInfo } from '../shared/inspection';
import { createToggleButton } from './controls';
import { formatValue, VIEW_LABELS, visibleTextElement } from './format';
import type { ShownMap } from './types';
import { describeElement, element, textElement } from './view';
import { cellAt, keysOfColumn, lockedRow, queriesOfRow, type TokenRange } from './viewport';

/** Keys listed in the table of a row. */
const TABLE_KEYS = 10;
/** Rows that PageUp / PageDown move the locked query by. */
const PAGE_ROWS = 10;

export const KEYBOARD_HELP =
  'Up and Down lock the previous or next query row, Left and Right move along its keys, Home and End go to its first or last key, Page Up and Page Down move 10 rows, Control+Home and Control+End go to the first or last cell; where a cell pools several tokens, a step is one cell. Plus and Minus zoom in and out, 0 shows the whole map, Shift with the arrows pans.';

/** A token pair of a map: a query row and a key column. */
export interface MapCell {
  query: number;
  key: number;
}

/** The token pair a key moves to in a size x size causal map (undefined: not a key of the grid),
 *  `step` tokens a step (one cell of a pooled map). The row is the query (↑/↓, PageUp/PageDown,
 *  Ctrl+Home/End); the column stays among the keys that query sees, 0..query (←/→, Home/End). */
export function cellAfterKey({ query, key }: MapCell, event: KeyboardEvent, size: number, step = { rows: 1, keys: 1 }): MapCell | undefined {
  const toEnd = event.ctrlKey || event.metaKey;
  const steps: Record<string, () => void> = {
    ArrowUp: () => (query -= step.rows),
    ArrowDown: () => (query += step.rows),
    PageUp: () => (query -= PAGE_ROWS * step.rows),
    PageDown: () => (query += PAGE_ROWS * step.rows),
    ArrowLeft: () => (key -= step.keys),
    ArrowRight: () => (key += step.keys),
    Home: () => (toEnd ? (query = key = 0) : (key = 0)),
    End: () => (toEnd ? (query = key = size - 1) : (key = query)),
  };
  if (event.altKey || event.shiftKey || !Object.hasOwn(steps, event.key)) return undefined;
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

  /** The readout names a cell row's λ (the λ strip is hovered). */
  showLambda(row: number): void {
    const { map, tokens } = this;
    if (!map?.lambda) return;
    const queries = queriesOfRow(map.viewport, row);
    const mean = queries.end - queries.first > 1 ? ' (mean)' : '';
    this.readout.replaceChildren(...rangeText('query', 'queries', queries, tokens), ` · λ${mean} = ${formatValue(map.lambda[row])} (layer ${map.layer}, head ${map.head})`);
  }

  /** The readout names a cell of the locked query's row (its strip is hovered). */
  showRowCell(col: number): void {
    const { map, tokens, query } = this;
    const row = map && lockedRow(map, query);
    if (!map || !row) return;
    const keys = keysOfColumn(map.viewport, col);
    const pooled = keys.end - keys.first > 1 ? ` (${map.viewport.pooling} of ${keys.end - keys.first})` : '';
    this.readout.replaceChildren(`query ${query} `, ...quoted(tokens, query), ' → ', ...rangeText('key', 'keys', keys, tokens), ` · ${VIEW_LABELS[map.view]}${pooled} = ${formatValue(row[col])}`);
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
export function mapName(map: ShownMap | undefined, tokenCount: number): string {
  return map ? `Attention map, layer ${map.layer} head ${map.head}, ${VIEW_LABELS[map.view]}, ${tokenCount} tokens` : 'Attention map (none yet)';
}

/** What the readout shows and the live region says of the cell that holds token pair (query,
 *  key): "query 5 «x» → key 3 «y» · A1−λ·A2 = 0.1234", or for a cell that pools several tokens
 *  "queries 96–103 «a»…«b» → keys 40–47 «c»…«d» · A1−λ·A2 (max of 8×8) = 0.1234". */
function describeCell(map: ShownMap, tokens: readonly TokenInfo[], { query, key }: MapCell): (string | Node)[] {
  const cell = cellAt(map.viewport, query, key);
  if (!cell) return [`query ${query} `, ...quoted(tokens, query), ` → key ${key} `, ...quoted(tokens, key), ' · outside the view: zoom out or pan to it'];
  const { queries, keys } = cell;
  const value = map.data[cell.row * viewportCells(map.viewport).cols + cell.col];
  const [height, width] = [queries.end - queries.first, keys.end - keys.first];
  const pooled = height * width > 1 ? ` (${map.viewport.pooling} of ${height}×${width})` : '';
  const masked = keys.first > queries.end - 1 ? (pooled ? ' (masked: keys after the queries)' : ' (masked: key after query)') : '';
  return [
    ...rangeText('query', 'queries', queries, tokens),
    ' → ',
    ...rangeText('key', 'keys', keys, tokens),
    ` · ${VIEW_LABELS[map.view]}${pooled} = ${formatValue(value)}${masked}`,
    ...(map.lambda ? [` · λ${height > 1 ? ' (mean)' : ''} = ${formatValue(map.lambda[cell.row])}`] : []),
  ];
}

/** "query 5 «x»", or for several tokens "queries 96–103 «a»…«b»". */
function rangeText(one: string, several: string, { first, end }: TokenRange, tokens: readonly TokenInfo[]): (string | Node)[] {
  if (end - first === 1) return [`${one} ${first} `, ...quoted(tokens, first)];
  return [`${several} ${first}–${end - 1} `, ...quoted(tokens, first), '…', ...quoted(tokens, end - 1)];
}

/** A token's text in «», its whitespace and bytes shown as signs in their own style (nothing past
 *  the tokens). */
function quoted(tokens: readonly TokenInfo[], index: number): (string | Node)[] {
  const token = tokens[index];
  return token ? ['«', visibleTextElement(token.text), '»'] : [];
}

/** The key cells of the locked row that the query sees (their first key at most the query),
 *  strongest first. */
function strongestKeys(map: ShownMap, row: Float32Array, query: number, count: number): number[] {
  return Array.from(row.keys())
    .filter((col) => keysOfColumn(map.viewport, col).first <= query)
    .sort((a, b) => row[b] - row[a] || a - b)
    .slice(0, count);
}

/** Fills the table with the locked row's strongest keys in the viewport (key cells where they pool
 *  several keys): rank, key index (or range), key token, value. The table says which run, layer,
 *  head, view and query it lists (data-*), like the map it stands for. */
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
  const values = lockedRow(map, query) ?? new Float32Array();
  const rows = strongestKeys(map, values, query, TABLE_KEYS).map((col, rank) => {
    const { first, end } = keysOfColumn(map.viewport, col);
    const row = document.createElement('tr');
    row.dataset.key = String(first);
    row.append(
      textElement('td', String(rank + 1)),
      textElement('td', end - first > 1 ? `${first}–${end - 1}` : String(first)),
      cellOf(visibleTextElement(tokens[first]?.text ?? ''), 'map-table-token'),
      textElement('td', formatValue(values[col])),
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
