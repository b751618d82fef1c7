// A small builder of ONNX graphs: named values, operators with their attributes, inline constants
// and external weights. The inspection graph (inspectionGraph.ts) is written with it.

import {
  DataType,
  encodeModel,
  type AttributeValue,
  type DataTypeValue,
  type Dim,
  type GraphProto,
  type NodeProto,
  type TensorProto,
  type ValueInfo,
} from './onnxProto';

/** A value of the graph, by name. */
export type Value = string;
/** A shape piece: a fixed size, or a 1-element int64 value holding a size known only at run time. */
export type DimPart = number | Value;

/** What every graph of a model shares with its subgraphs: initializers (an outer scope's are visible
 *  in a Loop's body) and the counters that keep names unique across the whole model. */
interface ModelScope {
  initializers: TensorProto[];
  constants: Map<string, Value>;
  weights: Set<string>;
  counts: Map<string, number>;
}

export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly scope: ModelScope;

  /** A model's graph, or with `outer` a subgraph whose constants and weights go to the outer graph's scope. */
  constructor(outer?: GraphBuilder) {
    this.scope = outer?.scope ?? { initializers: [], constants: new Map(), weights: new Set(), counts: new Map() };
  }

  input(name: string, elemType: DataTypeValue, dims: Dim[]): Value {
    this.inputs.push({ name, elemType, dims });
    return name;
  }

  /** Declares a graph output. The value must have been produced under that name (op's `name`). */
  output(name: Value, elemType: DataTypeValue, dims: Dim[]): void {
    this.outputs.push({ name, elemType, dims });
  }

  /** A weight stored in the weights file beside the graph, as `dataType` (declared once however often used). */
  weight(name: string, dims: number[], dataType: DataTypeValue, external: NonNullable<TensorProto['external']>): Value {
    const { weights, initializers } = this.scope;
    if (!weights.has(name)) initializers.push({ name, dims, dataType, external });
    weights.add(name);
    return name;
  }

  /** An int64 constant (shapes, axes, indices); a scalar when dims is []. Equal constants are shared. */
  int64(values: readonly number[], dims: number[] = [values.length]): Value {
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    return this.constant('i64', DataType.INT64, dims, new Uint8Array(data.buffer), values);
  }

  /** A float32 constant; a scalar when dims is []. */
  float(values: readonly number[] | Float32Array, dims: number[] = [values.length]): Value {
    const data = Float32Array.from(values);
    return this.constant('f32', DataType.FLOAT, dims, new Uint8Array(data.buffer), Array.from(data));
  }

  private constant(kind: string, dataType: DataTypeValue, dims: number[], rawData: Uint8Array, values: readonly number[]): Value {
    const key = `${kind}:${dims.join('x')}:${values.join(',')}`;
    const { constants, initializers } = this.scope;
    let name = constants.get(key);
    if (!name) {
      name = this.fresh(`const_${kind}`);
      initializers.push({ name, dims, dataType, rawData });
      constants.set(key, name);
    }
    return name;
  }

  /** One operator with one output; `name` names the output (graph outputs need their contract name). */
  op(opType: string, inputs: Value[], attributes: Record<string, AttributeValue> = {}, name?: string): Value {
    return this.ops(opType, inputs, 1, attributes, name ? [name] : undefined)[0];
  }

  /** One operator with several outputs. */
  ops(opType: string, inputs: Value[], count: number, attributes: Record<string, AttributeValue> = {}, names?: string[]): Value[] {
    const nodeName = this.fresh(opType);
    const outputs = names ?? Array.from({ length: count }, (_, i) => `${nodeName}_out${i}`);
    this.nodes.push({ opType, inputs, outputs, name: nodeName, attributes });
    return outputs;
  }

  /** A 1-D int64 shape from fixed sizes and run-time sizes (1-element values). */
  shape(parts: readonly DimPart[]): Value {
    if (parts.every((p) => typeof p === 'number')) return this.int64(parts as number[]);
    // Runs of fixed sizes become one constant each, then everything is concatenated.
    const pieces: Value[] = [];
    let fixed: number[] = [];
    for (const part of parts) {
      if (typeof part === 'number') {
        fixed.push(part);
        continue;
      }
      if (fixed.length) pieces.push(this.int64(fixed));
      fixed = [];
      pieces.push(part);
    }
    if (fixed.length) pieces.push(this.int64(fixed));
    return this.op('Concat', pieces, { axis: 0 });
  }

  // Shorthands for the operators the graphs use most; each returns the output's name.
  add = (a: Value, b: Value, name?: string) => this.op('Add', [a, b], {}, name);
  sub = (a: Value, b: Value, name?: string) => this.op('Sub', [a, b], {}, name);
  mul = (a: Value, b: Value, name?: string) => this.op('Mul', [a, b], {}, name);
  div = (a: Value, b: Value, name?: string) => this.op('Div', [a, b], {}, name);
  matmul = (a: Value, b: Value, name?: string) => this.op('MatMul', [a, b], {}, name);
  reshape = (x: Value, parts: readonly DimPart[], name?: string) => this.op('Reshape', [x, this.shape(parts)], {}, name);
  transpose = (x: Value, perm: number[], name?: string) => this.op('Transpose', [x], { perm }, name);
  unsqueeze = (x: Value, axes: number[], name?: string) => this.op('Unsqueeze', [x, this.int64(axes)], {}, name);
  squeeze = (x: Value, axes: number[], name?: string) => this.op('Squeeze', [x, this.int64(axes)], {}, name);
  concat = (values: Value[], axis: number, name?: string) => this.op('Concat', values, { axis }, name);
  /** Splits along an axis into pieces of the given sizes. */
  split = (x: Value, axis: number, sizes: number[]) => this.ops('Split', [x, this.int64(sizes)], sizes.length, { axis });
  /** Elements [start, end) of one axis. */
  slice = (x: Value, axis: number, start: number, end: number, name?: string) =>
    this.op('Slice', [x, this.int64([start]), this.int64([end]), this.int64([axis])], {}, name);
  /** Gathers index (a scalar: the axis is dropped) from an axis. */
  take = (x: Value, axis: number, index: number, name?: string) => this.op('Gather', [x, this.int64([index], [])], { axis }, name);

  /** An ONNX Loop of `trips` (an int64 scalar) iterations, run for its scan outputs: `body` builds one
   *  iteration from its number (an int64 scalar) and returns the values it yields, each with its dims
   *  and element type (float32 when left out); every yield comes back stacked along a new first axis.
   *  With `carried` (initial values, their dims and types), the body also gets each one's value of
   *  the iteration before and returns their next values first, before its yields; the loop then
   *  returns their final values first. The body may use this graph's values. */
  loop(trips: Value, body: (iteration: GraphBuilder, index: Value, carried: Value[]) => Array<[Value, Dim[], DataTypeValue?]>, carried: Array<[Value, Dim[], DataTypeValue?]> = []): Value[] {
    const iteration = new GraphBuilder(this);
    const index = iteration.input(this.fresh('loop_index'), DataType.INT64, []);
    const condition = iteration.input(this.fresh('loop_condition'), DataType.BOOL, []);
    const previous = carried.map(([, dims, elemType = DataType.FLOAT]) => iteration.input(this.fresh('loop_carried'), elemType, dims));
    const yields = body(iteration, index, previous);
    iteration.output(iteration.op('Identity', [condition]), DataType.BOOL, []);
    for (const [value, dims, elemType = DataType.FLOAT] of yields) iteration.output(value, elemType, dims);
    // No condition input: the loop runs exactly `trips` times.
    const inputs = [trips, '', ...carried.map(([initial]) => initial)];
    return this.ops('Loop', inputs, yields.length, { body: { graph: iteration.graph(this.fresh('loop_body')) } });
  }

  /** Encodes the graph as an ONNX model. */
  encode(graphName: string, metadata: Record<string, string>, producer: string): Uint8Array {
    return encodeModel({ ...this.graph(graphName), initializers: this.scope.initializers }, metadata, producer);
  }

  /** The graph's own nodes, inputs and outputs (initializers belong to the model's scope). */
  private graph(name: string): GraphProto {
    return { name, nodes: this.nodes, initializers: [], inputs: this.inputs, outputs: this.outputs };
  }

  private fresh(prefix: string): string {
    const n = this.scope.counts.get(prefix) ?? 0;
    this.scope.counts.set(prefix, n + 1);
    return `${prefix}_${n}`;
  }
}
