"""Contributions to one prediction (contributions.onnx, the CLI's explain): every part the extension
reports is recomputed here in PyTorch from the model's own forward pass, read with forward hooks
(each layer's values, its heads' outputs before the output projection, DIFF's head-norm input, the
MLP's output, the final norm's input) and the eager attention maps, never from the graph's code. The
packages are exported (model.py) or imported (random-weight Hugging Face checkpoints, run by
model/hf_reference.py or model.py) into the test's folder and explained by the command line (out/,
built first)."""

import json
import subprocess

import pytest
import torch

from conftest import REPO
from model.checkpoints import diff_model, write_checkpoint
from model.fixtures import FIXTURE_TOKENIZER, tiny_model
from model.hf_reference import REFERENCES, repeat_heads
from model.model import lambda_init_for
from model.package import load_package, load_tokenizer, write_package
from model.safetensors_files import read_weights
from tolerance import assert_close

TEXT = "def area(r):\n    return 3.14159 * r * r\n\nprint(area(2))\n"
MODELS = {
    "diff": {"kind": "diff"},
    "diff-gqa": {"kind": "diff", "n_head": 4, "n_kv_head": 2, "n_embd": 64},
    "v2": {"kind": "diff", "variant": "v2", "n_kv_head": 1},
    "baseline": {"kind": "baseline"},
    "baseline-gqa": {"kind": "baseline", "n_kv_head": 1},
}


def capture(model, ids):
    """The forward pass's intermediate tensors, batch 1 removed, per layer."""
    seen = {"values": [], "heads": [], "raw_heads": [], "mlp": []}
    hooks = []
    for layer in model.layers:
        hooks.append(layer.attn.v_proj.register_forward_hook(lambda m, i, o: seen["values"].append(o[0])))
        hooks.append(layer.attn.out_proj.register_forward_hook(lambda m, i, o: seen["heads"].append(i[0][0])))
        hooks.append(layer.ffn.register_forward_hook(lambda m, i, o: seen["mlp"].append(o[0])))
        if hasattr(layer.attn, "subln"):
            hooks.append(layer.attn.subln.register_forward_hook(lambda m, i, o: seen["raw_heads"].append(i[0][0])))
    hooks.append(model.norm.register_forward_hook(lambda m, i, o: seen.__setitem__("final", i[0][0])))
    try:
        with torch.no_grad():
            logits, _, inspection = model(torch.tensor([ids]), inspect=True)
    finally:
        for hook in hooks:
            hook.remove()
    return seen, logits[0], {name: value[0] for name, value in inspection.items()}


