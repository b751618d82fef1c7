// Entry point of the statistics worker thread (statisticsClient.ts): computes a run's outlier
// statistics, quantisation what-if or attention sinks with its own sessions of the analysis graphs.

import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { answer, type RequestMessage } from '../../shared/requests';
import { RunAnalysis } from './analysis';
import { AnalysisGraphs } from './analysisGraphs';
import { SupersededError } from './errors';
import { computeOutliers, computeQuantisation } from './outliers';
import { computeSinks } from './sinks';
import { FOREGROUND, GENERATION, type StatisticsJob } from './statisticsClient';

/** Nice value of a statistics worker's thread: the lowest, which yields a core to any thread at the default. */
const WORKER_NICENESS = 19;
const shared = workerData as Int32Array;
const graphs = new AnalysisGraphs(1); // one core per worker (statisticsClient.ts)

// Below the engine's own thread, which answers the maps and span lists the user waits for: the
// worker also holds its next graph run for them, but until then both workers shared the two cores
// with the map (npm run bench, a layer switch while the statistics run, code-diff / baseline,
// slowest of 5 rounds: 74 / 74 ms before, 29 / 34 and 42 / 63 in two runs after). On Linux a
// thread's nice value is its own; elsewhere it would be the whole engine's, so it is left alone.
if (process.platform === 'linux') {
  try {
    setPriority(WORKER_NICENESS);
  } catch {
    // not allowed here (a sandbox): the worker runs at the engine's priority
  }
}

parentPort!.on('message', async ({ id, request: job }: RequestMessage<StatisticsJob>) => {
  const beforeRun = () => {
    // A map or span request first: wait while the engine answers one (both share two cores).
    for (let busy; (busy = Atomics.load(shared, FOREGROUND)) > 0; ) Atomics.wait(shared, FOREGROUND, busy, 100);
    if (Atomics.load(shared, GENERATION) !== job.generation) throw new SupersededError();
  };
  const reply = await answer<unknown>(id, () => {
    const analysis = new RunAnalysis(job.config, job.inputs, graphs);
    if (job.op === 'sinks') return computeSinks(analysis, graphs, beforeRun);
    return job.op === 'outliers' ? computeOutliers(analysis, graphs, beforeRun) : computeQuantisation(analysis, graphs, job.absMax, beforeRun);
  });
  parentPort!.postMessage(reply);
});
