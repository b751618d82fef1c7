// Packages whose weights hold NaN, for the tests of runs that go non-finite: a random-weight
// checkpoint written by `python -m model hf-checkpoint`, imported, and one of its tensors then
// overwritten with NaN in weights.bin (so that the test does not depend on what the importer
// refuses), with manifest.json updated so that the package still loads.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { importModel } from '../../extension/core/import/importModel';

const REPO = path.resolve(__dirname, '..', '..', '..');
const run = promisify(execFile);

/** Writes the tiny random-weight DiffLlama checkpoint (float32) into `work`/checkpoint. */
export async function writeTestCheckpoint(work: string): Promise<string> {
  const checkpoint = path.join(work, 'checkpoint');
  await run(path.join(REPO, 'scripts', 'python.sh'), ['-m', 'model', 'hf-checkpoint', '--format', 'diffllama', '--out', checkpoint], { cwd: REPO });
  return checkpoint;
}

/** A checkpoint tensor's float32 values, read from its safetensors file. */
async function checkpointTensor(checkpoint: string, name: string): Promise<Float32Array> {
  const file = await readFile(path.join(checkpoint, 'model.safetensors'));
  const headerBytes = Number(file.readBigUInt64LE(0));
  const entry = JSON.parse(file.subarray(8, 8 + headerBytes).toString('utf8'))[name];
  assert.equal(entry.dtype, 'F32', `${name} is float32 in the test checkpoint`);
  const [begin, end] = entry.data_offsets.map((offset: number) => 8 + headerBytes + offset);
  return new Float32Array(file.buffer.slice(file.byteOffset + begin, file.byteOffset + end));
}

/** Imports `checkpoint` into `dir`, then overwrites `tensor` (a vector, stored as it is) in the
 *  package's weights.bin with NaN, found by its values; returns `dir`. */
export async function importWithNaN(checkpoint: string, dir: string, tensor: string): Promise<string> {
  await importModel({ source: checkpoint, destination: dir, name: path.basename(dir) });
  const values = await checkpointTensor(checkpoint, tensor);
  const weightsPath = path.join(dir, 'weights.bin');
  const weights = await readFile(weightsPath);
  const at = weights.indexOf(Buffer.from(values.buffer));
  assert.ok(at >= 0 && at % 4 === 0, `${tensor}'s values are in weights.bin`);
  assert.equal(weights.indexOf(Buffer.from(values.buffer), at + 1), -1, `${tensor}'s values are in weights.bin once`);
  new Float32Array(weights.buffer, weights.byteOffset + at, values.length).fill(NaN);
  await writeFile(weightsPath, weights);
  const manifestPath = path.join(dir, 'manifest.json');
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
  manifest.files['weights.bin'] = { sha256: createHash('sha256').update(weights).digest('hex'), bytes: weights.length };
  await writeFile(manifestPath, JSON.stringify(manifest, null, 2));
  return dir;
}
