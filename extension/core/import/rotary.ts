// The rotary position embedding (RoPE) as graph operations: the inspection graph
// (inspectionGraph.ts) turns every layer's q and k by the angles of their positions.

import type { GraphBuilder, Value } from './graphBuilder';

/** RoPE on [B, heads, T, d]: interleaved pairs (2i, 2i+1), or rotate_half pairs (i, i + d/2). */
export function rotary(g: GraphBuilder, interleaved: boolean, d: number, cos: Value, sin: Value): (x: Value) => Value {
  if (interleaved) {
    const cosPairs = g.unsqueeze(cos, [-1]);
    const sinPairs = g.unsqueeze(sin, [-1]);
    return (x) => {
      const pairs = g.reshape(x, [0, 0, 0, -1, 2]);
      const [even, odd] = g.split(pairs, -1, [1, 1]);
      const rotatedEven = g.sub(g.mul(even, cosPairs), g.mul(odd, sinPairs));
      const rotatedOdd = g.add(g.mul(even, sinPairs), g.mul(odd, cosPairs));
      return g.reshape(g.concat([rotatedEven, rotatedOdd], -1), [0, 0, 0, -1]);
    };
  }
  return (x) => {
    const [first, second] = g.split(x, -1, [d / 2, d / 2]);
    return g.concat([g.sub(g.mul(first, cos), g.mul(second, sin)), g.add(g.mul(second, cos), g.mul(first, sin))], -1);
  };
}
