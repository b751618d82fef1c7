"""
The small ONNX graphs the extension runs on one layer's post-RoPE queries and keys (the inspection
graph's q and k outputs) to compute what a view shows, when it is shown: attention maps, the
attention-logit statistics of the Outliers view, the quantisation what-if and the attention sinks. They depend on no
model's weights, so one set serves every package; `python -m model analysis-graphs` writes them to
extension/graphs/ (committed, and checked to be up to date by model/tests/test_analysis_graphs.py).

Every graph works on one block of query rows, so that none holds an (S, T, T) tensor: it takes the
queries q (S, R, d) of rows [first_row, first_row + R), the keys k (S, K, d) of [0, K) with
K = first_row + R (a block reads only the keys up to its last row; attention_tile reads a range of
them), the block's first_row and the attention scale, and forms the logits q k^T * scale as the model
does. The engine repeats grouped keys to one per query sub-head and picks the block size from
shared/attention.json, as the model's blocked attention does.
"""

from pathlib import Path

import onnx
from onnx import TensorProto, helper

OPSET = 17
FLOAT, INT64, BOOL = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


class GraphBuilder:
    """Appends nodes with generated output names; a thin layer over onnx.helper."""

    def __init__(self):
        self.nodes, self.inputs, self.outputs, self.count = [], [], [], 0

    def input(self, name, dtype, shape):
        self.inputs.append(helper.make_tensor_value_info(name, dtype, shape))
        return name

    def output(self, value, name, dtype, shape):
        self.nodes.append(helper.make_node("Identity", [value], [name]))
        self.outputs.append(helper.make_tensor_value_info(name, dtype, shape))

    def ops(self, op_type, n_outputs, *inputs, **attributes):
        """A node with n_outputs outputs; returns their names."""
        self.count += 1
        names = [f"{op_type.lower()}_{self.count}_{i}" for i in range(n_outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, **attributes))
        return names

    def op(self, op_type, *inputs, **attributes):
        return self.ops(op_type, 1, *inputs, **attributes)[0]

    def const(self, value, dtype=FLOAT):
        values = value if isinstance(value, list) else [value]
        shape = [len(values)] if isinstance(value, list) else []
        return self.op("Constant", value=helper.make_tensor(f"c{self.count}", dtype, shape, values))

    def model(self, name):
        graph = helper.make_graph(self.nodes, name, self.inputs, self.outputs)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="difftransformer-inspector")
        onnx.checker.check_model(model)
        return model


def block_logits(g: GraphBuilder, suffix: str = "", keys: str = "K"):
    """q k^T * scale (S, R, keys) from inputs q{suffix} (S, R, d) and k{suffix} (S, keys, d)."""
    q = g.input("q" + suffix, FLOAT, ["S", "R", "d"])
    k = g.input("k" + suffix, FLOAT, ["S", keys, "d"])
    return g.op("Mul", g.op("MatMul", q, g.op("Transpose", k, perm=[0, 2, 1])), "scale")


def causal_bias(g: GraphBuilder, logits: str, rows_ahead: str):
    """The causal mask of a block of logits (S, R, C) as an additive bias (R, C): 0 where key column c
    is visible to block row r, i.e. c <= r + rows_ahead (rows_ahead = first_row - first_key), -inf
    after it. Adding it (one pass) is cheaper than a Where, and it also takes hidden pairs out of
    maxima and histograms."""
    shape = g.op("Slice", g.op("Shape", logits), g.const([1], INT64), g.const([3], INT64))
    minus_inf = g.op("ConstantOfShape", shape, value=helper.make_tensor("minus_inf", FLOAT, [1], [float("-inf")]))
    return g.op("Trilu", minus_inf, g.op("Add", rows_ahead, g.const(1, INT64)), upper=1)


def block_inputs(g: GraphBuilder):
    """The inputs every graph takes: the attention scale and the block's first query row."""
    g.input("scale", FLOAT, [])
    return g.input("first_row", INT64, [])


def attention_maps() -> onnx.ModelProto:
    """probs (S, R, K): the causal softmax rows of a block, and lse (S, R): each row's log-sum-exp
    of its visible scaled logits, with which attention_tile recomputes any part of the rows."""
    g = GraphBuilder()
    first_row = block_inputs(g)
    logits = block_logits(g)
    masked = g.op("Add", logits, causal_bias(g, logits, first_row))
    last_axis = g.const([-1], INT64)
    # Key 0 is visible to every row, so the maximum is finite.
    top = g.op("ReduceMax", masked, axes=[-1], keepdims=1)
    exps = g.op("Exp", g.op("Sub", masked, top))
    sums = g.op("ReduceSum", exps, last_axis, keepdims=1)
    lse = g.op("Add", top, g.op("Log", sums))
    # exp(logit - lse) as attention_tile computes it, so both give a map the same bits.
    g.output(g.op("Exp", g.op("Sub", masked, lse)), "probs", FLOAT, ["S", "R", "K"])
    g.output(g.op("Squeeze", lse, last_axis), "lse", FLOAT, ["S", "R"])
    return g.model("attention_maps")


