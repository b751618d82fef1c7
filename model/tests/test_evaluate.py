"""The evaluation (model/evaluate.py, metrics.py, retrieval_scoring.py, report.py): the logit quantiser
and its hook, the retrieval and attention-share bookkeeping, the outlier statistics, and an end-to-end
--quick run on tiny models."""

import json
import math
import random

import numpy as np
import pytest
import torch

from model.evaluate import Settings, main
from model.metrics import (MagnitudeSummary, activation_outliers, evaluate_loss, loss_by_position,
                           plotted_positions, quantise_absmax, quantised_attention_logits, table_positions,
                           window_loss)
from model.retrieval_scoring import (RETRIEVAL_CONFIGS, Grid, accuracy, greedy_matches, lengths_up_to, locate_queries, softmax_rows,
                                     make_cases, score_queries, token_bytes_table)
from model.fixtures import FIXTURE_TOKENIZER, tiny_model
from model.long_documents import CONSECUTIVE_FILES
from model.learning import learning_curves
from model.model import Attention
from model.needle_forms import FAMILIES, HELD_OUT_FAMILIES, TRAINED_FAMILIES
from model.package import load_tokenizer, save_checkpoint, write_package
from model.retrieval import make_document
from model.tokenizer import EOT_TOKEN
from tolerance import assert_close, is_close

CODE = EOT_TOKEN.join(
    "".join(f"def handler_{d}_{i}(request, limit={i}):\n    items = load(request, {i})\n    return render(items)\n\n"
            for i in range(40))
    for d in range(6))
PROSE = EOT_TOKEN.join(
    "".join(f"Chapter {d}.{i}: the river turned {i} times before the town, and the people said it was a good year.\n"
            for i in range(40))
    for d in range(6))
FILLERS = {"code": CODE.split(EOT_TOKEN), "prose": PROSE.split(EOT_TOKEN)}
CONTEXT = 512  # N6R2 documents need several hundred tokens with the fixture's 400-token vocabulary


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(FIXTURE_TOKENIZER)


def long_context_model(kind, tokenizer):
    model = tiny_model(kind, tokenizer.vocab_size)
    model.cfg.max_seq_len = CONTEXT  # tiny_model fixes 128; no weight depends on it (RoPE tables are computed per call)
    return model


def test_quantise_absmax_gives_exact_levels():
    x = torch.tensor([-2.1, -0.7, 0.1, 0.9, 4.0])  # max |x| = 4, so scale = 4 / (2^(b-1) - 1)
    expected_levels = {8: [-67, -22, 3, 29, 127], 6: [-16, -5, 1, 7, 31], 4: [-4, -1, 0, 2, 7]}
    for bits, levels in expected_levels.items():
        scale = 4.0 / (2 ** (bits - 1) - 1)
        assert_close(quantise_absmax(x, bits), torch.tensor(levels, dtype=torch.float32) * scale, f"{bits}-bit levels")
    for bits in (16, 24):  # rounding moves a value by at most half a step
        assert_close(quantise_absmax(x, bits), x, f"{bits}-bit", method_atol=4.0 / (2 ** (bits - 1) - 1) / 2)
    assert torch.equal(quantise_absmax(torch.zeros(3), 4), torch.zeros(3))


def test_logit_hook_is_off_by_default_and_changes_outputs_when_on(tokenizer):
    ids = torch.tensor([tokenizer.encode(CODE[:300])[:64], tokenizer.encode(PROSE[:300])[:64]])
    for kind in ("diff", "baseline"):
        model = tiny_model(kind, tokenizer.vocab_size)
        with torch.no_grad():
            reference = model(ids)[0]
            with quantised_attention_logits(None):
                assert torch.equal(model(ids)[0], reference)
            with quantised_attention_logits(4):
                quantised = model(ids)[0]
                one_by_one = torch.cat([model(row[None])[0] for row in ids])
            with quantised_attention_logits(16):
                nearly = model(ids)[0]
            assert Attention.logit_transform is None
            assert torch.equal(model(ids)[0], reference), "leaving the block restores the model"
        assert not is_close(quantised, reference), "4-bit logits change the outputs beyond float error"
        assert_close(quantised, one_by_one, "one scale per sequence: batching does not matter")
        # A 16-bit step is max|logit| / 32767, under 1e-3 here, and moves the outputs by less than a step.
        assert_close(nearly, reference, "16-bit logits", method_atol=1e-3)


