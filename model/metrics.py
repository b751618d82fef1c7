"""The evaluation's measurements other than retrieval, each as the paper defines it: held-out
next-token loss, activation outliers (Table 5) and the attention-logit quantisation what-if
(Figure 8). Results are plain dicts, ready for JSON.
"""

import math
from contextlib import contextmanager
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from model.data import corpus_tokens
from model.model import Attention, Transformer, repeat_kv
from model.tokenizer import ByteLevelBPE

VAL_SETS = ("code", "prose")  # val_code.txt, val_prose.txt
QUANT_BITS = (8, 6, 4)
TOP_RANKS = (1, 2, 3, 10, 100)


# ---------------------------------------------------------------------------------------------
# Quantisation what-if (Figure 8)


def quantise_absmax(x: torch.Tensor, bits: int, per_sequence: bool = False) -> torch.Tensor:
    """Absmax quantisation to signed `bits`-bit integers and back ("fake quantisation"):
    scale = max|x| / (2^(bits-1) - 1), q = clamp(round(x / scale)), return q * scale. Dynamic: the
    scale comes from x itself, one for the whole tensor, or with per_sequence one for each x[i]."""
    levels = 2 ** (bits - 1) - 1
    absmax = x.abs().flatten(1).amax(1).view(-1, *[1] * (x.dim() - 1)) if per_sequence else x.abs().max()
    scale = (absmax / levels).clamp_min(torch.finfo(x.dtype).tiny)  # an all-zero x stays zero
    return (x / scale).round_().clamp_(-levels, levels).mul_(scale)  # in place: these tensors are T x T


@contextmanager
def quantised_attention_logits(bits: Optional[int]):
    """Within the block every attention layer quantises its scaled logits q k^T / sqrt(d), before
    the causal mask and the softmax, with quantise_absmax. One scale per sequence per layer (that
    sequence's whole (sub-heads, T, T) logit tensor, future entries included), so a batch gives the
    same result as its sequences one by one. bits=None leaves the model exactly as it is."""
    if bits is None:
        yield
        return
    previous = Attention.logit_transform
    Attention.logit_transform = lambda logits: quantise_absmax(logits, bits, per_sequence=True)
    try:
        yield
    finally:
        Attention.logit_transform = previous


# ---------------------------------------------------------------------------------------------
# Held-out loss and perplexity


def held_out_ids(data_dir: Path, name: str, tokenizer: ByteLevelBPE) -> np.ndarray:
    """Token ids of val_{name}.txt, using (and filling) the training token cache (model/data.py)."""
    return corpus_tokens(data_dir, f"val_{name}", tokenizer)


@torch.no_grad()
def evaluate_loss(model: Transformer, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int,
                  bits: Optional[int] = None) -> dict:
    """Mean next-token cross-entropy (nats) over every target of the windows, its perplexity
    exp(loss), and the number of tokens it averages over."""
    total = 0.0
    with quantised_attention_logits(bits):
        for x, y in zip(inputs.split(batch_size), targets.split(batch_size)):
            total += model(x, y)[1].item() * y.numel()
    loss = total / targets.numel()
    return {"loss": loss, "perplexity": math.exp(loss), "tokens": int(targets.numel()), "windows": len(inputs)}


def plotted_positions(context: int, per_octave: int = 8) -> List[int]:
    """Where loss_by_position's curve is sampled: `per_octave` log-spaced positions per doubling from
    1 up to the context, and the context itself."""
    steps = int(math.log2(context) * per_octave)
    return sorted({round(2 ** (k / per_octave)) for k in range(steps + 1)} | {context})


def table_positions(context: int, first: int = 64) -> List[int]:
    """Where loss_by_position's table reports: 64, 128, 256, ... up to the context, and the context."""
    positions = [first << k for k in range(context.bit_length()) if first << k < context]
    return positions + [context]


