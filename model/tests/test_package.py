"""Export to ONNX, the package format, and clear failures on bad input."""

import json
import os

import numpy as np
import onnx
import pytest
import torch

from conftest import run_module, run_onnxruntime
from model.export import InspectionGraph, intervention_inputs, prediction_outputs, reference_outputs
from model.blocked_attention import block_rows
from model.fixtures import FIXTURE_TOKENIZER, FIXTURES, golden_record, tiny_model
from model.package import (WEIGHT_ALIGNMENT, PackageError, load_checkpoint, load_package, save_checkpoint,
                           sha256_file, write_package)
from model.tokenizer import ByteLevelBPE
from tolerance import assert_close

VOCAB = ByteLevelBPE.load(FIXTURE_TOKENIZER).vocab_size
VARIANTS = {
    "diff": dict(kind="diff"),
    "baseline": dict(kind="baseline"),
    "diff-gqa": dict(kind="diff", n_kv_head=1),
}


def assert_outputs_match(ort: dict, torch_out: dict):
    assert set(ort) == set(torch_out)
    for name, expected in torch_out.items():
        actual = ort[name]
        assert actual.shape == expected.shape, name
        if name == "top_ids":
            # Ids may swap only where two probabilities tie within float error.
            differs = actual != expected
            assert_close(ort["top_probs"][differs], torch_out["top_probs"][differs], "top_probs where top_ids differ")
        else:
            assert_close(actual, expected, name)


@pytest.mark.parametrize("variant", VARIANTS)
def test_onnxruntime_matches_pytorch(variant, tmp_path):
    """The graph's attention over blocks of query rows (an ONNX Loop) against PyTorch's whole maps,
    at lengths of one block, exactly two, and several with a partial last block."""
    model = tiny_model(vocab_size=VOCAB, seed=7, max_seq_len=640, **VARIANTS[variant])
    pkg = write_package(model, FIXTURE_TOKENIZER, tmp_path / variant, name=variant, training={})
    rows = block_rows(model.cfg.n_softmax_heads, model.cfg.max_seq_len)
    assert model.cfg.max_seq_len > 2 * rows, "the longest run must span more than two blocks"
    assert "Loop" in {node.op_type for node in onnx.load(str(pkg / "model.onnx")).graph.node}
    assert json.loads((pkg / "config.json").read_text())["attention"] == "blocked"
    rng = np.random.default_rng(0)
    lengths = [1, 2, 17, 2 * rows, model.cfg.max_seq_len]
    sequences = [rng.integers(0, VOCAB, n).tolist() for n in lengths]
    for ids, ort in zip(sequences, run_onnxruntime(pkg / "model.onnx", sequences, tmp_path)):
        assert_outputs_match(ort, reference_outputs(model, ids, top_k=10))


