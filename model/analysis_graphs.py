"""
The small ONNX graphs the extension runs on one layer's post-RoPE queries and keys (the inspection
graph's q and k outputs) to compute what a view shows, when it is shown: attention maps, the
attention-logit statistics of the Outliers view and the quantisation what-if. They depend on no
model's weights, so one set serves every package; `python -m model analysis-graphs` writes them to
extension/graphs/ (committed, and checked to be up to date by model/tests/test_analysis_graphs.py).

Every graph takes q (S, T, d) and k (S, T, d) (the engine repeats grouped keys to one per query
sub-head) and the attention scale, and forms the logits q k^T * scale as the model does.
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


def logits_and_bias(g: GraphBuilder, suffix: str = ""):
    """q k^T * scale (S, T, T) from inputs q{suffix} and k{suffix}, and the causal mask as an
    additive bias (T, T): 0 where key j <= query i, -inf above the diagonal. Adding it (one pass)
    is cheaper than a Where, and it also takes hidden pairs out of maxima and histograms."""
    q = g.input("q" + suffix, FLOAT, ["S", "T", "d"])
    k = g.input("k" + suffix, FLOAT, ["S", "T", "d"])
    logits = g.op("Mul", g.op("MatMul", q, g.op("Transpose", k, perm=[0, 2, 1])), "scale")
    length = g.op("Slice", g.op("Shape", q), g.const([1], INT64), g.const([2], INT64))
    minus_inf = g.op("ConstantOfShape", g.op("Concat", length, length, axis=0),
                     value=helper.make_tensor("minus_inf", FLOAT, [1], [float("-inf")]))
    return logits, g.op("Trilu", minus_inf, g.const(1, INT64), upper=1)


def attention_maps() -> onnx.ModelProto:
    """probs (S, T, T): the causal softmax maps, one per sub-head."""
    g = GraphBuilder()
    g.input("scale", FLOAT, [])
    logits, bias = logits_and_bias(g)
    g.output(g.op("Softmax", g.op("Add", logits, bias), axis=-1), "probs", FLOAT, ["S", "T", "T"])
    return g.model("attention_maps")


def visible_magnitudes(g: GraphBuilder):
    """|logits| of the sub-heads, -inf for the hidden pairs above the diagonal."""
    g.input("scale", FLOAT, [])
    logits, bias = logits_and_bias(g)
    return g.op("Add", g.op("Abs", logits), bias)


def logit_top() -> onnx.ModelProto:
    """The `top` largest visible |logits| of the sub-heads, descending, with their flat (S, T, T)
    indices. The engine runs it on a few sub-heads at a time (each run holds a few S x T x T
    tensors) and merges: the layer's largest value sets the scale of logit_bins."""
    g = GraphBuilder()
    magnitude = visible_magnitudes(g)
    top = g.input("top", INT64, [1])
    top_values, top_indices = g.ops("TopK", 2, g.op("Reshape", magnitude, g.const([-1], INT64)), top)
    g.output(top_values, "top_values", FLOAT, ["top"])
    g.output(top_indices, "top_indices", INT64, ["top"])
    return g.model("logit_top")


def logit_bins() -> onnx.ModelProto:
    """For every pair of the sub-heads its bin among `bins` (at most 65,534) equal bins over
    [0, absmax], as uint16 bin + 1, with 0 for the hidden pairs. The engine counts them: a fine
    histogram, whose sums are the view's coarse bins and which places the median to within
    absmax / bins. (ONNX Runtime's only counting operator, ScatterElements, runs 8x slower.)"""
    g = GraphBuilder()
    magnitude = visible_magnitudes(g)
    absmax = g.input("absmax", FLOAT, [])
    bins = g.input("bins", FLOAT, [])
    per_unit = g.op("Div", bins, g.op("Max", absmax, g.const(1e-30)))
    # Clip sends the hidden pairs to -1 and the maximum into the last bin; the cast truncates.
    shifted = g.op("Add", g.op("Clip", g.op("Mul", magnitude, per_unit), g.const(-1.0), g.op("Sub", bins, g.const(1.0))), g.const(1.0))
    g.output(g.op("Cast", shifted, to=TensorProto.UINT16), "bin_plus_one", TensorProto.UINT16, ["S", "T", "T"])
    return g.model("logit_bins")


