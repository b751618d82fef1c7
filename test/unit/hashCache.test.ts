// The package-file hash cache: large files are hashed once while unchanged (or not at all when their
// writer recorded the digest), and a file rewritten in place is hashed again.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { hashCacheFile, rememberSha256, sha256Of } from '../../extension/core/hashCache';

const LARGE = 64 * 2 ** 20 + 7; // above the size from which hashes are remembered
const hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A large file of `fill` bytes in a new folder, with a cache of that folder's own. */
async function largeFile(fill: number): Promise<{ file: string; contents: Uint8Array }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'difft-hash-'));
  process.env.XDG_CACHE_HOME = path.join(dir, 'cache');
  const file = path.join(dir, 'weights.bin');
  const contents = new Uint8Array(LARGE).fill(fill);
  await writeFile(file, contents);
  return { file, contents };
}

test('a large file is hashed, remembered, and hashed again once rewritten', async () => {
  const { file, contents: first } = await largeFile(1);
  assert.equal(await sha256Of(file), hex(first));
  const entries = JSON.parse(readFileSync(hashCacheFile(), 'utf8'));
  assert.deepEqual(Object.values(entries), [hex(first)], 'one entry, the file hash');
  assert.equal(await sha256Of(file), hex(first), 'the remembered hash');

  // The same size, new contents, a later modification time: a new hash.
  const second = new Uint8Array(LARGE).fill(2);
  await writeFile(file, second);
  const later = new Date(Date.now() + 5000);
  await utimes(file, later, later);
  assert.equal(await sha256Of(file), hex(second));
});

test("a digest its writer recorded is used while the file is unchanged, and not after it is rewritten", async () => {
  const { file, contents } = await largeFile(3);
  // A digest that is not the file's: the cache is trusted, not checked, so its use shows that
  // the file was not read.
  const recorded = 'ab'.repeat(32);
  await rememberSha256(file, recorded);
  assert.equal(await sha256Of(file), recorded, 'the recorded digest');
  assert.equal(await sha256Of(file), recorded, 'still, on a second load');

  const later = new Date(Date.now() + 5000);
  await utimes(file, later, later);
  assert.equal(await sha256Of(file), hex(contents), 'a new modification time: hashed again');
  assert.deepEqual(Object.values(JSON.parse(readFileSync(hashCacheFile(), 'utf8'))), [recorded, hex(contents)], 'the old entry stays until it ages out');
});

test('small files are hashed every time and leave no cache', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'difft-hash-'));
  process.env.XDG_CACHE_HOME = path.join(dir, 'cache');
  const file = path.join(dir, 'config.json');
  await writeFile(file, '{"a": 1}');
  assert.equal(await sha256Of(file), hex(Buffer.from('{"a": 1}')));
  await rememberSha256(file, 'ab'.repeat(32));
  assert.equal(await sha256Of(file), hex(Buffer.from('{"a": 1}')), 'a recorded digest of a small file is not kept');
  assert.equal(existsSync(hashCacheFile()), false);
});
