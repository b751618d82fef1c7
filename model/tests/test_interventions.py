"""Interventions (model.Intervention, the inspection graph's intervention inputs): the neutral values
change nothing; lambda 0 turns a differential head into softmax(A1) V, recomputed here from the
layer's weights; an ablated head contributes nothing. ONNX Runtime's side is in
test/unit/interventions.test.ts."""

import torch
import torch.nn.functional as F

from model.export import intervention_inputs
from model.model import apply_rotary, rotary_tables
from test_model import make
from tolerance import assert_close

IDS = torch.tensor([[3, 17, 42, 5, 88, 23, 9, 61, 14, 70]])


def run(model, interventions=None):
    with torch.no_grad():
        return model(IDS, inspect=True, interventions=interventions)


def neutral(model):
    values = intervention_inputs(model)
    ones = values["head_mask"]
    return (values.get("lambda_scale", ones), values.get("lambda_shift", ones - 1), ones)


def test_neutral_values_change_nothing():
    for kind in ("diff", "baseline"):
        model = make(kind)
        logits, _, plain = run(model)
        logits_n, _, same = run(model, neutral(model))
        assert torch.equal(logits, logits_n), kind
        for name in plain:
            assert torch.equal(plain[name], same[name]), f"{kind}: {name}"


def test_lambda_zero_is_softmax_a1_times_v():
    model = make("diff")
    layer = 1
    scale, shift, mask = neutral(model)
    scale = scale.clone()
    scale[layer] = 0
    _, _, ins = run(model, (scale, shift, mask))
    # The layer recomputed from its weights: differential head h is softmax(q_2h k_2h^T / sqrt(d)) V_h.
    block, cfg = model.layers[layer], model.cfg
    x = ins["hidden_states"][0, layer - 1]  # the layer's input (batch 1)
    T, d, H = x.shape[0], cfg.head_dim, cfg.n_head
    a = block.attn_norm(x)
    q = (a @ block.attn.q_proj.weight.T).view(T, 2 * H, d).transpose(0, 1)
    k = (a @ block.attn.k_proj.weight.T).view(T, 2 * H, d).transpose(0, 1)
    v = (a @ block.attn.v_proj.weight.T).view(T, H, 2 * d).transpose(0, 1)
    cos, sin = rotary_tables(T, d, cfg.rope_theta, x.device)
    q, k = apply_rotary(q[None], cos, sin)[0], apply_rotary(k[None], cos, sin)[0]
    causal = torch.ones(T, T).tril().bool()
    heads = []
    for h in range(H):
        scores = (q[2 * h] @ k[2 * h].T) / d ** 0.5
        a1 = F.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)
        out = a1 @ v[h]
        out = out * torch.rsqrt(out.pow(2).mean(-1, keepdim=True) + cfg.norm_eps) * block.attn.subln.weight
        heads.append(out * (1 - block.attn.lambda_init))
    x = x + torch.cat(heads, dim=-1) @ block.attn.out_proj.weight.T
    x = x + block.ffn(block.ffn_norm(x))
    assert_close(ins["hidden_states"][0, layer], x, "layer output with lambda 0")


def test_an_ablated_head_contributes_nothing():
    for kind in ("diff", "baseline"):
        model = make(kind)
        layer, head = 1, 1
        scale, shift, mask = neutral(model)
        mask = mask.clone()
        mask[layer, head] = 0
        width = model.cfg.n_embd // mask.shape[1]  # the head's value rows
        logits_before, _, _ = run(model, (scale, shift, mask))
        with torch.no_grad():
            model.layers[layer].attn.v_proj.weight[head * width:(head + 1) * width] += 1.0
        logits_after, _, _ = run(model, (scale, shift, mask))
        assert torch.equal(logits_before, logits_after), f"{kind}: the masked head's values do not matter"
        logits_unmasked, _, _ = run(model, neutral(model))
        with torch.no_grad():
            model.layers[layer].attn.v_proj.weight[head * width:(head + 1) * width] -= 1.0
        logits_plain, _, _ = run(model, neutral(model))
        assert not torch.allclose(logits_unmasked, logits_plain), f"{kind}: unmasked, they do"


def test_the_lens_at_the_last_layer_is_the_model_prediction():
    from model.export import InspectionGraph, LogitLens
    for kind in ("diff", "baseline"):
        model = make(kind)
        with torch.no_grad():
            outputs = dict(zip(InspectionGraph(model, 5).names, InspectionGraph(model, 5)(IDS)))
            lens_ids, lens_probs = LogitLens(model, 5)(outputs["hidden_states"][0, -1])
        assert torch.equal(lens_ids, outputs["top_ids"][0]), kind
        assert_close(lens_probs, outputs["top_probs"][0], f"{kind}: lens probabilities")
