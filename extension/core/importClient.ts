// Import Model off the caller's thread: converting a 1B-parameter checkpoint reads, converts and
// hashes gigabytes, which in the extension host's thread would freeze every other extension. The
// import runs in a worker thread (importWorker.ts) that reports progress; aborting the signal asks
// it to stop at the next tensor, and importModel removes its temporary folder before it answers.
// Only types come from importModel.ts here: the host's bundle must not carry the importer (the
// worker's bundle does), so errors are rebuilt by name (ImportError, ImportCancelledError).

import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ImportOptions, ImportProgress, ImportResult } from './import/importModel';
import { removePartialImport } from './import/partialFolder';

/** What the worker gets: the import's options without the callbacks, which cannot cross threads. */
export type ImportJob = Omit<ImportOptions, 'onProgress' | 'signal'>;

export type ImportWorkerMessage =
  | { type: 'progress'; progress: ImportProgress }
  | { type: 'done'; result: ImportResult }
  | { type: 'failed'; name: string; message: string };

/** The message that asks the worker to stop. */
export const CANCEL_IMPORT = 'cancel';

/** Runs importModel(options) in a worker thread; same result, progress and cancellation, and its
 *  errors with their name and message. */
export function importInWorker(options: ImportOptions): Promise<ImportResult> {
  const { onProgress, signal, ...job } = options;
  if (signal?.aborted) return Promise.reject(namedError('ImportCancelledError', 'import cancelled'));
  // Beside this file: dist/ when bundled, out/extension/core/ when compiled.
  const worker = new Worker(path.join(__dirname, 'importWorker.js'), { workerData: job satisfies ImportJob });
  const cancel = () => worker.postMessage(CANCEL_IMPORT);
  signal?.addEventListener('abort', cancel, { once: true });
  return new Promise<ImportResult>((resolve, reject) => {
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', cancel);
      outcome();
      void worker.terminate();
    };
    worker.on('message', (message: ImportWorkerMessage) => {
      if (message.type === 'progress') onProgress?.(message.progress);
      else if (message.type === 'done') settle(() => resolve(message.result));
      else settle(() => reject(namedError(message.name, message.message)));
    });
    // A worker that dies (an uncaught error, out of memory) cannot remove its temporary folder.
    const died = (error: Error) => settle(() => void removePartialImport(options.destination).finally(() => reject(error)));
    worker.on('error', died);
    worker.on('exit', (code) => died(new Error(`the import's worker thread stopped (exit code ${code}) before it finished`)));
  });
}

/** An error from the worker, with the name it had there. */
function namedError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}
