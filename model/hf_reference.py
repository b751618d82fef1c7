"""
Independent float32 PyTorch references for the Hugging Face formats that Import Model… reads
(docs/import.md): `LlamaReference` (model_type "llama", and "mistral" within its sliding window) and
`DiffLlamaReference` ("diffllama"),
written from the behaviour of transformers' LlamaForCausalLM and DiffLlamaForCausalLM with eager
attention, not from model/model.py. They take the folder's config.json as a dict and its tensors
under their Hugging Face names (linear weights [out, in]), and return the logits with each layer's
inspection tensors, from which `contract_outputs` computes the package contract's outputs
(docs/model-package.md) exactly as the exported inspection graph does.

One sequence at a time (no batch axis): ids [T] -> logits [T, V]; per layer the hidden state after
both residual adds [T, E], post-RoPE queries [S, T, d] in the model's own softmax-head order, keys
[S_kv, T, d], the softmax maps [S, T, T] and, for DiffLlama, lambda [T, H] (one value per layer,
repeated).
"""

import math

import torch
import torch.nn.functional as F

from model.export import output_spec, prediction_outputs
from model.model import THUMBNAIL_SIZE, lambda_init_for, pooling_matrix

ROPE_TYPES = ("default", "linear", "llama3")


# transformers' LlamaConfig (and DiffLlamaConfig's, MistralConfig's) token ids where config.json
# leaves them out, as the importer reads them (TRANSFORMERS_BOS_TOKEN_ID in
# extension/core/import/architecture.ts).
TRANSFORMERS_TOKEN_DEFAULTS = {"bos_token_id": 1, "eos_token_id": 2}


def config_token_id(config: dict, field: str) -> int:
    """config.json's bos_token_id or eos_token_id, transformers' default where it is absent or null."""
    return config_field(config, field, TRANSFORMERS_TOKEN_DEFAULTS[field])


def config_field(config: dict, field: str, default=None):
    """config[field], or default when the field is absent; a required field (no default) must be there."""
    if field in config and config[field] is not None:
        return config[field]
    if default is None:
        raise ValueError(f"config.json: field '{field}' is missing")
    return default


def rope_inv_freq(config: dict, head_dim: int) -> torch.Tensor:
    """The rotary inverse frequencies [d/2] as transformers computes them: theta^(-2i/d), then the
    rope_scaling of the config (null, linear or llama3; its type under 'rope_type' or the older 'type')."""
    theta = float(config_field(config, "rope_theta", 10000.0))
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    scaling = config.get("rope_scaling") or {}
    rope_type = scaling.get("rope_type", scaling.get("type", "default"))
    if rope_type not in ROPE_TYPES:
        raise ValueError(f"config.json: rope_scaling type {rope_type!r} is not supported; expected one of {ROPE_TYPES}")
    if rope_type == "linear":
        return inv_freq / float(scaling["factor"])
    if rope_type == "llama3":
        return llama3_inv_freq(inv_freq, scaling)
    return inv_freq


def llama3_inv_freq(inv_freq: torch.Tensor, scaling: dict) -> torch.Tensor:
    """Llama 3's frequency-dependent scaling (transformers' _compute_llama3_parameters): wavelengths
    shorter than original / high_freq_factor stay, those longer than original / low_freq_factor are
    divided by factor, and the band between is interpolated smoothly."""
    try:
        factor, low, high = float(scaling["factor"]), float(scaling["low_freq_factor"]), float(scaling["high_freq_factor"])
        original = float(scaling["original_max_position_embeddings"])
    except KeyError as err:
        raise ValueError(f"config.json: rope_scaling of type llama3 needs field {err}") from None
    low_freq_wavelen, high_freq_wavelen = original / low, original / high
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (original / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_freq_wavelen) & ~(wavelen > low_freq_wavelen)
    return torch.where(medium, smoothed, scaled)


def rotate_half(x):
    """rotate_half RoPE's partner: dimension i pairs with i + d/2."""
    first, second = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-second, first), dim=-1)


def apply_rope(x, cos, sin):
    return x * cos + rotate_half(x) * sin


def repeat_heads(x, n_rep: int):
    """transformers' repeat_kv without the batch axis: [heads, T, w] -> [heads * n_rep, T, w], each
    head repeated n_rep times in place (query head s reads key/value head s // n_rep)."""
    return x.repeat_interleave(n_rep, dim=0)