def quantisation_errors(diff: bool, widths: int) -> onnx.ModelProto:
    """The quantisation what-if for `widths` bit widths at once (the table's columns): the logits
    quantised absmax to top_levels[b] levels each side, step = absmax / top_levels[b]. Outputs the
    sums over visible pairs of squared logits and of squared quantisation errors, and the sum over
    (head, query) of 0.5 * sum_j |row'_j - row_j| / sum_j |row_j| between the effective attention
    rows from quantised and exact logits: A1 - lambda A2 for DIFF (inputs q1/k1 hold the A1
    sub-heads, q2/k2 the A2 ones, lambda is per head and query), A for a standard model (q/k).
    Dividing by the exact row's absolute mass (1 for a softmax row) keeps DIFF's comparable with a
    softmax and defined for every lambda, where its rows sum to 1 - lambda, which may be 0."""
    g = GraphBuilder()
    g.input("scale", FLOAT, [])
    absmax = g.input("absmax", FLOAT, [])
    top_levels = g.input("top_levels", FLOAT, [widths])
    maps = [logits_and_bias(g, "1"), logits_and_bias(g, "2")] if diff else [logits_and_bias(g)]
    bias = maps[0][1]
    if diff:
        lam_rows = g.op("Unsqueeze", g.input("lambda", FLOAT, ["H", "T"]), g.const([2], INT64))  # (H, T, 1)

    def effective(logit_maps):
        probs = [g.op("Softmax", g.op("Add", logits, bias), axis=-1) for logits in logit_maps]
        return g.op("Sub", probs[0], g.op("Mul", lam_rows, probs[1])) if diff else probs[0]

    def visible_sum_of_squares(values):
        return g.op("ReduceSumSquare", g.op("Trilu", values, upper=0), keepdims=0)

    exact = effective([logits for logits, _ in maps])
    last_axis = g.const([-1], INT64)
    per_mass = g.op("Reciprocal", g.op("Max", g.op("ReduceSum", g.op("Abs", exact), last_axis, keepdims=0), g.const(1e-30)))  # (H, T)
    squared = g.op("Sum", *[visible_sum_of_squares(logits) for logits, _ in maps])
    errors, distances = [], []
    for b in range(widths):
        top = g.op("Gather", top_levels, g.const(b, INT64))
        step = g.op("Div", absmax, top)
        per_step = g.op("Reciprocal", step)
        quantised = [g.op("Mul", g.op("Clip", g.op("Round", g.op("Mul", logits, per_step)), g.op("Neg", top), top), step) for logits, _ in maps]
        errors.append(g.op("Sum", *[visible_sum_of_squares(g.op("Sub", x, logits)) for x, (logits, _) in zip(quantised, maps)]))
        rows = g.op("Mul", g.op("ReduceSum", g.op("Abs", g.op("Sub", effective(quantised), exact)), last_axis, keepdims=0), per_mass)
        distances.append(g.op("Mul", g.op("ReduceSum", rows, keepdims=0), g.const(0.5)))

    def stack(scalars):
        return g.op("Concat", *[g.op("Unsqueeze", v, g.const([0], INT64)) for v in scalars], axis=0)

    g.output(squared, "squared_sum", FLOAT, [])
    g.output(stack(errors), "squared_error", FLOAT, [widths])
    g.output(stack(distances), "distance", FLOAT, [widths])
    return g.model("quantisation_errors_" + ("diff" if diff else "standard"))


def build_all(widths: int) -> dict:
    """File name -> graph, as extension/graphs/ holds them."""
    return {
        "attention_maps.onnx": attention_maps(),
        "logit_top.onnx": logit_top(),
        "logit_bins.onnx": logit_bins(),
        "quantisation_diff.onnx": quantisation_errors(True, widths),
        "quantisation_standard.onnx": quantisation_errors(False, widths),
    }


def write_all(out_dir: Path, widths: int) -> list:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in build_all(widths).items():
        path = out_dir / name
        path.write_bytes(model.SerializeToString())
        written.append(path)
    return written
