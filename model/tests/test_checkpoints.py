"""Hugging Face-layout checkpoints (model/checkpoints.py) and the references of the imported formats
(model/hf_reference.py): the safetensors files parse back, with a parser written here, to the tensors
given; the sharded index names every tensor; expected.json is the reference on the weights as
written; DiffLlama with lambda 0 is softmax(A1) V computed inline; grouped-query heads read key head
s // (S / S_kv); llama3 RoPE scaling follows its formula; this project's packages map to the
Llama-style names parameter for parameter and reproduce their golden outputs."""

import json
import math
import struct

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import run_module
from model.checkpoints import FORMAT_FIELDS, LLAMA_SIZES, Plan, diff_model, llama_specs, random_weight, write_checkpoint, write_weights
from model.safetensors_files import read_weights
from model.fixtures import FIXTURE_TOKENIZER
from model.hf_reference import DiffLlamaReference, LlamaReference, config_token_id, contract_outputs, rope_inv_freq
from model.model import lambda_init_for
from model.package import PackageError, load_package
from tolerance import assert_close

ITEMSIZE = {"F32": 4, "F16": 2, "BF16": 2}


def parse_safetensors(path) -> dict:
    """name -> (dtype code, float32 array), checking the layout: 8-byte little-endian header length,
    the JSON header, tensors packed in offset order from the end of the header to the end of the file."""
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length])
    assert header.pop("__metadata__") == {"format": "pt"}
    data, offset, tensors = raw[8 + length:], 0, {}
    for name, entry in sorted(header.items(), key=lambda item: item[1]["data_offsets"][0]):
        begin, end = entry["data_offsets"]
        assert begin == offset and end - begin == ITEMSIZE[entry["dtype"]] * math.prod(entry["shape"]), name
        chunk = data[begin:end]
        if entry["dtype"] == "BF16":  # the top half of a float32
            array = (np.frombuffer(chunk, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            array = np.frombuffer(chunk, "<f4" if entry["dtype"] == "F32" else "<f2").astype(np.float32)
        tensors[name] = (entry["dtype"], array.reshape(entry["shape"]))
        offset = end
    assert offset == len(data), "no bytes after the last tensor"
    return tensors


def folder_tensors(folder) -> dict:
    """Every tensor of a checkpoint folder, float32, read with parse_safetensors."""
    files = sorted(folder.glob("*.safetensors"))
    return {name: torch.from_numpy(array.copy()) for f in files for name, (_, array) in parse_safetensors(f).items()}


def expected_arrays(folder) -> dict:
    expected = json.loads((folder / "expected.json").read_text())
    return {name: np.array(o["data"], dtype=o["dtype"]).reshape(o["dims"]) for name, o in expected["outputs"].items()}


def tiny_config(fmt: str) -> dict:
    return {**LLAMA_SIZES["tiny"], **FORMAT_FIELDS[fmt], "vocab_size": 416, "bos_token_id": 0, "torch_dtype": "float32"}


def random_tensors(config: dict, seed=0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    return {name: random_weight(name, shape, generator) for name, shape in llama_specs(config)}


@pytest.mark.parametrize("dtype,code", [("float32", "F32"), ("float16", "F16"), ("bfloat16", "BF16")])
def test_safetensors_parse_back_to_the_same_tensors(tmp_path, dtype, code):
    torch.manual_seed(0)
    given = {"a.weight": torch.randn(3, 5) * 100, "b": torch.randn(7), "c.bias": torch.tensor([1e-3, -2.5, 65504.0])}
    plan = Plan({}, [(name, tuple(t.shape)) for name, t in given.items()], lambda name, shape: given[name], FIXTURE_TOKENIZER)
    [path] = write_weights(tmp_path, plan, dtype, shards=1)
    assert path.name == "model.safetensors"
    (length,) = struct.unpack("<Q", path.read_bytes()[:8])
    assert length % 8 == 0, "the header is padded to 8 bytes"
    parsed = parse_safetensors(path)
    assert list(parsed) == list(given), "tensors packed in the order given"
    for name, tensor in given.items():
        assert parsed[name][0] == code
        assert np.array_equal(parsed[name][1], tensor.to(getattr(torch, dtype)).float().numpy()), name


def test_sharded_bfloat16_checkpoint_and_its_expected_outputs(tmp_path):
    written = write_checkpoint("diffllama", tmp_path / "ck", dtype="bfloat16", shards=3)
    folder = tmp_path / "ck"
    shards = [f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
    assert sorted(p.name for p in written) == sorted(
        ["config.json", "model.safetensors.index.json", *shards, "tokenizer.json", "expected.json"])
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    config = json.loads((folder / "config.json").read_text())
    in_files = {name: file for file in shards for name in parse_safetensors(folder / file)}
    assert index["weight_map"] == in_files, "the index names every tensor and the shard holding it"
    assert sorted(in_files) == sorted(name for name, _ in llama_specs(config))
    assert index["metadata"]["total_size"] == sum((folder / f).stat().st_size for f in shards) - sum(
        8 + struct.unpack("<Q", (folder / f).read_bytes()[:8])[0] for f in shards)
    for name in ("model.layers.1.self_attn.q_proj.bias", "model.layers.1.self_attn.lambda_k2", "lm_head.weight"):
        assert name in in_files, name  # attention_bias true, DiffLlama's lambda vectors, an untied head
    # expected.json is the reference on the bfloat16 values as written, read here by this test's parser.
    expected = json.loads((folder / "expected.json").read_text())
    assert expected["ids"][0] == config["bos_token_id"] == 0 and expected["top_k"] == 10
    recomputed = contract_outputs(DiffLlamaReference(config, folder_tensors(folder)), expected["ids"], 10)
    for name, array in expected_arrays(folder).items():
        assert array.dtype == recomputed[name].dtype and array.shape == recomputed[name].shape, name
        assert_close(array, recomputed[name], name)


def test_diffllama_with_lambda_zero_is_softmax_a1_times_v():
    config = tiny_config("diffllama")
    tensors = random_tensors(config)
    d, E, S, S_kv = 8, 64, 8, 4
    H, rep, eps = S // 2, S // S_kv, config["rms_norm_eps"]
    for layer in range(2):  # lambda_full = exp(0) - exp(log(1 + lambda_init)) + lambda_init = 0
        prefix = f"model.layers.{layer}.self_attn."
        tensors[prefix + "lambda_q1"], tensors[prefix + "lambda_k1"] = torch.zeros(d), torch.zeros(d)
        tensors[prefix + "lambda_q2"] = torch.full((d,), math.log(1 + lambda_init_for(layer)) / d)
        tensors[prefix + "lambda_k2"] = torch.ones(d)
    ids = torch.tensor([0, 5, 77, 301, 9, 12, 12, 40, 399, 3])
    _, layers = DiffLlamaReference(config, tensors).forward(ids)
    assert_close(layers[0]["lambda"], 0.0, "lambda")

    # Layer 0 written out: differential head h = softmax head h's map on values (h, h + H) of width 2d.
    def w(name):
        return tensors["model.layers.0." + name]

    def norm(x, weight=None):
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
        return x if weight is None else x * weight

    T = len(ids)
    x = tensors["model.embed_tokens.weight"][ids]
    a = norm(x, w("input_layernorm.weight"))
    q = (a @ w("self_attn.q_proj.weight").T + w("self_attn.q_proj.bias")).view(T, S, d)
    k = (a @ w("self_attn.k_proj.weight").T + w("self_attn.k_proj.bias")).view(T, S_kv, d)
    v = (a @ w("self_attn.v_proj.weight").T + w("self_attn.v_proj.bias")).view(T, S_kv, d)
    angle = torch.arange(T)[:, None, None] * 10000.0 ** (-torch.arange(0, d, 2) / d)  # (T, 1, d/2)
    cos, sin = angle.cos(), angle.sin()

    def rope(x):  # dimension i rotates with i + d/2
        x1, x2 = x[..., :d // 2], x[..., d // 2:]
        return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)

    q, k = rope(q), rope(k)
    causal = torch.ones(T, T).tril().bool()
    heads = []
    for h in range(H):
        a1 = F.softmax((q[:, h] @ k[:, h // rep].T / math.sqrt(d)).masked_fill(~causal, float("-inf")), dim=-1)
        out = a1 @ torch.cat((v[:, h // rep], v[:, (h + H) // rep]), dim=-1)
        heads.append(norm(out) * (1 - lambda_init_for(0)))
    x = x + torch.cat(heads, dim=-1) @ w("self_attn.o_proj.weight").T + w("self_attn.o_proj.bias")
    m = norm(x, w("post_attention_layernorm.weight"))
    x = x + (F.silu(m @ w("mlp.gate_proj.weight").T) * (m @ w("mlp.up_proj.weight").T)) @ w("mlp.down_proj.weight").T
    assert_close(layers[0]["hidden"], x, "layer 0 with lambda 0")


def test_grouped_query_heads_read_key_head_s_div_group():
    """The Llama reference with 4 KV heads equals the same model with every KV head's weights repeated
    for the 2 query heads that read it (query head s reads KV head s // 2, not s % 4)."""
    config = tiny_config("llama")
    tensors = random_tensors(config)
    expanded, d = dict(tensors), 8
    for layer in range(2):
        for proj in ("k_proj", "v_proj"):
            name = f"model.layers.{layer}.self_attn.{proj}.weight"
            expanded[name] = tensors[name].view(4, d, -1).repeat_interleave(2, dim=0).reshape(8 * d, -1)
    ids = torch.tensor([0, 5, 77, 301, 9, 12, 12, 40])
    logits, layers = LlamaReference(config, tensors).forward(ids)
    logits_mha, layers_mha = LlamaReference({**config, "num_key_value_heads": 8}, expanded).forward(ids)
    assert_close(logits, logits_mha, "logits")
    assert_close(layers[1]["probs"], layers_mha[1]["probs"], "maps")


def test_rope_scaling_inverse_frequencies():
    d, theta = 8, 100.0
    plain = [theta ** (-2 * i / d) for i in range(d // 2)]
    assert_close(rope_inv_freq({"rope_theta": theta, "rope_scaling": None}, d), plain, "no scaling")
    assert_close(rope_inv_freq({"rope_theta": theta, "rope_scaling": {"type": "linear", "factor": 4.0}}, d),
                 [f / 4 for f in plain], "linear")
    scaling = dict(FORMAT_FIELDS["llama"]["rope_scaling"])
    # Llama 3's rule per frequency f, wavelength 2 pi / f, against original 32 / high 4 = 8 and 32 / low 1 = 32.
    expected = []
    for f in plain:
        wavelength = 2 * math.pi / f
        if wavelength < 8:
            expected.append(f)
        elif wavelength > 32:
            expected.append(f / 8)
        else:
            smooth = (32 / wavelength - 1) / (4 - 1)
            expected.append((1 - smooth) * f / 8 + smooth * f)
    assert [2 * math.pi / f < 8 for f in plain] == [True, False, False, False]
    assert [2 * math.pi / f > 32 for f in plain] == [False, False, True, True], "one frequency in the smooth band"
    assert_close(rope_inv_freq({"rope_theta": theta, "rope_scaling": scaling}, d), expected, "llama3")


def test_package_as_diff_v1_names_every_parameter_and_reproduces_its_golden(repo, tmp_path):
    golden = json.loads((repo / "test/fixtures/golden/tiny-diff.json").read_text())
    write_checkpoint("diff-v1", tmp_path / "ck", shards=2, from_package=repo / "models/tiny-diff", text=golden["text"])
    model, package_config, _ = load_package(repo / "models/tiny-diff")
    tensors = folder_tensors(tmp_path / "ck")
    # docs/import.md's table, written out.
    renamed = {"tok_emb.weight": "model.embed_tokens.weight", "norm.weight": "model.norm.weight"}
    for name in model.state_dict():
        parts = name.split(".")
        if parts[0] == "layers":
            layer, module, rest = parts[1], parts[2], ".".join(parts[3:])
            renamed[name] = {"attn_norm": f"model.layers.{layer}.input_layernorm.{rest}",
                             "attn": f"model.layers.{layer}.self_attn.{rest}",
                             "ffn_norm": f"model.layers.{layer}.post_attention_layernorm.{rest}",
                             "ffn": f"model.layers.{layer}.mlp.{parts[3]}_proj.weight"}[module]
    assert sorted(tensors) == sorted(renamed.values())
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensors[renamed[name]], tensor), name
    config = json.loads((tmp_path / "ck/config.json").read_text())
    assert (config["model_type"], config["diff_version"], config["rope_interleaved"]) == ("diff_transformer", 1, True)
    assert config["bos_token_id"] == package_config["bos_token_id"] and config["max_position_embeddings"] == 128
    assert config["vocab_size"] == 400 and config["tie_word_embeddings"] is True
    expected = json.loads((tmp_path / "ck/expected.json").read_text())
    assert expected["ids"] == golden["ids"]
    for name, array in expected_arrays(tmp_path / "ck").items():
        assert_close(array, np.array(golden["outputs"][name]["data"]).reshape(array.shape), name)


def test_diff_v2_checkpoint_names_and_lambda_per_token(tmp_path):
    write_checkpoint("diff-v2", tmp_path / "ck", dtype="float16")
    names = set(folder_tensors(tmp_path / "ck"))
    assert {"model.layers.0.self_attn.o_proj.weight", "model.layers.0.self_attn.lambda_proj.weight", "lm_head.weight"} <= names
    assert not any("out_proj" in n or "subln" in n or "lambda_q1" in n for n in names)
    config = json.loads((tmp_path / "ck/config.json").read_text())
    assert (config["diff_version"], config["head_dim"], config["num_key_value_heads"]) == (2, 8, 2)
    lam = expected_arrays(tmp_path / "ck")["lambda"][0]  # (L, T, H)
    assert lam.std(axis=1).min() > 0.05, "lambda changes from token to token"


def test_cli(tmp_path):
    result = run_module("hf-checkpoint", "--format", "llama", "--dtype", "float16", "--out", tmp_path / "ck")
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "ck"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "expected.json", "model.safetensors", "tokenizer.json"]
    assert (folder / "tokenizer.json").read_bytes() == FIXTURE_TOKENIZER.read_bytes()
    assert {code for code, _ in parse_safetensors(folder / "model.safetensors").values()} == {"F16"}
    again = run_module("hf-checkpoint", "--format", "llama", "--out", folder)
    assert again.returncode == 2 and "exists and is not empty" in again.stderr
    baseline = run_module("hf-checkpoint", "--format", "diff-v1", "--from-package", "models/tiny-baseline",
                          "--out", tmp_path / "b")
    assert baseline.returncode == 2 and "a baseline package" in baseline.stderr and not (tmp_path / "b").exists()


def test_mistral_text_must_fit_its_sliding_window(tmp_path):
    # The reference attends to every earlier token, which a Mistral does only within its window.
    write_checkpoint("mistral", tmp_path / "fits")
    window = FORMAT_FIELDS["mistral"]["sliding_window"]
    with pytest.raises(PackageError, match=f"must fit in {window}"):
        write_checkpoint("mistral", tmp_path / "long", text="x " * (window // 2 + 8))  # 2 tokens each
    assert not (tmp_path / "long").exists()


def test_100m_checkpoint(tmp_path):
    write_checkpoint("diffllama", tmp_path / "ck", size="100m", dtype="bfloat16", shards=2)
    headers = [parse_safetensors(f) for f in sorted((tmp_path / "ck").glob("*.safetensors"))]
    assert sum(array.size for header in headers for _, array in header.values()) >= 100_000_000
    expected = json.loads((tmp_path / "ck/expected.json").read_text())
    assert len(expected["ids"]) <= 32 and expected["outputs"]["last_logits"]["dims"] == [1, 8192]


def test_a_config_without_token_ids_takes_transformers_defaults(tmp_path):
    write_checkpoint("diff-v1", tmp_path / "ck")
    config = json.loads((tmp_path / "ck/config.json").read_text())
    assert config_token_id(config, "bos_token_id") == config["bos_token_id"], "a stated id is used"
    config["eos_token_id"] = 7
    assert config_token_id(config, "eos_token_id") == 7
    assert config_token_id({**config, "bos_token_id": None}, "bos_token_id") == 1, "null is left out"
    config.pop("eos_token_id")
    config.pop("bos_token_id")
    assert (config_token_id(config, "bos_token_id"), config_token_id(config, "eos_token_id")) == (1, 2), "LlamaConfig's defaults"
    # The checkpoint's model is built from a config that leaves them out (a KeyError before).
    model = diff_model(config, read_weights(tmp_path / "ck"))
    assert model.cfg.vocab_size == config["vocab_size"]
