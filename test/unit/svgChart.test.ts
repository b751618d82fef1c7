// The SVG writer of Export View (shared/svgChart.ts): a well-formed document (read by a real XML
// parser, sax), every text escaped so a token's markup stays text, the stated dimensions, and the
// embedded image the map's own pixels.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chartSvg, escapeXml, type SvgChart } from '../../shared/svgChart';
import { decodePng, encodePng } from '../support/png';
import { embeddedPng, parseXml } from '../support/xml';

const HOSTILE = '</svg><script>alert("x")</script>&amp; \'q\'';
const CELLS = { width: 5, height: 3 };
const pixels = Uint8Array.from({ length: CELLS.width * CELLS.height * 4 }, (_, i) => (i % 4 === 3 ? 255 : (i * 37) % 256));

function chart(overrides: Partial<SvgChart> = {}): SvgChart {
  return {
    title: `layer 1 · ${HOSTILE}`,
    width: 300,
    height: 180,
    x: { title: 'key', ticks: [{ at: 30, label: HOSTILE }, { at: 90, label: 'tab\there \u0001 \ud800 end' }] },
    y: { title: 'query', ticks: [{ at: 30, label: '<BOS>' }] },
    image: `data:image/png;base64,${encodePng({ ...CELLS, rgba: pixels }).toString('base64')}`,
    marks: [{ x: 0, y: 60, width: 300, height: 60 }],
    legend: { caption: 'A1 · 0…1', colors: ['#000000', '#ff0000'], min: '0', max: '1' },
    colors: { background: '#ffffff', foreground: '#222222', muted: '#888888', highlight: '#cc9900' },
    font: 'system-ui, "Segoe UI", sans-serif',
    ...overrides,
  };
}

test('text is escaped: a token of markup ends up as text, and the document stays well-formed', () => {
  const svg = chartSvg(chart());
  const { elements, texts } = parseXml(svg);
  assert.deepEqual(elements.filter((e) => e.name === 'script'), [], 'no script element');
  assert.equal(elements.filter((e) => e.name === 'svg').length, 1, 'one svg element');
  assert.ok(texts.includes(HOSTILE), 'the tick label reads back as the token itself');
  assert.ok(texts.includes(`layer 1 · ${HOSTILE}`), 'the title too');
  assert.ok(texts.includes('tab\there \ufffd \ufffd end'), 'characters XML cannot hold become U+FFFD; a tab stays');
  assert.ok(!svg.includes('<script'), 'no markup of the token in the source');
  assert.equal(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
  assert.equal(elements.find((e) => e.name === 'svg')!.attributes['font-family'], 'system-ui, "Segoe UI", sans-serif', 'attribute values escaped and read back');
});

test('the document has the plot’s size plus its margins, and the map is the embedded image, stretched over the plot', () => {
  const { elements } = parseXml(chartSvg(chart()));
  const svg = elements.find((e) => e.name === 'svg')!;
  const [width, height] = [Number(svg.attributes.width), Number(svg.attributes.height)];
  assert.equal(svg.attributes.viewBox, `0 0 ${width} ${height}`);
  assert.ok(width >= 300 && width <= 300 + 200, `width ${width}`);
  assert.ok(height >= 180 && height <= 180 + 250, `height ${height}`);
  const image = elements.find((e) => e.name === 'image')!;
  assert.deepEqual([image.attributes.width, image.attributes.height], ['300', '180']);
  assert.match(image.attributes.style, /image-rendering:\s*pixelated/);
  const decoded = decodePng(embeddedPng(elements));
  assert.deepEqual([decoded.width, decoded.height], [CELLS.width, CELLS.height]);
  assert.deepEqual(decoded.rgba, pixels, 'the embedded image decodes to the map’s pixels');
  // A smaller plot makes a smaller document by the same amount: the margins are fixed.
  const small = parseXml(chartSvg(chart({ width: 100, height: 50 }))).elements.find((e) => e.name === 'svg')!;
  assert.deepEqual([width - Number(small.attributes.width), height - Number(small.attributes.height)], [200, 130]);
});

test('bars: one rectangle per value, from the zero line, with its own colour', () => {
  const { elements } = parseXml(chartSvg(chart({ image: undefined, legend: undefined, bars: { values: [0.5, -0.25, 1], min: -0.5, max: 1, colors: ['#a00000', '#00a000', '#0000a0'] } })));
  const bars = elements.filter((e) => e.name === 'rect' && /^#[a0]{6}$/.test(e.attributes.fill));
  assert.deepEqual(bars.map((b) => b.attributes.fill), ['#a00000', '#00a000', '#0000a0']);
  // 180 px for 1.5 units: 120 per unit, the zero line 120 px below the top.
  assert.deepEqual(bars.map((b) => [Number(b.attributes.y), Number(b.attributes.height)]), [[60, 60], [120, 30], [0, 120]]);
  assert.equal(elements.filter((e) => e.name === 'image').length, 0);
});
