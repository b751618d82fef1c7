"""
Evaluates a trained Differential Transformer (DIFF) against its matched baseline the way the paper
does (Ye et al., ICLR 2025, "Differential Transformer"), scaled down to small models and short
contexts, and writes a Markdown report, a JSON of every number and PNG plots.

    scripts/python.sh -m model.evaluate --diff models/code-diff --baseline models/code-baseline \\
        --data data/corpus --out docs/evaluation.md [--quick]

Each model is a package folder or a checkpoint file (then --tokenizer names its tokenizer.json).
The metrics, each documented where it is computed:

  loss / perplexity     held-out next-token loss on val_code.txt and val_prose.txt, in windows of the
                        context cut from each project's held-out files joined  (long_document_windows, window_loss)
  loss by position      cumulative average loss at each position up to the context (Figure 4)  (loss_by_position)
  targets               issue 19's goals, met or by how much missed  (model/targets.py)
  retrieval             multi-needle key retrieval, greedy exact match (Table 2, Fig. 5)  (score_queries)
  needle families       single needles in many forms, trained vs held-out families    (summarise_families)
  attention allocation  attention from a query to the answer span vs the noise (Table 3)  (attention_shares)
  activation outliers   largest and median |attention logits| and |hidden states| (Table 5) (activation_outliers)
  quantisation what-if  loss and retrieval with 8/6/4-bit attention logits (Figure 8)  (quantised_attention_logits)

Outputs: --out (Markdown), --json (default: --out with .json) and --plots (default: --out without
its suffix, a folder). The measurements live in model/metrics.py and model/retrieval_scoring.py,
the plots and the Markdown in model/report.py; this module runs them for both models.
"""

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch

from model.allocator import keep_freed_memory_mapped
from model.evaluation_cache import cached_evaluation, evaluation_key
from model.family_retrieval import family_grid, summarise_families
from model.long_documents import long_document_windows, project_documents
from model.metrics import (QUANT_BITS, VAL_SETS, activation_outliers, evaluate_loss, held_out_ids, loss_by_position,
                           window_loss)
from model.model import Transformer
from model.package import PackageError, check_tokenizer, load_checkpoint, load_package, load_tokenizer
from model.report import PAPER_ATTENTION, PAPER_OUTLIERS, PAPER_RETRIEVAL_4K, write_markdown, write_plots
from model.needle_forms import FORMS
from model.learning import REPEAT_TOKENS, learning_curves
from model.probes import INDUCTION_PERIOD, induction_score, repeat_accuracy
from model.targets import judge_targets
from model.retrieval_scoring import (Grid, accuracy, filler_documents, make_cases, score_queries, summarise_attention,
                                     summarise_retrieval, token_bytes_table)
from model.tokenizer import ByteLevelBPE

MODEL_ROLES = ("diff", "baseline")  # the two models compared; each must be of that ModelConfig.kind


@dataclass(frozen=True)
class Settings(Grid):
    """How much to evaluate: the retrieval grid and the rest. The costs, measured for the ~7M-parameter
    pair at 4,096-token context on 2 CPU cores (docs/model-and-training.md, "Shipping a new pair"),
    are mostly the retrieval grid's longest documents; QUICK is for smoke tests."""

    trials: int = 2  # retrieval documents per (config, form, context length, depth) cell
    quant_trials: int = 1  # of those, how many are re-run at each quantisation bit-width
    quant_length: int = 1024  # the quantisation what-if's longest documents and loss windows, in tokens
    family_trials: int = 1  # N1R1 documents per (needle family, context length, depth) cell
    loss_windows: int = 8  # context-length windows per held-out file
    outlier_windows: int = 4  # of the loss windows, half code and half prose, for Table 5
    batch_size: int = 4  # windows per forward pass for the loss (the outliers take one at a time)
    induction_sequences: int = 64  # random runs for the induction score


QUICK = Settings(trials=1, loss_windows=2, outlier_windows=2, depths=(0.0, 0.5, 1.0))


# ---------------------------------------------------------------------------------------------
# Models


@dataclass
class LoadedModel:
    role: str  # "diff" or "baseline"
    source: str
    model: Transformer
    tokenizer: ByteLevelBPE
    training: dict  # the package config's / checkpoint's "training" record


def load_model(role: str, source: Path, tokenizer_path: Optional[Path]) -> LoadedModel:
    """A package folder (with its own tokenizer) or a checkpoint file (with --tokenizer)."""
    if source.is_dir():
        model, config, tokenizer = load_package(source)
        training = config.get("training", {})
    else:
        if tokenizer_path is None:
            raise PackageError(f"{source}: a checkpoint carries no tokenizer; pass --tokenizer")
        model, checkpoint = load_checkpoint(source)
        tokenizer = load_tokenizer(tokenizer_path)
        check_tokenizer(model.cfg, tokenizer, str(tokenizer_path))
        training = checkpoint.get("training", {})
    if model.cfg.kind != role:
        raise PackageError(f"{source}: given as --{role} but it is a {model.cfg.kind!r} model")
    return LoadedModel(role, str(source), model.eval(), tokenizer, training)