def test_loss_by_position_is_the_cumulative_mean_of_each_position(tokenizer):
    """The cumulative loss at the last position is the held-out loss of the windows; at position 1 it
    is the loss of the first token alone; the loss after a position averages the later positions."""
    model = tiny_model("diff", tokenizer.vocab_size)
    ids = torch.randint(0, tokenizer.vocab_size, (5, 97), generator=torch.Generator().manual_seed(2))
    inputs, targets = ids[:, :-1], ids[:, 1:]
    curve = loss_by_position(model, inputs, targets, batch_size=2, beyond=64)
    assert curve["positions"] == plotted_positions(96) and curve["positions"][:3] == [1, 2, 3] and curve["positions"][-1] == 96
    assert curve["table"]["positions"] == table_positions(96) == [64, 96]
    assert is_close(curve["cumulative_loss"][-1], evaluate_loss(model, inputs, targets, batch_size=2)["loss"])
    assert window_loss(curve)["loss"] == curve["cumulative_loss"][-1] and window_loss(curve)["tokens"] == 5 * 96
    with torch.no_grad():
        first = torch.nn.functional.cross_entropy(model(inputs[:, :1])[0][:, 0], targets[:, 0])
        later = torch.nn.functional.cross_entropy(model(inputs)[0][:, 64:].transpose(1, 2), targets[:, 64:])
        octave = torch.nn.functional.cross_entropy(model(inputs)[0][:, 32:64].transpose(1, 2), targets[:, 32:64])
    assert is_close(curve["cumulative_loss"][0], first.item())
    assert is_close(curve["loss_after_64"], later.item())
    assert is_close(curve["table"]["octave_loss"][0], octave.item()), "positions 33..64 smooth the one at 64"


def test_the_default_grid_runs_every_doubling_up_to_the_models_context(tokenizer):
    assert lengths_up_to(4096) == [256, 512, 1024, 2048, 4096] and lengths_up_to(3000) == [256, 512, 1024, 2048, 3000]
    cases = make_cases(tokenizer, FILLERS, CONTEXT, Grid(configs=("N1R1",), forms=("code",), depths=(0.5,), trials=1))
    assert [case.length for case in cases] == [256, CONTEXT]


def test_query_positions_and_greedy_exact_match(tokenizer):
    text, answers = make_document(random.Random(3), 3, 2, FILLERS["prose"], 900, depth=0.5, form="prose")
    ids = [tokenizer.eot_id] + tokenizer.encode(text)
    token_bytes = token_bytes_table(tokenizer)
    queries = locate_queries(text, answers, ids, token_bytes)
    perfect = ids[1:] + [tokenizer.eot_id]  # predicts every next token of the document
    for answer, query in zip(answers, queries):
        assert tokenizer.decode(ids[1:query.prompt_end]) == text[:answer.query_span[1]]
        assert answer.value in tokenizer.decode([ids[p] for p in query.answer_tokens])
        assert tokenizer.decode([ids[p] for p in query.query_tokens]).strip() == text[slice(*answer.query_span)]
        assert max(query.answer_tokens) < min(query.query_tokens) < query.prompt_end
        assert greedy_matches(perfect, ids, query, token_bytes)

        wrong_first = list(perfect)
        wrong_first[query.prompt_end - 1] = tokenizer.encode("x")[0]
        assert not greedy_matches(wrong_first, ids, query, token_bytes)

        value_end = query.prompt_end + len(tokenizer.encode(answer.continuation))  # the "." after the value
        extended = list(perfect)
        extended[value_end - 1] = tokenizer.encode("7")[0]
        assert not greedy_matches(extended, ids, query, token_bytes), "a longer number is not the value"
        stopped = list(perfect)
        stopped[value_end - 1] = tokenizer.encode("\n")[0]
        assert greedy_matches(stopped, ids, query, token_bytes), "any non-word character may follow"


@pytest.mark.parametrize("kind", ["diff", "baseline"])
def test_retrieval_and_attention_bookkeeping_on_a_real_model(kind, tokenizer):
    model = long_context_model(kind, tokenizer)
    settings = Settings(trials=1, depths=(0.5,), context_lengths=(CONTEXT,))
    cases = make_cases(tokenizer, FILLERS, CONTEXT, settings)
    assert [(c.config, c.form) for c in cases] == [(c, f) for c in RETRIEVAL_CONFIGS for f in ("code", "prose")]
    results = score_queries(model, cases, token_bytes_table(tokenizer), with_attention=True)
    for case, result in zip(cases, results):
        assert len(case.ids) == result["tokens"] <= CONTEXT
        assert len(result["correct"]) == len(result["attention"]) == RETRIEVAL_CONFIGS[case.config][1]
        lam = model.lambdas()
        for shares in result["attention"]:
            normalised, raw, mass = shares["one_minus_lambda"], shares["raw"], shares["mass"]
            assert_close(sum(normalised.values()), 1.0, "a row sums to 1 after dividing by 1 - lambda")
            row_sum = np.mean([1 - v for v in lam]) if kind == "diff" else 1.0  # DIFF rows sum to 1 - lambda
            assert_close(sum(raw.values()), row_sum, "raw row sum")
            assert sum(abs(v) for v in mass.values()) <= 1 + 1e-9, "shares of the absolute mass"
            if kind == "baseline":
                assert normalised == raw
                assert_close(list(mass.values()), list(raw.values()), "a softmax row's mass is 1")
                assert all(0 <= v <= 1 for v in raw.values())
    summary = accuracy(results)
    assert summary["n"] == 2 * sum(r for _, r in RETRIEVAL_CONFIGS.values())
    assert 0.0 <= summary["mean"] <= 1.0


