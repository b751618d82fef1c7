// Entry point of the statistics worker thread (statisticsClient.ts): computes a run's outlier
// statistics, quantisation what-if or attention sinks with its own sessions of the analysis graphs.

import { parentPort, workerData } from 'node:worker_threads';
import { answer, type RequestMessage } from '../../shared/requests';
import { RunAnalysis } from './analysis';
import { AnalysisGraphs } from './analysisGraphs';
import { SupersededError } from './errors';
import { computeOutliers, computeQuantisation } from './outliers';
import { computeSinks } from './sinks';
import { FOREGROUND, GENERATION, type StatisticsJob } from './statisticsClient';

const shared = workerData as Int32Array;
const graphs = new AnalysisGraphs(1); // one core per worker (statisticsClient.ts)

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
