// The Outliers view's statistics, the quantisation what-if and the attention sinks run in worker
// threads: ONNX Runtime runs a graph synchronously on the calling thread, so in the engine's own
// thread these runs would hold back every map and span request until they were done. A job's
// layers are split between the workers (one a core, up to two): each gets views of its layers' q,
// k, hidden states and lambda in the run's shared memory (sharedInputs.ts: moved there by the run's
// first job, never copied per job) and its own single-threaded sessions of the analysis graphs,
// since their many passes over cache-sized tiles gain little from ONNX Runtime's own threads. Two
// counters shared with the workers, read before each graph run: the generation (a newer run
// supersedes the job) and the foreground requests in flight (the workers wait for them, so a layer
// switch does not share the cores with the statistics).

import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { LayerOutliers, LayerQuantisation } from '../../shared/inspection';
import { PendingRequests, type Reply, type RequestMessage } from '../../shared/requests';
import type { LayerSinks } from '../../shared/sinks';
import type { AnalysisInputs } from './analysis';
import { ERROR_CLASSES } from './errors';
import type { PackageConfig } from './modelPackage';
import { sharedInputs } from './sharedInputs';

/** Indices into the counters shared with the worker. */
export const GENERATION = 0;
export const FOREGROUND = 1;

/** A job as the engine asks for it. */
type JobRequest =
  | { op: 'outliers'; config: PackageConfig; inputs: AnalysisInputs }
  | { op: 'quantisation'; config: PackageConfig; inputs: AnalysisInputs; absMax: number[] }
  | { op: 'sinks'; config: PackageConfig; inputs: AnalysisInputs };

/** A job as the worker gets it: with the generation it belongs to. */
export type StatisticsJob = JobRequest & { generation: number };

const WORKERS = Math.max(1, Math.min(2, availableParallelism()));
/** Each worker's young generation: its graph runs return a new array per block (a megabyte of
 *  fine bins for the outliers), dead at once, and freed only when the worker's heap is collected;
 *  with V8's default young generation they piled up to about 140 MiB over two workers' outlier
 *  statistics (code-diff, 1,024 tokens), with 2 MiB about 100, at the same speed. */
const WORKER_YOUNG_GENERATION_MB = 2;

export class StatisticsClient {
  private readonly workers: (Worker | undefined)[] = new Array(WORKERS).fill(undefined);
  private readonly shared = new Int32Array(new SharedArrayBuffer(8));
  private readonly requests = new PendingRequests(ERROR_CLASSES);

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
    return this.split(config, inputs, (part) => ({ op: 'outliers', ...part })) as Promise<LayerOutliers[]>;
  }

  quantisation(config: PackageConfig, inputs: AnalysisInputs, absMax: number[]): Promise<LayerQuantisation[]> {
    return this.split(config, inputs, (part, from, to) => ({ op: 'quantisation', ...part, absMax: absMax.slice(from, to) })) as Promise<LayerQuantisation[]>;
  }

  sinks(config: PackageConfig, inputs: AnalysisInputs): Promise<LayerSinks[]> {
    return this.split(config, inputs, (part) => ({ op: 'sinks', ...part })) as Promise<LayerSinks[]>;
  }

  /** Sends each worker the job of a contiguous range of layers (as a model of those layers alone)
   *  and joins their per-layer results, numbered as the whole model's layers again. The run's
   *  inputs are moved into shared memory first (in place, once per run). */
  private async split(
    config: PackageConfig,
    inputs: AnalysisInputs,
    job: (part: { config: PackageConfig; inputs: AnalysisInputs }, from: number, to: number) => JobRequest,
  ): Promise<{ layer: number }[]> {
    const L = config.n_layer;
    const shared = sharedInputs(inputs);
    const ranges = this.workers.map((_, w) => [Math.floor((w * L) / WORKERS), Math.floor(((w + 1) * L) / WORKERS)]).filter(([from, to]) => to > from);
    const parts = await Promise.all(
      ranges.map(([from, to], w) => this.send(w, job(layersOf(config, shared, from, to), from, to)).then((layers) => (layers as { layer: number }[]).map((l) => ({ ...l, layer: l.layer + from })))),
    );
    return parts.flat();
  }

  private send(w: number, job: JobRequest): Promise<unknown> {
    const worker = this.ensureWorker(w);
    worker.ref(); // keeps the process alive until the reply, as pending I/O would
    const { id, reply } = this.requests.open();
    worker.postMessage({ id, request: { ...job, generation: Atomics.load(this.shared, GENERATION) } } satisfies RequestMessage<StatisticsJob>);
    return reply;
  }

  private ensureWorker(w: number): Worker {
    const existing = this.workers[w];
    if (existing) return existing;
    // Beside this file: dist/ when bundled, out/extension/core/ when compiled.
    const worker = new Worker(path.join(__dirname, 'statisticsWorker.js'), { workerData: this.shared, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
    worker.on('message', (reply: Reply) => {
      this.requests.settle(reply);
      if (this.requests.size === 0) this.workers.forEach((each) => each?.unref()); // idle workers must not keep the process alive
    });
    worker.on('error', (error) => this.requests.rejectAll(error));
    worker.on('exit', (code) => {
      this.workers[w] = undefined;
      this.requests.rejectAll(new Error(`the statistics worker stopped (exit code ${code})`));
    });
    this.workers[w] = worker;
    return worker;
  }
}

/** Layers [from, to) of a run as a model of those layers alone (every input is layer-major): views
 *  of the run's shared inputs, which a message shares rather than copies. */
function layersOf(config: PackageConfig, inputs: AnalysisInputs, from: number, to: number): { config: PackageConfig; inputs: AnalysisInputs } {
  const T = inputs.length;
  return {
    config: { ...config, n_layer: to - from },
    inputs: {
      length: T,
      q: inputs.q.slice(from, to),
      k: inputs.k.slice(from, to),
      hidden: inputs.hidden.slice(from, to),
      lambda: inputs.lambda?.subarray(from * T * config.n_head, to * T * config.n_head),
    },
  };
}
