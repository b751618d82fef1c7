"""Invariants of differential attention and of the matched baseline."""

import math

import pytest
import torch

from model.blocked_attention import block_rows
from model.model import ModelConfig, Transformer, apply_rotary, lambda_init_for, rotary_tables
from tolerance import assert_close, is_close


def make(kind="diff", seed=0, **overrides):
    torch.manual_seed(seed)
    cfg = dict(kind=kind, vocab_size=97, n_layer=3, n_head=2, n_embd=32, max_seq_len=64)
    cfg.update(overrides)
    model = Transformer(ModelConfig(**cfg)).eval()
    with torch.no_grad():  # sharper maps make the invariants less trivially satisfied
        for layer in model.layers:
            layer.attn.q_proj.weight.mul_(10)
            layer.attn.k_proj.weight.mul_(10)
    return model


def inspect(model, T=12, seed=1):
    torch.manual_seed(seed)
    ids = torch.randint(0, model.cfg.vocab_size, (2, T))
    with torch.no_grad():
        return model(ids, inspect=True)[2]


@pytest.mark.parametrize("n_kv_head", [None, 1])
def test_softmax_maps_are_causal_distributions(n_kv_head):
    ins = inspect(make(n_kv_head=n_kv_head))
    T = ins["attn_a1"].shape[-1]
    above = torch.ones(T, T).triu(1).bool()
    for name in ("attn_a1", "attn_a2"):
        maps = ins[name]
        assert_close(maps.sum(-1), 1.0, name)
        assert (maps[..., above] == 0).all(), name
        assert (maps >= 0).all(), name


def test_differential_rows_sum_to_one_minus_lambda():
    ins = inspect(make())
    lam = ins["lambda"]  # (B, L, T, H)
    diff = ins["attn_a1"] - lam.permute(0, 1, 3, 2)[..., None] * ins["attn_a2"]
    expected = (1 - lam).permute(0, 1, 3, 2)
    assert_close(diff.sum(-1), expected, "rows of A1 - lambda A2")
    assert (diff < 0).any(), "the differential map of a DIFF model with distinct maps has negative entries"


def test_lambda_init_follows_depth_schedule():
    # The paper's schedule: 0.8 - 0.6 exp(-0.3 depth), depth = 0-based layer index.
    assert [round(lambda_init_for(i), 3) for i in range(6)] == [0.2, 0.356, 0.471, 0.556, 0.619, 0.666]
    model = make(n_layer=6)
    assert [layer.attn.lambda_init for layer in model.layers] == [0.8 - 0.6 * math.exp(-0.3 * i) for i in range(6)]


def test_lambda_reparameterisation():
    model = make()
    attn = model.layers[1].attn
    with torch.no_grad():
        attn.lambda_q1.fill_(0.5), attn.lambda_k1.fill_(0.25)
        attn.lambda_q2.fill_(-0.5), attn.lambda_k2.fill_(0.5)
    d = model.cfg.head_dim
    expected = math.exp(0.125 * d) - math.exp(-0.25 * d) + lambda_init_for(1)
    assert_close(attn.lambda_full().item(), expected, "lambda")
    ins = inspect(model)
    assert_close(ins["lambda"][:, 1], expected, "inspected lambda")
    assert ins["lambda"].shape == (2, model.cfg.n_layer, 12, model.cfg.n_head)


@pytest.mark.parametrize("sub_head", [0, 1, 2, 3])
def test_sub_heads_pair_as_2h_and_2h_plus_1(sub_head):
    """Perturbing the query weights of softmax sub-head s changes only map (s % 2 == 0 ? A1 : A2)
    of differential head s // 2, and nothing else in that layer's maps."""
    model = make()
    before = inspect(model)
    d = model.cfg.head_dim
    with torch.no_grad():
        model.layers[0].attn.q_proj.weight[sub_head * d:(sub_head + 1) * d] *= -3
    after = inspect(model)
    head, changed = sub_head // 2, ("attn_a1", "attn_a2")[sub_head % 2]
    for name in ("attn_a1", "attn_a2"):
        for h in range(model.cfg.n_head):
            same = is_close(after[name][:, 0, h], before[name][:, 0, h])
            assert same == (not (name == changed and h == head)), (name, h)


def test_flash_form_equals_map_form():
    """The official FlashAttention form attn(q1,k1,v) - lambda attn(q2,k2,v) is the same maths."""
    model = make()
    attn, cfg = model.layers[0].attn, model.cfg
    torch.manual_seed(3)
    x = torch.randn(1, 9, cfg.n_embd)
    cos, sin = rotary_tables(9, cfg.head_dim, cfg.rope_theta, x.device)
    with torch.no_grad():
        out, _ = attn(x, cos, sin)
        d, H = cfg.head_dim, cfg.n_head
        q = apply_rotary(attn.q_proj(x).view(1, 9, 2 * H, d).transpose(1, 2), cos, sin)
        k = apply_rotary(attn.k_proj(x).view(1, 9, 2 * H, d).transpose(1, 2), cos, sin)
        v = attn.v_proj(x).view(1, 9, H, 2 * d).transpose(1, 2)
        mask = torch.ones(9, 9).triu(1).bool()

        def softmax_attention(qs, ks):
            return torch.softmax((qs @ ks.transpose(-1, -2) / math.sqrt(d)).masked_fill(mask, -math.inf), -1) @ v

        heads = softmax_attention(q[:, 0::2], k[:, 0::2]) - attn.lambda_full() * softmax_attention(q[:, 1::2], k[:, 1::2])
        normed = heads * torch.rsqrt(heads.pow(2).mean(-1, keepdim=True) + 1e-5) * attn.subln.weight
        expected = attn.out_proj((normed * (1 - attn.lambda_init)).transpose(1, 2).reshape(1, 9, -1))
    assert_close(out, expected, "attention output")


