// The Explain tab's arithmetic without a browser (webview/explainLayout.ts): which components its
// bar list shows, where each bar's A1 and −λ·A2 segments lie, the sum check; and the ranking of a
// head's source tokens that the tab's list and the editor's marks share (shared/sourceRanking.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ExplainPart } from '../../shared/explain';
import { highlightedSources, rankSources } from '../../shared/sourceRanking';
import { axisScale, barSegments, largestParts, sumCheck } from '../../webview/explainLayout';

const head = (layer: number, index: number, a1: number, a2: number): ExplainPart => ({ component: `L${layer}.H${index}`, kind: 'head', layer, head: index, total: a1 + a2, a1, a2 });
const PARTS: ExplainPart[] = [
  { component: 'embed', kind: 'embed', layer: null, head: null, total: 0.5 },
  head(0, 0, 2, -1.5),
  head(0, 1, -0.25, 0.05),
  { component: 'L0.mlp', kind: 'mlp', layer: 0, head: null, total: -3 },
  head(1, 0, 1, 0),
];

test('the bar list shows the parts of largest |total| first, ties in the engine’s order', () => {
  assert.deepEqual(largestParts(PARTS, 3).map((part) => part.component), ['L0.mlp', 'L1.H0', 'embed']);
  const tie = [head(0, 0, 1, 0), head(0, 1, -1, 0)];
  assert.deepEqual(largestParts(tie, Infinity).map((part) => part.component), ['L0.H0', 'L0.H1']);
  assert.equal(largestParts(PARTS, Infinity).length, PARTS.length, '"show all" shows every part');
});

test('a DIFF head’s bar is its A1 part from zero, then its −λ·A2 part back from there to the net', () => {
  const scale = axisScale(PARTS);
  assert.equal(scale, 3, 'the MLP’s |−3| is the largest reach');
  const { segments, net } = barSegments(PARTS[1], scale);
  assert.deepEqual(segments, [
    { kind: 'a1', from: 0, to: 2 / 3 },
    { kind: 'a2', from: 2 / 3, to: 0.5 / 3 },
  ]);
  assert.equal(net, 0.5 / 3);
  assert.deepEqual(barSegments(PARTS[3], scale), { segments: [{ kind: 'total', from: 0, to: -1 }], net: -1 }, 'an MLP has one bar');
  assert.equal(axisScale([{ a1: 4, total: 1 }]), 4, 'an A1 part larger than its net sets the axis');
  assert.deepEqual(barSegments({ total: 0 }, 0).segments, [{ kind: 'total', from: 0, to: 0 }], 'an all-zero list draws no bar');
});

test('the sum line checks that the parts add up to the logit', () => {
  const logit = PARTS.reduce((sum, part) => sum + part.total, 0);
  assert.deepEqual(sumCheck(PARTS, logit), { sum: logit, agrees: true });
  assert.equal(sumCheck(PARTS, logit + 0.1).agrees, false, 'a part missing 0.1 is caught');
});

test('source tokens rank by |a1| + |a2|; the editor marks the largest A1 pushes and the largest A2 cancellations, never BOS', () => {
  const a1 = Float32Array.from([5, 0.5, 2, 0, 1]);
  const a2 = Float32Array.from([-4, 0, -1.5, -0.25, 0.5]);
  assert.deepEqual(
    rankSources({ a1, a2 }).map((row) => row.token),
    [0, 2, 4, 1, 3],
  );
  const [bos] = rankSources({ a1, a2 });
  assert.deepEqual(bos, { token: 0, a1: 5, a2: -4, net: 1 });
  assert.deepEqual(highlightedSources({ a1, a2 }, 2), { added: [2, 4], cancelled: [2, 3] });
  assert.deepEqual(highlightedSources({ a1, a2 }, 5), { added: [2, 4, 1], cancelled: [2, 3] }, 'only tokens that added, or whose push was cancelled');
});