# ---------------------------------------------------------------------------------------------
# One model, all metrics


def evaluate_model(loaded: LoadedModel, data_dir: Path, fillers: Dict[str, List[str]], settings: Settings,
                   log=print) -> dict:
    model, tokenizer, context = loaded.model, loaded.tokenizer, loaded.model.cfg.max_seq_len
    timings = {}
    started = time.time()

    def lap(name: str) -> None:
        nonlocal started
        timings[name] = round(time.time() - started, 2)
        log(f"[{loaded.role}] {name}: {timings[name]:.1f} s")
        started = time.time()

    windows, documents = {}, {}
    for name in VAL_SETS:
        projects = project_documents(data_dir, name, held_out_ids(data_dir, name, tokenizer), tokenizer.eot_id)
        *windows[name], documents[name] = long_document_windows(projects, context, settings.loss_windows)
    # One forward pass gives both: the loss over the windows is the cumulative loss at the context.
    by_position = {name: {**loss_by_position(model, *windows[name], settings.batch_size), **documents[name]}
                   for name in VAL_SETS}
    loss = {name: window_loss(by_position[name]) for name in VAL_SETS}
    lap("loss")

    token_bytes = token_bytes_table(tokenizer)
    cases = make_cases(tokenizer, fillers, context, settings)
    results = score_queries(model, cases, token_bytes, with_attention=True)
    lap(f"retrieval and attention ({len(cases)} documents)")

    family_cases = make_cases(tokenizer, fillers, context, family_grid(settings, settings.family_trials))
    family_results = score_queries(model, family_cases, token_bytes)
    lap(f"needle families ({len(family_cases)} documents)")

    code_windows = windows["code"][0][:, :REPEAT_TOKENS]
    copying = {"induction": {"score": induction_score(model, tokenizer, sequences=settings.induction_sequences),
                             "period": INDUCTION_PERIOD, "sequences": settings.induction_sequences},
               "repeated_code": {**repeat_accuracy(model, code_windows, tokenizer.eot_id),
                                 "passages": len(code_windows)}}
    lap("copying")

    half = max(1, settings.outlier_windows // 2)  # per file, spread over the loss windows (so over the file)
    outlier_windows = torch.cat([inputs[::max(1, len(inputs) // half)][:half] for inputs, _ in windows.values()])
    outliers = activation_outliers(model, outlier_windows)
    lap(f"outliers ({outliers['tokens']} tokens)")

    # The what-if is about the bit-width, not the length: shorter documents and windows keep it cheap.
    subset = [c for c in cases if c.trial < settings.quant_trials and c.length <= settings.quant_length]
    quant_windows = {name: [part[:, :settings.quant_length] for part in windows[name]] for name in VAL_SETS}
    quant_loss = {"unquantised": {name: evaluate_loss(model, *quant_windows[name], settings.batch_size) for name in VAL_SETS}}
    quant_retrieval = {"unquantised": accuracy([r for r in results if r["trial"] < settings.quant_trials
                                                and r["length"] <= settings.quant_length])}
    for bits in QUANT_BITS:
        quant_loss[f"{bits}-bit"] = {name: evaluate_loss(model, *quant_windows[name], settings.batch_size, bits)
                                     for name in VAL_SETS}
        quant_retrieval[f"{bits}-bit"] = accuracy(score_queries(model, subset, token_bytes, bits))
    lap(f"quantisation ({len(subset)} documents per bit-width)")

    cfg = model.cfg
    return {
        "source": loaded.source,
        "model": {**cfg.to_dict(), "parameters": model.num_params(), "lambda": model.lambdas()},
        "training": loaded.training,
        "loss": loss,
        "loss_by_position": by_position,
        "copying": copying,
        "retrieval": {**summarise_retrieval(results), "documents": results},
        "needle_families": {**summarise_families(family_results), "documents": family_results},
        "attention_allocation": summarise_attention(results),
        "outliers": outliers,
        "quantisation": {"loss": quant_loss, "retrieval": quant_retrieval, "documents": len(subset)},
        "seconds": timings,
    }


# ---------------------------------------------------------------------------------------------
# Command line


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--diff", type=Path, help="DIFF model: package folder or checkpoint file")
    parser.add_argument("--baseline", type=Path, help="baseline model: package folder or checkpoint file")
    parser.add_argument("--tokenizer", type=Path, help="tokenizer.json for checkpoint files (packages carry their own)")
    parser.add_argument("--data", type=Path, required=True, help="corpus folder with val_code.txt and val_prose.txt")
    parser.add_argument("--out", type=Path, required=True, help="Markdown report to write, e.g. docs/evaluation.md")
    parser.add_argument("--json", type=Path, help="JSON of all numbers (default: --out with .json)")
    parser.add_argument("--plots", type=Path, help="folder for the PNG plots (default: --out without suffix)")
    parser.add_argument("--quick", action="store_true", help="few trials and tokens: seconds on tiny models")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--trials", type=int, help=f"retrieval documents per cell (default {Settings.trials})")
    parser.add_argument("--quant-trials", type=int, help=f"of those, re-run quantised (default {Settings.quant_trials})")
    parser.add_argument("--quant-length", type=int,
                        help=f"longest quantised documents and loss windows (default {Settings.quant_length})")
    parser.add_argument("--family-trials", type=int,
                        help=f"N1R1 documents per needle family, length and depth (default {Settings.family_trials})")
    parser.add_argument("--loss-windows", type=int, help=f"windows per held-out file (default {Settings.loss_windows})")
    parser.add_argument("--outlier-windows", type=int, help=f"windows for Table 5 (default {Settings.outlier_windows})")
    parser.add_argument("--context-lengths", type=int, nargs="+",
                        help="retrieval lengths in tokens, capped at each model's context (default: 256, 512, ... up to the context)")
    parser.add_argument("--depths", type=float, nargs="+", help=f"needle depths (default {Settings.depths})")
    parser.add_argument("--training-logs", type=Path, nargs=2, metavar=("DIFF_LOG", "BASELINE_LOG"),
                        help="the two runs' log.jsonl (model/train.py): adds their learning curves to the report")
    parser.add_argument("--cache", type=Path, help="folder keeping each model's results, reused by a later run with the "
                        "same weights, settings and data (model/evaluation_cache.py)")
    parser.add_argument("--only", choices=MODEL_ROLES, help="evaluate this model alone into --cache and write no report "
                        "(a report needs both): one model as soon as its training ends")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="PyTorch CPU threads (default: all cores)")
    args = parser.parse_args(argv)
    roles = (args.only,) if args.only else MODEL_ROLES
    missing = [f"--{role}" for role in roles if getattr(args, role) is None]
    if missing or (args.only and not args.cache):
        parser.error(f"{' and '.join(missing)} required" if missing else "--only needs --cache (where its results are kept)")

    settings = QUICK if args.quick else Settings()
    counts = ("seed", "trials", "quant_trials", "quant_length", "family_trials", "loss_windows", "outlier_windows")
    overrides = {name: getattr(args, name) for name in counts if getattr(args, name) is not None}
    overrides.update({name: tuple(getattr(args, name)) for name in ("context_lengths", "depths") if getattr(args, name)})
    settings = replace(settings, **overrides)
    torch.set_num_threads(args.threads)
    keep_freed_memory_mapped()

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        loaded = [load_model(role, getattr(args, role), args.tokenizer) for role in roles]
        fillers = {form: filler_documents(args.data, form) for form in FORMS}

        def evaluate(m: LoadedModel) -> dict:
            compute = lambda: evaluate_model(m, args.data, fillers, settings, log)  # noqa: E731
            if not args.cache:
                return compute()
            key = evaluation_key(m.model, asdict(settings), args.data)
            return {**cached_evaluation(args.cache, m.role, key, compute, log), "source": m.source, "training": m.training}

        with torch.no_grad():
            models = {m.role: evaluate(m) for m in loaded}
        if args.only:
            log(f"kept {args.only}'s results in {args.cache}; a run with both models writes the report")
            return 0
        curves = learning_curves(*args.training_logs) if args.training_logs else None
    except (PackageError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    report = {
        "command": "scripts/python.sh -m model.evaluate " + " ".join(sys.argv[1:] if argv is None else argv),
        "quick": args.quick,
        "data": str(args.data),
        "settings": asdict(settings),
        "paper": {"retrieval_4k_transformer_diff": PAPER_RETRIEVAL_4K, "attention_transformer_diff": PAPER_ATTENTION,
                  "outliers_transformer_diff": PAPER_OUTLIERS},
        "models": models,
        "learning_curves": curves,
    }
    report["targets"] = judge_targets(report)
    json_path = args.json or args.out.with_suffix(".json")
    plot_dir = args.plots or args.out.with_suffix("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=1) + "\n")
    plots = write_plots(report, plot_dir)
    write_markdown(report, plots, args.out)
    log(f"wrote {args.out}, {json_path} and {len(plots)} plots in {plot_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
