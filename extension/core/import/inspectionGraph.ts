// The inspection graph of docs/model-package.md, built in TypeScript for every supported
// architecture (architecture.ts). The arithmetic follows
// model/model.py and model/export.py step by step (attention over blocks of query rows with an
// additive causal mask, both maps of a differential head in one broadcast matmul, pooling columns
// appended to V, the prediction head of predictionHead.ts), so an
// imported package runs the same fast path as an exported one.

import blockSizing from '../../../shared/attention.json';
import { lambdaInit } from '../../../shared/lambda';
import { LAYER_OUTPUTS, layerOutputName, layerOutputNames, THUMBNAIL_SIZE, type LayerOutput } from '../../../shared/model';
import { layerTensorNames, type Architecture } from './architecture';
import { blockOf, floatTensor, joinBlocks, padToBlocks, rowBlocks, type RowBlocks } from './graphBlocks';
import { GraphBuilder, type DimPart, type Value } from './graphBuilder';
import { DataType } from './onnxProto';
import { Layers } from './layers';
import { blockedPrediction } from './predictionHead';
import { rotary } from './rotary';

/** Rows [from, to) of a weight. */
export interface RowRange {
  from: number;
  to: number;
}

/** Where each weight lies in the package's weights file; a graph registers the ones it uses. A
 *  weight stored as 16-bit is widened by a Cast where it is used, so that ONNX Runtime holds one
 *  layer's float32 copy at a time rather than the whole model's (of the LM head, one chunk of its
 *  vocabulary rows: predictionHead.ts). */
export interface WeightFile {
  /** The weight, or its rows `rows`, as float32; a 16-bit one widened only once `after` exists (the
   *  input it multiplies), so that no layer's copy is made before the layer runs. */
  use(graph: GraphBuilder, tensorName: string, after?: Value, rows?: RowRange): Value;
  /** The blocks of rows in which a matrix is widened and multiplied; none when it is used whole. */
  widenedBlocks(tensorName: string): RowRange[];
  /** Rows `indices` of the weight as float32, gathered before they are widened (the embedding: only the text's rows). */
  rows(graph: GraphBuilder, tensorName: string, indices: Value): Value;
}

/** The intervention inputs of an architecture's graph (each [n_layer, heads]) and their neutral values. */
export function interventionInputs(arch: Architecture): Record<string, number> {
  return arch.kind === 'diff' ? { lambda_scale: 1, lambda_shift: 0, head_mask: 1 } : { head_mask: 1 };
}

/** The graph's outputs, in order: hidden states, q and k one per layer (LAYER_OUTPUTS). */
export function inspectionOutputs(arch: Architecture): string[] {
  const perLayer = LAYER_OUTPUTS.flatMap((name) => layerOutputNames(name, arch.nLayer));
  const common = ['top_ids', 'top_probs', 'token_logprob', 'last_logits', ...perLayer, 'attn_thumbnails'];
  if (arch.kind !== 'diff') return common;
  // V2's lambda varies per query row, so lambda * A2 cannot be pooled from A2's thumbnail afterwards.
  return arch.lambda === 'token' ? [...common, 'lambda', 'lambda_a2_thumbnails'] : [...common, 'lambda'];
}

/** Attention's blocks of query rows: R = clamp(floor(tile_elements / (S * T)), ...): one block's
 *  scores stay near tile_elements floats at any length, while short texts take few, wide blocks. */
function queryBlocks(g: GraphBuilder, S: number, T: Value): RowBlocks {
  return rowBlocks(g, g.div(g.int64([blockSizing.tile_elements]), g.mul(g.int64([S]), T)), T);
}

/** A layer's values with the pooling columns appended, keys on axis -2, and how the softmax maps
 *  [B, S_kv, groups, rows, keys] are regrouped (the sizes between B and rows) to multiply them. */
interface LayerValues {
  values: Value;
  mapsShape: number[];
}

/** Softmax(q k^T / sqrt(d) + causal bias) @ values, one block of R query rows of every sub-head at a
 *  time in an ONNX Loop, so that no [S, T, T] tensor is held: block b holds rows [bR, bR + R) and
 *  reads keys [0, min(bR + R, T)), skipping the upper triangle the causal mask empties.
 *  q [B, S, T, d], k [B, S_kv, T, d] -> [B, S, T, w + poolColumns], in native sub-head order. */
