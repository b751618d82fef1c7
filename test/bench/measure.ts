// What the benches measure of a step: its wall time, and a process's resident memory read from
// Linux's /proc (the benches run on Linux).

import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Peak (VmHWM) or current (VmRSS) resident memory of a process, or the part of it that is the
 *  process's own rather than mapped files (RssAnon), MiB. */
export function memory(pid: number, field: 'VmHWM' | 'VmRSS' | 'RssAnon'): number {
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

/** The result of a step and its wall time, ms. */
export async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await work();
  return [result, performance.now() - start];
}

/** When and on what a bench ran, for its report. */
export function machine(): { date: string; cpus: number; cpuModel: string } {
  return { date: new Date().toISOString(), cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown' };
}
