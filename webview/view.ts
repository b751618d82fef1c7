// What the panel's views share: the PanelView contract (a view renders from the whole panel state
// and follows the theme), the requests a view sends the host, building elements (text only ever
// set as textContent, never parsed as HTML) and whenChanged, which lets a view render from the
// whole state on every change yet redraw only the parts whose inputs changed.

import type { MapViewport } from '../shared/inspection';
import type { MapView } from '../shared/model';
import type { Pane, WhatIfSpec } from '../shared/protocol';
import type { Theme } from './colors';
import type { PanelState } from './types';

/** A part of the page drawn from the panel state. */
export interface PanelView {
  readonly element: HTMLElement;
  render(state: PanelState): void;
  /** Redraws in the new theme's colours (the next render gets the same state); a view drawn only
   *  with CSS has none. */
  setTheme?(theme: Theme): void;
}

/** What a view asks of the host, which owns the selection and answers with maps and spans. */
export interface HostRequests {
  /** The user picked a layer, head or view (only what changed; both panes follow). */
  select(change: { layer?: number; head?: number; view?: MapView }): void;
  /** The user locked a query row, a token of that pane's run. */
  lockQuery(pane: Pane, query: number): void;
  /** Reveal tokens [firstToken, endToken) of that pane's run in the editor. */
  reveal(pane: Pane, firstToken: number, endToken: number): void;
  /** Run the shown text again with an intervention, beside the unmodified run (What-if tab). */
  whatIf(spec: WhatIfSpec): void;
  /** The user zoomed, panned or picked the pooling of a map of that pane's run: every map shows
   *  this viewport from now on (the host answers with maps for it). */
  viewport(pane: Pane, viewport: MapViewport): void;
  /** The Maps tab's heatmap is this many device pixels a side (the host pools new maps to it). */
  mapCells(cells: number): void;
  /** Explain the locked query's prediction of `target` (default: the top prediction), less `versus`;
   *  of query `query` where given (locked first). */
  explain(target?: string, versus?: string, query?: number): void;
  /** Split a head's part of the shown explanation over the source tokens. */
  explainSources(layer: number, head: number): void;
  /** Trace the flow into the prediction at `query` with this threshold (the panel's request flowId). */
  flow(flowId: number, query: number, threshold: number): void;
}

/** A new element with an optional class and id. */
export function element<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, id?: string): HTMLElementTagNameMap[K] {
  const created = document.createElement(tag);
  if (className) created.className = className;
  if (id) created.id = id;
  return created;
}

/** A new element whose content is `text` as plain text (never parsed as HTML). */
export function textElement<K extends keyof HTMLElementTagNameMap>(tag: K, text: string, className?: string): HTMLElementTagNameMap[K] {
  const created = element(tag, className);
  created.textContent = text;
  return created;
}

/** Replaces an element's data-* attributes with `data` (none when undefined): they say what the
 *  element shows (the run, layer, head…), for a reader and for the tests. */
export function describeElement(target: HTMLElement, data: Record<string, string | number> | undefined): void {
  for (const key of Object.keys(target.dataset)) delete target.dataset[key];
  for (const [key, value] of Object.entries(data ?? {})) target.dataset[key] = String(value);
}

/** Wraps `draw` so that it runs only when an input differs (===) from the previous call's. The
 *  state is replaced, never mutated, where it changes, so an unchanged part keeps its identity. */
export function whenChanged<Inputs extends readonly unknown[]>(draw: (...inputs: Inputs) => void): (...inputs: Inputs) => void {
  let previous: Inputs | undefined;
  return (...inputs) => {
    if (previous && inputs.every((input, index) => input === previous![index])) return;
    previous = inputs;
    draw(...inputs);
  };
}

/** Room kept under a map for its colour legend (canvas and gap, CSS px) when it goes under the map. */
const LEGEND_ROOM = 48;
/** Room the legend takes beside the map instead (its least width and the gap). */
const LEGEND_BESIDE_ROOM = 168;
/** The strip of the locked query's row under a map (queryStrip.ts): its height and the gap above it. */
export const QUERY_STRIP_HEIGHT = 10;
export const QUERY_STRIP_GAP = 3;
/** The smallest frame fitted (token labels and a small map), however little room the panel has:
 *  below it the panel scrolls, and its "more below" cue says so (moreBelow.ts). */
const MIN_SIDE = 120;
/** Below this, the legend goes beside the map (where the panel is wide enough) rather than take
 *  the map's height. */
const MIN_FIT = 160;

/** Keeps the heatmap inside `area` within the panel's height: its frame (square: token labels plus
 *  map, and the query strip under it when shown) may be only as wide as the room from its top
 *  (unscrolled) to the panel's bottom, less the legend's under it. In a short panel the legend goes
 *  beside the map (.legend-beside on the map's parent) when the panel is wide enough, else the map
 *  shrinks for it, down to MIN_SIDE. The heatmap sizes its cells to the frame's width, so the map
 *  and its legend are visible without scrolling at any panel height but the lowest. Sets --fit-side
 *  on `area`. */
export function fitHeatmapToPanel(area: HTMLElement): void {
  const fit = () => {
    const frame = area.querySelector('.heatmap-frame');
    if (!frame || area.offsetParent === null) return; // a hidden tab has no layout
    const top = frame.getBoundingClientRect().top + window.scrollY;
    const bottomPadding = parseFloat(getComputedStyle(document.body).paddingBottom) || 0;
    const strip = frame.querySelector<HTMLElement>('.query-strip-frame');
    const stripRoom = strip && !strip.hidden ? QUERY_STRIP_HEIGHT + QUERY_STRIP_GAP : 0;
    const room = window.innerHeight - top - bottomPadding - stripRoom;
    const mapWidth = frame.parentElement?.clientWidth ?? 0; // the map's own column (Compare may pair two)
    const beside = room - LEGEND_ROOM < MIN_FIT && mapWidth >= Math.max(MIN_SIDE, room) + LEGEND_BESIDE_ROOM;
    const side = beside ? room : room - LEGEND_ROOM;
    for (const mapFrame of area.querySelectorAll('.heatmap-frame')) mapFrame.parentElement?.classList.toggle('legend-beside', beside);
    const value = `${Math.max(MIN_SIDE, Math.floor(side))}px`;
    if (area.style.getPropertyValue('--fit-side') !== value) area.style.setProperty('--fit-side', value);
  };
  // What is above the map can change height (a wrapping header, a tab shown), as can the panel.
  new ResizeObserver(fit).observe(document.body);
  window.addEventListener('resize', fit);
}
