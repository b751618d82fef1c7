// The package-file hash cache: large files are hashed once while unchanged, and a file rewritten in
// place is hashed again.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { hashCacheFile, sha256Of } from '../../extension/core/hashCache';

const LARGE = 64 * 2 ** 20 + 7; // above the size from which hashes are remembered
const hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

test('a large file is hashed, remembered, and hashed again once rewritten', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'difft-hash-'));
  process.env.XDG_CACHE_HOME = path.join(dir, 'cache');
  const file = path.join(dir, 'weights.bin');
  const first = new Uint8Array(LARGE).fill(1);
  await writeFile(file, first);
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

test('small files are hashed every time and leave no cache', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'difft-hash-'));
  process.env.XDG_CACHE_HOME = path.join(dir, 'cache');
  const file = path.join(dir, 'config.json');
  await writeFile(file, '{"a": 1}');
  assert.equal(await sha256Of(file), hex(Buffer.from('{"a": 1}')));
  assert.equal(existsSync(hashCacheFile()), false);
});
