// The panel's state without a browser: how the store reduces the host's messages and the user's
// choices (webview/store.ts), and what the panel saves with setState and restores when it is shown
// again or reloaded (webview/state.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { viewportCells, wholeMap, type MapViewport } from '../../shared/inspection';
import type { HostMessage, InspectionMeta } from '../../shared/protocol';
import { emptyState, IDLE, restoreState, saveState } from '../../webview/state';
import { PanelStore, reduce } from '../../webview/store';
import type { PanelState } from '../../webview/types';

const T = 6;

function meta(runId: number): InspectionMeta {
  return {
    runId,
    model: { name: 'tiny-diff', kind: 'diff', sha256: 'ab'.repeat(32), nLayer: 2, nHead: 2, maxSeqLen: 64, provider: 'cpu' },
    source: { fileName: 'sample.py', startLine: 1, endLine: 2 },
    tokens: Array.from({ length: T }, (_, i) => ({ text: `t${i}`, start: i, end: i + 1 })),
    window: null,
    lambda: [0.2, 0.35],
    lambdaRanges: [],
    query: T - 1,
    thumbnailSize: 4,
    latencyMs: 12,
  };
}

type MapMessage = Extract<HostMessage, { type: 'map' }>;

/** A map of run `runId` over `viewport` whose cell (r, c) holds r * 10 + c. */
function mapMessage(runId: number, viewport: MapViewport, fields: Partial<MapMessage> = {}): MapMessage {
  const { rows, cols } = viewportCells(viewport);
  const data = Float32Array.from({ length: rows * cols }, (_, i) => Math.floor(i / cols) * 10 + (i % cols));
  return { type: 'map', pane: 'main', runId, layer: 1, head: 0, view: 'diff', requestId: 0, viewport, data, ...fields };
}

/** The state after run `runId` arrived, with the host's selection layer 0, head 0, its last token. */
function inspected(runId: number, from: PanelState = emptyState()): PanelState {
  return reduce(from, { type: 'inspection', meta: meta(runId), thumbnails: {}, selection: { layer: 0, head: 0, view: 'diff', query: T - 1 } });
}

test('a new run starts empty on Maps & spans with the host’s selection, keeping the user’s choices', () => {
  let state = inspected(1);
  state = reduce(state, mapMessage(1, wholeMap(T, T, 'mean')));
  state = reduce(state, { type: 'chooseTab', tab: 'outliers' });
  state = reduce(state, { type: 'chooseQuantBits', bits: 4 });
  const again = inspected(1, state);
  assert.equal(again.map, state.map, 'the same run again (a panel shown again) keeps its map');
  assert.equal(again.tab, 'outliers');
  const next = reduce(state, { type: 'inspection', meta: meta(2), thumbnails: {}, selection: { layer: 1, head: 1, view: 'a2', query: 3 } });
  assert.equal(next.map, undefined, 'a new run has no map until the host sends it');
  assert.deepEqual([next.tab, next.quantBits], ['maps', 4], 'Maps & spans, with the quantisation grid the user chose');
  assert.deepEqual([next.selection, next.query], [{ layer: 1, head: 1, view: 'a2' }, 3], 'the host’s selection');
});

test('a map shows the selection it was computed for; maps of another run, of an older viewport request or of the wrong size are ignored', (t) => {
  const warn = t.mock.method(console, 'warn', () => undefined);
  const state = reduce(inspected(1), { type: 'requestViewport', pane: 'main', requestId: 3, viewport: wholeMap(T, 4, 'max') });
  const viewport = wholeMap(T, 4, 'max');
  assert.equal(reduce(state, mapMessage(2, viewport, { requestId: 3 })), state, 'another run');
  assert.equal(reduce(state, mapMessage(1, viewport, { requestId: 2 })), state, 'an older request');
  const wrongSize = { ...mapMessage(1, viewport, { requestId: 3 }), data: new Float32Array(15) };
  assert.equal(reduce(state, wrongSize), state, '15 values for 4 x 4 cells');
  assert.equal(warn.mock.callCount(), 1, 'a map of the wrong size is reported');
  const shown = reduce(state, mapMessage(1, viewport, { requestId: 3, layer: 1, head: 1, view: 'a1' }));
  assert.deepEqual(shown.selection, { layer: 1, head: 1, view: 'a1' });
  assert.equal(shown.map?.requestId, 3);
  assert.equal(shown.map?.data[2 * 4 + 3], 23, 'cell (2, 3)');
});

test('the locked query’s row joins only the map it was computed for', () => {
  const viewport: MapViewport = { firstRow: 0, endRow: T, firstKey: 0, endKey: T, rows: 2, cols: T, pooling: 'mean' };
  const state = reduce(inspected(1), mapMessage(1, viewport));
  const rowViewport = { ...viewport, firstRow: 4, endRow: 5, rows: 1 };
  const row = Float32Array.from({ length: T }, (_, key) => key / 10);
  const message = { type: 'queryRow', pane: 'main', runId: 1, layer: 1, head: 0, view: 'diff', requestId: 0, viewport: rowViewport, query: 4, data: row } as const;
  assert.deepEqual(reduce(state, message).map?.queryRow, { query: 4, data: row });
  assert.equal(reduce(state, { ...message, head: 1 }), state, 'another head');
  assert.equal(reduce(state, { ...message, viewport: { ...rowViewport, endKey: T - 1, cols: T - 1 }, data: row.subarray(1) }), state, 'other keys');
});

