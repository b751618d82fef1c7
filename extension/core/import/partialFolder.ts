// Where an import writes before its package is complete: a temporary folder beside the destination,
// renamed into place at the end. Kept apart from importModel.ts so that the extension host can clean
// up after a dead import thread without bundling the importer.

import { readdir, rm } from 'node:fs/promises';
import * as path from 'node:path';

const PARTIAL_SUFFIX = '.partial-';

/** A new temporary folder name for an import into `destination`. */
export function partialFolderFor(destination: string): string {
  return `${destination}${PARTIAL_SUFFIX}${process.pid}-${Date.now()}`;
}

/** Removes what an import into `destination` left behind when its thread died before it could
 *  clean up itself (an error or a cancel cleans up; a crash or running out of memory does not). */
export async function removePartialImport(destination: string): Promise<void> {
  const parent = path.dirname(destination);
  const prefix = path.basename(destination) + PARTIAL_SUFFIX;
  const leftovers = (await readdir(parent).catch(() => [])).filter((name) => name.startsWith(prefix));
  await Promise.all(leftovers.map((name) => rm(path.join(parent, name), { recursive: true, force: true })));
}