def test_package_files_and_config(tmp_path):
    model = tiny_model("diff", VOCAB)
    pkg = write_package(model, FIXTURE_TOKENIZER, tmp_path / "p", name="p", training={"tokens": 0})
    assert sorted(os.listdir(pkg)) == ["config.json", "contributions.onnx", "lens.onnx", "manifest.json", "model.onnx", "tokenizer.json", "weights.bin"]
    # The three graphs read one weights.bin in which each parameter is stored once.
    parameters = [p.detach().numpy() for p in model.parameters()]
    assert (pkg / "weights.bin").stat().st_size <= sum(p.nbytes + WEIGHT_ALIGNMENT for p in parameters)
    for graph in ("model.onnx", "lens.onnx", "contributions.onnx"):
        external = [t for t in onnx.load(str(pkg / graph), load_external_data=False).graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
        assert external and all(t.external_data[0].value == "weights.bin" for t in external), graph
    manifest = json.loads((pkg / "manifest.json").read_text())
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == sha256_file(pkg / name)
    config = json.loads((pkg / "config.json").read_text())
    assert config["kind"] == "diff" and config["pairing"] == "adjacent"
    assert config["n_softmax_heads"] == 2 * config["n_head"]
    assert config["head_dim"] == config["n_embd"] // config["n_head"] // 2
    assert_close(config["lambda"]["value"], model.lambdas(), "config lambda")
    assert config["outputs"][-2:] == ["attn_thumbnails", "lambda"]
    assert config["optional_outputs"] == ["last_logits", "attn_thumbnails"]
    assert not list(tmp_path.glob(".*")), "no temporary folder is left behind"


@pytest.mark.parametrize("kind", ["diff", "baseline"])
def test_package_reads_back_into_pytorch(kind, tmp_path):
    model = tiny_model(kind, VOCAB)
    pkg = write_package(model, FIXTURE_TOKENIZER, tmp_path / kind, name=kind, training={})
    loaded, config, tokenizer = load_package(pkg)
    ids = [0] + tokenizer.encode("x = 1\n")
    for name, value in reference_outputs(model, ids, 10).items():
        assert np.array_equal(value, reference_outputs(loaded, ids, 10)[name]), name


def test_committed_fixtures_match_golden_outputs(repo, tmp_path):
    """The fixture packages, their golden outputs and ONNX Runtime all agree."""
    for name in FIXTURES:
        model, config, tokenizer = load_package(repo / "models" / name)
        golden = json.loads((repo / "test/fixtures/golden" / f"{name}.json").read_text())
        fresh = golden_record(model, tokenizer, config, golden["text"])
        assert fresh["ids"] == golden["ids"]
        expected = {k: np.array(v["data"], dtype=v["dtype"]).reshape(v["dims"]) for k, v in golden["outputs"].items()}
        for k, v in fresh["outputs"].items():
            assert_close(v["data"], expected[k].reshape(-1), f"{name} {k}")
        [ort] = run_onnxruntime(repo / "models" / name / "model.onnx", [golden["ids"]], tmp_path)
        assert_outputs_match(ort, expected)


def test_failed_export_leaves_nothing_and_keeps_old_package(tmp_path):
    model = tiny_model("diff", VOCAB)
    pkg = write_package(model, FIXTURE_TOKENIZER, tmp_path / "p", name="p", training={})
    before = {f: sha256_file(pkg / f) for f in os.listdir(pkg)}
    with pytest.raises(ValueError, match="top_k"):
        write_package(model, FIXTURE_TOKENIZER, tmp_path / "p", name="p", training={}, top_k=0)
    with pytest.raises(ValueError, match="top_k"):
        write_package(model, FIXTURE_TOKENIZER, tmp_path / "q", name="q", training={}, top_k=0)
    assert sorted(os.listdir(tmp_path)) == ["p"]
    assert {f: sha256_file(pkg / f) for f in os.listdir(pkg)} == before


@pytest.mark.parametrize("damaged", ["model.onnx", "weights.bin"])
def test_tampered_package_is_refused(damaged, tmp_path):
    pkg = write_package(tiny_model("diff", VOCAB), FIXTURE_TOKENIZER, tmp_path / "p", name="p", training={})
    with open(pkg / damaged, "r+b") as f:
        f.seek(200)
        f.write(b"\x00\x01\x02")
    with pytest.raises(PackageError, match=damaged.replace(".", r"\.") + r": sha256 is .* but manifest\.json says"):
        load_package(pkg)


# --- bad input through the command line: a clear message, a non-zero exit, nothing written ---

def export_cli(checkpoint, out, tokenizer=FIXTURE_TOKENIZER):
    result = run_module("export", "--checkpoint", checkpoint, "--tokenizer", tokenizer, "--out", out)
    return result


def test_cli_exports_a_checkpoint_and_inspects_the_package(tmp_path):
    model = tiny_model("diff", VOCAB)
    save_checkpoint(tmp_path / "ckpt.pt", model, training={"steps": 0})
    result = export_cli(tmp_path / "ckpt.pt", tmp_path / "pkg")
    assert result.returncode == 0, result.stderr
    inspected = run_module("inspect", "--package", tmp_path / "pkg", "--text", "def f(x):\n    return x", "--json")
    assert inspected.returncode == 0, inspected.stderr
    report = json.loads(inspected.stdout)
    assert_close(report["lambda"], model.lambdas(), "inspected lambda")
    assert len(report["attention"]) == model.cfg.n_layer * model.cfg.n_head
    assert len(report["next_tokens"]) == 5 and report["next_tokens"][0]["prob"] >= report["next_tokens"][-1]["prob"]
    summary = run_module("inspect", "--package", tmp_path / "pkg", "--text", "hello")
    assert "lambda per layer: L0=" in summary.stdout and "next token:" in summary.stdout


def test_truncated_checkpoint(tmp_path):
    save_checkpoint(tmp_path / "ckpt.pt", tiny_model("diff", VOCAB), training={})
    data = (tmp_path / "ckpt.pt").read_bytes()
    (tmp_path / "ckpt.pt").write_bytes(data[: len(data) // 2])
    result = export_cli(tmp_path / "ckpt.pt", tmp_path / "pkg")
    assert result.returncode == 2
    assert "ckpt.pt: not a readable PyTorch checkpoint" in result.stderr
    assert not (tmp_path / "pkg").exists()


@pytest.mark.parametrize("field,value,implied", [
    ("n_head", 4, "2"),
    ("n_embd", 64, "32"),
    ("vocab_size", VOCAB + 5, str(VOCAB)),
    ("n_layer", 3, "2"),
    ("kind", "baseline", "'diff'"),
])
def test_config_that_disagrees_with_weights(tmp_path, field, value, implied):
    model = tiny_model("diff", VOCAB)
    save_checkpoint(tmp_path / "ckpt.pt", model, training={})
    ckpt = torch.load(tmp_path / "ckpt.pt")
    ckpt["config"][field] = value
    torch.save(ckpt, tmp_path / "ckpt.pt")
    result = export_cli(tmp_path / "ckpt.pt", tmp_path / "pkg")
    assert result.returncode == 2
    assert f"config.{field} is {value!r} but the weights imply {implied}" in result.stderr
    assert not (tmp_path / "pkg").exists()


def test_tokenizer_that_does_not_match_the_model(tmp_path):
    model = tiny_model("diff", VOCAB + 3)
    save_checkpoint(tmp_path / "ckpt.pt", model, training={})
    result = export_cli(tmp_path / "ckpt.pt", tmp_path / "pkg")
    assert result.returncode == 2
    assert f"the tokenizer has {VOCAB} tokens but config.vocab_size is {VOCAB + 3}" in result.stderr
    assert not (tmp_path / "pkg").exists() and not list(tmp_path.glob(".pkg*"))


def test_foreign_checkpoint(tmp_path):
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(PackageError, match="field 'format'"):
        load_checkpoint(tmp_path / "other.pt")


def test_predictions_over_blocks_match_whole_logits():
    """The inspection graph's prediction head, applied to blocks of rows, gives what the whole
    (T, V) logits give."""
    model = tiny_model("diff", VOCAB, max_seq_len=640)
    rows = block_rows(1, VOCAB)
    assert 600 > 2 * rows, "600 tokens span three blocks of the head"
    ids = torch.randint(0, VOCAB, (1, 600), generator=torch.Generator().manual_seed(4))
    graph = InspectionGraph(model, top_k=10)
    with torch.no_grad():
        blocked = dict(zip(graph.names, graph(ids, *intervention_inputs(model).values())))
        whole = prediction_outputs(model(ids)[0], ids, top_k=10)
    for name, expected in whole.items():
        assert_close(blocked[name], expected, name)
