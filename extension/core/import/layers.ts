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
    /** Weights already widened in an outer graph, by name. */
    private readonly widened: ReadonlyMap<string, Value> = new Map(),
  ) {}

  w(name: string): Value {
    return this.widened.get(name) ?? this.weights.use(this.g, name);
  }

  /** The same operations written into another graph (a Loop's body). */
  within(graph: GraphBuilder): Layers {
    return new Layers(graph, this.arch, this.weights, this.widened);
  }

  /** These operations with the final norm and the LM head widened once here, for a Loop's body
   *  that runs the head on every block (widening a large vocabulary's head per block costs seconds). */
  withHeadWidened(): Layers {
    const names = ['model.norm.weight', `${this.headName()}.weight`];
    return new Layers(this.g, this.arch, this.weights, new Map(names.map((name) => [name, this.w(name)])));
  }

  private headName(): string {
    return this.arch.tiedEmbeddings ? 'model.embed_tokens' : 'lm_head';
  }

  /** x [N, in] @ W^T (+ b): W stays [out, in] as the checkpoint stores it (Gemm's transB). */
  linear(x: Value, prefix: string, bias: boolean): Value {
    const inputs = [x, this.w(`${prefix}.weight`), ...(bias ? [this.w(`${prefix}.bias`)] : [])];
    return this.g.op('Gemm', inputs, { transB: 1 });
  }

  /** RMSNorm over the last axis: x / sqrt(mean(x^2) + eps), times the weight when there is one. */
  rmsNorm(x: Value, weight: string | null): Value {
    const { g } = this;
    const meanSquare = g.op('ReduceMean', [g.op('Pow', [x, g.float([2], [])])], { axes: [-1], keepdims: 1 });
    const normed = g.div(x, g.op('Sqrt', [g.add(meanSquare, g.float([this.arch.rmsNormEps], []))]));
    return weight ? g.mul(normed, this.w(weight)) : normed;
  }

  /** The final norm and the LM head (the embedding when tied): [N, E] -> [N, V]. */
  logits(hidden: Value): Value {
    return this.linear(this.rmsNorm(hidden, 'model.norm.weight'), this.headName(), false);
  }
}