def reference(model, ids, query, target, versus=None):
    """The explanation as the CLI prints it, from the forward pass: {component: (total, a1, a2)}."""
    cfg = model.cfg
    seen, logits, insp = capture(model, ids)
    final = seen["final"][query]
    direction = model.head_weight()[target] - (model.head_weight()[versus] if versus is not None else 0)
    u = direction * model.norm.weight * torch.rsqrt(final.pow(2).mean() + model.norm.eps)
    logit = logits[query, target] - (logits[query, versus] if versus is not None else 0)
    parts = {"embed": (float(u @ model.tok_emb.weight[ids[query]]), None, None)}
    d, S, S_kv = cfg.head_dim, cfg.n_softmax_heads, cfg.n_kv_softmax_heads
    diff, v2 = cfg.kind == "diff", cfg.is_v2
    for depth, layer in enumerate(model.layers):
        attn = layer.attn
        heads_in = seen["heads"][depth][query]
        w_o = attn.out_proj.weight
        heads = cfg.n_head if diff else S
        width = w_o.size(1) // heads
        sub = seen["values"][depth].view(len(ids), S_kv, d)
        for h in range(heads):
            block = slice(h * width, (h + 1) * width)
            total = float(u @ (w_o[:, block] @ heads_in[block]))
            a1 = a2 = None
            if diff and not v2:
                values = seen["values"][depth].view(len(ids), S_kv // 2, 2 * d)[:, h // (S // S_kv)]
                lam = insp["lambda"][depth, query, h]
                held = torch.rsqrt(seen["raw_heads"][depth][h, query].pow(2).mean() + attn.subln.eps)
                gain = attn.subln.weight * held * (1 - attn.lambda_init)
                a1 = float(u @ (w_o[:, block] @ (gain * (insp["attn_a1"][depth, h, query] @ values))))
                a2 = float(u @ (w_o[:, block] @ (gain * (-lam * insp["attn_a2"][depth, h, query] @ values))))
            elif v2:
                lam = insp["lambda"][depth, query, h]
                first, second = (sub[:, s // (S // S_kv)] for s in (2 * h, 2 * h + 1))
                a1 = float(u @ (w_o[:, block] @ (insp["attn_a1"][depth, h, query] @ first)))
                a2 = float(u @ (w_o[:, block] @ (-lam * insp["attn_a2"][depth, h, query] @ second)))
            else:
                a1 = float(u @ (w_o[:, block] @ (insp["attn_a1"][depth, h, query] @ sub[:, h // (S // S_kv)])))
            parts[f"L{depth}.H{h}"] = (total, a1, a2)
        parts[f"L{depth}.mlp"] = (float(u @ seen["mlp"][depth][query]), None, None)
    return float(logit), parts


def hf_reference(reference, ids, query, target):
    """reference()'s answer for a transformers-layout reference (model/hf_reference.py), read by
    wrapping its linear layers and MLPs: {component: (total, a1, a2)}, with the output projections'
    biases as 'constant'."""
    seen, mlp_outputs = {}, []
    linear, mlp = reference.linear, reference.mlp

    def spy_linear(x, name, bias):
        seen[name] = (x, linear(x, name, bias))
        return seen[name][1]

    reference.linear = spy_linear
    reference.mlp = lambda prefix, x: mlp_outputs.append(mlp(prefix, x)) or mlp_outputs[-1]
    with torch.no_grad():
        logits, layers = reference.forward(torch.tensor(ids))
    final = layers[-1]["hidden"][query]
    u = reference.lm_head[target] * reference.weight("model.norm.weight") * torch.rsqrt(final.pow(2).mean() + reference.eps)
    parts = {"embed": (float(u @ reference.weight("model.embed_tokens.weight")[ids[query]]), None, None)}
    S, S_kv, d, T = reference.n_heads, reference.n_kv_heads, reference.head_dim, len(ids)
    constant = 0.0
    for depth, layer in enumerate(layers):
        attn = f"model.layers.{depth}.self_attn."
        merged = seen[attn + "o_proj"][0][query]
        w_o = reference.weight(attn + "o_proj.weight")
        v = repeat_heads(seen[attn + "v_proj"][1].view(T, S_kv, d).transpose(0, 1), S // S_kv)  # [S, T, d]
        probs = layer["probs"][:, query]  # [S, T]
        heads = S // 2 if reference.differential else S
        width = w_o.size(1) // heads
        for h in range(heads):
            block = slice(h * width, (h + 1) * width)
            total = float(u @ (w_o[:, block] @ merged[block]))
            if reference.differential:  # DiffLlama: head h = softmax heads h and h + H over values [v_h ; v_(h+H)]
                values = torch.cat([v[h], v[h + heads]], dim=-1)
                lam = layer["lambda"][query, h]
                held = torch.rsqrt((probs[h] @ values - lam * probs[h + heads] @ values).pow(2).mean() + reference.eps)
                scale = (1 - lambda_init_for(depth)) * held
                a1 = float(u @ (w_o[:, block] @ (scale * (probs[h] @ values))))
                a2 = float(u @ (w_o[:, block] @ (scale * (-lam * probs[h + heads] @ values))))
            else:
                a1, a2 = float(u @ (w_o[:, block] @ (probs[h] @ v[h]))), None
            parts[f"L{depth}.H{h}"] = (total, a1, a2)
        parts[f"L{depth}.mlp"] = (float(u @ mlp_outputs[depth][query]), None, None)
        if reference.attention_bias:
            constant += float(u @ reference.weight(attn + "o_proj.bias"))
    if reference.attention_bias:
        parts["constant"] = (constant, None, None)
    return float(logits[query, target]), parts


def explain_cli(pkg, text_file, query, target, versus=None):
    args = ["node", str(REPO / "out/extension/core/cli.js"), "explain", str(text_file), "--package", str(pkg),
            "--query", str(query), "--target", f"#{target}", "--json"]
    if versus is not None:
        args += ["--versus", f"#{versus}"]
    return json.loads(subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=True).stdout)


def assert_explained(name, got, logit, expected):
    """The CLI's explanation `got` equals the reference's logit and parts."""
    assert_close(got["logit"], logit, f"{name}: logit at {got['query']}")
    parts = {part["component"]: part for part in got["parts"]}
    assert set(parts) == set(expected), name
    for component, (total, a1, a2) in expected.items():
        part = parts[component]
        # The parts' scale is the logit's: compare them with the logit's tolerance.
        assert_close(part["total"], total, f"{name}: {component} total", method_atol=1e-5 * abs(logit))
        if a1 is not None:
            assert_close(part["a1"], a1, f"{name}: {component} a1", method_atol=1e-5 * abs(logit))
            assert_close(a1 + (a2 or 0.0), total, f"{name}: {component}'s split adds up to its output")
        assert ("a2" in part) == (a2 is not None), f"{name}: {component} has an A2 part only in DIFF"
        if a2 is not None:
            assert_close(part["a2"], a2, f"{name}: {component} a2", method_atol=1e-5 * abs(logit))
    assert_close(sum(part["total"] for part in got["parts"]), logit, f"{name}: the parts add up to the logit")


@pytest.mark.parametrize("name", MODELS)
def test_exported_packages_explain_as_the_forward_pass(name, tmp_path):
    tokenizer = load_tokenizer(FIXTURE_TOKENIZER)
    overrides = dict(MODELS[name])
    model = tiny_model(overrides.pop("kind"), tokenizer.vocab_size, **overrides)
    pkg = write_package(model, FIXTURE_TOKENIZER, tmp_path / name, name=name, training={})
    text_file = tmp_path / "text.py"
    text_file.write_text(TEXT)
    ids = [tokenizer.eot_id] + tokenizer.encode(TEXT)
    for query, target, versus in ((len(ids) - 1, 17, None), (9, 101, 33)):
        logit, expected = reference(model, ids, query, target, versus)
        got = explain_cli(pkg, text_file, query, target, versus)
        assert got["target"]["id"] == target and got["query"] == query
        assert_explained(name, got, logit, expected)


@pytest.mark.parametrize("name", ["code-diff", "code-baseline"])
def test_shipped_packages_explain_as_the_forward_pass(name, tmp_path):
    """The trained pair, read back into PyTorch from the package the extension runs."""
    pkg = REPO / "models" / name
    model, _, tokenizer = load_package(pkg)
    text_file = tmp_path / "text.py"
    text_file.write_text(TEXT)
    ids = [tokenizer.eot_id] + tokenizer.encode(TEXT)
    query = len(ids) - 1
    with torch.no_grad():
        top = int(model(torch.tensor([ids]))[0][0, query].argmax())
    for target, versus in ((top, None), (top, 17)):
        logit, expected = reference(model, ids, query, target, versus)
        assert_explained(name, explain_cli(pkg, text_file, query, target, versus), logit, expected)


@pytest.mark.parametrize("fmt, options", [("diffllama", {}), ("llama", {"dtype": "bfloat16"}), ("mistral", {}),
                                          ("diff-v1", {"dtype": "float16"}), ("diff-v2", {})])
def test_imported_packages_explain_as_their_reference(fmt, options, tmp_path):
    source = tmp_path / "source"
    write_checkpoint(fmt, source, **options)
    pkg = tmp_path / "package"
    subprocess.run(["node", str(REPO / "out/extension/core/cli.js"), "import", str(source), "--out", str(pkg)],
                   cwd=REPO, capture_output=True, check=True)
    case = json.loads((source / "expected.json").read_text())
    text_file = tmp_path / "text.txt"
    text_file.write_text(case["text"])
    config, tensors = json.loads((source / "config.json").read_text()), read_weights(source)
    for query, target in ((len(case["ids"]) - 1, 17), (5, 3)):
        if fmt in REFERENCES:
            logit, expected = hf_reference(REFERENCES[fmt](config, tensors), case["ids"], query, target)
        else:
            logit, expected = reference(diff_model(config, tensors), case["ids"], query, target)
        assert_explained(fmt, explain_cli(pkg, text_file, query, target), logit, expected)
