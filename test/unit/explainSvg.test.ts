// Export View's SVG of the Explain tab (webview/explainSvg.ts): read back with a real XML parser,
// each row's bars (the A1 part from zero, the −λ·A2 part from where A1 ended, the net mark) measure
// the explanation's own numbers on the zero-centred axis, the rows are named as the tab names them,
// and the tokens' markup stays text.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ExplainPart } from '../../shared/explain';
import { rankSources } from '../../shared/sourceRanking';
import { visibleText } from '../../shared/tokenText';
import { FALLBACK_THEMES } from '../../webview/colors';
import { axisScale, partLabel } from '../../webview/explainLayout';
import { explainSvg } from '../../webview/explainSvg';
import { assertClose, FLOAT32 } from '../support/tolerance';
import { measuredRows, splitLists } from '../support/explainSvgBars';
import { parseXml } from '../support/xml';

const HOSTILE = '</svg><script>alert(1)</script>&';
const head = (layer: number, index: number, a1: number, a2: number): ExplainPart => ({ component: `L${layer}.H${index}`, kind: 'head', layer, head: index, total: a1 + a2, a1, a2 });
const PARTS: ExplainPart[] = [head(1, 0, 2.5, -1.25), { component: 'L0.mlp', kind: 'mlp', layer: 0, head: null, total: -3 }, head(0, 1, -0.5, 0.125), { component: 'embed', kind: 'embed', layer: null, head: null, total: 0.75 }];
const EXPLANATION = { query: 2, target: { id: 7, text: HOSTILE }, versus: null, logit: PARTS.reduce((sum, part) => sum + part.total, 0), finalScale: 0.5, parts: PARTS };
const TOKENS = ['<BOS>', 'def', ' f', HOSTILE];
const SOURCES = { layer: 1, head: 0, a1: Float32Array.of(0.5, 1.5, 0.5, 0), a2: Float32Array.of(0, -1, -0.25, 0) };

test('the SVG’s bars are the explanation’s parts and the open head’s source parts, named as the tab names them', () => {
  const ranked = rankSources(SOURCES);
  const svg = explainSvg({ explanation: EXPLANATION, parts: PARTS, sources: { layer: 1, head: 0, rows: ranked }, tokens: TOKENS }, FALLBACK_THEMES.light);
  const { elements, texts } = parseXml(svg);
  const lists = splitLists(elements);
  assert.equal(lists.length, 2, 'two bar lists: the components and the source tokens');
  // The writer rounds positions to 0.001 px: at most this much of a value on either axis.
  const resolution = (scale: number) => (0.002 / 240) * scale;

  const partScale = axisScale(PARTS);
  const parts = measuredRows(lists[0], partScale);
  assert.equal(parts.length, PARTS.length);
  parts.forEach((row, i) => {
    assertClose(row.total, PARTS[i].total, `${PARTS[i].component}'s net`, { atol: FLOAT32.atol + resolution(partScale) });
    if (PARTS[i].a1 === undefined) assert.equal(row.a1, undefined, `${PARTS[i].component} has no split`);
    else assertClose([row.a1!, row.a2!], [PARTS[i].a1!, PARTS[i].a2!], `${PARTS[i].component}'s A1 and −λ·A2 parts`, { atol: FLOAT32.atol + resolution(partScale) });
  });

  const sourceScale = axisScale(ranked.map((row) => ({ a1: row.a1, total: row.net })));
  const sources = measuredRows(lists[1], sourceScale);
  assert.equal(sources.length, ranked.length);
  assertClose(sources.flatMap((row) => [row.a1!, row.a2!, row.total]), ranked.flatMap((row) => [row.a1, row.a2, row.net]), 'the source tokens’ parts', { atol: FLOAT32.atol + resolution(sourceScale) });

  for (const part of PARTS) assert.ok(texts.includes(partLabel(part)), `a tick label names ${part.component}`);
  assert.ok(texts.some((t) => t.startsWith(`Query 2 «${visibleText(TOKENS[2])}»`)), 'the title names the query');
  assert.ok(texts.some((t) => t.includes('→ </svg><script>') && t.includes('logit')), `the title names the target as text and the logit: ${texts[0]}`);
  assert.deepEqual(elements.filter((e) => e.name === 'script'), [], 'no script element');
  assert.ok(texts.some((t) => t.includes('0.5')), 'the axis says where the final norm scale is held');
});

test('without an open head, one bar list; an all-zero explanation draws its bars at zero', () => {
  const zeros = PARTS.map((part) => ({ ...part, total: 0, ...(part.a1 !== undefined && { a1: 0, a2: 0 }) }));
  const svg = explainSvg({ explanation: { ...EXPLANATION, logit: 0, parts: zeros }, parts: zeros, tokens: TOKENS }, FALLBACK_THEMES.dark);
  const lists = splitLists(parseXml(svg).elements);
  assert.equal(lists.length, 1);
  for (const row of measuredRows(lists[0], 1)) assert.deepEqual(row, { total: 0, ...(row.a1 !== undefined && { a1: 0, a2: 0 }) });
});
