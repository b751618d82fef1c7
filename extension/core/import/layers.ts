// The operations the inspection, lens and contributions graphs share: a weight widened where it is
// used, linear layers as the checkpoint stores them, RMSNorm, the final norm and the LM head.

import type { Architecture } from './architecture';
import type { GraphBuilder, Value } from './graphBuilder';
import type { RowRange, WeightFile } from './inspectionGraph';

/** Operations shared by the inspection, lens and contributions graphs. */
export class Layers {
  constructor(
    readonly g: GraphBuilder,
    private readonly arch: Architecture,
    private readonly weights: WeightFile,
  ) {}

  /** A weight as float32, widened once `after` exists when given (WeightFile.use). */
  w(name: string, after?: Value): Value {
    return this.weights.use(this.g, name, after);
  }

  /** The same operations written into another graph (a Loop's body). */
  within(graph: GraphBuilder): Layers {
    return new Layers(graph, this.arch, this.weights);
  }

  private headName(): string {
    return this.arch.tiedEmbeddings ? 'model.embed_tokens' : 'lm_head';
  }

  /** Rows `indices` of the LM head (the embedding when tied) as float32 [n, E], or with no
   *  indices the whole head [V, E]. */
  head(indices?: Value): Value {
    const name = `${this.headName()}.weight`;
    return indices ? this.weights.rows(this.g, name, indices) : this.w(name);
  }

  /** x [N, in] @ W^T (+ b): W stays [out, in] as the checkpoint stores it (Gemm's transB). A 16-bit
   *  matrix too large to widen at once (WeightFile.widenedBlocks) is multiplied a block of its rows
   *  at a time, each block widened once the previous block's product exists, and the products
   *  joined: each output is still one whole dot product, so the result is the same. */
  linear(x: Value, prefix: string, bias: boolean): Value {
    return this.byBlocks(`${prefix}.weight`, x, (after, rows) => this.product(x, prefix, bias, after, rows));
  }

  /** The gated MLP, down(silu(gate(x)) * up(x)) ([N, E] -> [N, E]). When its matrices are widened
   *  in blocks of rows, each block of the intermediate width is activated as soon as its gate and up
   *  products exist, so that neither product is held whole beside the other. */
  mlp(x: Value, names: { gate: string; up: string; down: string }, bias: boolean): Value {
    const { g } = this;
    // gate and up have the same shape and storage, so gate's blocks are up's too.
    const activated = this.byBlocks(`${names.gate}.weight`, x, (after, rows) => {
      const gate = this.product(x, names.gate, bias, after, rows);
      const up = this.product(x, names.up, bias, after, rows);
      return g.mul(g.mul(gate, g.op('Sigmoid', [gate])), up);
    });
    return this.linear(activated, names.down, bias);
  }

  /** `part(after, rows)` for each block of rows of `weight` (WeightFile.widenedBlocks), each block's
   *  part waiting for the previous one's (the first for x), joined on the last axis; with no blocks,
   *  the one part of the whole matrix, waiting for x. */
  private byBlocks(weight: string, x: Value, part: (after: Value, rows?: RowRange) => Value): Value {
    const blocks = this.weights.widenedBlocks(weight);
    if (blocks.length === 0) return part(x);
    const parts: Value[] = [];
    for (const rows of blocks) parts.push(part(parts.at(-1) ?? x, rows));
    return this.g.concat(parts, -1);
  }

  /** x @ W^T (+ b) for W's rows `rows` (all when none), W widened once `after` exists. */
  private product(x: Value, prefix: string, bias: boolean, after: Value, rows?: RowRange): Value {
    const { g, weights } = this;
    const inputs = [x, weights.use(g, `${prefix}.weight`, after, rows), ...(bias ? [weights.use(g, `${prefix}.bias`, undefined, rows)] : [])];
    return g.op('Gemm', inputs, { transB: 1 });
  }

  /** RMSNorm over the last axis: x / sqrt(mean(x^2) + eps), times the weight when there is one. */
  rmsNorm(x: Value, weight: string | null): Value {
    const { g } = this;
    const meanSquare = g.op('ReduceMean', [g.op('Pow', [x, g.float([2], [])])], { axes: [-1], keepdims: 1 });
    const normed = g.div(x, g.op('Sqrt', [g.add(meanSquare, g.float([this.arch.rmsNormEps], []))]));
    return weight ? g.mul(normed, this.w(weight)) : normed;
  }

  /** The final RMSNorm: [N, E] -> [N, E]. */
  finalNorm(hidden: Value): Value {
    return this.rmsNorm(hidden, 'model.norm.weight');
  }

  /** The final norm and the LM head (the embedding when tied): [N, E] -> [N, V]. */
  logits(hidden: Value): Value {
    return this.linear(this.finalNorm(hidden), this.headName(), false);
  }
}
