"""
Random-weight checkpoints in the Hugging Face layout that Import Model… reads (docs/import.md), with
the outputs the imported package must reproduce. `python -m model hf-checkpoint --format F --out DIR`
writes into DIR:

  config.json                    the architecture, with Hugging Face's field names
  model.safetensors              the weights (or, with --shards N, model-0000i-of-0000N.safetensors
                                 and model.safetensors.index.json)
  tokenizer.json                 the tokenizer the ids below come from
  expected.json                  {format, text, ids (BOS first), top_k, outputs}: the package contract's
                                 outputs for the text, batch 1, in the layout of test/fixtures/golden/*.json

expected.json is computed in float32 on the weights read back as written (so rounded to float16 or
bfloat16 when they were written so): by model/hf_reference.py for diffllama and llama, by
model/model.py for diff_transformer (diff-v1 is this project's model, diff-v2 its V2 variant)
under the Llama-style names of docs/import.md.
"""

import json
import math
import re
import shutil
from pathlib import Path
from typing import Callable, NamedTuple, Optional

import numpy as np
import torch

from model.export import reference_outputs
from model.fixtures import FIXTURE_TOKENIZER, GOLDEN_TEXT, REPO
from model.hf_reference import REFERENCES, TRANSFORMERS_TOKEN_DEFAULTS, config_token_id, contract_outputs
from model.model import ModelConfig, Transformer
from model.safetensors_files import DTYPES, read_weights, safetensors_header, tensor_bytes
from model.package import PackageError, load_package, load_tokenizer

FORMATS = ("diffllama", "llama", "mistral", "diff-v1", "diff-v2")
SIZES = ("tiny", "100m", "long32k", "1b")
TOP_K = 10
LARGE_TOKENIZER = REPO / "models" / "code-diff" / "tokenizer.json"
SHORT_TEXT = "def area(r):\r\n\treturn 3.14159 * r * r  # π r²\n"  # the 100m and 1b default: fewer than 32 tokens
VOCAB_PADDING = 16  # tiny checkpoints have more embedding rows than the tokenizer has tokens, as many models do
# Random weights with visible structure: q and k scaled up (as fixtures.QK_SCALE does) so the maps are
# peaky, and lambda_proj strong enough that V2's lambda varies from token to token.
QK_GAIN, LAMBDA_GAIN, EMBED_GAIN = 2.5, 2.0, 3.0
GAINS = {"q_proj.weight": QK_GAIN, "k_proj.weight": QK_GAIN, "lambda_proj.weight": LAMBDA_GAIN,
         "embed_tokens.weight": EMBED_GAIN, "lm_head.weight": EMBED_GAIN}

