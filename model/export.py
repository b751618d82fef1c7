"""
ONNX export of the inspection graph: one graph that returns the next-token predictions and every
tensor the extension shows. The output names and shapes are the contract in docs/model-package.md.
"""

import inspect as pyinspect
from pathlib import Path
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from model.blocked_attention import block_rows
from model.model import Transformer

OPSET = 17
# What every graph of a package is exported with. No folding: each weight stays one initializer
# named after its parameter (tied embeddings stored once), so a package can be read back into
# PyTorch; ONNX Runtime folds constants itself when it loads the graph. PyTorch 2.x: keep the
# TorchScript exporter, whose names we rely on.
EXPORT_OPTIONS = {"opset_version": OPSET, "do_constant_folding": False,
                  **({"dynamo": False} if "dynamo" in pyinspect.signature(torch.onnx.export).parameters else {})}
# (name, dynamic axes) in graph order. "batch" and "seq" are symbolic dimensions. No T x T output:
# the extension computes a map when it is shown, from q and k (docs/model-package.md).
COMMON_OUTPUTS = [
    ("top_ids", {0: "batch", 1: "seq"}),  # int64 (B, T, K)
    ("top_probs", {0: "batch", 1: "seq"}),  # (B, T, K)
    ("token_logprob", {0: "batch", 1: "seq"}),  # (B, T)
    ("last_logits", {0: "batch"}),  # (B, V)
    ("hidden_states", {0: "batch", 2: "seq"}),  # (B, L, T, E)
    ("q", {0: "batch", 3: "seq"}),  # (B, L, S, T, d)
    ("k", {0: "batch", 3: "seq"}),  # (B, L, S_kv, T, d)
    ("attn_thumbnails", {0: "batch"}),  # (B, L, S, P, P)
]
DIFF_OUTPUTS = [
    ("lambda", {0: "batch", 2: "seq"}),  # (B, L, T, H)
]
# V2's lambda varies per query row, so lambda * A2 cannot be pooled from A2's thumbnail afterwards.
V2_OUTPUTS = [
    ("lambda_a2_thumbnails", {0: "batch"}),  # (B, L, H, P, P)
]
# Outputs a reader uses when present and a package may omit; older packages also have the T x T
# maps attn_a1 / attn_a2 and attn_logit_absmax, which readers ignore.
OPTIONAL_OUTPUTS = ("last_logits", "attn_thumbnails", "lambda_a2_thumbnails")


def output_spec(kind: str, variant: str = "v1"):
    return COMMON_OUTPUTS + (DIFF_OUTPUTS if kind == "diff" else []) + (V2_OUTPUTS if variant == "v2" else [])


def intervention_inputs(model: Transformer) -> dict:
    """The graph's intervention inputs (name -> the value that changes nothing), (n_layer, heads)
    each. They are required inputs of the graph: ONNX Runtime's node binding does not let a run
    override an initializer, so the reader feeds these values for a plain inspection."""
    cfg = model.cfg
    heads = cfg.n_head if cfg.kind == "diff" else cfg.n_softmax_heads
    ones, zeros = torch.ones(cfg.n_layer, heads), torch.zeros(cfg.n_layer, heads)
    if cfg.kind == "diff":
        return {"lambda_scale": ones, "lambda_shift": zeros, "head_mask": ones}
    return {"head_mask": ones}


class InspectionGraph(nn.Module):
    """Wraps a Transformer so that forward returns the contract's outputs in order."""

    def __init__(self, model: Transformer, top_k: int):
        super().__init__()
        self.model = model
        self.top_k = top_k
        self.names = [name for name, _ in output_spec(model.cfg.kind, model.cfg.variant)]

    def forward(self, input_ids, *interventions):
        """interventions: intervention_inputs' tensors, in order."""
        if len(interventions) == 1:  # a standard model: only the head mask
            ones = torch.ones_like(interventions[0])
            interventions = (ones, ones - 1, interventions[0])
        hidden, _, inspection = self.model(input_ids, inspect=True, interventions=interventions or None, head=False)
        weight = self.model.head_weight()
        # Blocks of rows: a whole (T, V) logits tensor would be 1 GiB at 32K tokens and 8K words.
        predict = exportable_blocked_predictions if torch.onnx.is_in_onnx_export() else blocked_predictions
        top_ids, top_probs, seen = predict(hidden, weight, following_tokens(input_ids), self.top_k)
        values = {**assemble_predictions(top_ids, top_probs, seen, F.linear(hidden[:, -1], weight).float()), **inspection}
        return tuple(values[name] for name in self.names)


def following_tokens(input_ids):
    """x_{t+1} for every position t of input_ids (B, T), wrapped at the end."""
    return torch.cat([input_ids[:, 1:], input_ids[:, :1]], dim=1)


