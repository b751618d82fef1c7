// The λ what-if and head ablation: the current inspection's text run again with an intervention
// (engine op 'whatIf', kept beside the unmodified run), then, for the chosen layer and head and the
// locked query, each run's map over the panel's viewport (with its λ per cell row, for DIFF V2, and
// the locked query's row when the map's cells pool it), key spans and next-token predictions, and
// the per-token surprisal difference, posted to the panel in one message. When the panel's viewport
// moves, the maps of the what-if shown are computed again for it. The λ What-If… command asks for
// the same.

import * as vscode from 'vscode';
import { lambdaRanges, lambdaRow, lambdaText } from '../../shared/lambda';
import type { Interventions } from '../../shared/model';
import type { HostMessage, WhatIfSpec } from '../../shared/protocol';
import type { EngineInfo, InspectionResult, RunName } from '../core/engine';
import type { ModelEngines } from './engines';
import type { InspectorPanel } from './panel';
import type { PanelSession, ShownViewport } from './panelSession';
import type { InspectorSettings } from './settings';
import { poolRows, queryRowViewport } from './viewports';

type WhatIfMessage = Extract<HostMessage, { type: 'whatIf' }>;
type WhatIfMaps = Pick<WhatIfMessage['main'], 'map' | 'queryRow' | 'lambda'>;

export class WhatIfFlow {
  /** The latest request: an older one still in flight posts nothing. */
  private latest = 0;
  /** Ids for requests made by the command (the panel numbers its own from 1; these stay apart). */
  private nextCommandId = 1_000_000_000;
  /** The last what-if posted (for the tests). */
  last: WhatIfMessage | undefined;
  /** The what-if run's result, beside `last`: its maps are computed again for a new viewport. */
  private lastResult: InspectionResult | undefined;

