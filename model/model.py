"""
A Differential Transformer decoder LM (Ye et al., ICLR 2025, "V1") and a standard Transformer
baseline built from the same code, in one file.

Differential attention, one head h of H:
    A1 = softmax(q_{2h} k_{2h}^T / sqrt(d)),  A2 = softmax(q_{2h+1} k_{2h+1}^T / sqrt(d))
    O_h = RMSNorm_2d((A1 - lambda * A2) V_h) * (1 - lambda_init)
with d = n_embd / n_head / 2, V_h of width 2d, and one lambda per layer:
    lambda = exp(lq1 . lk1) - exp(lq2 . lk2) + lambda_init,  lambda_init = 0.8 - 0.6 exp(-0.3 depth)

DIFF V2 (variant "v2", the official multihead_flashdiffv2 module) keeps the 2H query sub-heads of
width d but gives K and V n_kv_head heads of width d (query sub-head s reads KV head s // (2H / n_kv_head)),
runs one softmax per sub-head, and takes lambda per token and head from the attention's input x:
    O_h = A1 V_{2h} - lambda_h(x) A2 V_{2h+1},  lambda(x) = sigmoid(x W_lambda),  W_lambda: E -> H
with V_s the value of sub-head s's KV head, no per-head norm and no lambda_init; the output
projection maps H d -> E.

The baseline has the same projections (so the same parameter count, up to the DIFF model's few
lambda and norm weights) and runs 2H ordinary heads of width d.

Everything here runs on PyTorch 1.13 and 2.x, and exports to ONNX (see model/export.py): forward()
can return the inspection tensors the extension shows.
"""

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Dict, NamedTuple, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from model.blocked_attention import attend, causal_attention, causal_bias, exportable_causal_attention

KINDS = ("diff", "baseline")
VARIANTS = ("v1", "v2")  # differential attention as in the paper, or DIFF V2 (kind "diff" only)
THUMBNAIL_SIZE = json.loads((Path(__file__).resolve().parents[1] / "shared" / "thumbnails.json").read_text())["size"]


@dataclass
class ModelConfig:
    kind: str = "diff"  # "diff" (differential attention) or "baseline" (standard attention)
    vocab_size: int = 8192
    n_layer: int = 6
    n_head: int = 4  # differential heads H; the baseline runs 2H heads of the same head_dim
    n_kv_head: Optional[int] = None  # GQA: differential heads sharing K/V, in V2 KV heads of width d (None = n_head)
    n_embd: int = 256
    max_seq_len: int = 1024
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    tie_embeddings: bool = True
    variant: str = "v1"  # "v2": DIFF V2 attention (kind "diff" only)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"config.kind is {self.kind!r}; expected one of {KINDS}")
        if self.variant not in VARIANTS:
            raise ValueError(f"config.variant is {self.variant!r}; expected one of {VARIANTS}")
        if self.variant == "v2" and self.kind != "diff":
            raise ValueError(f"config.variant 'v2' needs kind 'diff'; kind is {self.kind!r}")
        if self.n_kv_head is None:
            self.n_kv_head = self.n_head
        if self.n_embd % (2 * self.n_head):
            raise ValueError(f"config.n_embd ({self.n_embd}) must be divisible by 2 * n_head ({2 * self.n_head})")
        if self.head_dim % 2:
            raise ValueError(f"head_dim = n_embd / n_head / 2 = {self.head_dim} must be even for rotary embedding")
        if self.n_softmax_heads % self.n_kv_softmax_heads:
            heads, count = ("2 * n_head", 2 * self.n_head) if self.is_v2 else ("n_head", self.n_head)
            raise ValueError(f"config.{heads} ({count}) must be a multiple of n_kv_head ({self.n_kv_head})")

    @property
    def is_v2(self) -> bool:
        return self.variant == "v2"

    @property
    def head_dim(self) -> int:
        """d: the width of one softmax's query/key (half a differential head)."""
        return self.n_embd // self.n_head // 2

    @property
    def n_softmax_heads(self) -> int:
        """Query sub-heads, each with its own softmax map: 2H in both kinds."""
        return 2 * self.n_head

    @property
    def n_kv_softmax_heads(self) -> int:
        """Key sub-heads of width d: V2's KV heads, else two per differential (or paired) KV head."""
        return self.n_kv_head if self.is_v2 else 2 * self.n_kv_head

    @property
    def ffn_hidden(self) -> int:
        """SwiGLU hidden width: 8/3 of the model width, rounded up to a multiple of 8."""
        return 8 * math.ceil(8 * self.n_embd / 3 / 8)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"model config has unknown fields {unknown}; expected only {sorted(known)}")
        return cls(**d)