# Hugging Face formats: the shape of each size, then what each format sets so that its distinctive
# features are exercised (biases, tied or untied head, RoPE scaling, a defaulted head_dim).
LLAMA_SIZES = {
    "tiny": dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=8,
                 num_key_value_heads=4, head_dim=8, max_position_embeddings=128),
    "100m": dict(hidden_size=1024, intermediate_size=2816, num_hidden_layers=8, num_attention_heads=16,
                 num_key_value_heads=8, head_dim=64, max_position_embeddings=1024),
    # The long-context test model: small layers at a 32,768-token context (7.4M parameters as a
    # DiffLlama), with the RoPE base long-context models use (its slowest pair turns 0.08 rad in 32K tokens).
    "long32k": dict(hidden_size=256, intermediate_size=688, num_hidden_layers=4, num_attention_heads=8,
                    num_key_value_heads=8, head_dim=32, max_position_embeddings=32768, rope_theta=1e6),
    # Laid out as the public DiffLlama-1B (Llama 3.2 1B's layers, 1.0B parameters as a DiffLlama with
    # this project's 8K vocabulary): a real-size model for the import and load benches.
    "1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
               num_key_value_heads=8, head_dim=64, max_position_embeddings=131072, rope_theta=5e5),
}
FORMAT_FIELDS = {
    "diffllama": dict(model_type="diffllama", architectures=["DiffLlamaForCausalLM"], rope_theta=10000.0,
                      rope_scaling=None, rms_norm_eps=1e-5, tie_word_embeddings=False, attention_bias=True,
                      mlp_bias=False, hidden_act="silu"),
    # theta 100 puts the tiny heads' four wavelengths (6, 20, 63, 199) in all three llama3 bands (< 8, 8..32, > 32)
    "llama": dict(model_type="llama", architectures=["LlamaForCausalLM"], rope_theta=100.0,
                  rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                "original_max_position_embeddings": 32},
                  rms_norm_eps=1e-6, tie_word_embeddings=True, attention_bias=False, mlp_bias=True, hidden_act="silu"),
    # Within its sliding window a Mistral attends as Llama does; 64 holds the golden text (58 tokens
    # with the BOS) and is under max_position_embeddings, so the importer's cap at the window shows.
    "mistral": dict(model_type="mistral", architectures=["MistralForCausalLM"], rope_theta=10000.0,
                    rms_norm_eps=1e-6, tie_word_embeddings=False, hidden_act="silu", sliding_window=64),
}
# diff_transformer formats: ModelConfig fields of each size (the FFN width is model.py's 8/3 E).
DIFF_SIZES = {
    "tiny": dict(n_layer=2, n_embd=64, n_head=4, n_kv_head=2, max_seq_len=128),
    "100m": dict(n_layer=8, n_embd=1024, n_head=8, n_kv_head=8, max_seq_len=1024),
    "long32k": dict(n_layer=4, n_embd=256, n_head=4, n_kv_head=4, max_seq_len=32768, rope_theta=1e6),
}
# model.py parameter -> Llama-style name (docs/import.md); V2's output projection is o_proj there.
NAME_MAP = [
    (r"tok_emb\.weight", r"model.embed_tokens.weight"),
    (r"layers\.(\d+)\.attn_norm\.weight", r"model.layers.\1.input_layernorm.weight"),
    (r"layers\.(\d+)\.attn\.(.+)", r"model.layers.\1.self_attn.\2"),
    (r"layers\.(\d+)\.ffn_norm\.weight", r"model.layers.\1.post_attention_layernorm.weight"),
    (r"layers\.(\d+)\.ffn\.(gate|up|down)\.weight", r"model.layers.\1.mlp.\2_proj.weight"),
    (r"norm\.weight", r"model.norm.weight"),
    (r"lm_head\.weight", r"lm_head.weight"),
]


class Plan(NamedTuple):
    """What a checkpoint folder gets: its config.json, its tensors' (name, shape) in file order, the
    value of each tensor (asked for in that order), and the tokenizer.json to copy."""

    config: dict
    specs: list
    tensor_for: Callable[[str, tuple], torch.Tensor]
    tokenizer: Path


def hf_name(name: str, variant: str) -> str:
    """The Llama-style name of a model.py parameter."""
    if variant == "v2":
        name = name.replace(".attn.out_proj.", ".attn.o_proj.")
    for pattern, replacement in NAME_MAP:
        match = re.fullmatch(pattern, name)
        if match:
            return match.expand(replacement)
    raise ValueError(f"parameter {name!r} has no Llama-style name")


def diff_transformer_config(cfg: ModelConfig, bos_id: int, dtype: str) -> dict:
    """config.json of a model.py model as model_type diff_transformer."""
    config = {
        "model_type": "diff_transformer", "diff_version": 2 if cfg.is_v2 else 1,
        "hidden_size": cfg.n_embd, "intermediate_size": cfg.ffn_hidden, "num_hidden_layers": cfg.n_layer,
        "num_attention_heads": cfg.n_head, "num_key_value_heads": cfg.n_kv_head,
        "rms_norm_eps": cfg.norm_eps, "rope_theta": cfg.rope_theta, "rope_scaling": None,
        "max_position_embeddings": cfg.max_seq_len, "vocab_size": cfg.vocab_size,
        "tie_word_embeddings": cfg.tie_embeddings, "attention_bias": False, "mlp_bias": False,
        "hidden_act": "silu", "bos_token_id": bos_id, "torch_dtype": dtype,
    }
    # Version 2 requires head_dim; rope_interleaved is stated in version 1 and left to its default
    # (true) in version 2, so an importer's default is exercised too.
    if cfg.is_v2:
        config["head_dim"] = cfg.head_dim
    else:
        config["rope_interleaved"] = True
    return config


