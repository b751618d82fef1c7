// Entry point of the engine child process: answers EngineRequests from the parent, one at a time.

import { Engine } from './engine';
import type { EngineMessage, EngineRequest } from './engineProtocol';

let engine: Engine | undefined;

function send(message: EngineMessage): void {
  process.send!(message);
}

async function handle(request: EngineRequest): Promise<unknown> {
  if (request.op === 'load') {
    engine = await Engine.load(request.packageDir, request.provider, (log) => send({ id: -1, log }));
    return engine.info;
  }
  if (!engine) throw new Error('no model is loaded');
  switch (request.op) {
    case 'inspect':
      return engine.inspect(request.text, request.queryOffset);
    case 'map':
      return engine.map(request.layer, request.head, request.view);
    case 'spans':
      return engine.spans(request.layer, request.head, request.query, request.k);
    case 'outliers':
      return engine.outliers();
    case 'needleTest':
      return engine.needleTest(request.filler, request.options);
  }
}

let queue = Promise.resolve();
process.on('message', (message: { id: number; request: EngineRequest }) => {
  queue = queue.then(async () => {
    try {
      send({ id: message.id, ok: true, result: await handle(message.request) });
    } catch (err) {
      const error = err as Error;
      send({ id: message.id, ok: false, error: { name: error.name, message: error.message } });
    }
  });
});
process.on('disconnect', () => process.exit(0));
