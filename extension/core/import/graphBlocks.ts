// Blocks of rows in an ONNX graph: how many rows a block takes (shared/attention.json's rule,
// computed in the graph from T), padding a tensor's rows to whole blocks, a Loop body's block of
// them, and the Loop's stacked blocks joined back. Attention's query rows and the prediction head's
// rows run over such blocks (inspectionGraph.ts, predictionHead.ts).

import blockSizing from '../../../shared/attention.json';
import { type GraphBuilder, type Value } from './graphBuilder';
import { DataType } from './onnxProto';

/** Rows per block, from shared/attention.json, computed in the graph from T. */
export interface RowBlocks {
  /** R, a 1-element int64. */
  rows: Value;
  /** ceil(T / R), an int64 scalar. */
  count: Value;
}

/** R = min(clamp(fitting, min_rows, max_rows), T), where `fitting` (a 1-element int64) is how many
 *  rows keep a block near tile_elements floats. */
export function rowBlocks(g: GraphBuilder, fitting: Value, T: Value): RowBlocks {
  const clamped = g.op('Min', [g.op('Max', [fitting, g.int64([blockSizing.min_rows])]), g.int64([blockSizing.max_rows])]);
  // A text shorter than a block is one block either way; without padding it to R rows.
  const rows = g.op('Min', [clamped, T]);
  const count = g.div(g.sub(g.add(T, rows), g.int64([1])), rows);
  return { rows, count: g.squeeze(count, [0]) };
}

/** x with zero rows appended on `axis` (of `rank` axes) up to count * R, so that every block has R
 *  rows; the extra rows are dropped by joinBlocks. */
export function padToBlocks(g: GraphBuilder, x: Value, rank: number, axis: number, { rows, count }: RowBlocks, T: Value): Value {
  // Pad's pads: every axis's begin, then every end; only the end of `axis` grows.
  const extra = g.sub(g.mul(g.unsqueeze(count, [0]), rows), T);
  const after = rank - axis - 1;
  const pads = [g.int64(new Array(rank + axis).fill(0)), extra, ...(after ? [g.int64(new Array(after).fill(0))] : [])];
  return g.op('Pad', [x, g.concat(pads, 0)]);
}

/** In a Loop body: block `index`'s rows [bR, bR + R) as 1-element int64s, and a slicer of those rows
 *  from a value padded by padToBlocks. */
export function blockOf(body: GraphBuilder, index: Value, rows: Value) {
  const start = body.mul(body.unsqueeze(index, [0]), rows);
  const end = body.add(start, rows);
  const rowsOf = (x: Value, axis: number) => body.op('Slice', [x, start, end, body.int64([axis])]);
  return { start, end, rowsOf };
}

/** A Loop's stacked blocks [blocks, ...leading, R, ...trailing] as [...leading, count * R, ...trailing]:
 *  the blocks' rows in order, the padding rows kept. `rowsAxis` is the rows' axis in the result. */
export function unblock(g: GraphBuilder, stacked: Value, rowsAxis: number, trailing: number[]): Value {
  const leading = Array.from({ length: rowsAxis }, (_, i) => i + 1);
  const rest = Array.from({ length: trailing.length }, (_, i) => rowsAxis + 2 + i);
  return g.reshape(g.transpose(stacked, [...leading, 0, rowsAxis + 1, ...rest]), [...leading.map(() => 0), -1, ...trailing]);
}

/** unblock's rows with the padding rows dropped: [...leading, T, ...trailing]. */
export function joinBlocks(g: GraphBuilder, stacked: Value, rowsAxis: number, trailing: number[], T: Value, name?: string): Value {
  return g.op('Slice', [unblock(g, stacked, rowsAxis, trailing), g.int64([0]), T, g.int64([rowsAxis])], {}, name);
}

/** A float32 tensor attribute of one value (ConstantOfShape's value). */
export const floatTensor = (value: number) => ({
  tensor: { name: '', dims: [1], dataType: DataType.FLOAT, rawData: new Uint8Array(Float32Array.of(value).buffer) },
});
