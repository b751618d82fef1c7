// sha256 of package files, streamed, and remembered for large files: a 1B-parameter model's weights
// (gigabytes) are hashed once rather than on every load. An entry is keyed by the file's real path,
// size, modification time and inode, as build tools and git's index decide that a file is unchanged:
// rewriting or replacing the file changes its mtime or inode, and it is hashed again.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import * as path from 'node:path';

/** Files smaller than this are hashed every time (milliseconds). */
const REMEMBER_FROM_BYTES = 64 * 2 ** 20;
const MAX_ENTRIES = 64;

/** The cache file: $XDG_CACHE_HOME (or ~/.cache)/difftransformer-inspector/sha256.json. */
export function hashCacheFile(): string {
  return path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'difftransformer-inspector', 'sha256.json');
}

/** sha256 (hex) of a file; reading errors propagate (the caller names the file). */
export async function sha256Of(file: string): Promise<string> {
  const key = await cacheKey(file);
  if (key === null) return hashFile(file);
  const entries = await readEntries();
  if (entries[key]) return entries[key];
  const digest = await hashFile(file);
  await remember(entries, key, digest);
  return digest;
}

/** Records the sha256 of a file its writer hashed while writing it (the importer's weights.bin),
 *  so that the first load does not read it again. It holds while the file's size, modification
 *  time and inode are the ones it has now. */
export async function rememberSha256(file: string, digest: string): Promise<void> {
  const key = await cacheKey(file);
  if (key !== null) await remember(await readEntries(), key, digest);
}

/** The file's key in the cache, or null for a file too small to remember. */
async function cacheKey(file: string): Promise<string | null> {
  const info = await stat(file);
  if (info.size < REMEMBER_FROM_BYTES) return null;
  return [await realpath(file), info.size, info.mtimeMs, info.ino].join('|');
}

/** The newest MAX_ENTRIES entries, this one last. */
async function remember(entries: Record<string, string>, key: string, digest: string): Promise<void> {
  const others = Object.entries(entries).filter(([other]) => other !== key);
  await writeEntries({ ...Object.fromEntries(others.slice(-(MAX_ENTRIES - 1))), [key]: digest });
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 22 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function readEntries(): Promise<Record<string, string>> {
  try {
    const entries = JSON.parse(await readFile(hashCacheFile(), 'utf8'));
    return entries && typeof entries === 'object' && !Array.isArray(entries) ? entries : {};
  } catch {
    return {}; // no cache yet, or an unreadable one: hash again
  }
}

/** Written beside and renamed into place, so a concurrent reader never sees half a file; a cache
 *  that cannot be written (a read-only home) only costs the next load a hash. */
async function writeEntries(entries: Record<string, string>): Promise<void> {
  const file = hashCacheFile();
  const partial = `${file}.${process.pid}.tmp`;
  try {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(partial, JSON.stringify(entries));
    await rename(partial, file);
  } catch {
    // the cache is an optimisation only
  }
}
