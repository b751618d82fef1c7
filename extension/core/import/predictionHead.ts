// The prediction head of the inspection graph (top_ids, top_probs, token_logprob, last_logits from
// the final hidden states) and the logit lens graph: the final norm and the LM head, then the
// softmax's top predictions. The head runs over chunks of the vocabulary, so that a 16-bit head is
// never widened whole: an ONNX Loop widens C rows of it at a time (each once per run), computes
// their logits for the rows in blocks, and carries each row's state across the chunks exactly: the
// running maximum and sum of exponentials (the logsumexp), the top-K so far, and the logit of the
// token that follows. No [T, V] logits are held either.

import blockSizing from '../../../shared/attention.json';
import type { Architecture } from './architecture';
import { blockOf, floatTensor, padToBlocks, rowBlocks, unblock, type RowBlocks } from './graphBlocks';
import { GraphBuilder, type Value } from './graphBuilder';
import type { WeightFile } from './inspectionGraph';
import { Layers } from './layers';
import { DataType, type DataTypeValue, type Dim } from './onnxProto';

/** Vocabulary rows per chunk of the LM head in the inspection graph: as many as keep one chunk's
 *  float32 copy near shared/attention.json's head_chunk_elements (8 MiB at any vocabulary; a small
 *  vocabulary is one chunk), for float32 heads too. A float32 head used whole in the graph is a
 *  constant that ONNX Runtime pre-packs, a second copy of it: measured on a 357M-parameter float32
 *  DiffLlama with a 128,256-token vocabulary at 1,024 tokens, chunks took the engine's peak from
 *  1,847 to 1,366 MiB in about the same time (6.8 s whole, 7.0 s in chunks). */
export function headChunkRows(arch: Pick<Architecture, 'vocabSize' | 'hidden'>, budget: number = blockSizing.head_chunk_elements): number {
  return Math.min(arch.vocabSize, Math.max(1, Math.floor(budget / arch.hidden)));
}

/** Vocabulary rows per chunk of the LM head in the lens graph. A float32 head is one chunk there:
 *  the lens's session does not pre-pack, so the head is read where it is mapped with nothing copied,
 *  and chunks only cost time (measured on that model: 100 ms a lens whole, 250 ms in chunks, the
 *  same peak). A 16-bit head is chunked as the inspection graph's is (1.5B-parameter bfloat16
 *  DiffLlama, 128,256 tokens: the lens's own process peaked at 1,592 MiB whole, 600 in chunks). */
export function lensChunkRows(arch: Pick<Architecture, 'vocabSize' | 'hidden'>, weightsDtype: string): number {
  return weightsDtype === 'float32' ? arch.vocabSize : headChunkRows(arch);
}

/** What the head yields per row, each [B, rows] (the top-K [B, rows, K]), padding rows included. */
interface HeadRows {
  /** log sum_v exp(logit_v), the softmax's normaliser. */
  logsumexp: Value;
  topProbs: Value;
  topIds: Value;
  /** The logit of each row's `following` token, when asked for. */
  followingLogits?: Value;
  /** The `lastRow`'s logits [B, V], when asked for. */
  lastLogits?: Value;
}

interface HeadInputs {
  /** The final hidden states normed, [B, count * R, E]: padded to whole blocks of rows. */
  normed: Value;
  blocks: RowBlocks;
  /** [B, count * R] int64: the token whose logit each row keeps. */
  following?: Value;
  /** [B, E], normed: a row whose whole logits are kept. */
  lastRow?: Value;
}

/** The LM head over chunks of `chunkRows` vocabulary rows (the last one shorter when they do not
 *  divide V), each chunk's logits computed for one block of rows at a time. */