def test_per_head_norm_covers_2d_channels():
    model = make()
    for layer in model.layers:
        assert layer.attn.subln.weight.shape == (2 * model.cfg.head_dim,)
        assert layer.attn.subln.eps == 1e-5


def test_rotary_is_interleaved_and_relative():
    d = 8
    cos, sin = rotary_tables(16, d, 10000.0, "cpu")
    x = torch.zeros(1, 1, 16, d)
    x[..., 2] = 1.0  # only the pair (2, 3) is set
    rotated = apply_rotary(x, cos, sin)
    others = [i for i in range(d) if i not in (2, 3)]
    assert (rotated[..., others] == 0).all(), "interleaved RoPE rotates dims (2i, 2i+1) together"
    torch.manual_seed(0)
    q, k = torch.randn(1, 1, 1, d).expand(1, 1, 16, d), torch.randn(1, 1, 1, d).expand(1, 1, 16, d)
    qr, kr = apply_rotary(q, cos, sin)[0, 0], apply_rotary(k, cos, sin)[0, 0]
    assert_close(qr[13] @ kr[10], qr[5] @ kr[2], "scores depend on relative position only")


@pytest.mark.parametrize("cfg", [
    dict(vocab_size=97, n_layer=3, n_head=2, n_embd=32),
    dict(vocab_size=8192, n_layer=6, n_head=4, n_embd=256),
    dict(vocab_size=8192, n_layer=8, n_head=4, n_embd=384, n_kv_head=2),
])
def test_baseline_matches_parameter_count(cfg):
    diff = Transformer(ModelConfig(kind="diff", **cfg)).num_params()
    base = Transformer(ModelConfig(kind="baseline", **cfg)).num_params()
    assert abs(diff - base) / base < 0.01


def test_baseline_runs_2h_heads_of_head_dim():
    ins = inspect(make("baseline"))
    assert ins["attn_a1"].shape[2] == 4 and "attn_a2" not in ins and "lambda" not in ins
    assert ins["q"].shape[-1] == 8


def test_causal_prefix_invariance():
    """Outputs at position t do not depend on tokens after t."""
    model = make()
    torch.manual_seed(5)
    ids = torch.randint(0, 97, (1, 20))
    with torch.no_grad():
        full = model(ids)[0]
        prefix = model(ids[:, :11])[0]
    assert_close(full[:, :11], prefix, "logits of the prefix")


def test_config_rejects_inconsistent_shapes():
    with pytest.raises(ValueError, match="n_embd"):
        ModelConfig(n_embd=30, n_head=4)
    with pytest.raises(ValueError, match="kind"):
        ModelConfig(kind="mamba")
    with pytest.raises(ValueError, match="unknown fields"):
        ModelConfig.from_dict({"kind": "diff", "n_heads": 3})


@pytest.mark.parametrize("kind", ["diff", "baseline"])
def test_blocked_attention_matches_whole_maps(kind):
    """Attention over blocks of query rows (several blocks and a partial last one) gives the logits
    that the whole T x T maps of an inspection give."""
    model = Transformer(ModelConfig(kind=kind, vocab_size=97, n_layer=2, n_head=2, n_embd=32, max_seq_len=640)).eval()
    assert block_rows(model.cfg.n_softmax_heads, 600) < 300, "600 tokens span three blocks"
    ids = torch.randint(0, 97, (1, 600), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        blocked = model(ids)[0]
        whole = model(ids, inspect=True)[0]
    assert_close(blocked, whole, "logits")


def test_recomputed_layers_train_like_stored_ones():
    """Recomputing each layer in the backward pass (long training windows) gives the gradients of
    the plain backward pass, call after call and under bfloat16 autocast as training runs (a
    scripted attention once broke there on the second call)."""
    def gradients(recompute: bool) -> list:
        torch.manual_seed(0)
        model = Transformer(ModelConfig(kind="diff", vocab_size=97, n_layer=2, n_head=2, n_embd=32, max_seq_len=512)).train()
        model.recompute_layers = recompute
        for step in range(3):
            ids = torch.randint(0, 97, (1, 300), generator=torch.Generator().manual_seed(step))
            model.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = model(ids, ids)[1]
            loss.backward()
        return [p.grad.clone() for p in model.parameters()]

    recomputed_first = gradients(True)  # first: the first calls of the attention are the ones that broke
    for plain, recomputed in zip(gradients(False), recomputed_first):
        assert_close(recomputed, plain, "gradient")