def model_config(config: dict) -> ModelConfig:
    """The model.py config of a diff_transformer config.json (token ids left out: transformers' defaults);
    refuses fields model.py cannot run."""
    cfg = ModelConfig(kind="diff", variant=f"v{config['diff_version']}", vocab_size=config["vocab_size"],
                      n_layer=config["num_hidden_layers"], n_head=config["num_attention_heads"],
                      n_kv_head=config["num_key_value_heads"], n_embd=config["hidden_size"],
                      max_seq_len=config["max_position_embeddings"], rope_theta=config["rope_theta"],
                      norm_eps=config["rms_norm_eps"], tie_embeddings=config["tie_word_embeddings"])
    runnable = diff_transformer_config(cfg, config_token_id(config, "bos_token_id"), config["torch_dtype"])
    for field, value in runnable.items():
        given = config_token_id(config, field) if field in TRANSFORMERS_TOKEN_DEFAULTS else config.get(field)
        if given != value:
            raise ValueError(f"config.json: field '{field}' is {given!r}; model/model.py runs {value!r}")
    return cfg


def diff_model(config: dict, tensors: dict) -> Transformer:
    """model.py's Transformer with a diff_transformer checkpoint's tensors."""
    cfg = model_config(config)
    model = Transformer(cfg)
    names = {hf_name(name, cfg.variant): name for name in model.state_dict()}
    missing, unexpected = sorted(set(names) - set(tensors)), sorted(set(tensors) - set(names))
    if missing or unexpected:
        raise ValueError(f"the checkpoint's tensors do not fit the config: missing {missing}, unexpected {unexpected}")
    model.load_state_dict({names[name]: tensor for name, tensor in tensors.items()})
    return model.eval()


def llama_specs(config: dict) -> list:
    """(name, shape) of every tensor of a llama or diffllama checkpoint, in model order."""
    E, I, V = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    S, S_kv = config["num_attention_heads"], config["num_key_value_heads"]
    d = config.get("head_dim") or E // S
    specs = [("model.embed_tokens.weight", (V, E))]

    def linear(name: str, out_dim: int, in_dim: int, bias: bool):
        specs.append((name + ".weight", (out_dim, in_dim)))
        if bias:
            specs.append((name + ".bias", (out_dim,)))

    for i in range(config["num_hidden_layers"]):
        layer = f"model.layers.{i}."
        specs.append((layer + "input_layernorm.weight", (E,)))
        for proj, out_dim, in_dim in (("q", S * d, E), ("k", S_kv * d, E), ("v", S_kv * d, E), ("o", E, S * d)):
            linear(f"{layer}self_attn.{proj}_proj", out_dim, in_dim, config.get("attention_bias", False))
        if config["model_type"] == "diffllama":
            specs += [(f"{layer}self_attn.lambda_{part}", (d,)) for part in ("q1", "k1", "q2", "k2")]
        specs.append((layer + "post_attention_layernorm.weight", (E,)))
        mlp_bias = config.get("mlp_bias", False) and config["model_type"] == "llama"  # DiffLlama's MLP has no biases
        for proj, out_dim, in_dim in (("gate", I, E), ("up", I, E), ("down", E, I)):
            linear(f"{layer}mlp.{proj}_proj", out_dim, in_dim, mlp_bias)
    specs.append(("model.norm.weight", (E,)))
    if not config["tie_word_embeddings"]:
        specs.append(("lm_head.weight", (V, E)))
    return specs


def random_weight(name: str, shape: tuple, generator: torch.Generator) -> torch.Tensor:
    """A random tensor for the Llama-style name: norm weights around 1 (so a missing multiply shows),
    biases and DIFF's lambda vectors N(0, 0.1), matrices N(0, gain^2 / fan_in)."""
    noise = torch.randn(shape, generator=generator)
    if name.endswith(("norm.weight", "subln.weight")):
        return 1 + 0.1 * noise
    if name.endswith(".bias") or re.search(r"\.lambda_[qk][12]$", name):
        return 0.1 * noise
    gain = next((gain for suffix, gain in GAINS.items() if name.endswith(suffix)), 1.0)
    return noise * gain / math.sqrt(shape[-1])


