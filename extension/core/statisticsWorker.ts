// Entry point of the statistics worker thread (statisticsThread.ts): computes a run's outlier
// statistics or quantisation what-if with its own sessions of the analysis graphs.

import { parentPort, workerData } from 'node:worker_threads';
import { RunAnalysis } from './analysis';
import { AnalysisGraphs } from './analysisGraphs';
import { computeOutliers, computeQuantisation } from './outliers';
import type { StatisticsJob, StatisticsReply } from './statisticsThread';

const generation = workerData as Int32Array;
const graphs = new AnalysisGraphs();

parentPort!.on('message', async (job: StatisticsJob) => {
  const stillWanted = () => Atomics.load(generation, 0) === job.generation;
  let reply: StatisticsReply;
  try {
    const analysis = new RunAnalysis(job.config, job.inputs, graphs);
    const result = job.op === 'outliers' ? await computeOutliers(analysis, graphs, stillWanted) : await computeQuantisation(analysis, graphs, job.absMax, stillWanted);
    reply = { id: job.id, ok: true, result };
  } catch (err) {
    const error = err as Error;
    reply = { id: job.id, ok: false, name: error.name, message: error.message };
  }
  parentPort!.postMessage(reply);
});