function chunkedHead(g: GraphBuilder, nn: Layers, arch: Architecture, topK: number, chunkRows: number, { normed, blocks, following, lastRow }: HeadInputs): HeadRows {
  const { hidden: E, vocabSize: V } = arch;
  const C = Math.min(chunkRows, V);
  const chunks = Math.ceil(V / C);
  const rowsShape = g.slice(g.op('Shape', [normed]), 0, 0, 2); // [B, count * R]
  const topShape = g.concat([rowsShape, g.int64([topK])], 0);
  const filled = (shape: Value, value: number) => g.op('ConstantOfShape', [shape], { value: floatTensor(value) });
  const noIds = g.op('ConstantOfShape', [topShape], { value: { tensor: { name: '', dims: [1], dataType: DataType.INT64, rawData: new Uint8Array(8) } } });
  const rowDims: Dim[] = ['batch', 'rows'];
  const topDims: Dim[] = ['batch', 'rows', topK];
  const carried: Array<[Value, Dim[], DataTypeValue?]> = [
    [filled(rowsShape, -Infinity), rowDims], // the running maximum logit
    [filled(rowsShape, 0), rowDims], // sum of exp(logit - running maximum)
    [filled(topShape, -Infinity), topDims],
    [noIds, topDims, DataType.INT64],
    ...(following ? [[filled(rowsShape, 0), rowDims] as [Value, Dim[]]] : []),
  ];

  const [peak, sumExp, topLogits, topIds, ...rest] = g.loop(g.int64([chunks], []), (body, chunk, [peak0, sum0, top0, ids0, following0]) => {
    const start = body.mul(body.unsqueeze(chunk, [0]), body.int64([C]));
    const end = body.op('Min', [body.add(start, body.int64([C])), body.int64([V])]);
    // This chunk's rows of the head as float32 [width, E], widened once for every block of rows; a
    // single chunk is the head itself (a float32 head used where it lies, not copied).
    const rows = () => body.op('Range', [body.squeeze(start, [0]), body.squeeze(end, [0]), body.int64([1], [])]);
    const head = chunks === 1 ? nn.within(body).head() : nn.within(body).head(rows());
    const width = body.op('Shape', [head], { start: 0, end: 1 });

    const perBlock = body.loop(blocks.count, (inner, block) => {
      const { rowsOf } = blockOf(inner, block, blocks.rows);
      const rows = inner.reshape(rowsOf(normed, 1), [-1, E]);
      const logits = inner.reshape(inner.op('Gemm', [rows, head], { transB: 1 }), [-1, blocks.rows, width]); // [B, R, width]
      const oldPeak = rowsOf(peak0, 1);
      const newPeak = inner.op('Max', [oldPeak, inner.op('ReduceMax', [logits], { axes: [-1], keepdims: 0 })]);
      const chunkSum = inner.op('ReduceSum', [inner.op('Exp', [inner.sub(logits, inner.unsqueeze(newPeak, [-1]))]), inner.int64([-1])], { keepdims: 0 });
      const newSum = inner.add(inner.mul(rowsOf(sum0, 1), inner.op('Exp', [inner.sub(oldPeak, newPeak)])), chunkSum);
      // The chunk's top-K merged with the top-K so far (the earlier, lower ids first, so that ties
      // rank as one TopK over the whole vocabulary ranks them).
      const [chunkTop, chunkIndices] = inner.ops('TopK', [logits, inner.op('Min', [width, inner.int64([topK])])], 2, { axis: -1, largest: 1, sorted: 1 });
      const [mergedTop, picked] = inner.ops('TopK', [inner.concat([rowsOf(top0, 1), chunkTop], -1), inner.int64([topK])], 2, { axis: -1, largest: 1, sorted: 1 });
      const mergedIds = inner.op('GatherElements', [inner.concat([rowsOf(ids0, 1), inner.add(chunkIndices, start)], -1), picked], { axis: -1 });
      const yields: Array<[Value, Dim[], DataTypeValue?]> = [[newPeak, rowDims], [newSum, rowDims], [mergedTop, topDims], [mergedIds, topDims, DataType.INT64]];
      if (following) {
        // The following token's logit where it falls in this chunk; the one so far elsewhere.
        const local = inner.sub(rowsOf(following, 1), start);
        const inChunk = inner.op('And', [inner.op('GreaterOrEqual', [local, inner.int64([0])]), inner.op('Less', [local, width])]);
        const clamped = inner.op('Min', [inner.op('Max', [local, inner.int64([0])]), inner.sub(width, inner.int64([1]))]);
        const logit = inner.squeeze(inner.op('GatherElements', [logits, inner.unsqueeze(clamped, [-1])], { axis: -1 }), [-1]);
        yields.push([inner.op('Where', [inChunk, logit, rowsOf(following0, 1)]), rowDims]);
      }
      return yields;
    });
    // The blocks' stacked states [blocks, B, R, ...trailing] back to [B, count * R, ...trailing].
    const yields = carried.map(([, dims, type], i): [Value, Dim[], DataTypeValue?] => [unblock(body, perBlock[i], 1, dims.slice(2) as number[]), dims, type]);
    if (lastRow) {
      // The last row's logits of this chunk, padded to C columns so that the chunks stack.
      const logits = body.op('Gemm', [lastRow, head], { transB: 1 });
      const pads = body.concat([body.int64([0, 0, 0]), body.sub(body.int64([C]), width)], 0);
      yields.push([body.op('Pad', [logits, pads]), ['batch', C]]);
    }
    return yields;
  }, carried);

  const logsumexp = g.add(g.op('Log', [sumExp]), peak);
  const result: HeadRows = { logsumexp, topProbs: g.op('Exp', [g.sub(topLogits, g.unsqueeze(logsumexp, [-1]))]), topIds };
  if (following) result.followingLogits = rest.shift();
  if (lastRow) {
    const stacked = rest.shift()!; // [chunks, B, C]
    result.lastLogits = g.slice(g.reshape(g.transpose(stacked, [1, 0, 2]), [0, -1]), 1, 0, V);
  }
  return result;
}