def attention_tile() -> onnx.ModelProto:
    """probs (S, R, C): the attention of block rows [first_row, first_row + R) to keys [first_key,
    first_key + C), exp(q k^T * scale - lse) with the rows' lse from attention_maps, 0 where the key
    lies after the row: a zoomed viewport costs only its rows x keys."""
    g = GraphBuilder()
    first_row = block_inputs(g)
    first_key = g.input("first_key", INT64, [])
    logits = block_logits(g, keys="C")
    lse = g.op("Unsqueeze", g.input("lse", FLOAT, ["S", "R"]), g.const([2], INT64))
    masked = g.op("Add", logits, causal_bias(g, logits, g.op("Sub", first_row, first_key)))
    g.output(g.op("Exp", g.op("Sub", masked, lse)), "probs", FLOAT, ["S", "R", "C"])
    return g.model("attention_tile")


def visible_magnitudes(g: GraphBuilder):
    """|logits| of a block of the sub-heads, -inf for the hidden pairs after each row."""
    first_row = block_inputs(g)
    logits = block_logits(g)
    return g.op("Add", g.op("Abs", logits), causal_bias(g, logits, first_row))


def logit_top() -> onnx.ModelProto:
    """The `top` largest |logits| of a block of the sub-heads, descending, with their flat (S, R, K)
    indices (-inf for hidden pairs where the block has fewer visible ones). The engine merges the
    blocks: the layer's largest value sets the scale of logit_bins."""
    g = GraphBuilder()
    magnitude = visible_magnitudes(g)
    top = g.input("top", INT64, [1])
    top_values, top_indices = g.ops("TopK", 2, g.op("Reshape", magnitude, g.const([-1], INT64)), top)
    g.output(top_values, "top_values", FLOAT, ["top"])
    g.output(top_indices, "top_indices", INT64, ["top"])
    return g.model("logit_top")


def logit_bins() -> onnx.ModelProto:
    """For every pair of a block of the sub-heads its bin among `bins` (at most 65,534) equal bins
    over [0, absmax], as uint16 bin + 1, with 0 for the hidden pairs. The engine counts them: a fine
    histogram, whose sums are the view's coarse bins and which places the median to within
    absmax / bins. (ONNX Runtime's only counting operator, ScatterElements, runs 8x slower.)"""
    g = GraphBuilder()
    magnitude = visible_magnitudes(g)
    absmax = g.input("absmax", FLOAT, [])
    bins = g.input("bins", FLOAT, [])
    per_unit = g.op("Div", bins, g.op("Max", absmax, g.const(1e-30)))
    # Clip sends the hidden pairs to -1 and the maximum into the last bin; the cast truncates.
    shifted = g.op("Add", g.op("Clip", g.op("Mul", magnitude, per_unit), g.const(-1.0), g.op("Sub", bins, g.const(1.0))), g.const(1.0))
    g.output(g.op("Cast", shifted, to=TensorProto.UINT16), "bin_plus_one", TensorProto.UINT16, ["S", "R", "K"])
    return g.model("logit_bins")