@torch.no_grad()
def loss_by_position(model: Transformer, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int,
                     beyond: int = 1024) -> dict:
    """The paper's long-context measure (Figure 4). With loss(p) the next-token loss (nats) at
    position p averaged over the windows: the cumulative average at p, the mean of loss(1..p),
    sampled at plotted_positions for the plot and at table_positions for the table; beside the
    latter the mean of loss(q) over the octave p/2 < q <= p (loss(p) smoothed: one position's mean
    over a few windows is noisy); and the mean loss of the positions after `beyond` (when the
    context reaches past it)."""
    per_position = torch.zeros(inputs.shape[1], dtype=torch.float64)
    for x, y in zip(inputs.split(batch_size), targets.split(batch_size)):
        logits = model(x)[0].float()
        nll = F.cross_entropy(logits.transpose(1, 2), y, reduction="none")  # (B, T)
        per_position += nll.sum(dim=0).double()
    per_position /= len(inputs)
    cumulative = per_position.cumsum(0) / torch.arange(1, len(per_position) + 1, dtype=torch.float64)
    positions, table = plotted_positions(len(per_position)), table_positions(len(per_position))
    result = {"positions": positions, "cumulative_loss": [float(cumulative[p - 1]) for p in positions],
              "table": {"positions": table, "cumulative_loss": [float(cumulative[p - 1]) for p in table],
                        "octave_loss": [float(per_position[p // 2:p].mean()) for p in table]},
              "windows": len(inputs), "tokens": int(targets.numel())}
    if len(per_position) > beyond:
        result[f"loss_after_{beyond}"] = float(per_position[beyond:].mean())
    return result


def window_loss(curve: dict) -> dict:
    """evaluate_loss's numbers from a loss_by_position curve of the same windows."""
    loss = curve["table"]["cumulative_loss"][-1]
    return {"loss": loss, "perplexity": math.exp(loss), "tokens": curve["tokens"], "windows": curve["windows"]}


# ---------------------------------------------------------------------------------------------
# Activation outliers (Table 5)


class MagnitudeSummary:
    """Streams tensors and summarises their absolute values as Table 5 does: the k-th largest for k
    in TOP_RANKS (exact) and the median (from a histogram with 2048 log-spaced bins per power of two,
    so within 0.02% of the exact median; values outside 2^-24..2^24 count in the end bins)."""

    BINS_PER_OCTAVE = 2048
    LOWEST_OCTAVE, HIGHEST_OCTAVE = -24, 24

    def __init__(self):
        self.top = torch.empty(0)
        self.counts = torch.zeros((self.HIGHEST_OCTAVE - self.LOWEST_OCTAVE) * self.BINS_PER_OCTAVE, dtype=torch.int64)

    def add(self, values: torch.Tensor) -> None:
        values = values.detach().float().abs().flatten()
        keep = min(max(TOP_RANKS), values.numel())
        candidates = torch.cat([self.top, values.topk(keep).values])
        self.top = candidates.topk(min(max(TOP_RANKS), len(candidates))).values
        bins = torch.floor(torch.log2(values) * self.BINS_PER_OCTAVE) - self.LOWEST_OCTAVE * self.BINS_PER_OCTAVE
        self.counts += torch.bincount(bins.clamp(0, len(self.counts) - 1).long(), minlength=len(self.counts))

    def summary(self) -> dict:
        count = int(self.counts.sum())
        middle = int(torch.searchsorted(self.counts.cumsum(0), torch.tensor(count // 2), right=True))
        centre = (middle + 0.5) / self.BINS_PER_OCTAVE + self.LOWEST_OCTAVE
        tops = {f"top{k}": float(self.top[k - 1]) if len(self.top) >= k else None for k in TOP_RANKS}
        return {**tops, "median": 2.0 ** centre, "values": count}


@torch.no_grad()
def activation_outliers(model: Transformer, windows: torch.Tensor) -> dict:
    """Magnitude summaries over held-out windows of
    - attention logits: |q k^T / sqrt(d)| of every softmax (both sub-heads of each DIFF head, every
      baseline head) in every layer, causal entries only (each token against itself and earlier ones);
      q and k are the model's post-RoPE ones from the inspection outputs;
    - hidden states: every channel of each layer's output (after both residual adds), every token."""
    logit_magnitudes, hidden_magnitudes = MagnitudeSummary(), MagnitudeSummary()
    causal = torch.ones(windows.shape[1], windows.shape[1], dtype=torch.bool).tril()
    # One window at a time: an eager inspection holds every layer's whole maps (four windows of
    # 4,096 tokens at once took this past 24 GB and were killed for memory).
    for batch in windows.split(1):
        _, _, inspection = model(batch, inspect=True)
        hidden_magnitudes.add(inspection["hidden_states"])
        q, k = inspection["q"], inspection["k"]  # (B, layers, sub-heads, T, d), (B, layers, kv sub-heads, T, d)
        for layer in range(q.shape[1]):
            keys = repeat_kv(k[:, layer], q.shape[2] // k.shape[2])
            logits = torch.matmul(q[:, layer], keys.transpose(-1, -2)) * q.shape[-1] ** -0.5
            logit_magnitudes.add(logits[..., causal])
    return {"tokens": int(windows.numel()), "attention_logits": logit_magnitudes.summary(),
            "hidden_states": hidden_magnitudes.summary()}
