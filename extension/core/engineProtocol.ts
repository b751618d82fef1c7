// Requests and replies between the extension host and the engine child process. Both ends are this
// project's own code; typed arrays cross with Node's 'advanced' (structured clone) serialization.

import type { ExplainOptions, Explanation, SourceParts } from '../../shared/explain';
import type { FlowGraph } from '../../shared/flow';
import type { KeySpan, LayerOutliers, LayerQuantisation, LensLayer, MapViewport, Prediction } from '../../shared/inspection';
import type { Interventions, MapView } from '../../shared/model';
import type { NeedleTestOptions, NeedleTestResult } from '../../shared/needleTest';
import type { Reply } from '../../shared/requests';
import type { LayerSinks } from '../../shared/sinks';
import type { GenerateOptions, Generation } from './generate';
import type { EngineInfo, InspectionResult, RunEstimate, RunName } from './engine';
import type { FlowOptions } from './flow';
import type { ProviderSetting } from './runtime';

export type EngineRequest =
  | { op: 'load'; packageDir: string; provider: ProviderSetting }
  | { op: 'inspect'; text: string; queryOffset?: number }
  | { op: 'estimate'; text: string }
  | { op: 'whatIf'; interventions: Interventions }
  | { op: 'map'; layer: number; head: number; view: MapView; viewport?: MapViewport; run?: RunName }
  | { op: 'spans'; layer: number; head?: number; query: number; k: number; run?: RunName }
  | { op: 'predictions'; token: number; run?: RunName }
  | { op: 'lens'; token: number; run?: RunName }
  | { op: 'explain'; query: number; options?: ExplainOptions; run?: RunName }
  | { op: 'explainSources'; query: number; options?: ExplainOptions; layer: number; head: number; run?: RunName }
  /** The vocabulary id of a typed target: `#ID` as written, else the one token `text` encodes to (Engine.tokenId). */
  | { op: 'tokenId'; text: string }
  | { op: 'flow'; query: number; options: FlowOptions; run?: RunName }
  | { op: 'outliers' }
  | { op: 'quantisation' }
  | { op: 'sinks' }
  | { op: 'needleTest'; filler: string; options?: NeedleTestOptions }
  // `generation` names the run, so that a stop sent as it ends cannot stop the next one.
  | { op: 'generate'; prompt: string; options: GenerateOptions; generation: number }
  | { op: 'stopGenerating'; generation: number };

export interface EngineReplies {
  load: EngineInfo;
  inspect: InspectionResult;
  estimate: RunEstimate;
  whatIf: InspectionResult;
  map: Float32Array;
  spans: KeySpan[];
  predictions: Prediction[];
  lens: LensLayer[];
  explain: Explanation;
  explainSources: SourceParts;
  tokenId: number;
  flow: FlowGraph;
  outliers: LayerOutliers[];
  quantisation: LayerQuantisation[];
  sinks: LayerSinks[];
  needleTest: NeedleTestResult;
  generate: Generation;
  stopGenerating: null;
}

/** What the engine process sends: a reply, a line for the host's log, or how many tokens a
 *  generation has made so far. */
export type EngineMessage = Reply | { log: string } | { generated: { generation: number; done: number } };