test('a comparison opens Compare, and the compare pane’s map (with its paired head) and spans go to it', () => {
  let state = inspected(1);
  assert.equal(reduce(state, { type: 'comparison', meta: meta(2) }), state, 'the baseline of another run');
  state = reduce(state, { type: 'comparison', meta: { ...meta(1), model: { ...meta(1).model, kind: 'baseline' } } });
  assert.equal(state.tab, 'compare');
  const viewport = wholeMap(T, T, 'mean');
  const paired = Float32Array.from({ length: T * T }, (_, i) => -i);
  state = reduce(state, mapMessage(1, viewport, { pane: 'compare', head: 1, paired: { head: 3, data: paired } }));
  assert.equal(state.map, undefined, 'the main pane waits for its own map');
  assert.deepEqual([state.comparison?.map?.head, state.comparison?.pairedMap?.head], [1, 3]);
  assert.equal(state.comparison?.pairedMap?.data, paired);
  state = reduce(state, { type: 'spans', pane: 'compare', runId: 1, layer: 0, head: 1, query: 2, spans: [] });
  assert.deepEqual(state.comparison?.spans, { layer: 0, head: 1, query: 2, spans: [] });
  assert.equal(state.spans, undefined);
});

test('an error ends the wait, “stale” marks only the current run, and “cleared” keeps the user’s choices', () => {
  let state = reduce(inspected(1), { type: 'busy', message: 'Inspecting…' });
  assert.equal(state.status.kind, 'busy');
  state = reduce(state, { type: 'error', message: 'out of memory' });
  assert.deepEqual(state.status, { kind: 'error', text: 'out of memory' });
  assert.equal(reduce(state, { type: 'stale', runId: 2, message: 'edited' }), state, 'another run’s edit');
  assert.equal(reduce(state, { type: 'stale', runId: 1, message: 'edited' }).status.kind, 'stale');
  state = reduce(reduce(state, { type: 'chooseTab', tab: 'needles' }), { type: 'chooseQuantBits', bits: 8 });
  const cleared = reduce(state, { type: 'cleared' });
  assert.deepEqual(cleared, { ...emptyState(), tab: 'needles', quantBits: 8 });
});

test('a Needle Test’s progress opens its tab and lasts until its report, a new job or a failure', () => {
  const progress = reduce(inspected(1), { type: 'needleProgress', message: 'tiny-diff: document 1 of 6 done (64 tokens, needles at depth 0%)' });
  assert.deepEqual([progress.tab, progress.needleProgress], ['needles', 'tiny-diff: document 1 of 6 done (64 tokens, needles at depth 0%)']);
  const report = { form: 'code' as const, needles: 1, queries: 1, trials: 6, tokens: 96, lengths: [64, 96], source: 'a.py', models: [] };
  assert.equal(reduce(progress, { type: 'needles', report }).needleProgress, undefined, 'the report');
  assert.equal(reduce(progress, { type: 'busy', message: 'Cancelled.' }).needleProgress, undefined, 'Cancel, or a new job');
  assert.equal(reduce(progress, { type: 'error', message: 'the engine stopped' }).needleProgress, undefined, 'a failure');
  assert.equal('needleProgress' in saveState(progress), false, 'not saved');
});

test('the store saves and renders each change once, and nothing for an action that changes nothing', () => {
  const saved: PanelState[] = [];
  const rendered: PanelState[] = [];
  const store = new PanelStore(emptyState(), (state) => saved.push(state), (state) => rendered.push(state));
  store.dispatch({ type: 'chooseTab', tab: 'maps' });
  store.dispatch({ type: 'requestViewport', pane: 'main', requestId: 1, viewport: wholeMap(T, T, 'mean') }); // no run yet
  assert.deepEqual([saved.length, rendered.length], [0, 0]);
  store.dispatch({ type: 'chooseTab', tab: 'compare' });
  assert.deepEqual([saved, rendered], [[store.state], [store.state]]);
  assert.equal(store.state.tab, 'compare');
});