def lambda_init_for(depth: int) -> float:
    """The paper's depth schedule; depth is the 0-based layer index."""
    return 0.8 - 0.6 * math.exp(-0.3 * depth)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return x32.type_as(x) * self.weight


def rotary_tables(seq_len: int, dim: int, theta: float, device):
    """cos/sin of shape (seq_len, dim/2) for positions 0..seq_len-1."""
    inv_freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(theta) / dim))
    angles = torch.arange(seq_len, device=device, dtype=torch.float32)[:, None] * inv_freq[None, :]
    return angles.cos(), angles.sin()


def apply_rotary(x, cos, sin):
    """Interleaved (GPT-J style) rotary embedding: rotates dims (2i, 2i+1). x: (B, heads, T, d)."""
    pairs = x.float().reshape(x.shape[:-1] + (-1, 2))
    even, odd = pairs[..., 0], pairs[..., 1]
    rotated = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)
    return rotated.flatten(-2).type_as(x)


def repeat_kv(x, n_rep: int):
    """(B, kv_heads, T, w) -> (B, kv_heads * n_rep, T, w), each kv head repeated n_rep times in place."""
    if n_rep == 1:
        return x
    B, heads, T, w = x.shape
    return x[:, :, None].expand(B, heads, n_rep, T, w).reshape(B, heads * n_rep, T, w)


def pooling_matrix(T: int, size: int, device, dtype):
    """(size, T) average pooling of T positions into size bins, position i in bin i * size // T:
    pool @ A @ pool.T is A average-pooled to size x size (0 where no position falls, if T < size)."""
    bins = torch.arange(T, device=device) * size // T
    member = (bins[None, :] == torch.arange(size, device=device)[:, None]).to(dtype)
    return member / member.sum(-1, keepdim=True).clamp(min=1)


class Intervention(NamedTuple):
    """What a run changes in one layer, per head (of the heads a user sees): DIFF's lambda becomes
    lambda * lambda_scale + lambda_shift (0 and 0 remove A2: the head keeps A1 and cancels nothing;
    0 and v set it to v), and head_mask 0 removes the head's output. Ones, zeros and ones change
    nothing."""

    lambda_scale: torch.Tensor
    lambda_shift: torch.Tensor
    head_mask: torch.Tensor