def random_plan(fmt: str, size: str, vocab_size: Optional[int], seed: int, dtype: str) -> Plan:
    tokenizer_path = FIXTURE_TOKENIZER if size == "tiny" else LARGE_TOKENIZER
    tokenizer = load_tokenizer(tokenizer_path)
    if vocab_size is None:
        vocab_size = tokenizer.vocab_size + (VOCAB_PADDING if size == "tiny" else 0)
    if vocab_size < tokenizer.vocab_size:
        raise PackageError(f"--vocab-size is {vocab_size}; the tokenizer {tokenizer_path} needs at least {tokenizer.vocab_size}")
    if fmt in REFERENCES:
        config = {**FORMAT_FIELDS[fmt], **LLAMA_SIZES[size], "vocab_size": vocab_size,
                  "bos_token_id": tokenizer.eot_id, "torch_dtype": dtype}
        if fmt == "llama":  # head_dim left to its default, hidden_size / num_attention_heads
            del config["head_dim"]
        specs = llama_specs(config)
    elif size not in DIFF_SIZES:
        raise PackageError(f"size {size!r} is for the Hugging Face formats {tuple(REFERENCES)}; {fmt} has sizes {tuple(DIFF_SIZES)}")
    else:
        cfg = ModelConfig(kind="diff", variant=fmt[-2:], vocab_size=vocab_size, tie_embeddings=fmt == "diff-v1",
                          **DIFF_SIZES[size])
        config = diff_transformer_config(cfg, tokenizer.eot_id, dtype)
        specs = [(hf_name(name, cfg.variant), tuple(t.shape)) for name, t in Transformer(cfg).state_dict().items()]
    generator = torch.Generator().manual_seed(seed)
    return Plan(config, specs, lambda name, shape: random_weight(name, shape, generator), tokenizer_path)


RETRIEVAL_GAIN = 1.5  # the planted head's logit from the query token to the key token: (16 * gain)^2 / sqrt(d)


def plant_retrieval(plan: Plan, query_text: str, key_text: str) -> Plan:
    """The plan with a retrieval head planted in layer 0, head 0's first softmax sub-head (A1 of a
    DiffLlama's differential head 0): the query token attends to the key token wherever it lies and
    to nothing else, and every other token attends evenly. Hidden channels 0 and 1 carry only the
    two tokens (embedding rows set to one-hot, the channels zeroed in every other row), the
    sub-head's queries and keys read only them, on its lowest-frequency RoPE pair (dims d/2 - 1 and
    d - 1: at the long32k size's theta it turns 0.08 rad over 32K tokens, at theta 10,000 already
    1.4 rad over 8,000, past which the logit changes sign). The long-context tests look for this key
    across a whole file."""
    if plan.config.get("model_type") not in ("diffllama", "llama", "mistral"):
        raise PackageError("--retrieval plants its head in Llama-style checkpoints (diffllama, llama, mistral)")
    tokenizer = load_tokenizer(plan.tokenizer)
    ids = []
    for text in (query_text, key_text):
        encoded = tokenizer.encode(text)
        if len(encoded) != 1:
            raise PackageError(f"--retrieval {text!r}: the tokenizer {plan.tokenizer} encodes it as {len(encoded)} tokens; give a text of one token")
        ids.append(encoded[0])
    query_id, key_id = ids
    d = plan.config.get("head_dim") or plan.config["hidden_size"] // plan.config["num_attention_heads"]
    lowest = d // 2 - 1  # rotate_half pairs dim i with i + d/2; pair d/2 - 1 turns slowest

    def tensor_for(name: str, shape: tuple) -> torch.Tensor:
        tensor = plan.tensor_for(name, shape).clone()
        if name == "model.embed_tokens.weight":
            tensor[:, :2] = 0
            tensor[query_id], tensor[key_id] = 0, 0
            tensor[query_id, 0], tensor[key_id, 1] = 1, 1
        elif name == "model.layers.0.input_layernorm.weight":
            tensor[:2] = 1
        elif name in ("model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight"):
            channel = 0 if ".q_proj." in name else 1
            tensor[:d] = 0
            tensor[lowest, channel] = RETRIEVAL_GAIN
        elif name in ("model.layers.0.self_attn.q_proj.bias", "model.layers.0.self_attn.k_proj.bias"):
            tensor[:d] = 0
        return tensor

    return plan._replace(tensor_for=tensor_for)


def package_plan(fmt: str, package: Path, dtype: str) -> Plan:
    """A DIFF package of this project (read back into PyTorch) as a diff_transformer checkpoint."""
    model, pkg_config, _ = load_package(package)
    variant = model.cfg.variant if model.cfg.kind == "diff" else None
    if fmt != f"diff-{variant}":
        raise PackageError(f"{package / 'config.json'}: a {model.cfg.kind} package (variant {pkg_config['variant']!r}) "
                           f"cannot be written as format {fmt}; --from-package writes a DIFF V1 package as diff-v1, "
                           "a V2 one as diff-v2")
    state = {hf_name(name, variant): tensor for name, tensor in model.state_dict().items()}
    config = diff_transformer_config(model.cfg, pkg_config["bos_token_id"], dtype)
    return Plan(config, [(name, tuple(t.shape)) for name, t in state.items()], lambda name, shape: state[name],
                package / "tokenizer.json")


