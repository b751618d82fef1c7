// The operations the inspection, lens and contributions graphs share: a weight widened where it is
// used, linear layers as the checkpoint stores them, RMSNorm, the final norm and the LM head.

import type { Architecture } from './architecture';
import type { GraphBuilder, Value } from './graphBuilder';
import type { WeightFile } from './inspectionGraph';

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

  /** x [N, in] @ W^T (+ b): W stays [out, in] as the checkpoint stores it (Gemm's transB). */
  linear(x: Value, prefix: string, bias: boolean): Value {
    const inputs = [x, this.w(`${prefix}.weight`, x), ...(bias ? [this.w(`${prefix}.bias`)] : [])];
    return this.g.op('Gemm', inputs, { transB: 1 });
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
