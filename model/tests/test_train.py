"""The training loop: it learns, checkpoints, resumes with the same data order, and exports."""

import json

import numpy as np
import pytest

from model.package import load_checkpoint, write_package
from model.tokenizer import train_bpe
from model.data import batch_at
from model.train import STOPPED_EARLY, main

TEXT = "def add(a, b):\n    return a + b\n\nThe quick brown fox jumps over the lazy dog.\n" * 200


def make_corpus(tmp_path):
    data = tmp_path / "corpus"
    data.mkdir()
    for name in ("train", "val_code", "val_prose"):
        (data / f"{name}.txt").write_text(TEXT)
    train_bpe([TEXT], vocab_size=300).save(tmp_path / "tokenizer.json")
    return data, tmp_path / "tokenizer.json"


def train(tmp_path, data, tokenizer, kind, steps, *extra):
    main(["--kind", kind, "--data", str(data), "--tokenizer", str(tokenizer), "--out", str(tmp_path / kind),
          "--n-layer", "2", "--n-head", "2", "--n-embd", "32", "--context", "256", "--windows", "32", "--batch-size", "4",
          "--steps", str(steps), "--warmup", "2", "--lr", "3e-3", "--eval-every", "10", "--eval-batches", "2",
          "--checkpoint-every", "5", *extra])


def test_a_run_stopped_early_checkpoints_and_exits_non_zero(tmp_path):
    data, tokenizer = make_corpus(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        train(tmp_path, data, tokenizer, "baseline", 50, "--max-minutes", "1e-9")
    assert stopped.value.code == STOPPED_EARLY
    assert load_checkpoint(tmp_path / "baseline" / "checkpoint.pt")[1]["training"]["step"] < 50


def test_batches_depend_only_on_seed_and_step():
    data = np.arange(1000, dtype=np.uint16)
    a, b = batch_at(data, 7, 4, 16, seed=1), batch_at(data, 7, 4, 16, seed=1)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert np.array_equal(a[1][:, :-1], a[0][:, 1:]), "targets are inputs shifted by one"
    assert not np.array_equal(batch_at(data, 8, 4, 16, seed=1)[0], a[0])


def test_training_learns_checkpoints_resumes_and_exports(tmp_path):
    data, tokenizer = make_corpus(tmp_path)
    train(tmp_path, data, tokenizer, "diff", 20, "--max-minutes", "5")
    log = [json.loads(line) for line in (tmp_path / "diff" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 21))
    assert [r["tokens"] for r in log] == [4 * 32 * s for s in range(1, 21)], "tokens seen so far"
    assert log[-1]["loss"] < log[0]["loss"] - 1.0, "the loss falls on a repetitive text"
    assert "val_code" in log[9] and "val_prose" in log[19]
    assert load_checkpoint(tmp_path / "diff" / "before-decay.pt")[1]["training"]["step"] == 16, "kept where the decay starts"
    assert 0 <= log[19]["induction"] <= 1 and 0 <= log[19]["needle"] <= 1 and "needle_256" in log[19], "probes are logged"
    assert 0 <= log[19]["needle_heldout"] <= 1, "so are the held-out needle forms"
    train(tmp_path, data, tokenizer, "diff", 30, "--resume", "--windows", "32,64@0.83")
    model, ckpt = load_checkpoint(tmp_path / "diff" / "checkpoint.pt")
    assert ckpt["training"]["step"] == 30 and "optimizer" in ckpt
    log = [json.loads(line) for line in (tmp_path / "diff" / "log.jsonl").read_text().splitlines()]
    assert len(log) == 30
    assert [r["seq_len"] for r in log[-6:]] == [32] + [64] * 5, "the last steps use the longer windows"
    assert model.cfg.max_seq_len == 256
    pkg = write_package(model, tokenizer, tmp_path / "pkg", name="t", training=ckpt["training"])
    assert json.loads((pkg / "config.json").read_text())["training"]["step"] == 30
