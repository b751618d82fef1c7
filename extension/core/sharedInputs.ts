// A run's statistics inputs (q, k, hidden states, λ) in memory the engine and the statistics
// workers share. ONNX Runtime returns its outputs in ordinary buffers (and refuses shared ones as
// pre-allocated outputs), which a message to a worker copies; so the first statistics job of a run
// moves them into SharedArrayBuffers, once, and every job of the run (outliers, then quantisation)
// hands the workers views of the same memory. The run's own arrays are replaced, so its maps and
// spans read the shared copy too and the ordinary buffers are freed. A newer run brings arrays of
// its own; the older run's shared memory is freed once the engine and the workers let go of it.

import type { AnalysisInputs } from './analysis';

/** The statistics' inputs of a run, after moving them (in place, on the first call) into shared memory. */
export function sharedInputs(out: AnalysisInputs): AnalysisInputs {
  out.q = out.q.map(shared);
  out.k = out.k.map(shared);
  out.hidden = out.hidden.map(shared);
  if (out.lambda) out.lambda = shared(out.lambda);
  return { length: out.length, q: out.q, k: out.k, hidden: out.hidden, lambda: out.lambda };
}

function shared(data: Float32Array): Float32Array {
  if (data.buffer instanceof SharedArrayBuffer) return data;
  const copy = new Float32Array(new SharedArrayBuffer(data.byteLength));
  copy.set(data);
  return copy;
}