function blockedAttention(g: GraphBuilder, arch: Architecture, blocks: RowBlocks, q: Value, k: Value, { values, mapsShape }: LayerValues, B: Value, T: Value, poolColumns: number): Value {
  const { softmaxHeads: S, kvSoftmaxHeads: Skv, headDim: d } = arch;
  const width = arch.valueHeadDim + poolColumns;
  const { rows, count } = blocks;
  const grouped = padToBlocks(g, g.reshape(q, [B, Skv, S / Skv, T, d]), 5, 3, blocks, T);
  const keysT = g.unsqueeze(g.transpose(k, [0, 1, 3, 2]), [2]); // [B, S_kv, 1, d, T]

  const [stacked] = g.loop(count, (body, block) => {
    const { start, end, rowsOf } = blockOf(body, block, rows);
    const keys = body.op('Min', [end, T]);
    const zero = body.int64([0]);
    const keysOf = (x: Value, axis: number) => body.op('Slice', [x, zero, keys, body.int64([axis])]);
    const scores = body.matmul(rowsOf(grouped, 3), keysOf(keysT, -1)); // [B, S_kv, groups, R, keys]
    // -inf where key j > bR + r (row r of the block), else 0.
    const minusInf = body.op('ConstantOfShape', [body.shape([rows, keys])], { value: floatTensor(-Infinity) });
    const causalBias = body.op('Trilu', [minusInf, body.add(body.squeeze(start, [0]), body.int64([1], []))], { upper: 1 });
    const scaled = body.add(body.mul(scores, body.float([1 / Math.sqrt(d)], [])), causalBias);
    const probs = body.op('Softmax', [scaled], { axis: -1 });
    const attended = body.matmul(body.reshape(probs, [B, ...mapsShape, rows, keys]), keysOf(values, -2));
    return [[body.reshape(attended, [B, S, rows, width]), ['batch', S, 'rows', width]]];
  });
  return joinBlocks(g, stacked, 2, [width], T);
}

/** The inspection graph, or with `kind` 'bare' the bare forward the benchmarks compare it with: the
 *  same arithmetic with the model's logits [B, T, V] as its only output (no pooling columns, no
 *  intervention inputs, no inspection outputs). The prediction head runs over chunks of
 *  `headChunkRows` vocabulary rows (predictionHead.ts). */