def quantisation_errors(diff: bool, widths: int) -> onnx.ModelProto:
    """The quantisation what-if of a block of query rows for `widths` bit widths at once (the table's
    columns): the logits quantised absmax to top_levels[b] levels each side, step = absmax /
    top_levels[b]. Outputs the block's sums over visible pairs of squared logits and of squared
    quantisation errors, and its sum over (head, query row) of 0.5 * sum_j |row'_j - row_j| /
    sum_j |row_j| between the effective attention rows from quantised and exact logits: A1 - lambda A2
    for DIFF (inputs q1/k1 hold the A1 sub-heads, q2/k2 the A2 ones, lambda (H, R) is per head and
    block row), A for a standard model (q/k). Every sum is over pairs or rows, so the engine adds the
    blocks'. Dividing by the exact row's absolute mass (1 for a softmax row) keeps DIFF's comparable
    with a softmax and defined for every lambda, where its rows sum to 1 - lambda, which may be 0."""
    g = GraphBuilder()
    first_row = block_inputs(g)
    absmax = g.input("absmax", FLOAT, [])
    top_levels = g.input("top_levels", FLOAT, [widths])
    logit_maps = [block_logits(g, "1"), block_logits(g, "2")] if diff else [block_logits(g)]
    bias = causal_bias(g, logit_maps[0], first_row)
    # The hidden pairs set to 0 once: 0 quantises to 0, so no error sum needs the mask again.
    visible = [g.op("Trilu", logits, first_row, upper=0) for logits in logit_maps]
    if diff:
        lam_rows = g.op("Unsqueeze", g.input("lambda", FLOAT, ["H", "R"]), g.const([2], INT64))  # (H, R, 1)

    def effective(maps):
        probs = [g.op("Softmax", g.op("Add", logits, bias), axis=-1) for logits in maps]
        return g.op("Sub", probs[0], g.op("Mul", lam_rows, probs[1])) if diff else probs[0]

    exact = effective(visible)
    per_mass = g.op("Reciprocal", g.op("Max", g.op("ReduceL1", exact, axes=[-1], keepdims=0), g.const(1e-30)))  # (H, R)
    squared = g.op("Sum", *[g.op("ReduceSumSquare", logits, keepdims=0) for logits in visible])
    errors, distances = [], []
    for b in range(widths):
        step = g.op("Div", absmax, g.op("Gather", top_levels, g.const(b, INT64)))
        per_step = g.op("Reciprocal", step)
        # No clip: absmax is the largest visible |logit|, so no level passes top_levels[b].
        quantised = [g.op("Mul", g.op("Round", g.op("Mul", logits, per_step)), step) for logits in visible]
        errors.append(g.op("Sum", *[g.op("ReduceSumSquare", g.op("Sub", x, logits), keepdims=0) for x, logits in zip(quantised, visible)]))
        rows = g.op("Mul", g.op("ReduceL1", g.op("Sub", effective(quantised), exact), axes=[-1], keepdims=0), per_mass)
        distances.append(g.op("Mul", g.op("ReduceSum", rows, keepdims=0), g.const(0.5)))

    def stack(scalars):
        return g.op("Concat", *[g.op("Unsqueeze", v, g.const([0], INT64)) for v in scalars], axis=0)

    g.output(squared, "squared_sum", FLOAT, [])
    g.output(stack(errors), "squared_error", FLOAT, [widths])
    g.output(stack(distances), "distance", FLOAT, [widths])
    return g.model("quantisation_errors_" + ("diff" if diff else "standard"))


def sink_shares(diff: bool) -> onnx.ModelProto:
    """What a block of query rows gives the first key (position 0, the BOS every run starts with),
    per head, summed over the block's rows: the engine adds the blocks' sums and divides them into
    the share of each head's attention that lands on the first token. DIFF (q1/k1 the A1 sub-heads,
    q2/k2 the A2 ones, lambda (H, R) per head and block row): first_a1 and first_a2, the sums of
    A1[i, 0] and A2[i, 0] (each row sums to 1, so the share is the sum / T), first_diff and
    mass_diff, the sums of |D[i, 0]| and of |D[i, j]| over every visible pair, D = A1 - lambda A2
    (the share is their ratio). A standard model (q/k): `first`, its heads' sums of A[i, 0]."""
    g = GraphBuilder()
    first_row = block_inputs(g)
    logit_maps = [block_logits(g, "1"), block_logits(g, "2")] if diff else [block_logits(g)]
    bias = causal_bias(g, logit_maps[0], first_row)
    probs = [g.op("Softmax", g.op("Add", logits, bias), axis=-1) for logits in logit_maps]
    rows_and_keys = g.const([1, 2], INT64)

    def first_key_sum(maps):  # (S, R, K) -> (S,): the sum of column 0
        column = g.op("Slice", maps, g.const([0], INT64), g.const([1], INT64), g.const([2], INT64))
        return g.op("ReduceSum", column, rows_and_keys, keepdims=0)

    if not diff:
        g.output(first_key_sum(probs[0]), "first", FLOAT, ["S"])
        return g.model("sink_shares_standard")
    lam_rows = g.op("Unsqueeze", g.input("lambda", FLOAT, ["H", "R"]), g.const([2], INT64))  # (H, R, 1)
    magnitude = g.op("Abs", g.op("Sub", probs[0], g.op("Mul", lam_rows, probs[1])))
    g.output(first_key_sum(probs[0]), "first_a1", FLOAT, ["S"])
    g.output(first_key_sum(probs[1]), "first_a2", FLOAT, ["S"])
    g.output(first_key_sum(magnitude), "first_diff", FLOAT, ["S"])
    g.output(g.op("ReduceSum", magnitude, rows_and_keys, keepdims=0), "mass_diff", FLOAT, ["S"])
    return g.model("sink_shares_diff")


def build_all(widths: int) -> dict:
    """File name -> graph, as extension/graphs/ holds them."""
    return {
        "attention_maps.onnx": attention_maps(),
        "attention_tile.onnx": attention_tile(),
        "logit_top.onnx": logit_top(),
        "logit_bins.onnx": logit_bins(),
        "quantisation_diff.onnx": quantisation_errors(True, widths),
        "quantisation_standard.onnx": quantisation_errors(False, widths),
        "sink_shares_diff.onnx": sink_shares(True),
        "sink_shares_standard.onnx": sink_shares(False),
    }


def write_all(out_dir: Path, widths: int) -> list:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in build_all(widths).items():
        path = out_dir / name
        path.write_bytes(model.SerializeToString())
        written.append(path)
    return written
