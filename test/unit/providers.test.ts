// Which execution providers `auto` and the explicit settings try, and the reasons kept for each
// fallback: the choice with an injected platform, backend list and file check, then real sessions
// on this machine (which may or may not have a GPU or a WebGPU adapter).

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { loadModelPackage } from '../../extension/core/modelPackage';
import { createSession, CUDA_LIBRARIES, currentProviderEnv, gpuCandidates, runModel, type ProviderEnv } from '../../extension/core/runtime';

const REPO = path.resolve(__dirname, '..', '..', '..');
const PACKAGE = path.join(REPO, 'models', 'tiny-diff');
const MODEL = path.join(PACKAGE, 'model.onnx');
const LINUX_BACKENDS = ['cpu', 'webgpu', 'cuda', 'tensorrt'];
const BIN = '/ext/node_modules/onnxruntime-node/bin/napi-v6/linux/x64';

function env(platform: NodeJS.Platform, supported: string[], present: string[] = []): ProviderEnv {
  return { platform, supported, binDir: BIN, exists: (file) => present.includes(path.basename(file)) };
}

test('auto on Linux tries CUDA only when its provider libraries are beside the runtime, then WebGPU', () => {
  assert.deepEqual(gpuCandidates('auto', env('linux', LINUX_BACKENDS, CUDA_LIBRARIES)), { tries: ['cuda', 'webgpu'], skipped: [] });
  const { tries, skipped } = gpuCandidates('auto', env('linux', LINUX_BACKENDS));
  assert.deepEqual(tries, ['webgpu']);
  assert.deepEqual(skipped, [
    `cuda: provider libraries not installed (libonnxruntime_providers_cuda.so, libonnxruntime_providers_shared.so missing in ${BIN}); see README`,
  ]);
  const onlyShared = gpuCandidates('auto', env('linux', LINUX_BACKENDS, ['libonnxruntime_providers_cuda.so']));
  assert.deepEqual(onlyShared.tries, ['webgpu']);
  assert.match(onlyShared.skipped[0], /\(libonnxruntime_providers_shared\.so missing in /);
  // Nothing listed, nothing tried (and no reason: there was nothing to fall back from).
  assert.deepEqual(gpuCandidates('auto', env('linux', ['cpu'])), { tries: [], skipped: [] });
});

test('auto on Windows and macOS tries the platform provider, then WebGPU when listed', () => {
  assert.deepEqual(gpuCandidates('auto', env('win32', ['cpu', 'dml', 'webgpu'])).tries, ['dml', 'webgpu']);
  assert.deepEqual(gpuCandidates('auto', env('win32', ['cpu', 'dml'])).tries, ['dml']);
  assert.deepEqual(gpuCandidates('auto', env('darwin', ['cpu', 'coreml', 'webgpu'])).tries, ['coreml', 'webgpu']);
  assert.deepEqual(gpuCandidates('auto', env('darwin', ['cpu', 'coreml'])).tries, ['coreml']);
  assert.deepEqual(gpuCandidates('auto', env('freebsd', ['cpu', 'webgpu'])), { tries: [], skipped: [] });
});

test('an explicit setting tries just that provider, even when it looks unavailable', () => {
  assert.deepEqual(gpuCandidates('cuda', env('linux', LINUX_BACKENDS)), { tries: ['cuda'], skipped: [] });
  assert.deepEqual(gpuCandidates('webgpu', env('darwin', ['cpu'])), { tries: ['webgpu'], skipped: [] });
  assert.deepEqual(gpuCandidates('dml', env('linux', LINUX_BACKENDS)), { tries: ['dml'], skipped: [] });
  assert.deepEqual(gpuCandidates('cpu', env('linux', LINUX_BACKENDS, CUDA_LIBRARIES)), { tries: [], skipped: [] });
});

test("this process's environment points at onnxruntime-node's native binaries", () => {
  const real = currentProviderEnv();
  assert.equal(real.platform, process.platform);
  assert.ok(real.supported.includes('cpu'));
  if (process.platform === 'linux') assert.ok(existsSync(path.join(real.binDir, 'libonnxruntime.so.1')), real.binDir);
});

test('each fallback reason is kept in order and logged', async () => {
  const logs: string[] = [];
  // CUDA "present" in a folder that lacks it: skipped nothing, tried, failed; then CPU.
  const { info } = await createSession(MODEL, 'auto', (m) => logs.push(m), env('linux', ['cpu', 'cuda'], CUDA_LIBRARIES));
  assert.equal(info.provider, 'cpu');
  assert.match(info.fallbackReason ?? '', /^cuda could not load: \S/);
  assert.equal(logs.length, 1);
  assert.match(logs[0], /^execution provider cuda could not load: .*; trying the next one$/);
  const plain = await createSession(MODEL, 'auto', (m) => logs.push(m), env('linux', ['cpu']));
  assert.deepEqual(plain.info, { provider: 'cpu' });
  assert.equal(logs.length, 1);
});

const real = currentProviderEnv();
const cudaMissing = process.platform === 'linux' && real.supported.includes('cuda') && CUDA_LIBRARIES.some((lib) => !existsSync(path.join(real.binDir, lib)));

test('auto on this machine: CUDA skipped for its missing libraries, then WebGPU or the CPU', { skip: !cudaMissing && 'CUDA libraries are installed here' }, async () => {
  const logs: string[] = [];
  const { session, info } = await createSession(MODEL, 'auto', (m) => logs.push(m));
  const cudaReason = /^cuda: provider libraries not installed \(.*libonnxruntime_providers_\w+\.so missing in .*\); see README/;
  assert.match(info.fallbackReason ?? '', cudaReason);
  assert.ok(['webgpu', 'cpu'].includes(info.provider), info.provider);
  // WebGPU either loaded (a GPU or a software adapter) or its failure is the second reason.
  const webgpuFailed = info.provider === 'cpu' && real.supported.includes('webgpu');
  if (webgpuFailed) assert.match(info.fallbackReason ?? '', /see README; webgpu could not load: \S/);
  assert.equal(logs.length, webgpuFailed ? 2 : 1);
  const pkg = await loadModelPackage(PACKAGE);
  const out = await runModel(session, [1, 2, 3], pkg.config);
  assert.equal(out.tokenLogprob.length, 3);
});

test('explicit webgpu: a WebGPU session, or the CPU with the reason', async () => {
  const { info } = await createSession(MODEL, 'webgpu');
  if (info.provider === 'webgpu') assert.equal(info.fallbackReason, undefined);
  else assert.match(info.fallbackReason ?? '', /^webgpu could not load: \S/);
});
