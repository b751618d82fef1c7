// Entry point of the engine child process (engineClient.ts): answers EngineRequests from the host.

import { answer, type RequestMessage } from '../../shared/requests';
import { Engine } from './engine';
import type { EngineMessage, EngineRequest } from './engineProtocol';

let engine: Engine | undefined;
/** The generation the host asked to stop (stopGenerating is answered at once, not queued). */
let stoppedGeneration: number | undefined;

function send(message: EngineMessage): void {
  process.send!(message);
}

async function handle(request: EngineRequest): Promise<unknown> {
  if (request.op === 'load') {
    engine = await Engine.load(request.packageDir, request.provider, (log) => send({ log }));
    return engine.info;
  }
  if (!engine) throw new Error('no model is loaded');
  switch (request.op) {
    case 'inspect':
      return engine.inspect(request.text, request.queryOffset);
    case 'estimate':
      return engine.estimate(request.text);
    case 'whatIf':
      return engine.whatIf(request.interventions);
    case 'map':
      return engine.map(request.layer, request.head, request.view, request.viewport, request.run);
    case 'spans':
      return engine.spans(request.layer, request.head, request.query, request.k, request.run);
    case 'predictions':
      return engine.predictions(request.token, undefined, request.run);
    case 'lens':
      return engine.lens(request.token, request.run);
    case 'explain':
      return engine.explain(request.query, request.options, request.run);
    case 'explainSources':
      return engine.explainSources(request.query, request.options ?? {}, request.layer, request.head, request.run);
    case 'tokenId':
      return engine.tokenId(request.text);
    case 'flow':
      return engine.flow(request.query, request.options, request.run);
    case 'outliers':
      return engine.outliers();
    case 'quantisation':
      return engine.quantisation();
    case 'sinks':
      return engine.sinks();
    case 'needleTest':
      return engine.needleTest(request.filler, request.options);
    case 'generate': {
      const { generation } = request;
      return engine.generate(request.prompt, request.options, (done) => send({ generated: { generation, done } }), () => stoppedGeneration === generation);
    }
    case 'stopGenerating':
      stoppedGeneration = request.generation;
      return null;
  }
}

// Loading, inspecting, a what-if and the Needle Test change which run the other requests read, so
// they run one after another (generation, the longest use of the model, in the same line); every
// other request waits only for those sent before it, not for each other, so a map or span list is
// answered while outlier statistics are still being computed.
let changes: Promise<unknown> = Promise.resolve();
const CHANGING_OPS: ReadonlySet<EngineRequest['op']> = new Set(['load', 'inspect', 'whatIf', 'needleTest', 'generate']);

process.on('message', ({ id, request }: RequestMessage<EngineRequest>) => {
  // A stop must reach the generation it stops, which holds the line: it is answered at once.
  if (request.op === 'stopGenerating') return void answer(id, () => handle(request)).then(send);
  const after = changes.catch(() => {});
  const replied = after.then(async () => send(await answer(id, () => handle(request))));
  if (CHANGING_OPS.has(request.op)) changes = replied;
});
