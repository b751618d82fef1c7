// The Outliers view's statistics and the quantisation what-if run in a worker thread: ONNX Runtime
// runs a graph synchronously on the calling thread, so in the engine's own thread these runs would
// hold back every map and span request until they were done. The worker gets the run's q, k,
// hidden states and lambda (a copy, ~18 MB at 1,024 tokens) and its own sessions of the analysis
// graphs. Two counters shared with the worker, read before each of its graph runs: the generation
// (a newer run supersedes the job) and the foreground requests in flight (the worker waits for
// them, so a layer switch does not share the cores with the statistics).

import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { LayerOutliers, LayerQuantisation } from '../../shared/inspection';
import type { AnalysisInputs } from './analysis';
import type { PackageConfig } from './modelPackage';
import { SupersededError } from './outliers';

/** Indices into the counters shared with the worker. */
export const GENERATION = 0;
export const FOREGROUND = 1;

export type StatisticsJob =
  | { op: 'outliers'; id: number; generation: number; config: PackageConfig; inputs: AnalysisInputs }
  | { op: 'quantisation'; id: number; generation: number; config: PackageConfig; inputs: AnalysisInputs; absMax: number[] };

/** A job as the engine asks for it (per member of the union: Omit alone would merge them). */
type JobRequest = StatisticsJob extends infer J ? (J extends StatisticsJob ? Omit<J, 'id' | 'generation'> : never) : never;

export type StatisticsReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; name: string; message: string };

export class StatisticsThread {
  private worker: Worker | undefined;
  private readonly shared = new Int32Array(new SharedArrayBuffer(8));
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

  /** Marks every job sent so far as superseded. */
  supersede(): void {
    Atomics.add(this.shared, GENERATION, 1);
  }

  /** Runs work the user is waiting for; the worker holds its next graph run until it is done. */
  async foreground<T>(work: () => Promise<T>): Promise<T> {
    Atomics.add(this.shared, FOREGROUND, 1);
    try {
      return await work();
    } finally {
      Atomics.sub(this.shared, FOREGROUND, 1);
      Atomics.notify(this.shared, FOREGROUND);
    }
  }

  outliers(config: PackageConfig, inputs: AnalysisInputs): Promise<LayerOutliers[]> {
    return this.send({ op: 'outliers', config, inputs }) as Promise<LayerOutliers[]>;
  }

  quantisation(config: PackageConfig, inputs: AnalysisInputs, absMax: number[]): Promise<LayerQuantisation[]> {
    return this.send({ op: 'quantisation', config, inputs, absMax }) as Promise<LayerQuantisation[]>;
  }

  private send(job: JobRequest): Promise<unknown> {
    const id = this.nextId++;
    const worker = this.ensureWorker();
    worker.ref(); // keeps the process alive until the reply, as pending I/O would
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ ...job, id, generation: Atomics.load(this.shared, GENERATION) });
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    // Beside this file: dist/ when bundled, out/extension/core/ when compiled.
    const worker = new Worker(path.join(__dirname, 'statisticsWorker.js'), { workerData: this.shared });
    worker.on('message', (reply: StatisticsReply) => {
      const pending = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref(); // an idle worker must not keep the process alive
      if (!pending) return;
      if (reply.ok) pending.resolve(reply.result);
      else pending.reject(reply.name === 'SupersededError' ? new SupersededError() : Object.assign(new Error(reply.message), { name: reply.name }));
    });
    worker.on('error', (error) => this.failAll(error));
    worker.on('exit', (code) => {
      this.worker = undefined;
      this.failAll(new Error(`the statistics worker stopped (exit code ${code})`));
    });
    this.worker = worker;
    return worker;
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}
