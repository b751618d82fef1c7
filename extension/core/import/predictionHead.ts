// The prediction head of the inspection graph (top_ids, top_probs, token_logprob, last_logits from
// the final hidden states) and the logit lens graph: the final norm and the LM head, then the
// softmax's top predictions, written so that no [T, V] logits are held.

import blockSizing from '../../../shared/attention.json';
import type { Architecture } from './architecture';
import { blockOf, floatTensor, joinBlocks, padToBlocks, rowBlocks, type RowBlocks } from './graphBlocks';
import { GraphBuilder, type Value } from './graphBuilder';
import type { WeightFile } from './inspectionGraph';
import { Layers } from './layers';
import { DataType } from './onnxProto';

/** The prediction head's blocks of rows: R = clamp(floor(tile_elements / V), ...), so that one
 *  block's logits [R, V] stay near tile_elements floats. */
function headBlocks(g: GraphBuilder, V: number, T: Value): RowBlocks {
  return rowBlocks(g, g.int64([Math.floor(blockSizing.tile_elements / V)]), T);
}

/** The prediction outputs top_ids, top_probs and token_logprob from the final hidden states
 *  [B * T, E], one block of R rows at a time in an ONNX Loop, so that no [B, T, V] logits are held
 *  (ONNX Runtime runs every node, whichever outputs are asked for); last_logits from the last row alone. */
export function blockedPrediction(g: GraphBuilder, nn: Layers, arch: Architecture, hidden: Value, ids: Value, B: Value, T: Value, topK: number): void {
  const { hidden: E, vocabSize: V } = arch;
  const blocks = headBlocks(g, V, T);
  const head = nn.withHeadWidened();
  const rowsFirst = g.reshape(hidden, [B, T, E]);
  const paddedHidden = padToBlocks(g, rowsFirst, 3, 1, blocks, T);
  // following[t] = ids[t + 1], the token row t predicts; the last row's (wrapped to ids[0]) is dropped.
  const following = g.concat([g.op('Slice', [ids, g.int64([1]), T, g.int64([1])]), g.slice(ids, 1, 0, 1)], 1);
  const paddedFollowing = padToBlocks(g, following, 2, 1, blocks, T);

  const [topIds, topProbs, seen] = g.loop(blocks.count, (body, block) => {
    const { rowsOf } = blockOf(body, block, blocks.rows);
    const logits = body.reshape(head.within(body).logits(body.reshape(rowsOf(paddedHidden, 1), [-1, E])), [B, blocks.rows, V]);
    const peak = body.op('ReduceMax', [logits], { axes: [-1], keepdims: 1 });
    const sumExp = body.op('ReduceSum', [body.op('Exp', [body.sub(logits, peak)]), body.int64([-1])], { keepdims: 0 });
    const normaliser = body.add(body.op('Log', [sumExp]), body.squeeze(peak, [-1])); // logsumexp [B, R]
    const [topLogits, blockTopIds] = body.ops('TopK', [logits, body.int64([topK])], 2, { axis: -1, largest: 1, sorted: 1 });
    const blockTopProbs = body.op('Exp', [body.sub(topLogits, body.unsqueeze(normaliser, [-1]))]);
    const followingLogits = body.op('GatherElements', [logits, body.unsqueeze(rowsOf(paddedFollowing, 1), [-1])], { axis: -1 });
    const blockSeen = body.sub(body.squeeze(followingLogits, [-1]), normaliser);
    return [
      [blockTopIds, ['batch', 'rows', topK], DataType.INT64],
      [blockTopProbs, ['batch', 'rows', topK]],
      [blockSeen, ['batch', 'rows']],
    ];
  });
  joinBlocks(g, topIds, 1, [topK], T, 'top_ids');
  joinBlocks(g, topProbs, 1, [topK], T, 'top_probs');
  // token_logprob[t] = log p(x_t | x_<t); position 0 has no prediction and holds 0.
  const zeros = g.op('ConstantOfShape', [g.shape([B, 1])], { value: floatTensor(0) });
  g.concat([zeros, g.slice(joinBlocks(g, seen, 1, [], T), 1, 0, -1)], 1, 'token_logprob');
  g.op('Identity', [head.logits(g.take(rowsFirst, 1, -1))], {}, 'last_logits');
}

/** The logit lens: hidden [N, E] -> lens_top_ids int64 [N, K], lens_top_probs [N, K]. */
export function buildLensGraph(arch: Architecture, weights: WeightFile, topK: number): GraphBuilder {
  const g = new GraphBuilder();
  const nn = new Layers(g, arch, weights);
  const hidden = g.input('hidden', DataType.FLOAT, ['n', arch.hidden]);
  const logProbs = g.op('LogSoftmax', [nn.logits(hidden)], { axis: -1 });
  const [topLogProbs] = g.ops('TopK', [logProbs, g.int64([topK])], 2, { axis: -1, largest: 1, sorted: 1 }, ['lens_top_logprobs', 'lens_top_ids']);
  g.op('Exp', [topLogProbs], {}, 'lens_top_probs');
  g.output('lens_top_ids', DataType.INT64, ['n', topK]);
  g.output('lens_top_probs', DataType.FLOAT, ['n', topK]);
  return g;
}
