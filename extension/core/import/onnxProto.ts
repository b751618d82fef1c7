// The part of ONNX's protobuf schema (onnx.proto, IR version 8) that the importer writes, for
// protobufjs to encode. Field numbers are ONNX's; only the fields used here are declared.

import { Root, type Type } from 'protobufjs/light';

/** ONNX TensorProto.DataType values used by the importer. */
export const DataType = { FLOAT: 1, INT64: 7, BOOL: 9, FLOAT16: 10, BFLOAT16: 16 } as const;
export type DataTypeValue = (typeof DataType)[keyof typeof DataType];

/** ONNX AttributeProto.AttributeType values. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7 } as const;

/** IR version 8 is the one that goes with opset 17 (the project's exporter uses opset 17 too). */
export const IR_VERSION = 8;
export const OPSET = 17;

const entry = { fields: { key: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } };

const schema = Root.fromJSON({
  nested: {
    onnx: {
      nested: {
        StringStringEntryProto: entry,
        OperatorSetIdProto: { fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } } },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            floatData: { rule: 'repeated', type: 'float', id: 4 },
            int64Data: { rule: 'repeated', type: 'int64', id: 7 },
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
            externalData: { rule: 'repeated', type: 'StringStringEntryProto', id: 13 },
            dataLocation: { type: 'int32', id: 14 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            t: { type: 'TensorProto', id: 5 },
            g: { type: 'GraphProto', id: 6 },
            floats: { rule: 'repeated', type: 'float', id: 7 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
            type: { type: 'int32', id: 20 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            domain: { type: 'string', id: 7 },
          },
        },
        Dimension: { fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 } } },
        TensorShapeProto: { fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } } },
        TensorTypeProto: { fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } } },
        TypeProto: { fields: { tensorType: { type: 'TensorTypeProto', id: 1 } } },
        ValueInfoProto: { fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } } },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            graph: { type: 'GraphProto', id: 7 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            metadataProps: { rule: 'repeated', type: 'StringStringEntryProto', id: 14 },
          },
        },
      },
    },
  },
});

const ModelProto: Type = schema.lookupType('onnx.ModelProto');

/** A dimension: a fixed size, or a symbolic name ("batch", "seq"). */
export type Dim = number | string;

export interface TensorProto {
  name: string;
  dims: number[];
  dataType: DataTypeValue;
  /** Small constants are stored inline. */
  rawData?: Uint8Array;
  /** Weights are stored in a file beside the graph: where, and which bytes. */
  external?: { location: string; offset: number; length: number };
}

/** A subgraph (a Loop's body) travels as a { graph } attribute. */
export type AttributeValue = number | number[] | string | { tensor: TensorProto } | { float: number } | { graph: GraphProto };

export interface NodeProto {
  opType: string;
  inputs: string[];
  outputs: string[];
  name: string;
  attributes: Record<string, AttributeValue>;
}

export interface ValueInfo {
  name: string;
  elemType: DataTypeValue;
  dims: Dim[];
}

export interface GraphProto {
  name: string;
  nodes: NodeProto[];
  initializers: TensorProto[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
}

/** Encodes a model (one graph, the default opset) as ONNX protobuf bytes. */
export function encodeModel(graph: GraphProto, metadata: Record<string, string>, producer: string): Uint8Array {
  const message = ModelProto.fromObject({
    irVersion: IR_VERSION,
    producerName: producer,
    opsetImport: [{ domain: '', version: OPSET }],
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    graph: graphMessage(graph),
  });
  return ModelProto.encode(message).finish();
}

function graphMessage(graph: GraphProto): object {
  return {
    name: graph.name,
    node: graph.nodes.map((node) => ({
      input: node.inputs,
      output: node.outputs,
      name: node.name,
      opType: node.opType,
      attribute: Object.entries(node.attributes).map(([name, value]) => attribute(name, value)),
    })),
    initializer: graph.initializers.map(tensor),
    input: graph.inputs.map(valueInfo),
    output: graph.outputs.map(valueInfo),
  };
}

function tensor(t: TensorProto): object {
  const base = { name: t.name, dims: t.dims, dataType: t.dataType };
  if (t.external) {
    const { location, offset, length } = t.external;
    const externalData = Object.entries({ location, offset: String(offset), length: String(length) }).map(([key, value]) => ({ key, value }));
    return { ...base, externalData, dataLocation: 1 };
  }
  return { ...base, rawData: t.rawData ?? new Uint8Array() };
}

function attribute(name: string, value: AttributeValue): object {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: ${value} is not an integer; pass { float } for a float`);
    return { name, type: AttributeType.INT, i: value };
  }
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if ('tensor' in value) return { name, type: AttributeType.TENSOR, t: tensor(value.tensor) };
  if ('graph' in value) return { name, type: AttributeType.GRAPH, g: graphMessage(value.graph) };
  return { name, type: AttributeType.FLOAT, f: value.float };
}

function valueInfo(info: ValueInfo): object {
  const dim = info.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name: info.name, type: { tensorType: { elemType: info.elemType, shape: { dim } } } };
}
