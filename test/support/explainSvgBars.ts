// Reads back the bar lists of the Explain tab's exported SVG (webview/explainSvg.ts) from their
// geometry: what each row's A1 part, −λ·A2 part and net mark measure on the zero-centred axis.

import assert from 'node:assert/strict';
import { assertClose } from './tolerance';
import type { XmlElement } from './xml';

/** The classed rectangles of each bar list, in document order (each list starts with its zero line). */
export function splitLists(elements: readonly XmlElement[]): XmlElement[][] {
  const lists: XmlElement[][] = [];
  for (const rect of elements.filter((e) => e.name === 'rect' && e.attributes.class)) {
    if (rect.attributes.class === 'zero') lists.push([]);
    assert.ok(lists.length > 0, 'a list starts with its zero line');
    lists[lists.length - 1].push(rect);
  }
  return lists;
}

/** What a list's bars measure, row by row, in the units of its axis (`scale` at the plot's edge). */
export function measuredRows(rects: readonly XmlElement[], scale: number): { a1?: number; a2?: number; total: number }[] {
  const at = (name: string, r: XmlElement) => Number(r.attributes[name]);
  const [zero, ...bars] = rects;
  assert.equal(zero.attributes.class, 'zero', 'each list starts with its zero line');
  const half = at('x', zero) + at('width', zero) / 2; // the plot starts at 0: zero is in the middle
  const value = (px: number) => ((px - half) / half) * scale;
  const rows = [];
  for (let i = 0; i < bars.length; ) {
    const segments = [];
    while (bars[i].attributes.class !== 'net') segments.push(bars[i++]);
    const net = at('x', bars[i]) + at('width', bars[i]) / 2;
    i++;
    const edges = (r: XmlElement) => [at('x', r), at('x', r) + at('width', r)];
    if (segments.length === 1) {
      assert.equal(segments[0].attributes.class, 'total');
      rows.push({ total: value(net) });
      continue;
    }
    const [a1, a2] = segments;
    assert.deepEqual([a1.attributes.class, a2.attributes.class], ['a1', 'a2']);
    const a1End = edges(a1).reduce((far, edge) => (Math.abs(edge - half) > Math.abs(far - half) ? edge : far));
    assertClose(edges(a2).sort((x, y) => x - y), [a1End, net].sort((x, y) => x - y), 'the −λ·A2 part runs from where A1 ended to the net', { atol: 0.002 });
    rows.push({ a1: value(a1End), a2: value(net) - value(a1End), total: value(net) });
  }
  return rows;
}
