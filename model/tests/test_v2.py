"""DIFF V2 (ModelConfig variant "v2"): the attention of the official multihead_flashdiffv2 module,
recomputed here from a layer's weights; lambda per token and head; its interventions; its package
(config fields, ONNX Runtime against PyTorch, reading it back)."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import run_onnxruntime
from model.export import intervention_inputs, reference_outputs
from model.fixtures import FIXTURE_TOKENIZER, tiny_model
from model.model import THUMBNAIL_SIZE, ModelConfig, Transformer, apply_rotary, pooling_matrix, rotary_tables
from model.package import load_package, write_package
from model.tokenizer import ByteLevelBPE
from test_package import assert_outputs_match
from tolerance import assert_close

VOCAB = ByteLevelBPE.load(FIXTURE_TOKENIZER).vocab_size
H, KV = 4, 2  # differential heads and KV heads: each KV head serves four query sub-heads
IDS = torch.tensor([[3, 17, 42, 5, 88, 23, 9, 61, 14, 70, 2, 33]])


def make_v2(seed=0, **overrides):
    torch.manual_seed(seed)
    cfg = dict(kind="diff", variant="v2", vocab_size=97, n_layer=2, n_head=H, n_kv_head=KV, n_embd=64, max_seq_len=64)
    model = Transformer(ModelConfig(**{**cfg, **overrides})).eval()
    with torch.no_grad():  # sharper maps, and lambda that visibly varies from token to token
        for layer in model.layers:
            layer.attn.q_proj.weight.mul_(10)
            layer.attn.k_proj.weight.mul_(10)
            layer.attn.lambda_proj.weight.mul_(20)
    return model


def run(model, interventions=None):
    with torch.no_grad():
        return model(IDS, inspect=True, interventions=interventions)


def official_attention(attn, x, cos, sin, lambda_value=None):
    """multihead_flashdiffv2's forward, written out: 2H query heads and n_kv KV heads of width d, one
    causal softmax per query head (query head s reads KV head s // (2H / n_kv)), attn1 = even heads,
    attn2 = odd, out = attn1 - sigmoid(x W_lambda) attn2, then the output projection."""
    T, d = x.shape[0], attn.cfg.head_dim
    q = (x @ attn.q_proj.weight.T).view(T, 2 * H, d).transpose(0, 1)
    k = (x @ attn.k_proj.weight.T).view(T, KV, d).transpose(0, 1)
    v = (x @ attn.v_proj.weight.T).view(T, KV, d).transpose(0, 1)
    q, k = apply_rotary(q[None], cos, sin)[0], apply_rotary(k[None], cos, sin)[0]
    causal = torch.ones(T, T).tril().bool()
    per_query_head = []
    for s in range(2 * H):
        kv = s // (2 * H // KV)
        scores = (q[s] @ k[kv].T / math.sqrt(d)).masked_fill(~causal, float("-inf"))
        per_query_head.append(F.softmax(scores, dim=-1) @ v[kv])
    out = torch.stack(per_query_head)  # (2H, T, d)
    lam = torch.sigmoid(x @ attn.lambda_proj.weight.T) if lambda_value is None else lambda_value  # (T, H)
    heads = out[0::2] - lam.T[..., None] * out[1::2]
    return heads.transpose(0, 1).reshape(T, H * d) @ attn.out_proj.weight.T


def test_weights_have_the_official_shapes():
    model = make_v2()
    d, E = model.cfg.head_dim, model.cfg.n_embd
    shapes = {name.split("attn.")[1]: tuple(p.shape) for name, p in model.named_parameters() if "layers.0.attn." in name}
    assert shapes == {"q_proj.weight": (2 * H * d, E), "k_proj.weight": (KV * d, E), "v_proj.weight": (KV * d, E),
                      "out_proj.weight": (E, H * d), "lambda_proj.weight": (H, E)}
    assert model.lambdas() == []


def test_layer_equals_the_official_module():
    model = make_v2()
    _, _, ins = run(model)
    T, d = IDS.shape[1], model.cfg.head_dim
    cos, sin = rotary_tables(T, d, model.cfg.rope_theta, "cpu")
    for layer, block in enumerate(model.layers):
        x = block.attn_norm(ins["hidden_states"][0, layer - 1] if layer else model.tok_emb(IDS[0]))
        with torch.no_grad():
            out, _ = block.attn(x[None], cos, sin)
            assert_close(out[0], official_attention(block.attn, x, cos, sin), f"layer {layer} attention")
            assert_close(ins["lambda"][0, layer], torch.sigmoid(x @ block.attn.lambda_proj.weight.T), "lambda")


def test_inspection_shapes_and_thumbnails():
    model = make_v2()
    _, _, ins = run(model)
    T, d, L = IDS.shape[1], model.cfg.head_dim, model.cfg.n_layer
    assert ins["q"].shape == (1, L, 2 * H, T, d)
    assert ins["k"].shape == (1, L, KV, T, d)
    assert ins["lambda"].shape == (1, L, T, H)
    maps = torch.stack((ins["attn_a1"], ins["attn_a2"]), dim=3).flatten(2, 3)  # sub-heads 2h, 2h + 1
    pool = pooling_matrix(T, THUMBNAIL_SIZE, "cpu", torch.float32)
    assert_close(ins["attn_thumbnails"], pool @ maps @ pool.T, "thumbnails")


def test_lambda_a2_thumbnails_weight_each_query_row_by_its_own_lambda():
    # Longer than THUMBNAIL_SIZE, so that rows with different lambdas share a pooled row.
    ids = torch.arange(3, 3 + 2 * THUMBNAIL_SIZE + 7)[None]
    with torch.no_grad():
        _, _, ins = make_v2()(ids, inspect=True)
    pool = pooling_matrix(ids.shape[1], THUMBNAIL_SIZE, "cpu", torch.float32)
    weighted_a2 = ins["lambda"].transpose(2, 3)[..., None] * ins["attn_a2"]  # (B, L, H, T, T)
    assert_close(ins["lambda_a2_thumbnails"], pool @ weighted_a2 @ pool.T, "lambda * A2 thumbnails")
    pooled_then_weighted = (pool @ ins["lambda"].transpose(2, 3)[..., None]) * (pool @ ins["attn_a2"] @ pool.T)
    assert not torch.allclose(ins["lambda_a2_thumbnails"], pooled_then_weighted, atol=1e-4), "the order matters here"


def test_lambda_varies_per_token_and_head():
    lam = run(make_v2())[2]["lambda"][0]  # (L, T, H)
    assert ((lam > 0) & (lam < 1)).all(), "sigmoid"
    assert lam.std(dim=1).min() > 0.05, "each head's lambda changes along the text"
    assert lam.std(dim=2).min() > 0.01, "the heads of a token differ"


def test_lambda_zero_is_softmax_a1_times_v_and_lambda_is_what_ran():
    model = make_v2()
    neutral = intervention_inputs(model)
    scale, shift, mask = neutral["lambda_scale"].clone(), neutral["lambda_shift"].clone(), neutral["head_mask"]
    scale[1], shift[1] = 0, torch.tensor([0.0, 0.25, 0.5, 1.0])
    _, _, ins = run(model, (scale, shift, mask))
    T, d = IDS.shape[1], model.cfg.head_dim
    assert_close(ins["lambda"][0, 1], shift[1].expand(T, H), "the lambda each head ran with")
    block = model.layers[1]
    x = ins["hidden_states"][0, 0]
    cos, sin = rotary_tables(T, d, model.cfg.rope_theta, "cpu")
    with torch.no_grad():
        x = x + official_attention(block.attn, block.attn_norm(x), cos, sin, lambda_value=shift[1].expand(T, H))
        x = x + block.ffn(block.ffn_norm(x))
    assert_close(ins["hidden_states"][0, 1], x, "layer 1 with lambda set per head (head 0: softmax(A1) V alone)")
    assert_close(ins["hidden_states"][0, 0], run(model)[2]["hidden_states"][0, 0], "layer 0 untouched")


def test_an_ablated_head_contributes_nothing():
    model = make_v2()
    neutral = intervention_inputs(model)
    mask = neutral["head_mask"].clone()
    mask[0, 2] = 0
    plain = run(model)[0]
    masked = run(model, (neutral["lambda_scale"], neutral["lambda_shift"], mask))[0]
    with torch.no_grad():  # head 2's output columns of the projection
        d = model.cfg.head_dim
        model.layers[0].attn.out_proj.weight[:, 2 * d:3 * d] = 0
    assert_close(masked, run(model)[0], "masking head 2 = zeroing its output projection")
    assert not torch.allclose(plain, masked)


def test_config_validation():
    with pytest.raises(ValueError, match="variant"):
        ModelConfig(kind="diff", variant="v3")
    with pytest.raises(ValueError, match="needs kind 'diff'"):
        ModelConfig(kind="baseline", variant="v2")
    with pytest.raises(ValueError, match=r"2 \* n_head \(8\) must be a multiple of n_kv_head \(3\)"):
        ModelConfig(kind="diff", variant="v2", n_head=4, n_kv_head=3, n_embd=64)
    assert ModelConfig(kind="diff", variant="v2", n_head=4, n_kv_head=8, n_embd=64).n_kv_softmax_heads == 8


def test_package_config_onnxruntime_and_read_back(tmp_path):
    model = tiny_model("diff", VOCAB, seed=3, variant="v2", n_kv_head=1)
    pkg = write_package(model, FIXTURE_TOKENIZER, tmp_path / "v2", name="v2", training={})
    config = json.loads((pkg / "config.json").read_text())
    assert (config["variant"], config["head_dim"], config["value_head_dim"]) == ("v2", 8, 8)
    assert (config["n_softmax_heads"], config["n_kv_softmax_heads"]) == (4, 1)
    assert config["lambda"] == {"granularity": "token", "init": [], "value": []}
    assert config["intervention_inputs"] == {"lambda_scale": 1.0, "lambda_shift": 0.0, "head_mask": 1.0}
    assert config["outputs"][-2:] == ["lambda", "lambda_a2_thumbnails"]
    assert "lambda_a2_thumbnails" in config["optional_outputs"]
    sequences = [[0, 5, 9, 200, 31, 7, 7, 64], list(range(1, 40))]
    for ids, ort in zip(sequences, run_onnxruntime(pkg / "model.onnx", sequences, tmp_path)):
        assert_outputs_match(ort, reference_outputs(model, ids, top_k=10))
    loaded, _, _ = load_package(pkg)
    assert loaded.cfg.variant == "v2"
    for name, value in reference_outputs(model, sequences[0], 10).items():
        assert np.array_equal(value, reference_outputs(loaded, sequences[0], 10)[name]), name