def shard_files(shards: int) -> list:
    return ["model.safetensors"] if shards == 1 else [f"model-{i:05d}-of-{shards:05d}.safetensors" for i in range(1, shards + 1)]


def write_weights(out: Path, plan: Plan, dtype: str, shards: int) -> list:
    """Writes the tensors one at a time, each shard a contiguous run of them, and the index when sharded."""
    if not 1 <= shards <= len(plan.specs):
        raise PackageError(f"--shards is {shards}; expected 1 to {len(plan.specs)} (the number of tensors)")
    code = DTYPES[dtype][0]
    files = shard_files(shards)
    groups = np.array_split(np.arange(len(plan.specs)), shards)
    weight_map, total = {}, 0
    for file, group in zip(files, groups):
        specs = [plan.specs[i] for i in group]
        with open(out / file, "wb") as f:
            f.write(safetensors_header(specs, code))
            for name, shape in specs:
                tensor = plan.tensor_for(name, shape)
                if tuple(tensor.shape) != tuple(shape):
                    raise ValueError(f"tensor {name}: shape {list(tensor.shape)}, expected {list(shape)}")
                data = tensor_bytes(tensor, dtype)
                f.write(data)
                weight_map[name], total = file, total + len(data)
    if shards == 1:
        return [out / files[0]]
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    return [out / "model.safetensors.index.json", *(out / file for file in files)]


def expected_outputs(fmt: str, config: dict, tensors: dict, ids: list) -> dict:
    if fmt in REFERENCES:
        return contract_outputs(REFERENCES[fmt](config, tensors), ids, TOP_K)
    return reference_outputs(diff_model(config, tensors), ids, TOP_K)


def write_checkpoint(fmt: str, out: Path, *, dtype: str = "float32", shards: int = 1, seed: int = 0,
                     size: str = "tiny", vocab_size: Optional[int] = None, text: Optional[str] = None,
                     from_package: Optional[Path] = None, retrieval: Optional[tuple] = None) -> list:
    """Writes the checkpoint folder (which must be new or empty); returns the files written."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise PackageError(f"{out}: exists and is not empty; give a new folder")
    if fmt not in FORMATS or dtype not in DTYPES or size not in SIZES:
        raise PackageError(f"format {fmt!r}, dtype {dtype!r}, size {size!r}: expected one of {FORMATS}, {tuple(DTYPES)}, {SIZES}")
    plan = package_plan(fmt, Path(from_package), dtype) if from_package else random_plan(fmt, size, vocab_size, seed, dtype)
    if retrieval:
        plan = plant_retrieval(plan, *retrieval)
    if text is None:
        text = SHORT_TEXT if size in ("100m", "1b") else GOLDEN_TEXT
    ids = [config_token_id(plan.config, "bos_token_id")] + load_tokenizer(plan.tokenizer).encode(text)
    if len(ids) > plan.config["max_position_embeddings"]:
        raise PackageError(f"--text is {len(ids)} tokens with the BOS; the model takes {plan.config['max_position_embeddings']}")
    if len(ids) > (plan.config.get("sliding_window") or len(ids)):
        raise PackageError(f"--text is {len(ids)} tokens with the BOS; the reference has no sliding window, "
                           f"so it must fit in {plan.config['sliding_window']}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(plan.config, indent=2) + "\n")
    written = [out / "config.json", *write_weights(out, plan, dtype, shards)]
    shutil.copyfile(plan.tokenizer, out / "tokenizer.json")
    outputs = expected_outputs(fmt, plan.config, read_weights(out), ids)
    expected = {"format": fmt, "text": text, "ids": ids, "top_k": TOP_K,
                "outputs": {name: {"dims": list(a.shape), "dtype": str(a.dtype), "data": a.reshape(-1).tolist()}
                            for name, a in outputs.items()}}
    (out / "expected.json").write_text(json.dumps(expected) + "\n")
    return written + [out / "tokenizer.json", out / "expected.json"]
