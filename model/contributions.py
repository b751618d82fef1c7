"""
contributions.onnx: the direct contribution of every head to one target logit at one query
position, split over the source tokens and, for DIFF, into the A1·V and -lambda·A2·V parts.

The final norm's 1/rms at the query is held at its value (the standard linearisation), so the logit
is linear in the final residual: logit = u . x_L(q) with u = (sum_i w_i W_U[t_i]) * g_final / rms(x_L(q)).
The residual is the embedding plus every layer's attention and MLP outputs, so u . (each output) is
that component's part. A head's output at q is a sum over source tokens j of A[q, j] v_j, through the
output projection (and for DIFF V1 the head norm, whose 1/rms at q is held too): source j's part is
A[q, j] (v_j . z_h) with z_h = the head's slice of W_O^T u, scaled as the head norm scaled it.

The graph gets what the engine already has (each layer's output, the ids, the query's attention
rows and lambda) and returns per layer the change of u . x over the layer, from which the engine
takes the MLP's part as what the heads leave. Memory is linear in T: one layer's values at a time.
"""

from pathlib import Path

import torch
import torch.nn as nn

from model.export import EXPORT_OPTIONS
from model.model import Transformer, repeat_kv


class ContributionsGraph(nn.Module):
    """hidden [L, T, E] (each layer's output), input_ids [T], query [1], rows [L, H, R, T] (each
    head's attention row at the query: A1 and A2 for DIFF, R = 2; its one map for a baseline, R = 1),
    lambda [L, H] (DIFF: as each head ran at the query), head_mask [L, H], targets [N] and
    target_weights [N] (the logit explained is sum_i w_i logit[t_i]), direction [E] (added to the
    readout u: with the weights 0, the parts along any residual-stream direction) ->
    source_a1, source_a2 (DIFF only) [L, H, T], layer_delta [L], embed [1], logit [1], final_scale [1],
    readout [E] (u)."""

    def __init__(self, model: Transformer):
        super().__init__()
        self.model = model
        self.diff = model.cfg.kind == "diff"

    def forward(self, hidden, input_ids, query, rows, head_mask, targets, target_weights, direction, lam=None):
        model = self.model
        x0 = model.tok_emb(input_ids)  # (T, E)
        final = hidden[-1].index_select(0, query)  # (1, E)
        final_scale = torch.rsqrt(final.pow(2).mean(-1) + model.norm.eps)  # (1,)
        target_direction = (target_weights[:, None] * model.head_weight().index_select(0, targets)).sum(0)
        u = target_direction * model.norm.weight * final_scale + direction  # (E,)
        logit = (final * u).sum(-1)
        # Each layer's input and output at the query; the whole inputs are read one layer at a time
        # (a copy of all of them would double the hidden states' memory at long contexts).
        outputs_at_query = hidden.index_select(1, query)[:, 0]  # (L, E)
        inputs_at_query = torch.cat([x0.index_select(0, query), outputs_at_query[:-1]], dim=0)
        layer_delta = ((outputs_at_query - inputs_at_query) * u).sum(-1)
        embed = (x0.index_select(0, query) * u).sum(-1)
        parts_a1, parts_a2 = [], []
        for depth, layer in enumerate(model.layers):
            layer_input = x0 if depth == 0 else hidden[depth - 1]
            a1, a2 = self.head_parts(layer.attn, layer.attn_norm(layer_input), rows[depth], u,
                                     head_mask[depth], None if lam is None else lam[depth])
            parts_a1.append(a1)
            parts_a2.append(a2)
        outputs = [torch.stack(parts_a1)]
        if self.diff:
            outputs.append(torch.stack(parts_a2))
        return (*outputs, layer_delta, embed, logit, final_scale, u)

    def head_parts(self, attn, normed, rows, u, mask, lam):
        """One layer's parts [H, T] per head and source token (A1's, and DIFF's -lambda A2's)."""
        cfg = self.model.cfg
        T, d, S, S_kv = normed.size(0), cfg.head_dim, cfg.n_softmax_heads, cfg.n_kv_softmax_heads
        back = attn.out_proj.weight.t().matmul(u)  # (heads * width,): u seen from the heads' outputs
        if self.diff and not cfg.is_v2:
            values = repeat_kv(attn.v_proj(normed).view(1, T, S_kv // 2, 2 * d).transpose(1, 2), attn.n_rep)[0]  # (H, T, 2d)
            first = second = values
        else:
            values = repeat_kv(attn.v_proj(normed).view(1, T, S_kv, d).transpose(1, 2), attn.n_rep)[0]  # (S, T, d)
            first, second = (values[0::2], values[1::2]) if self.diff else (values, None)
        z = back.view(first.size(0), -1) * mask[:, None]  # (H, width)
        if self.diff and not cfg.is_v2:
            # The head norm's 1/rms at the query, held: it is what the head's output was divided by.
            mixed = rows[:, 0, None, :].matmul(values)[:, 0] - lam[:, None] * rows[:, 1, None, :].matmul(values)[:, 0]
            held = torch.rsqrt(mixed.pow(2).mean(-1, keepdim=True) + attn.subln.eps)
            z = z * attn.subln.weight * held * (1 - attn.lambda_init)
        a1 = rows[:, 0] * first.matmul(z[:, :, None])[..., 0]
        if not self.diff:
            return a1, None
        return a1, -lam[:, None] * rows[:, 1] * second.matmul(z[:, :, None])[..., 0]


def export_contributions(model: Transformer, path: Path) -> None:
    """Writes contributions.onnx (ContributionsGraph; docs/model-package.md)."""
    cfg = model.cfg
    diff = cfg.kind == "diff"
    heads = cfg.n_head if diff else cfg.n_softmax_heads
    T = min(8, cfg.max_seq_len)
    example = {
        "hidden": torch.zeros(cfg.n_layer, T, cfg.n_embd),
        "input_ids": torch.zeros(T, dtype=torch.long),
        "query": torch.zeros(1, dtype=torch.long),
        "rows": torch.zeros(cfg.n_layer, heads, 2 if diff else 1, T),
        "head_mask": torch.ones(cfg.n_layer, heads),
        "targets": torch.zeros(1, dtype=torch.long),
        "target_weights": torch.ones(1),
        "direction": torch.zeros(cfg.n_embd),
        **({"lambda": torch.zeros(cfg.n_layer, heads)} if diff else {}),
    }
    outputs = ["source_a1", *(["source_a2"] if diff else []), "layer_delta", "embed", "logit", "final_scale", "readout"]
    dynamic = {"hidden": {1: "seq"}, "input_ids": {0: "seq"}, "rows": {3: "seq"}, "targets": {0: "n"},
               "target_weights": {0: "n"}, "source_a1": {2: "seq"}, "source_a2": {2: "seq"}}
    with torch.no_grad():
        torch.onnx.export(ContributionsGraph(model.eval()), tuple(example.values()), str(path),
                          input_names=list(example), output_names=outputs,
                          dynamic_axes={name: axes for name, axes in dynamic.items() if name in example or name in outputs},
                          **EXPORT_OPTIONS)
