// Entry point of the import's worker thread (importClient.ts): runs importModel on the job it is
// sent, posts its progress and its outcome, and aborts it when asked to cancel.

import { parentPort } from 'node:worker_threads';
import { answer, type RequestMessage } from '../../shared/requests';
import { importModel } from './import/importModel';
import { CANCEL_IMPORT, type ImportJob, type ImportWorkerMessage } from './importClient';

const port = parentPort!;
const abort = new AbortController();
const post = (message: ImportWorkerMessage) => port.postMessage(message);

port.on('message', async (message: typeof CANCEL_IMPORT | RequestMessage<ImportJob>) => {
  if (message === CANCEL_IMPORT) abort.abort();
  else post(await answer(message.id, () => importModel({ ...message.request, signal: abort.signal, onProgress: (progress) => post({ progress }) })));
});