export function buildInspectionGraph(arch: Architecture, weights: WeightFile, topK: number, kind: 'inspection' | 'bare' = 'inspection', headChunkRows = arch.vocabSize): GraphBuilder {
  const bare = kind === 'bare';
  const g = new GraphBuilder();
  const nn = new Layers(g, arch, weights);
  const { nLayer: L, hidden: E, softmaxHeads: S, kvSoftmaxHeads: Skv, headDim: d, heads: H } = arch;
  const groups = S / Skv; // query sub-heads per key sub-head
  const w = arch.valueHeadDim;
  const P = THUMBNAIL_SIZE;

  const ids = g.input('input_ids', DataType.INT64, ['batch', 'seq']);
  const intervention: Record<string, Value> = {};
  for (const [name, neutral] of Object.entries(interventionInputs(arch))) intervention[name] = bare ? g.float(new Array(L * H).fill(neutral), [L, H]) : g.input(name, DataType.FLOAT, [L, H]);
  const idsShape = g.op('Shape', [ids]);
  const B = g.slice(idsShape, 0, 0, 1);
  const T = g.slice(idsShape, 0, 1, 2);
  const range = (end: Value) => g.op('Range', [g.int64([0], []), g.squeeze(end, [0]), g.int64([1], [])]);

  // RoPE tables [T, d/2], the pooling matrix [P, T], the blocks of query rows attention runs over.
  const positions = g.op('Cast', [range(T)], { to: DataType.FLOAT });
  const angles = g.mul(g.unsqueeze(positions, [1]), g.float(arch.rope.invFreq, [1, d / 2]));
  const rope = rotary(g, arch.rope.interleaved, d, g.op('Cos', [angles]), g.op('Sin', [angles]));
  const bins = g.div(g.mul(range(T), g.int64([P], [])), g.squeeze(T, [0]));
  const member = g.op('Cast', [g.op('Equal', [g.unsqueeze(bins, [0]), g.unsqueeze(g.int64(Array.from({ length: P }, (_, i) => i)), [1])])], { to: DataType.FLOAT });
  const memberCount = g.op('Max', [g.op('ReduceSum', [member, g.int64([1])], { keepdims: 1 }), g.float([1], [])]);
  const pool = g.div(member, memberCount);
  const poolT = g.transpose(pool, [1, 0]);
  const blocks = queryBlocks(g, S, T);

  /** [N, heads * width] -> [B, heads, T, width] */
  const splitHeads = (x: Value, heads: number, width: number) => g.transpose(g.reshape(x, [B, T, heads, width]), [0, 2, 1, 3]);
  /** values [..., T, w] with the pooling matrix's columns appended: [..., T, w + P] */
  const withPool = (values: Value) => {
    if (bare) return values;
    const leading = g.slice(g.op('Shape', [values]), 0, 0, -1);
    return g.concat([values, g.op('Expand', [poolT, g.concat([leading, g.int64([P])], 0)])], -1);
  };
  /** The values of a layer [N, ...] (pooling columns appended), shaped to multiply the softmax maps
   *  [B, S_kv, groups, rows, keys] once these are regrouped to `mapsShape`, keys on axis -2. */
  const valuesFor = (v: Value): LayerValues => {
    if (arch.valueLayout === 'wide') {
      // H_kv value heads of width 2d; differential head h = kv * r + j holds sub-heads 2h, 2h + 1.
      return { values: g.unsqueeze(withPool(splitHeads(v, Skv / 2, 2 * d)), [2, 3]), mapsShape: [Skv / 2, H / (Skv / 2), 2] };
    }
    if (arch.valueLayout === 'halves') {
      // DiffLlama: value heads repeated per query head, then head h = [v_h ; v_{h+H}].
      const repeated = g.op('Expand', [g.unsqueeze(splitHeads(v, Skv, d), [2]), g.shape([B, Skv, groups, T, d])]);
      const [first, second] = g.split(g.reshape(repeated, [B, 2, H, T, d]), 1, [1, 1]);
      return { values: withPool(g.concat([first, second], -1)), mapsShape: [2, H] };
    }
    return { values: g.unsqueeze(withPool(splitHeads(v, Skv, d)), [2]), mapsShape: [Skv, groups] };
  };

  let x = g.reshape(weights.rows(g, 'model.embed_tokens.weight', ids), [-1, E]);
  const collected: Record<'thumbnails' | 'lambda' | 'lambdaThumbnails', Value[]> = { thumbnails: [], lambda: [], lambdaThumbnails: [] };
  for (let layer = 0; layer < L; layer++) {
    const names = layerTensorNames(arch, layer);
    const perHead = (input: string) => g.reshape(g.take(intervention[input], 0, layer), [1, H, 1, 1]);
    const h = nn.rmsNorm(x, names.inputNorm);
    const q = rope(splitHeads(nn.linear(h, names.q, arch.attentionBias), S, d));
    const k = rope(splitHeads(nn.linear(h, names.k, arch.attentionBias), Skv, d));
    const v = nn.linear(h, names.v, arch.attentionBias);

    const attended = blockedAttention(g, arch, blocks, q, k, valuesFor(v), B, T, bare ? 0 : P);
    const [main, pooled] = bare ? [attended] : g.split(attended, -1, [w, P]);
    if (!bare) collected.thumbnails.push(g.unsqueeze(g.matmul(pool, pooled), [1]));

    let heads: Value;
    if (arch.kind === 'diff') {
      const pairAxis = arch.pairing === 'halves' ? 1 : 2;
      const pairShape: DimPart[] = arch.pairing === 'halves' ? [B, 2, H, T, w] : [B, H, 2, T, w];
      const [a1, a2] = g.split(g.reshape(main, pairShape), pairAxis, [1, 1]).map((part) => g.squeeze(part, [pairAxis]));
      const lambda = arch.lambda === 'token' ? tokenLambda(g, nn, h, names.lambdaProj, intervention, layer, B, T, H) : layerLambda(g, nn, names.lambdaVectors, layer, intervention, B, T, H);
      collected.lambda.push(g.unsqueeze(lambda.output, [1]));
      if (arch.lambda === 'token' && !bare) {
        // lambda * A2 pooled exactly: each query row weighted by its own lambda before rows are pooled.
        const [, a2Columns] = g.split(g.reshape(pooled, [B, H, 2, T, P]), 2, [1, 1]);
        const weightedPool = g.mul(pool, g.unsqueeze(g.transpose(lambda.output, [0, 2, 1]), [2])); // [B, H, P, T]
        collected.lambdaThumbnails.push(g.unsqueeze(g.matmul(weightedPool, g.squeeze(a2Columns, [2])), [1]));
      }
      heads = g.sub(a1, g.mul(lambda.broadcast, a2));
      if (arch.headNorm) {
        const normed = nn.rmsNorm(heads, arch.headNorm.weight ? names.headNorm : null);
        heads = g.mul(normed, g.float([1 - lambdaInit(layer)], []));
      }
    } else {
      heads = main;
    }
    heads = g.mul(heads, perHead('head_mask'));
    const merged = g.reshape(g.transpose(heads, [0, 2, 1, 3]), [-1, H * w]);
    x = g.add(x, nn.linear(merged, names.o, arch.attentionBias));
    const normed = nn.rmsNorm(x, names.postNorm);
    x = g.add(x, nn.mlp(normed, names, arch.mlpBias));
    // Per-layer outputs: views of tensors the layer holds anyway (bare: left unused).
    g.reshape(x, [B, 1, T, E], layerOutputName('hidden_states', layer));
    g.unsqueeze(q, [1], layerOutputName('q', layer));
    g.unsqueeze(k, [1], layerOutputName('k', layer));
  }

  if (bare) {
    // Left unused, and small: the pooling matrix [P, T], V1's lambda per position [T, H] and the
    // views of q, k and the hidden states made for the inspection outputs (which copy nothing).
    g.output(g.reshape(nn.logits(x), [B, T, arch.vocabSize], 'logits'), DataType.FLOAT, ['batch', 'seq', arch.vocabSize]);
    return g;
  }
  blockedPrediction(g, nn, arch, x, ids, B, T, topK, headChunkRows);
  g.concat(collected.thumbnails, 1, 'attn_thumbnails');
  if (arch.kind === 'diff') g.concat(collected.lambda, 1, 'lambda');
  if (arch.lambda === 'token') g.concat(collected.lambdaThumbnails, 1, 'lambda_a2_thumbnails');

  const perLayerShapes = (name: LayerOutput, dims: (number | string)[]) => Object.fromEntries(layerOutputNames(name, L).map((part) => [part, [DataType.FLOAT, dims]]));
  const outputShapes: Record<string, [number, (number | string)[]]> = {
    top_ids: [DataType.INT64, ['batch', 'seq', topK]],
    top_probs: [DataType.FLOAT, ['batch', 'seq', topK]],
    token_logprob: [DataType.FLOAT, ['batch', 'seq']],
    last_logits: [DataType.FLOAT, ['batch', arch.vocabSize]],
    ...perLayerShapes('hidden_states', ['batch', 1, 'seq', E]),
    ...perLayerShapes('q', ['batch', 1, S, 'seq', d]),
    ...perLayerShapes('k', ['batch', 1, Skv, 'seq', d]),
    attn_thumbnails: [DataType.FLOAT, ['batch', L, S, P, P]],
    lambda: [DataType.FLOAT, ['batch', L, 'seq', H]],
    lambda_a2_thumbnails: [DataType.FLOAT, ['batch', L, H, P, P]],
  };
  for (const name of inspectionOutputs(arch)) {
    const [type, dims] = outputShapes[name];
    g.output(name, type as typeof DataType.FLOAT, dims);
  }
  return g;
}