@pytest.mark.parametrize("kind", ["diff", "baseline"])
def test_query_rows_recomputed_from_q_and_k_equal_the_whole_maps(kind, tokenizer):
    """The attention shares read single rows recomputed from q and k; they are the whole maps' rows."""
    model = long_context_model(kind, tokenizer)
    ids = torch.tensor([make_cases(tokenizer, FILLERS, CONTEXT, Grid(trials=1, depths=(0.5,), context_lengths=(CONTEXT,), configs=("N1R1",)))[0].ids])
    with torch.no_grad():
        _, _, inspection = model(ids, inspect=True)
    maps = inspection["attn_a1"][0]  # (layers, heads, T, T)
    if kind == "diff":  # sub-heads (2h, 2h + 1): head h's A1 and A2
        maps = torch.stack([maps, inspection["attn_a2"][0]], dim=2).flatten(1, 2)
    for row in (0, ids.shape[1] // 2, ids.shape[1] - 1):
        assert_close(softmax_rows(inspection, row).numpy(), maps[:, :, row, :row + 1].double().numpy(), f"row {row}")


def test_mass_shares_stay_defined_when_lambda_is_one(tokenizer):
    """With lambda = 1 a DIFF row sums to 0, so dividing by 1 - lambda is undefined; the shares of
    the absolute mass are not, and they still say where the attention goes."""
    model = long_context_model("diff", tokenizer)
    with torch.no_grad():
        for layer in model.layers:
            layer.attn.lambda_init = 1.0
            for name in ("lambda_q1", "lambda_k1", "lambda_q2", "lambda_k2"):
                getattr(layer.attn, name).zero_()  # exp(0) - exp(0) + 1 = 1
    assert_close(model.lambdas(), [1.0] * len(model.layers), "lambda forced to 1")
    grid = Grid(trials=1, depths=(0.5,), context_lengths=(CONTEXT,), configs=("N1R1",))
    cases = make_cases(tokenizer, FILLERS, CONTEXT, grid)
    for result in score_queries(model, cases, token_bytes_table(tokenizer), with_attention=True):
        for shares in result["attention"]:
            assert all(math.isfinite(v) and -1 <= v <= 1 for v in shares["mass"].values())
            assert_close(sum(shares["raw"].values()), 0.0, "a row sums to 1 - lambda = 0")


# The summary's median is the centre of the log-spaced bin that holds the upper middle value.
HALF_BIN = 2 ** (0.5 / MagnitudeSummary.BINS_PER_OCTAVE) - 1


def upper_median(values: np.ndarray) -> float:
    return float(np.sort(values.ravel())[values.size // 2])


def test_magnitude_summary_matches_numpy():
    rng = np.random.default_rng(0)
    values = rng.standard_t(df=3, size=30000).astype(np.float32)  # heavy tails, like activations
    summary = MagnitudeSummary()
    for chunk in np.array_split(values, 7):
        summary.add(torch.from_numpy(chunk))
    result = summary.summary()
    magnitudes = np.sort(np.abs(values))[::-1]
    for k in (1, 2, 3, 10, 100):
        assert_close(result[f"top{k}"], magnitudes[k - 1], f"top{k}")
    assert_close(result["median"], upper_median(magnitudes), "median", method_rtol=HALF_BIN)
    assert result["values"] == len(values)


def test_activation_outliers_match_a_direct_computation(tokenizer):
    model = tiny_model("diff", tokenizer.vocab_size)
    windows = torch.tensor([tokenizer.encode(CODE)[:48], tokenizer.encode(PROSE)[:48]])
    result = activation_outliers(model, windows)
    with torch.no_grad():
        inspection = model(windows, inspect=True)[2]
    q, k = inspection["q"].numpy(), inspection["k"].numpy()  # no GQA in tiny_model: k has every sub-head
    logits = np.einsum("blstd,blsud->blstu", q, k) / np.sqrt(q.shape[-1])
    causal = np.abs(logits[..., np.tril(np.ones((48, 48), dtype=bool))])
    hidden = np.abs(inspection["hidden_states"].numpy())
    for name, direct in (("attention_logits", causal), ("hidden_states", hidden)):
        ordered = np.sort(direct.ravel())[::-1]
        assert result[name]["values"] == ordered.size
        assert_close(result[name]["top1"], ordered[0], f"{name} top1")
        assert_close(result[name]["top10"], ordered[9], f"{name} top10")
        assert_close(result[name]["median"], upper_median(ordered), f"{name} median", method_rtol=HALF_BIN)
    assert result["tokens"] == 96


def write_training_log(path, code_losses):
    """A model/train.py log.jsonl with an evaluation record every 4,096-token step."""
    records = [{"step": s, "tokens": 4096 * s, "loss": 6.0, "val_code": loss, "val_prose": loss + 0.3,
                "induction": 0.1 * s, "needle": 0.0, "needle_heldout": 0.05 * s} for s, loss in enumerate(code_losses, start=1)]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return path


def test_learning_curves_count_tokens_to_reach_the_other_models_loss(tmp_path):
    diff = write_training_log(tmp_path / "diff.jsonl", [5.0, 4.1, 3.9, 3.6])
    baseline = write_training_log(tmp_path / "baseline.jsonl", [5.0, 4.5, 4.0, 3.9])
    curves = learning_curves(diff, baseline)
    assert curves["final_val_code"] == {"diff": 3.6, "baseline": 3.9}
    assert curves["tokens_to_reach_baseline_final"] == {"diff": 3 * 4096, "baseline": 4 * 4096}
    assert curves["tokens_to_reach_diff_final"] == {"diff": 4 * 4096, "baseline": None}
    assert_close([p["induction"] for p in curves["points"]["diff"]], [0.1, 0.2, 0.3, 0.4], "probe points")
    assert_close([p["needle_heldout"] for p in curves["points"]["baseline"]], [0.05, 0.1, 0.15, 0.2], "held-out forms")
    (tmp_path / "empty.jsonl").write_text(json.dumps({"step": 1, "tokens": 4096, "loss": 6.0}) + "\n")
    with pytest.raises(ValueError, match="no evaluation steps"):
        learning_curves(tmp_path / "empty.jsonl", baseline)


def quick_corpus(tmp_path):
    data = tmp_path / "corpus"
    data.mkdir()
    for name, text in (("train", CODE), ("val_code", CODE), ("val_prose", PROSE)):
        (data / f"{name}.txt").write_text(text)
    return data


def test_quick_run_writes_json_markdown_and_plots(tokenizer, tmp_path):
    data = quick_corpus(tmp_path)
    diff_checkpoint = tmp_path / "diff.pt"
    save_checkpoint(diff_checkpoint, long_context_model("diff", tokenizer), {"tokens": 1234, "step": 5})
    baseline_package = write_package(long_context_model("baseline", tokenizer), FIXTURE_TOKENIZER, tmp_path / "baseline",
                                     name="baseline", training={"tokens": 1234, "step": 5, "seconds": 30.0})
    out = tmp_path / "docs" / "evaluation.md"
    logs = [write_training_log(tmp_path / f"{role}.jsonl", losses) for role, losses in
            (("diff", [5.0, 3.7, 3.5]), ("baseline", [5.0, 4.2, 3.8]))]
    assert main(["--diff", str(diff_checkpoint), "--tokenizer", str(FIXTURE_TOKENIZER), "--baseline", str(baseline_package),
                 "--data", str(data), "--out", str(out), "--quick", "--context-lengths", str(CONTEXT),
                 "--training-logs", *map(str, logs)]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    for role in ("diff", "baseline"):
        numbers = report["models"][role]
        assert numbers["training"]["tokens"] == 1234
        assert set(numbers["loss"]) == {"code", "prose"} and numbers["loss"]["code"]["tokens"] == 2 * CONTEXT
        assert set(numbers["quantisation"]["loss"]) == {"unquantised", "8-bit", "6-bit", "4-bit"}
        assert set(numbers["retrieval"]["by_config"]) == set(RETRIEVAL_CONFIGS)
        assert numbers["outliers"]["tokens"] == 2 * CONTEXT
        assert 0 <= numbers["copying"]["induction"]["score"] <= 1 and numbers["copying"]["induction"]["period"] == 100
        assert set(numbers["copying"]["repeated_code"]) == {"first_copy", "second_copy", "passages"}
        families = numbers["needle_families"]
        assert set(families["by_family"]) == set(FAMILIES)
        assert families["held_out"]["n"] == 3 * len(HELD_OUT_FAMILIES) and families["trained"]["n"] == 3 * len(TRAINED_FAMILIES)
        assert {d["form"] for d in families["documents"]} == set(FAMILIES), "one N1R1 document per family and depth"
        curve = numbers["loss_by_position"]["code"]
        assert curve["positions"][-1] == CONTEXT and is_close(curve["cumulative_loss"][-1], numbers["loss"]["code"]["loss"])
        assert curve["table"]["positions"] == [64, 128, 256, 512] and curve["documents"] == [CONSECUTIVE_FILES]
    assert [judged["met"] for judged in report["targets"]].count(None) == 1, "only the loss after 1,024 is out of reach"
    assert report["learning_curves"]["tokens_to_reach_baseline_final"] == {"diff": 2 * 4096, "baseline": 3 * 4096}
    markdown = out.read_text()
    assert markdown.count("| yes |") + markdown.count("| **no** |") + markdown.count("| n/a |") == 9, "every target is judged"
    for heading in ("## Held-out loss", "## Held-out loss by position", "## Targets", "## Copying", "## Learning curves", "## Multi-needle retrieval",
                    "## Needles in many forms: trained and held-out families", "## Attention allocation", "## Activation outliers",
                    "## Quantisation what-if"):
        assert heading in markdown
    assert "- Last needle probe (N1R1), Needle Test forms / held-out families: DIFF 0.00 / 0.15" in markdown
    assert "| **all trained families** |" in markdown and "| **all held-out families** |" in markdown
    assert all(f"| {name} | held out |" in markdown for name in HELD_OUT_FAMILIES)
    plots = sorted(p.name for p in (tmp_path / "docs" / "evaluation").glob("*.png"))
    assert plots == ["attention_allocation.png", "learning_curves.png", "loss_by_position.png", "outliers.png", "quantisation.png", "retrieval_vs_depth.png",
                     "retrieval_vs_length.png"]
    assert all(f"evaluation/{name}" in markdown for name in plots)
    assert main(["--diff", str(baseline_package), "--baseline", str(baseline_package), "--data", str(data),
                 "--out", str(tmp_path / "x.md")]) == 2, "a baseline given as --diff is refused"


def test_cache_keeps_each_models_results_for_a_later_run(tokenizer, tmp_path):
    data = quick_corpus(tmp_path)
    diff = write_package(long_context_model("diff", tokenizer), FIXTURE_TOKENIZER, tmp_path / "diff", name="diff", training={})
    baseline_model = long_context_model("baseline", tokenizer)
    checkpoint = tmp_path / "baseline.pt"
    save_checkpoint(checkpoint, baseline_model, {"tokens": 7})
    cache, out = tmp_path / "cache", tmp_path / "evaluation.md"
    common = ["--data", str(data), "--out", str(out), "--quick", "--context-lengths", str(CONTEXT), "--cache", str(cache)]
    # The baseline alone, as soon as its training ends: kept, and no report (that needs both).
    assert main(["--baseline", str(checkpoint), "--tokenizer", str(FIXTURE_TOKENIZER), "--only", "baseline", *common]) == 0
    [entry] = cache.glob("baseline-*.json")
    assert not out.exists()
    # A later run reads that entry (marked, so that its reuse shows) for the package exported from
    # the same weights, and evaluates DIFF.
    kept = json.loads(entry.read_text())
    kept["loss"]["code"]["loss"] = 123.0
    entry.write_text(json.dumps(kept))
    package = write_package(baseline_model, FIXTURE_TOKENIZER, tmp_path / "baseline", name="baseline", training={"tokens": 7})
    assert main(["--diff", str(diff), "--baseline", str(package), *common]) == 0
    baseline = json.loads(out.with_suffix(".json").read_text())["models"]["baseline"]
    assert baseline["loss"]["code"]["loss"] == 123.0 and baseline["source"] == str(package)
    assert len(list(cache.glob("diff-*.json"))) == 1
    # Other settings are another entry, evaluated afresh.
    assert main(["--diff", str(diff), "--baseline", str(package), *common, "--loss-windows", "1"]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["models"]["baseline"]["loss"]["code"]["loss"] != 123.0
    assert len(list(cache.glob("baseline-*.json"))) == 2
    with pytest.raises(SystemExit):
        main(["--baseline", str(package), "--only", "baseline", "--data", str(data), "--out", str(out)])
