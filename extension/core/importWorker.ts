// Entry point of the import's worker thread (importClient.ts): runs importModel on the job it is
// started with, posts its progress and its outcome, and aborts it when asked to cancel.

import { parentPort, workerData } from 'node:worker_threads';
import { importModel } from './import/importModel';
import { CANCEL_IMPORT, type ImportJob, type ImportWorkerMessage } from './importClient';

const port = parentPort!;
const abort = new AbortController();
port.on('message', (message: unknown) => {
  if (message === CANCEL_IMPORT) abort.abort();
});
const post = (message: ImportWorkerMessage) => port.postMessage(message);

importModel({ ...(workerData as ImportJob), signal: abort.signal, onProgress: (progress) => post({ type: 'progress', progress }) }).then(
  (result) => post({ type: 'done', result }),
  (err: Error) => post({ type: 'failed', name: err.name, message: err.message }),
);