def row_predictions(logits, following, top_k: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For rows of logits (B, R, V): the top_k ids and probabilities (B, R, K), and the log-probability
    of each row's following token (B, R)."""
    logits = logits.float()
    # log p = logits - logsumexp, taken only where needed: a log-softmax would hold another R x V
    # tensor. logsumexp spelled out: ONNX Runtime's ReduceLogSumExp took 17 ms at 1,024 x 8,192,
    # these four passes 6 ms.
    peak = logits.amax(dim=-1, keepdim=True)
    normaliser = (logits - peak).exp().sum(dim=-1).log() + peak.squeeze(-1)  # (B, R)
    top_logits, top_ids = logits.topk(top_k, dim=-1)
    seen = logits.gather(-1, following.unsqueeze(-1)).squeeze(-1) - normaliser
    return top_ids, (top_logits - normaliser.unsqueeze(-1)).exp(), seen


def blocked_predictions(hidden, weight, following, top_k: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """row_predictions of the logits hidden (B, T, E) @ weight (V, E)^T, over blocks of rows (as many as
    block_rows gives for V), so that no (T, V) tensor is held."""
    T = hidden.size(1)
    rows = block_rows(1, weight.size(0))
    ids: List[torch.Tensor] = []
    probs: List[torch.Tensor] = []
    seen: List[torch.Tensor] = []
    for start in range(0, T, rows):
        end = min(start + rows, T)
        block = row_predictions(F.linear(hidden[:, start:end], weight), following[:, start:end], top_k)
        ids.append(block[0])
        probs.append(block[1])
        seen.append(block[2])
    return torch.cat(ids, dim=1), torch.cat(probs, dim=1), torch.cat(seen, dim=1)


# Scripted for the export, so that the loop over blocks becomes an ONNX Loop (as model.blocked_attention.causal_attention).
exportable_blocked_predictions = torch.jit.script(blocked_predictions)


def assemble_predictions(top_ids, top_probs, seen, last_logits) -> dict:
    """The contract's prediction outputs: token_logprob[t] = log p(x_t | x_<t) (position 0 has no
    prediction and holds 0) from each position's log-probability of its following token."""
    token_logprob = torch.cat([torch.zeros_like(seen[:, :1]), seen[:, :-1]], dim=1)
    return {"top_ids": top_ids, "top_probs": top_probs, "token_logprob": token_logprob, "last_logits": last_logits}


def prediction_outputs(logits, input_ids, top_k: int) -> dict:
    """The contract's outputs that follow from the logits (B, T, V) of input_ids (B, T): top_ids,
    top_probs, token_logprob and last_logits. The references of imported formats compute them here."""
    top_ids, top_probs, seen = row_predictions(logits, following_tokens(input_ids), top_k)
    return assemble_predictions(top_ids, top_probs, seen, logits[:, -1].float())


def export_onnx(model: Transformer, path: Path, top_k: int) -> list:
    """Writes the inspection graph to path; returns the output names in graph order."""
    if not 1 <= top_k <= model.cfg.vocab_size:
        raise ValueError(f"top_k is {top_k}; expected 1..vocab_size ({model.cfg.vocab_size})")
    graph = InspectionGraph(model.eval(), top_k)
    write_graph(graph, model.cfg.max_seq_len, path, output_spec(model.cfg.kind, model.cfg.variant), intervention_inputs(model))
    return graph.names


class BareForward(nn.Module):
    """The model's logits alone: the forward pass the inspection's cost is measured against."""

    def __init__(self, model: Transformer):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        return self.model(input_ids)[0]


def export_bare(model: Transformer, path: Path) -> None:
    write_graph(BareForward(model.eval()), model.cfg.max_seq_len, path, [("logits", {0: "batch", 1: "seq"})])


def write_graph(module: nn.Module, max_seq_len: int, path: Path, spec: list, extra_inputs: Optional[dict] = None) -> None:
    """Exports module(input_ids [batch, seq], *extra_inputs) with the named outputs and their
    dynamic axes; extra_inputs maps each further input's name to an example value."""
    extra_inputs = extra_inputs or {}
    example = torch.zeros(1, min(8, max_seq_len), dtype=torch.long)
    with torch.no_grad():
        torch.onnx.export(
            module,
            (example, *extra_inputs.values()),
            str(path),
            input_names=["input_ids", *extra_inputs],
            output_names=[name for name, _ in spec],
            dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, **dict(spec)},
            **EXPORT_OPTIONS,
        )


class LogitLens(nn.Module):
    """The logit lens: the final norm and the LM head applied to hidden states [N, E] (a layer's
    output at a token), giving the top_k next-token predictions each would make."""

    def __init__(self, model: Transformer, top_k: int):
        super().__init__()
        self.model = model
        self.top_k = top_k

    def forward(self, hidden):
        logits = F.linear(self.model.norm(hidden), self.model.head_weight()).float()
        top_logp, top_ids = F.log_softmax(logits, dim=-1).topk(self.top_k, dim=-1)
        return top_ids, top_logp.exp()


def export_lens(model: Transformer, path: Path, top_k: int) -> None:
    """Writes lens.onnx: hidden [N, E] -> lens_top_ids int64 [N, K], lens_top_probs [N, K]."""
    with torch.no_grad():
        torch.onnx.export(LogitLens(model.eval(), top_k), (torch.zeros(2, model.cfg.n_embd),), str(path),
                          input_names=["hidden"], output_names=["lens_top_ids", "lens_top_probs"],
                          dynamic_axes={"hidden": {0: "n"}, "lens_top_ids": {0: "n"}, "lens_top_probs": {0: "n"}},
                          **EXPORT_OPTIONS)


def reference_outputs(model: Transformer, ids: list, top_k: int) -> dict:
    """The contract's outputs for one sequence, computed by PyTorch (batch 1), as numpy arrays."""
    graph = InspectionGraph(model.eval(), top_k)
    with torch.no_grad():
        values = graph(torch.tensor([ids], dtype=torch.long))
    return {name: value.numpy() for name, value in zip(graph.names, values)}