interface Lambda {
  /** [B, T, H]: the lambda each head ran with, per position. */
  output: Value;
  /** lambda shaped to multiply A2's head outputs [B, H, T, w]. */
  broadcast: Value;
}

/** V1: lambda = exp(lq1 . lk1) - exp(lq2 . lk2) + lambda_init per layer, scaled and shifted per head. */
function layerLambda(g: GraphBuilder, nn: Layers, vectors: string[], layer: number, intervention: Record<string, Value>, B: Value, T: Value, H: number): Lambda {
  const [q1, k1, q2, k2] = vectors.map((name) => nn.w(name));
  const term = (a: Value, b: Value) => g.op('Exp', [g.op('ReduceSum', [g.mul(a, b)], { keepdims: 0 })]);
  const lambda = g.add(g.sub(term(q1, k1), term(q2, k2)), g.float([lambdaInit(layer)], []));
  const perHead = g.add(g.mul(lambda, g.take(intervention.lambda_scale, 0, layer)), g.take(intervention.lambda_shift, 0, layer));
  return {
    output: g.op('Expand', [g.reshape(perHead, [1, 1, H]), g.shape([B, T, H])]),
    broadcast: g.reshape(perHead, [1, H, 1, 1]),
  };
}

/** V2: lambda = sigmoid(x W_lambda) per token and head, scaled and shifted per head. */
function tokenLambda(g: GraphBuilder, nn: Layers, x: Value, projection: string, intervention: Record<string, Value>, layer: number, B: Value, T: Value, H: number): Lambda {
  const lambda = g.reshape(g.op('Sigmoid', [g.op('Gemm', [x, nn.w(projection)], { transB: 1 })]), [B, T, H]);
  const output = g.add(g.mul(lambda, g.take(intervention.lambda_scale, 0, layer)), g.take(intervention.lambda_shift, 0, layer));
  return { output, broadcast: g.unsqueeze(g.transpose(output, [0, 2, 1]), [3]) };
}