class Attention(nn.Module):
    """Differential attention (kind "diff", V1 or V2) or standard multi-head attention (kind "baseline")."""

    logit_transform = None  # optional fn on the scaled logits before masking (model/metrics.py's quantisation what-if)
    # Eager inspections form the whole T x T maps (PyTorch's own measurements). The retrieval scoring
    # turns this off and recomputes the few rows it reads from q and k: at 4,096 tokens the maps of
    # one document are 3 GB and more than half its run.
    whole_maps = True

    def __init__(self, cfg: ModelConfig, depth: int):
        super().__init__()
        self.cfg = cfg
        self.diff = cfg.kind == "diff"
        self.v2 = cfg.is_v2
        d, E = cfg.head_dim, cfg.n_embd
        self.n_rep = cfg.n_softmax_heads // cfg.n_kv_softmax_heads  # query sub-heads per key sub-head
        kv_width = cfg.n_kv_softmax_heads * d
        self.q_proj = nn.Linear(E, E, bias=False)
        self.k_proj = nn.Linear(E, kv_width, bias=False)
        self.v_proj = nn.Linear(E, kv_width, bias=False)
        self.out_proj = nn.Linear(cfg.n_head * d if self.v2 else E, E, bias=False)
        if self.v2:
            self.lambda_proj = nn.Linear(E, cfg.n_head, bias=False)
        elif self.diff:
            self.lambda_init = lambda_init_for(depth)
            self.lambda_q1 = nn.Parameter(torch.zeros(d).normal_(0, 0.1))
            self.lambda_k1 = nn.Parameter(torch.zeros(d).normal_(0, 0.1))
            self.lambda_q2 = nn.Parameter(torch.zeros(d).normal_(0, 0.1))
            self.lambda_k2 = nn.Parameter(torch.zeros(d).normal_(0, 0.1))
            self.subln = RMSNorm(2 * d, eps=cfg.norm_eps)

    def lambda_full(self):
        """The layer's lambda: one scalar shared by all heads (V1 only)."""
        lambda_1 = torch.exp(torch.sum(self.lambda_q1 * self.lambda_k1).float())
        lambda_2 = torch.exp(torch.sum(self.lambda_q2 * self.lambda_k2).float())
        return lambda_1 - lambda_2 + self.lambda_init

    def forward(self, x, cos, sin, inspect: bool = False, intervention: Optional["Intervention"] = None):
        B, T, _ = x.shape
        d, S, S_kv = self.cfg.head_dim, self.cfg.n_softmax_heads, self.cfg.n_kv_softmax_heads
        q = self.q_proj(x).view(B, T, S, d).transpose(1, 2)  # (B, S, T, d)
        k = self.k_proj(x).view(B, T, S_kv, d).transpose(1, 2)  # (B, S_kv, T, d)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)

        if self.diff and not self.v2:
            # V is not split: H heads of width 2d. Sub-heads (2h, 2h+1) form head h.
            values = repeat_kv(self.v_proj(x).view(B, T, S_kv // 2, 2 * d).transpose(1, 2), self.n_rep)
        else:  # every sub-head reads the value of its key's head, of width d
            values = repeat_kv(self.v_proj(x).view(B, T, S_kv, d).transpose(1, 2), self.n_rep)
        width = values.shape[-1]
        pairs = self.diff and not self.v2
        if inspect:
            # The thumbnails ride on the values' matmul: with the pooling matrix's columns appended to
            # V, the same pass over the maps also pools their key axis (a pass of its own cost 3.5 ms
            # per layer at 1,024 tokens).
            pool = pooling_matrix(T, THUMBNAIL_SIZE, x.device, values.dtype)
            values = torch.cat([values, pool.t().expand(values.shape[:-1] + (THUMBNAIL_SIZE,))], dim=-1)
        # The whole maps are formed only for PyTorch's own measurements (an inspection in eager mode,
        # or a logit transform); runs and exported graphs go over blocks of query rows.
        if Attention.logit_transform is None and (not inspect or not Attention.whole_maps or torch.onnx.is_in_onnx_export()):
            attention = exportable_causal_attention if torch.onnx.is_in_onnx_export() else causal_attention
            attended = attention(q, repeat_kv(k, self.n_rep), values, d ** -0.5, pairs)
            probs = logits = None
        else:
            logits = torch.matmul(q, repeat_kv(k, self.n_rep).transpose(-1, -2)) * d ** -0.5
            if Attention.logit_transform is not None:
                logits = Attention.logit_transform(logits)
            probs = F.softmax(logits.float() + causal_bias(T, T, 0, x.device), dim=-1).type_as(q)
            attended = attend(probs, values, pairs)
        if self.diff:
            if probs is not None:
                a1, a2 = probs.view(B, S // 2, 2, T, T).unbind(2)
            if self.v2:
                lam = torch.sigmoid(self.lambda_proj(x))  # (B, T, H): per token and head
                if intervention is not None:  # a what-if, per head
                    lam = lam * intervention.lambda_scale + intervention.lambda_shift
                # One attention over all sub-heads, then A1 V - lambda A2 V per pair.
                attended = attended.view(B, S // 2, 2, T, -1)  # (B, H, 2, T, d [+ P])
                heads = attended[:, :, 0, :, :width] - lam.transpose(1, 2)[..., None] * attended[:, :, 1, :, :width]
            else:
                lam = self.lambda_full()
                if intervention is not None:  # lambda per head, scaled and shifted (a what-if)
                    lam = (lam * intervention.lambda_scale + intervention.lambda_shift).view(1, -1, 1, 1)
                # (A1 - lambda A2) V as A1 V - lambda A2 V: both maps in one broadcast matmul (attend),
                # then the difference of T x 2d results, instead of three passes over the T x T maps.
                heads = attended[:, :, 0, :, :width] - lam * attended[:, :, 1, :, :width]
                heads = self.subln(heads) * (1 - self.lambda_init)
        else:
            a1, a2, lam = probs, None, None
            heads = attended[..., :width]
        if intervention is not None:  # an ablated head contributes nothing
            heads = heads * intervention.head_mask.view(1, -1, 1, 1)
        out = self.out_proj(heads.transpose(1, 2).reshape(B, T, -1))
        if not inspect:
            return out, None
        thumbnails = torch.matmul(pool, attended[..., width:]).reshape(B, S, THUMBNAIL_SIZE, THUMBNAIL_SIZE)
        extras = {"q": q, "k": k, "attn_thumbnails": thumbnails}
        if probs is not None:
            extras.update(attn_a1=a1, attn_logit_absmax=logits.abs().tril().amax(dim=-1))
            if self.diff:
                extras["attn_a2"] = a2
        if self.diff:
            if self.v2:
                # lambda * A2 pooled exactly: each query row weighted by its own lambda before the rows
                # are pooled (pooling A2 first would need one lambda per pooled row).
                weighted_pool = pool * lam.transpose(1, 2)[:, :, None, :]  # (B, H, P, T)
                extras["lambda_a2_thumbnails"] = torch.matmul(weighted_pool, attended[:, :, 1, :, width:])  # (B, H, P, P)
            else:  # one value per layer (or per head, intervened), the same at every position
                lam = (lam.reshape(-1) * torch.ones(S // 2, device=x.device)).reshape(1, 1, S // 2).expand(B, T, S // 2)
            extras["lambda"] = lam
        return out, extras


class SwiGLU(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.gate = nn.Linear(cfg.n_embd, cfg.ffn_hidden, bias=False)
        self.up = nn.Linear(cfg.n_embd, cfg.ffn_hidden, bias=False)
        self.down = nn.Linear(cfg.ffn_hidden, cfg.n_embd, bias=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig, depth: int):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.n_embd, cfg.norm_eps)
        self.attn = Attention(cfg, depth)
        self.ffn_norm = RMSNorm(cfg.n_embd, cfg.norm_eps)
        self.ffn = SwiGLU(cfg)

    def forward(self, x, cos, sin, inspect: bool = False, intervention: Optional[Intervention] = None):
        attn_out, extras = self.attn(self.attn_norm(x), cos, sin, inspect, intervention)
        x = x + attn_out
        x = x + self.ffn(self.ffn_norm(x))
        return x, extras


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.layers = nn.ModuleList(Block(cfg, depth) for depth in range(cfg.n_layer))
        self.norm = RMSNorm(cfg.n_embd, cfg.norm_eps)
        self.lm_head = None if cfg.tie_embeddings else nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.recompute_layers = False  # training: keep only each layer's input, recompute it for the backward pass
        self.apply(self._init_weights)
        # GPT-2 style: scale the residual output projections by depth.
        for name, p in self.named_parameters():
            if name.endswith(("out_proj.weight", "down.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def lambdas(self):
        """Per-layer lambda values (DIFF V1 only: V2's lambda depends on the token)."""
        if self.cfg.kind != "diff" or self.cfg.is_v2:
            return []
        return [float(layer.attn.lambda_full()) for layer in self.layers]

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def head_weight(self):
        """The LM head's weight (V, E): the embedding when tied."""
        return self.tok_emb.weight if self.lm_head is None else self.lm_head.weight

    def forward(self, idx, targets=None, inspect: bool = False, interventions: Optional[Intervention] = None,
                head: bool = True):
        """idx: (B, T) token ids. Returns (logits, loss, inspection). The loss is the mean
        next-token cross-entropy when targets are given; inspection is a dict of per-layer
        stacked tensors (batch first, then layer) when inspect is True, else None. interventions
        holds (n_layer, heads) tensors, row l for layer l. head=False returns the final normed hidden
        states (B, T, E) in place of the logits (the inspection graph applies the head in blocks)."""
        B, T = idx.shape
        cos, sin = rotary_tables(T, self.cfg.head_dim, self.cfg.rope_theta, idx.device)
        x = self.tok_emb(idx)
        per_layer = []
        hidden = []
        for depth, layer in enumerate(self.layers):
            intervention = None if interventions is None else Intervention(*(t[depth] for t in interventions))
            if self.recompute_layers and self.training and not inspect:
                x, extras = checkpoint(layer, x, cos, sin, use_reentrant=False)
            else:
                x, extras = layer(x, cos, sin, inspect, intervention)
            if inspect:
                per_layer.append(extras)
                hidden.append(x)
        h = self.norm(x)
        logits = F.linear(h, self.head_weight()) if head else h
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)
        inspection = None
        if inspect:
            inspection: Dict[str, torch.Tensor] = {"hidden_states": torch.stack(hidden, dim=1)}
            for name in per_layer[0]:
                inspection[name] = torch.stack([extras[name] for extras in per_layer], dim=1)
        return logits, loss, inspection