test('a flow graph shows for its run until a newer request’s answer; older requests’ and other runs’ are ignored', () => {
  const graph = (threshold: number) => ({ query: T - 1, threshold, nodes: [{ layer: 1, token: T - 1 }], edges: [], cappedLayers: [] });
  let state = reduce(inspected(1), { type: 'flow', runId: 1, flowId: 2, graph: graph(0.1) });
  assert.deepEqual(state.flow, { runId: 1, flowId: 2, graph: graph(0.1) });
  assert.equal(reduce(state, { type: 'flow', runId: 1, flowId: 1, graph: graph(0.3) }), state, 'an older request’s answer');
  assert.equal(reduce(state, { type: 'flow', runId: 2, flowId: 3, graph: graph(0.3) }), state, 'another run’s');
  state = reduce(state, { type: 'flow', runId: 1, flowId: 3, graph: graph(0.3) });
  assert.equal(state.flow?.graph.threshold, 0.3);
  assert.equal(inspected(2, state).flow, undefined, 'a new run has none until asked');
  assert.equal(restoreState(JSON.parse(JSON.stringify(saveState(state)))).flow, undefined, 'not saved: the Flow tab asks again');
});

/** A run with thumbnails, a V2 map (λ per cell row), spans and the user's choices, as it is shown. */
function shownState(): PanelState {
  let state = inspected(7);
  state = reduce(state, { type: 'inspection', meta: meta(7), thumbnails: { diff: Float32Array.from({ length: 16 }, (_, i) => Math.sin(i)) }, selection: { layer: 0, head: 0, view: 'diff', query: 5 } });
  const viewport = wholeMap(T, T, 'mean');
  state = reduce(state, mapMessage(7, viewport, { lambda: Float32Array.from({ length: T }, (_, i) => 0.1 * i - 0.2) }));
  state = reduce(state, { type: 'spans', pane: 'main', runId: 7, layer: 1, head: 0, query: 5, spans: [{ firstToken: 1, endToken: 3, score: 0.75, text: 't1t2' }] });
  state = reduce(state, { type: 'lens', runId: 7, query: 5, layers: [] });
  state = reduce(state, { type: 'chooseTab', tab: 'outliers' });
  return reduce(state, { type: 'chooseQuantBits', bits: 6 });
}

test('the saved state survives JSON: the map, its λ and the thumbnails bit for bit, what the host re-sends left out', () => {
  const state = shownState();
  const restored = restoreState(JSON.parse(JSON.stringify(saveState(state))));
  assert.deepEqual(restored.thumbnails, state.thumbnails);
  assert.deepEqual(restored.map, state.map);
  assert.deepEqual([restored.meta, restored.selection, restored.query, restored.spans], [state.meta, state.selection, state.query, state.spans]);
  assert.deepEqual([restored.tab, restored.quantBits], ['outliers', 6]);
  assert.equal(state.lens?.query, 5);
  assert.deepEqual([restored.lens, restored.whatIf, restored.viewportRequest, restored.status], [undefined, undefined, undefined, IDLE], 'the host sends these again');
});

test('arrays too large for the saved state are left out, the smaller ones kept', () => {
  const state = shownState();
  const huge = new Float32Array(2_000_000); // 8 MB: more base64 than the panel saves
  const saved = saveState({ ...state, thumbnails: { a1: huge, ...state.thumbnails } });
  assert.deepEqual(Object.keys(saved.thumbnails), ['diff']);
  assert.ok(saved.map, 'the map still fits');
});

test('an unreadable saved state gives an empty panel; a saved map whose cells do not fit its viewport is dropped alone', (t) => {
  const warn = t.mock.method(console, 'warn', () => undefined);
  assert.deepEqual(restoreState(undefined), emptyState());
  assert.deepEqual(restoreState({ version: 1, tab: 'maps' }), emptyState());
  assert.equal(warn.mock.callCount(), 1, 'the unreadable state is reported');
  const saved = JSON.parse(JSON.stringify(saveState(shownState())));
  saved.map.viewport.rows = T - 1;
  const restored = restoreState(saved);
  assert.equal(restored.map, undefined);
  assert.equal(restored.meta?.runId, 7);
  assert.equal(restored.thumbnails.diff?.length, 16);
});

test('an explanation opens Explain; a head’s source parts join only the explanation they were computed for', () => {
  const explanation = { query: 4, target: { id: 7, text: 't7' }, versus: null, logit: 1, finalScale: 0.5, parts: [] };
  const state = reduce(inspected(1), { type: 'explanation', runId: 1, explanation });
  assert.deepEqual([state.tab, state.explanation], ['explain', explanation]);
  assert.equal(reduce(inspected(1), { type: 'explanation', runId: 2, explanation }).explanation, undefined, 'another run');
  const sources = { layer: 1, head: 0, a1: new Float32Array(5), a2: new Float32Array(5) };
  const message = { type: 'explainSources', runId: 1, query: 4, target: 7, versus: null, sources } as const;
  assert.equal(reduce(state, message).explainSources?.sources, sources);
  assert.equal(reduce(state, { ...message, target: 8 }), state, 'another target');
  assert.equal(reduce(state, { ...message, versus: 3 }), state, 'a difference with another token');
  assert.equal(reduce(state, { ...message, query: 3 }), state, 'another query');
  const withSources = reduce(state, message);
  assert.equal(reduce(withSources, { type: 'explanation', runId: 1, explanation: { ...explanation, query: 3 } }).explainSources, undefined, 'a new explanation drops the old one’s sources');
});
