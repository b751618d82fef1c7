// Entry point of the statistics worker thread (statisticsClient.ts): computes a run's outlier
// statistics or quantisation what-if with its own sessions of the analysis graphs.

import { parentPort, workerData } from 'node:worker_threads';
import { RunAnalysis } from './analysis';
import { AnalysisGraphs } from './analysisGraphs';
import { computeOutliers, computeQuantisation } from './outliers';
import { SupersededError } from './outliers';
import { FOREGROUND, GENERATION, type StatisticsJob, type StatisticsReply } from './statisticsClient';

const shared = workerData as Int32Array;
const graphs = new AnalysisGraphs(1); // one core per worker (statisticsClient.ts)

parentPort!.on('message', async (job: StatisticsJob) => {
  const beforeRun = () => {
    // A map or span request first: wait while the engine answers one (both share two cores).
    for (let busy; (busy = Atomics.load(shared, FOREGROUND)) > 0; ) Atomics.wait(shared, FOREGROUND, busy, 100);
    if (Atomics.load(shared, GENERATION) !== job.generation) throw new SupersededError();
  };
  let reply: StatisticsReply;
  try {
    const analysis = new RunAnalysis(job.config, job.inputs, graphs);
    const result = job.op === 'outliers' ? await computeOutliers(analysis, graphs, beforeRun) : await computeQuantisation(analysis, graphs, job.absMax, beforeRun);
    reply = { id: job.id, ok: true, result };
  } catch (err) {
    const error = err as Error;
    reply = { id: job.id, ok: false, name: error.name, message: error.message };
  }
  parentPort!.postMessage(reply);
});