/** The prediction head's blocks of rows: R = clamp(floor(tile_elements / C), ...), so that one
 *  block's logits [R, C] of a chunk of C vocabulary rows stay near tile_elements floats. */
function headBlocks(g: GraphBuilder, C: number, T: Value): RowBlocks {
  return rowBlocks(g, g.int64([Math.floor(blockSizing.tile_elements / C)]), T);
}

/** The prediction outputs top_ids, top_probs, token_logprob and last_logits from the final hidden
 *  states [B * T, E] (ONNX Runtime runs every node, whichever outputs are asked for). */
export function blockedPrediction(g: GraphBuilder, nn: Layers, arch: Architecture, hidden: Value, ids: Value, B: Value, T: Value, topK: number, chunkRows: number): void {
  const { hidden: E, vocabSize: V } = arch;
  const blocks = headBlocks(g, Math.min(chunkRows, V), T);
  const normed = g.reshape(nn.finalNorm(hidden), [B, T, E]);
  // following[t] = ids[t + 1], the token row t predicts; the last row's (wrapped to ids[0]) is dropped.
  const following = g.concat([g.op('Slice', [ids, g.int64([1]), T, g.int64([1])]), g.slice(ids, 1, 0, 1)], 1);
  const head = chunkedHead(g, nn, arch, topK, chunkRows, {
    normed: padToBlocks(g, normed, 3, 1, blocks, T),
    blocks,
    following: padToBlocks(g, following, 2, 1, blocks, T),
    lastRow: g.take(normed, 1, -1),
  });
  const rowsOfText = (x: Value, name?: string) => g.op('Slice', [x, g.int64([0]), T, g.int64([1])], {}, name);
  rowsOfText(head.topIds, 'top_ids');
  rowsOfText(head.topProbs, 'top_probs');
  // token_logprob[t] = log p(x_t | x_<t); position 0 has no prediction and holds 0.
  const zeros = g.op('ConstantOfShape', [g.shape([B, 1])], { value: floatTensor(0) });
  g.concat([zeros, g.slice(rowsOfText(g.sub(head.followingLogits!, head.logsumexp)), 1, 0, -1)], 1, 'token_logprob');
  g.op('Identity', [head.lastLogits!], {}, 'last_logits');
}

/** The logit lens: hidden [N, E] -> lens_top_ids int64 [N, K], lens_top_probs [N, K], the N rows
 *  (a few: one a layer) as one block. */
export function buildLensGraph(arch: Architecture, weights: WeightFile, topK: number, chunkRows: number): GraphBuilder {
  const g = new GraphBuilder();
  const nn = new Layers(g, arch, weights);
  const hidden = g.input('hidden', DataType.FLOAT, ['n', arch.hidden]);
  const blocks = { rows: g.slice(g.op('Shape', [hidden]), 0, 0, 1), count: g.int64([1], []) };
  const head = chunkedHead(g, nn, arch, topK, chunkRows, { normed: g.unsqueeze(nn.finalNorm(hidden), [0]), blocks });
  g.squeeze(head.topIds, [0], 'lens_top_ids');
  g.squeeze(head.topProbs, [0], 'lens_top_probs');
  g.output('lens_top_ids', DataType.INT64, ['n', topK]);
  g.output('lens_top_probs', DataType.FLOAT, ['n', topK]);
  return g;
}