  constructor(
    private readonly session: PanelSession,
    private readonly engines: ModelEngines,
    private readonly settings: InspectorSettings,
    private readonly panel: InspectorPanel,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** Runs the current inspection's text with `spec` and posts both runs to the panel. */
  async run(spec: WhatIfSpec, whatIfId = this.nextCommandId++): Promise<void> {
    const current = this.session.inspection;
    if (!current) throw new Error('nothing is inspected yet: run DiffTransformer: Inspect Selection first, then the what-if');
    const request = ++this.latest;
    const { runId, model } = current;
    const stale = () => request !== this.latest || this.session.inspection?.runId !== runId;
    const interventions = interventionsFor(spec, model);
    const { head: selectedHead, layer: selectedLayer, query } = this.session.panelSelection;
    const layer = spec.layer ?? selectedLayer;
    const head = spec.kind === 'lambda' ? selectedHead : spec.head;
    const view = model.kind === 'diff' ? 'diff' : 'a1';
    const client = this.engines.model;
    this.session.post({ type: 'busy', message: `What-if: ${describe(spec)}…` });
    try {
      const whatIfResult = await client.request({ op: 'whatIf', interventions });
      if (stale()) return;
      const k = this.settings.topSpans();
      const shownViewport = this.session.mapViewport;
      const side = async (run: RunName, result: InspectionResult) => ({
        ...(await this.maps(run, result, { layer, head, view, query }, shownViewport)),
        spans: await client.request({ op: 'spans', layer, head, query, k, run }),
        predictions: await client.request({ op: 'predictions', token: query, run }),
      });
      const main = await side('main', current.result);
      const whatIf = await side('whatIf', whatIfResult);
      if (stale()) return;
      const message: WhatIfMessage = {
        type: 'whatIf',
        runId,
        whatIfId,
        spec,
        description: describe(spec),
        layer,
        head,
        view,
        query,
        ...shownViewport,
        main,
        whatIf,
        surprisalDelta: surprisalDelta(current.result, whatIfResult),
      };
      this.last = message;
      this.lastResult = whatIfResult;
      this.session.post(message);
      await this.followViewport(); // the panel may have moved it meanwhile
    } catch (err) {
      if (stale()) return;
      const error = err as Error;
      this.log.error(`what-if (${describe(spec)}): ${error.message}`);
      this.session.post({ type: 'error', message: `the what-if failed: ${error.message}` });
    }
  }

  /** Computes the shown what-if's maps again when the panel's viewport moved since, and posts it. */
  async followViewport(): Promise<void> {
    const { last, lastResult } = this;
    const current = this.session.inspection;
    const shownViewport = this.session.mapViewport;
    if (!last || !lastResult || !current || last.runId !== current.runId || last.requestId === shownViewport.requestId) return;
    const request = this.latest;
    try {
      const main = await this.maps('main', current.result, last, shownViewport);
      const whatIf = await this.maps('whatIf', lastResult, last, shownViewport);
      if (request !== this.latest || this.last !== last || this.session.mapViewport !== shownViewport) return;
      const side = ({ spans, predictions }: WhatIfMessage['main'], maps: WhatIfMaps) => ({ spans, predictions, ...maps });
      this.last = { ...last, ...shownViewport, main: side(last.main, main), whatIf: side(last.whatIf, whatIf) };
      this.session.post(this.last);
    } catch (err) {
      this.log.warn(`what-if maps for the new viewport: ${(err as Error).message}`);
    }
  }

  /** One run's map over the viewport, its locked query's row when the map pools it, and its λ per cell row. */
  private async maps(
    run: RunName,
    result: InspectionResult,
    { layer, head, view, query }: Pick<WhatIfMessage, 'layer' | 'head' | 'view' | 'query'>,
    { viewport }: ShownViewport,
  ): Promise<WhatIfMaps> {
    const client = this.engines.model;
    const perQuery = lambdaRow(result, this.session.inspection!.model.nHead, layer, head);
    const rowViewport = queryRowViewport(viewport, query);
    return {
      map: await client.request({ op: 'map', layer, head, view, viewport, run }),
      ...(rowViewport && { queryRow: await client.request({ op: 'map', layer, head, view, viewport: rowViewport, run }) }),
      ...(perQuery && { lambda: poolRows(perQuery, viewport) }),
    };
  }

  /** The command: asks for a layer (or all) and a λ, then runs it and shows the What-if tab. */
  async pickAndRun(): Promise<void> {
    const current = this.session.inspection;
    if (!current) throw new Error('nothing is inspected yet: run DiffTransformer: Inspect Selection first, then the what-if');
    const { model } = current;
    if (model.kind !== 'diff') throw new Error(`${model.name} is a baseline model and has no λ: select a Differential Transformer (DiffTransformer: Select Model…)`);
    const perLayer = lambdaRanges(current.result, model.nHead).map((ranges, layer) => ({ label: `Layer ${layer}`, description: lambdaText(ranges), layer }));
    const layers = [{ label: 'All layers', layer: null }, ...perLayer];
    const pickedLayer = await vscode.window.showQuickPick(layers, { title: 'λ What-If: which layers?' });
    if (!pickedLayer) return;
    const presets = [
      { label: 'λ = 0', description: 'plain softmax of A1', scale: 0, shift: 0 },
      { label: 'λ = 1', description: 'pure difference', scale: 0, shift: 1 },
      { label: 'λ × 0.5', description: 'half the noise cancellation', scale: 0.5, shift: 0 },
      { label: 'Own value', description: 'unchanged: the what-if equals the run', scale: 1, shift: 0 },
      { label: 'Other value…', description: 'type a λ', scale: NaN, shift: NaN },
    ];
    const preset = await vscode.window.showQuickPick(presets, { title: 'λ What-If: which λ?' });
    if (!preset) return;
    let { scale, shift } = preset;
    if (Number.isNaN(scale)) {
      const typed = await vscode.window.showInputBox({
        title: 'λ What-If: λ for the chosen layers',
        validateInput: (text) => (Number.isFinite(Number(text)) && text.trim() !== '' ? undefined : 'type a number, such as 0.3 or -0.2'),
      });
      if (typed === undefined) return;
      [scale, shift] = [0, Number(typed)];
    }
    await this.panel.reveal();
    await this.run({ kind: 'lambda', layer: pickedLayer.layer, scale, shift });
  }
}

/** The engine's inputs for a spec: λ changes only for a DIFF model (a baseline has only head_mask). */
export function interventionsFor(spec: WhatIfSpec, model: Pick<EngineInfo, 'kind' | 'nLayer' | 'nHead' | 'name'>): Interventions {
  const { nLayer, nHead } = model;
  const at = (layer: number, head: number) => layer * nHead + head;
  if (spec.layer !== null && spec.layer >= nLayer) throw new Error(`layer ${spec.layer} is not in ${model.name} (layers 0–${nLayer - 1})`);
  if (spec.kind === 'ablateHead') {
    if (spec.head >= nHead) throw new Error(`head ${spec.head} is not in ${model.name} (heads 0–${nHead - 1})`);
    const headMask = new Float32Array(nLayer * nHead).fill(1);
    headMask[at(spec.layer, spec.head)] = 0;
    return { head_mask: headMask };
  }
  if (model.kind !== 'diff') throw new Error(`${model.name} is a baseline model: it has no λ or A2 to change; ablate a whole head instead`);
  const scale = new Float32Array(nLayer * nHead).fill(1);
  const shift = new Float32Array(nLayer * nHead);
  if (spec.kind === 'ablateA2') {
    scale[at(spec.layer, spec.head)] = 0; // λ = 0: the head keeps A1 and subtracts nothing
  } else {
    for (let layer = 0; layer < nLayer; layer++) {
      if (spec.layer !== null && layer !== spec.layer) continue;
      for (let head = 0; head < nHead; head++) [scale[at(layer, head)], shift[at(layer, head)]] = [spec.scale, spec.shift];
    }
  }
  return { lambda_scale: scale, lambda_shift: shift };
}

/** Per token, surprisal (−log₂ p, in bits as the hover says it) in the what-if minus in the
 *  unmodified run. */
export function surprisalDelta(main: InspectionResult, whatIf: InspectionResult): Float32Array {
  return main.tokenLogprob.map((logprob, token) => (logprob - whatIf.tokenLogprob[token]) / Math.LN2);
}

/** The spec in words, for the panel's title and the busy line. */
export function describe(spec: WhatIfSpec): string {
  if (spec.kind === 'ablateHead') return `layer ${spec.layer} head ${spec.head} ablated`;
  if (spec.kind === 'ablateA2') return `layer ${spec.layer} head ${spec.head}: A2 ablated (λ = 0)`;
  const where = spec.layer === null ? 'every layer' : `layer ${spec.layer}`;
  if (spec.scale === 0) return `λ = ${spec.shift} in ${where}`;
  if (spec.scale === 1 && spec.shift === 0) return `λ unchanged in ${where}`;
  return `λ × ${spec.scale}${spec.shift ? ` + ${spec.shift}` : ''} in ${where}`;
}
