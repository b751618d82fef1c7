// contributions.onnx for an imported model: the same inputs, outputs and arithmetic as
// model/contributions.py (docs/model-package.md), in every architecture's conventions (the value
// layouts, DiffLlama's halves pairing, the head norm with or without a weight, V2's per-token λ).

import { lambdaInit } from '../../../shared/lambda';
import { layerTensorNames, type Architecture } from './architecture';
import { GraphBuilder, type Value } from './graphBuilder';
import type { WeightFile } from './inspectionGraph';
import { Layers } from './layers';
import { DataType } from './onnxProto';

/** hidden [L, T, E], input_ids [T], query [1], rows [L, H, R, T], head_mask [L, H], targets [N],
 *  target_weights [N], direction [E] and for DIFF lambda [L, H] -> source_a1 and (DIFF) source_a2
 *  [L, H, T], layer_delta [L], embed [1], logit [1], final_scale [1], readout [E] (u) and, for a model whose attention output
 *  projection has a bias, output_bias [L] (the bias's part, which belongs to no head). */
export function buildContributionsGraph(arch: Architecture, weights: WeightFile): GraphBuilder {
  const g = new GraphBuilder();
  const nn = new Layers(g, arch, weights);
  const { nLayer: L, hidden: E, heads: H, headDim: d, softmaxHeads: S, kvSoftmaxHeads: Skv, valueHeadDim: w } = arch;
  const diff = arch.kind === 'diff';
  const maps = diff ? 2 : 1;
  const hidden = g.input('hidden', DataType.FLOAT, [L, 'seq', E]);
  const ids = g.input('input_ids', DataType.INT64, ['seq']);
  const query = g.input('query', DataType.INT64, [1]);
  const rows = g.input('rows', DataType.FLOAT, [L, H, maps, 'seq']);
  const headMask = g.input('head_mask', DataType.FLOAT, [L, H]);
  const targets = g.input('targets', DataType.INT64, ['n']);
  const targetWeights = g.input('target_weights', DataType.FLOAT, ['n']);
  const extraDirection = g.input('direction', DataType.FLOAT, [E]);
  const lambda = diff ? g.input('lambda', DataType.FLOAT, [L, H]) : undefined;
  const T = g.slice(g.op('Shape', [ids]), 0, 0, 1);
  const at = (x: Value, axis: number) => g.op('Gather', [x, query], { axis });
  const dot = (a: Value, b: Value, axes: number[], name?: string) => g.op('ReduceSum', [g.mul(a, b), g.int64(axes)], { keepdims: 0 }, name);

  // u: the target's direction through the final norm, its 1/rms at the query held, plus the
  // residual-stream direction given (the flow of information reads any node along its own).
  const x0 = weights.rows(g, 'model.embed_tokens.weight', ids); // [T, E]
  const final = at(g.take(hidden, 0, L - 1), 0); // [1, E]
  const meanSquare = g.op('ReduceMean', [g.mul(final, final)], { axes: [-1], keepdims: 0 });
  const finalScale = g.op('Reciprocal', [g.op('Sqrt', [g.add(meanSquare, g.float([arch.rmsNormEps], []))])], {}, 'final_scale');
  const headRows = weights.rows(g, arch.tiedEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight', targets); // [N, E]
  const direction = g.op('ReduceSum', [g.mul(g.unsqueeze(targetWeights, [1]), headRows), g.int64([0])], { keepdims: 1 });
  const u = g.add(g.mul(g.mul(direction, nn.w('model.norm.weight')), g.unsqueeze(finalScale, [1])), g.unsqueeze(extraDirection, [0])); // [1, E]
  g.reshape(u, [E], 'readout');
  dot(final, u, [1], 'logit');
  // Each layer's input and output at the query; the whole inputs are read one layer at a time (a
  // copy of all of them would double the hidden states' memory at long contexts).
  const outputsAtQuery = g.squeeze(at(hidden, 1), [1]); // [L, E]
  const inputsAtQuery = L > 1 ? g.concat([at(x0, 0), g.slice(outputsAtQuery, 0, 0, L - 1)], 0) : at(x0, 0);
  dot(g.sub(outputsAtQuery, inputsAtQuery), u, [1], 'layer_delta');
  dot(at(x0, 0), u, [1], 'embed');

  /** [T, heads * width] -> [heads, T, width], each of `heads` repeated `times` in place. */
  const valueHeads = (v: Value, heads: number, width: number, times: number) => {
    const split = g.unsqueeze(g.transpose(g.reshape(v, [-1, heads, width]), [1, 0, 2]), [1]); // [heads, 1, T, width]
    return g.reshape(g.op('Expand', [split, g.shape([heads, times, T, width])]), [heads * times, -1, width]);
  };
  /** A layer's values as each head reads them: [H, T, w] for A1's map and for A2's. */
  const headValues = (v: Value): [Value, Value] => {
    if (arch.valueLayout === 'wide') {
      const values = valueHeads(v, Skv / 2, 2 * d, H / (Skv / 2));
      return [values, values];
    }
    const subHeads = valueHeads(v, Skv, d, S / Skv); // [S, T, d]
    if (arch.valueLayout === 'halves') {
      const [first, second] = g.split(subHeads, 0, [H, H]);
      const values = g.concat([first, second], -1); // DiffLlama: head h = [v_h ; v_(h+H)]
      return [values, values];
    }
    if (!diff) return [subHeads, subHeads];
    const pairs = arch.pairing === 'halves' ? g.reshape(subHeads, [2, H, -1, d]) : g.transpose(g.reshape(subHeads, [H, 2, -1, d]), [1, 0, 2, 3]);
    const [first, second] = g.split(pairs, 0, [1, 1]).map((part) => g.squeeze(part, [0]));
    return [first, second];
  };

  const partsA1: Value[] = [];
  const partsA2: Value[] = [];
  const outputBias: Value[] = [];
  for (let layer = 0; layer < L; layer++) {
    const names = layerTensorNames(arch, layer);
    const normed = nn.rmsNorm(layer === 0 ? x0 : g.take(hidden, 0, layer - 1), names.inputNorm);
    const [first, second] = headValues(nn.linear(normed, names.v, arch.attentionBias));
    const layerRows = g.take(rows, 0, layer); // [H, R, T]
    const [rowA1, rowA2] = diff ? g.split(layerRows, 1, [1, 1]) : [layerRows]; // [H, 1, T]
    // u seen from the heads' outputs: its product with the output projection, per head.
    let z = g.mul(g.reshape(g.matmul(u, nn.w(`${names.o}.weight`)), [H, w]), g.unsqueeze(g.take(headMask, 0, layer), [1]));
    const lam = lambda ? g.reshape(g.take(lambda, 0, layer), [H, 1, 1]) : undefined;
    if (arch.headNorm && lam) {
      // The head norm's 1/rms at the query, held: what the head's output was divided by.
      const mixed = g.sub(g.matmul(rowA1, first), g.mul(lam, g.matmul(rowA2, second))); // [H, 1, w]
      const headMean = g.op('ReduceMean', [g.mul(mixed, mixed)], { axes: [-1], keepdims: 0 });
      const held = g.op('Reciprocal', [g.op('Sqrt', [g.add(headMean, g.float([arch.rmsNormEps], []))])]); // [H, 1]
      z = g.mul(g.mul(z, held), g.float([1 - lambdaInit(layer)], []));
      if (arch.headNorm.weight) z = g.mul(z, nn.w(names.headNorm));
    }
    const along = (values: Value) => g.squeeze(g.matmul(values, g.unsqueeze(z, [2])), [2]); // [H, T]
    partsA1.push(g.unsqueeze(g.mul(g.squeeze(rowA1, [1]), along(first)), [0]));
    if (lam) partsA2.push(g.unsqueeze(g.mul(g.mul(g.op('Neg', [g.squeeze(lam, [2])]), g.squeeze(rowA2, [1])), along(second)), [0]));
    if (arch.attentionBias) outputBias.push(dot(u, g.unsqueeze(nn.w(`${names.o}.bias`), [0]), [0, 1]));
  }
  g.concat(partsA1, 0, 'source_a1');
  g.output('source_a1', DataType.FLOAT, [L, H, 'seq']);
  if (diff) {
    g.concat(partsA2, 0, 'source_a2');
    g.output('source_a2', DataType.FLOAT, [L, H, 'seq']);
  }
  for (const [name, dims] of [['layer_delta', [L]], ['embed', [1]], ['logit', [1]], ['final_scale', [1]], ['readout', [E]]] as const) g.output(name, DataType.FLOAT, [...dims]);
  if (arch.attentionBias) {
    g.reshape(g.concat(outputBias.map((bias) => g.unsqueeze(bias, [0])), 0), [L], 'output_bias');
    g.output('output_bias', DataType.FLOAT, [L]);
  }
  return g;
}
