// Resident memory of a process, read from Linux's /proc (the benches run on Linux).

import { readFileSync } from 'node:fs';

/** Peak (VmHWM) or current (VmRSS) resident memory of a process, or the part of it that is the
 *  process's own rather than mapped files (RssAnon), MiB. */
export function memory(pid: number, field: 'VmHWM' | 'VmRSS' | 'RssAnon'): number {
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}