def rms_norm(x, weight, eps: float):
    """Llama's RMSNorm: weight * (x / sqrt(mean(x^2) + eps)); weight None for DiffLlama's head norm."""
    normed = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return normed if weight is None else weight * normed


class LlamaReference:
    """transformers' LlamaForCausalLM, eager attention, float32."""

    differential = False
    default_rms_norm_eps = 1e-6  # LlamaConfig's default

    def __init__(self, config: dict, tensors: dict):
        self.config = config
        self.tensors = tensors
        self.hidden = int(config_field(config, "hidden_size"))
        self.n_layer = int(config_field(config, "num_hidden_layers"))
        self.n_heads = int(config_field(config, "num_attention_heads"))
        self.n_kv_heads = int(config_field(config, "num_key_value_heads", self.n_heads))
        self.head_dim = int(config_field(config, "head_dim", self.hidden // self.n_heads))
        self.eps = float(config_field(config, "rms_norm_eps", self.default_rms_norm_eps))
        self.attention_bias = bool(config.get("attention_bias", False))
        self.mlp_bias = bool(config.get("mlp_bias", False))
        if config.get("hidden_act", "silu") != "silu":
            raise ValueError(f"config.json: hidden_act is {config['hidden_act']!r}; expected 'silu'")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"config.json: num_attention_heads ({self.n_heads}) must be a multiple of "
                             f"num_key_value_heads ({self.n_kv_heads})")
        self.inv_freq = rope_inv_freq(config, self.head_dim)
        tied = bool(config.get("tie_word_embeddings", False))
        self.lm_head = self.weight("model.embed_tokens.weight" if tied else "lm_head.weight")

    def weight(self, name: str) -> torch.Tensor:
        if name not in self.tensors:
            raise ValueError(f"the checkpoint has no tensor '{name}'")
        return self.tensors[name].float()

    def linear(self, x, name: str, bias: bool):
        """x W^T (+ b): name is the module's, e.g. model.layers.0.self_attn.q_proj."""
        return F.linear(x, self.weight(name + ".weight"), self.weight(name + ".bias") if bias else None)

    def forward(self, ids: torch.Tensor):
        """ids [T] -> (logits [T, V], one dict of inspection tensors per layer)."""
        T = ids.shape[0]
        freqs = torch.arange(T, dtype=torch.float32)[:, None] * self.inv_freq[None, :]
        angles = torch.cat((freqs, freqs), dim=-1)  # HF's emb: both halves of a head share a frequency
        cos, sin = angles.cos(), angles.sin()
        x = self.weight("model.embed_tokens.weight")[ids]
        layers = []
        for i in range(self.n_layer):
            prefix = f"model.layers.{i}."
            attended, extras = self.attention(i, rms_norm(x, self.weight(prefix + "input_layernorm.weight"), self.eps), cos, sin)
            x = x + attended
            x = x + self.mlp(prefix + "mlp.", rms_norm(x, self.weight(prefix + "post_attention_layernorm.weight"), self.eps))
            layers.append({"hidden": x, **extras})
        logits = rms_norm(x, self.weight("model.norm.weight"), self.eps) @ self.lm_head.T
        return logits, layers

    def mlp(self, prefix: str, x):
        gate = self.linear(x, prefix + "gate_proj", self.mlp_bias)
        return self.linear(F.silu(gate) * self.linear(x, prefix + "up_proj", self.mlp_bias), prefix + "down_proj", self.mlp_bias)

    def project_heads(self, layer: int, x, cos, sin):
        """Post-RoPE q [S, T, d], k [S_kv, T, d], v [S_kv, T, d] and the causal softmax maps [S, T, T]."""
        T, d = x.shape[0], self.head_dim
        prefix = f"model.layers.{layer}.self_attn."
        q = self.linear(x, prefix + "q_proj", self.attention_bias).view(T, self.n_heads, d).transpose(0, 1)
        k = self.linear(x, prefix + "k_proj", self.attention_bias).view(T, self.n_kv_heads, d).transpose(0, 1)
        v = self.linear(x, prefix + "v_proj", self.attention_bias).view(T, self.n_kv_heads, d).transpose(0, 1)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        scores = q @ repeat_heads(k, self.n_heads // self.n_kv_heads).transpose(1, 2) / math.sqrt(d)
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        probs = F.softmax(scores.masked_fill(~causal, float("-inf")).float(), dim=-1)
        return q, k, v, probs

    def attention(self, layer: int, x, cos, sin):
        q, k, v, probs = self.project_heads(layer, x, cos, sin)
        out = probs @ repeat_heads(v, self.n_heads // self.n_kv_heads)  # [S, T, d]
        merged = out.transpose(0, 1).reshape(x.shape[0], -1)
        output = self.linear(merged, f"model.layers.{layer}.self_attn.o_proj", self.attention_bias)
        return output, {"q": q, "k": k, "probs": probs}


class DiffLlamaReference(LlamaReference):
    """transformers' DiffLlamaForCausalLM, eager attention (DiffLlamaAttention), float32. Its MLP has
    no biases whatever mlp_bias says."""

    differential = True
    default_rms_norm_eps = 1e-5  # DiffLlamaConfig's default

    def __init__(self, config: dict, tensors: dict):
        super().__init__(config, tensors)
        self.mlp_bias = False
        if self.n_heads % 2:
            raise ValueError(f"config.json: num_attention_heads ({self.n_heads}) must be even: heads h and h + S/2 pair")

    def lambda_full(self, layer: int):
        """The layer's lambda: exp(lq1 . lk1) - exp(lq2 . lk2) + lambda_init, the paper's schedule."""
        prefix = f"model.layers.{layer}.self_attn."

        def exp_dot(i: int):
            return torch.exp(torch.sum(self.weight(f"{prefix}lambda_q{i}") * self.weight(f"{prefix}lambda_k{i}")))

        return exp_dot(1) - exp_dot(2) + lambda_init_for(layer)

    def attention(self, layer: int, x, cos, sin):
        q, k, v, probs = self.project_heads(layer, x, cos, sin)
        T, H = x.shape[0], self.n_heads // 2
        v = repeat_heads(v, self.n_heads // self.n_kv_heads)  # [S, T, d]
        values = torch.cat(torch.chunk(v, 2, dim=0), dim=-1).repeat(2, 1, 1)  # head s: values s mod H and s mod H + H
        out1, out2 = torch.chunk(probs @ values, 2, dim=0)  # [H, T, 2d] each: softmax heads h and h + H
        lam = self.lambda_full(layer)
        heads = (1 - lambda_init_for(layer)) * rms_norm(out1 - lam * out2, None, self.eps)
        merged = heads.transpose(0, 1).reshape(T, -1)
        output = self.linear(merged, f"model.layers.{layer}.self_attn.o_proj", self.attention_bias)
        return output, {"q": q, "k": k, "probs": probs, "lambda": lam.expand(T, H)}


# By checkpoint format; a Mistral attends as Llama does over texts within its sliding window.
REFERENCES = {"llama": LlamaReference, "mistral": LlamaReference, "diffllama": DiffLlamaReference}


def contract_outputs(reference: LlamaReference, ids: list, top_k: int) -> dict:
    """The package contract's outputs for one sequence (batch 1), in graph order, as numpy arrays:
    the predictions as export.prediction_outputs computes them for every model, the thumbnails with
    model.pooling_matrix, the contract's definition."""
    ids = torch.tensor(ids, dtype=torch.long)
    with torch.no_grad():
        logits, layers = reference.forward(ids)
        pool = pooling_matrix(ids.shape[0], THUMBNAIL_SIZE, "cpu", torch.float32)
        per_layer = {
            "hidden_states": [layer["hidden"] for layer in layers],
            "q": [layer["q"] for layer in layers],
            "k": [layer["k"] for layer in layers],
            "attn_thumbnails": [pool @ layer["probs"] @ pool.T for layer in layers],
        }
        if reference.differential:
            per_layer["lambda"] = [layer["lambda"] for layer in layers]
        values = {**prediction_outputs(logits[None], ids[None], top_k),
                  **{name: torch.stack(tensors)[None] for name, tensors in per_layer.items()}}
    kind = "diff" if reference.differential else "baseline"
    return {name: values[name].numpy() for name, _ in output_spec(kind)}
