// Import Model off the caller's thread: converting a 1B-parameter checkpoint reads, converts and
// hashes gigabytes, which in the extension host's thread would freeze every other extension. The
// import runs in a worker thread (importWorker.ts) that reports progress; aborting the signal asks
// it to stop at the next tensor, and importModel removes its temporary folder before it answers.
// Only types come from importModel.ts here: the host's bundle must not carry the importer (the
// worker's bundle does); its errors (errors.ts) reach the caller as the same classes.

import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { PendingRequests, type Reply, type RequestMessage } from '../../shared/requests';
import { ERROR_CLASSES, ImportCancelledError } from './errors';
import type { ImportOptions, ImportProgress, ImportResult } from './import/importModel';
import { removePartialImport } from './import/partialFolder';

/** What the worker gets: the import's options without the callbacks, which cannot cross threads. */
export type ImportJob = Omit<ImportOptions, 'onProgress' | 'signal'>;

/** What the worker sends: the import's progress, then the reply to the job. */
export type ImportWorkerMessage = { progress: ImportProgress } | Reply<ImportResult>;

/** The message that asks the worker to stop. */
export const CANCEL_IMPORT = 'cancel';

/** Runs importModel(options) in a worker thread; same result, progress and cancellation, and the
 *  same errors. */
export async function importInWorker(options: ImportOptions): Promise<ImportResult> {
  const { onProgress, signal, ...job } = options;
  if (signal?.aborted) throw new ImportCancelledError('import cancelled');
  // Beside this file: dist/ when bundled, out/extension/core/ when compiled.
  const worker = new Worker(path.join(__dirname, 'importWorker.js'));
  const requests = new PendingRequests(ERROR_CLASSES);
  const { id, reply } = requests.open<ImportResult>();
  worker.on('message', (message: ImportWorkerMessage) => {
    if ('progress' in message) onProgress?.(message.progress);
    else requests.settle(message);
  });
  // A worker that dies (an uncaught error, out of memory) cannot remove its temporary folder.
  let dead = false;
  const died = (error: Error) => {
    if (dead || requests.size === 0) return; // seen already, or answered (the import cleaned up)
    dead = true;
    void removePartialImport(options.destination).finally(() => requests.rejectAll(error));
  };
  worker.on('error', died);
  worker.on('exit', (code) => died(new Error(`the import's worker thread stopped (exit code ${code}) before it finished`)));
  const cancel = () => worker.postMessage(CANCEL_IMPORT);
  signal?.addEventListener('abort', cancel, { once: true });
  worker.postMessage({ id, request: job } satisfies RequestMessage<ImportJob>);
  try {
    return await reply;
  } finally {
    signal?.removeEventListener('abort', cancel);
    void worker.terminate();
  }
}
