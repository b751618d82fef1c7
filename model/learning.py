"""
Copying and learning curves: the evaluation report's section on how a trained pair copies (the
induction score and a repeated passage of held-out code, measured by model/probes.py), and how the
two models learned, from their training logs (model/train.py's log.jsonl: held-out loss and the
probes at every evaluation step).

    scripts/python.sh -m model.learning --diff runs/diff/log.jsonl --baseline runs/baseline/log.jsonl \\
        --out docs/training

writes docs/training/learning_curves.png and copies the two logs beside it; model/evaluate.py puts
the same curves and the copying numbers into the evaluation report.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Dict, List, Optional


CURVES = (("val_code", "held-out loss, code (nats)"), ("val_prose", "held-out loss, prose (nats)"),
          ("induction", "induction score"), ("needle", "needle accuracy (N1R1)"))
# A probe drawn in another's panel, dotted: needle accuracy in forms training never used.
SECOND_CURVES = {"needle": ("needle_heldout", "held-out forms")}
REPEAT_TOKENS = 200  # tokens of held-out code per passage, shown twice (model/probes.py repeat_accuracy)


def read_log(path: Path) -> List[dict]:
    """The evaluation steps of a training log: the records that carry held-out loss."""
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "val_code" in record:
            records.append(record)
    if not records:
        raise ValueError(f"{path}: no evaluation steps (records with val_code); is it a model/train.py log.jsonl?")
    return records


def tokens_to_reach(records: List[dict], loss: float) -> Optional[int]:
    """Tokens after which a run's code loss first reached ``loss`` (None if it never did)."""
    for record in records:
        if record["val_code"] <= loss:
            return record["tokens"]
    return None


def learning_curves(diff_log: Path, baseline_log: Path) -> dict:
    """Both runs' evaluation points, and how many tokens each needed to reach the other's final
    held-out code loss (the paper's Figure 3 reading: fewer tokens for the same loss)."""
    runs = {"diff": read_log(diff_log), "baseline": read_log(baseline_log)}
    final = {role: records[-1]["val_code"] for role, records in runs.items()}
    return {
        "points": {role: [{k: r.get(k) for k in ("step", "tokens") + tuple(name for name, _ in CURVES)
                           + tuple(name for name, _ in SECOND_CURVES.values())}
                          for r in records] for role, records in runs.items()},
        "final_val_code": final,
        "tokens_to_reach_baseline_final": {role: tokens_to_reach(runs[role], final["baseline"]) for role in runs},
        "tokens_to_reach_diff_final": {role: tokens_to_reach(runs[role], final["diff"]) for role in runs},
    }


def _series(points: List[dict], name: str) -> tuple:
    """Tokens (millions) and values of one probe, over the evaluation steps that logged it."""
    logged = [p for p in points if p.get(name) is not None]
    return [p["tokens"] / 1e6 for p in logged], [p[name] for p in logged]


def plot_learning_curves(curves: dict, path: Path) -> Path:
    """A 2 x 2 figure: code and prose loss, induction score and needle accuracy (trained forms, and
    dotted the held-out forms where the logs have them) against tokens."""
    import matplotlib  # imported here: slow, and only plotting needs it
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5))
    styles = {"diff": dict(color="tab:orange", label="DIFF"), "baseline": dict(color="tab:blue", linestyle="--", label="baseline")}
    for ax, (name, label) in zip(axes.flat, CURVES):
        for role, points in curves["points"].items():
            ax.plot(*_series(points, name), **styles[role])
            if name in SECOND_CURVES:
                second, second_label = SECOND_CURVES[name]
                ax.plot(*_series(points, second), **{**styles[role], "linestyle": ":",
                                                     "label": f"{styles[role]['label']}, {second_label}"})
        if name in SECOND_CURVES:
            ax.legend(fontsize="small")
        ax.set_title(label)
        ax.set_xlabel("training tokens (millions)")
        if name in ("induction", "needle"):
            ax.set_ylim(-0.05, 1.05)
    axes[0, 0].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _millions(tokens: Optional[int]) -> str:
    return "never" if tokens is None else f"{tokens / 1e6:.1f}M"


def copying_section(report: dict, image: Dict[str, str]) -> List[str]:
    """The evaluation report's section on copying and, when the training logs were given, learning."""
    models = report["models"]
    lines = ["", "## Copying", "",
             f"**Induction score**: {models['diff']['copying']['induction']['sequences']} runs of "
             f"{models['diff']['copying']['induction']['period']} random tokens, each followed by the same run; the "
             "share of the second copy (all but its first token) that the model predicts top-1. Only an induction "
             "mechanism can; without one the score is about 1/vocabulary. **Repeated code**: held-out code passages "
             f"of {REPEAT_TOKENS} tokens shown twice; top-1 accuracy on each copy.", "",
             "| | DIFF | baseline |", "|---|---|---|"]
    rows = (("induction score", lambda m: m["copying"]["induction"]["score"]),
            ("repeated code, first copy", lambda m: m["copying"]["repeated_code"]["first_copy"]),
            ("repeated code, second copy", lambda m: m["copying"]["repeated_code"]["second_copy"]))
    for label, value in rows:
        lines.append(f"| {label} | {value(models['diff']):.3f} | {value(models['baseline']):.3f} |")
    curves = report.get("learning_curves")
    if curves:
        reach = curves["tokens_to_reach_baseline_final"]
        lines += ["", "## Learning curves", "",
                  "Held-out loss and the training-time probes (model/probes.py) at every evaluation step of the "
                  "two runs, which saw the same batches (the held-out loss here is on 256-token windows, so it "
                  "differs from the full-context loss above).", "",
                  f"![learning curves]({image['learning_curves']})", "",
                  f"- Final held-out code loss: DIFF {curves['final_val_code']['diff']:.3f}, baseline "
                  f"{curves['final_val_code']['baseline']:.3f}.",
                  f"- Tokens to reach the baseline's final code loss: DIFF {_millions(reach['diff'])}, baseline "
                  f"{_millions(reach['baseline'])}."]
        last = {role: points[-1] for role, points in curves["points"].items()}
        if all(last[role].get("needle_heldout") is not None for role in last):
            lines.append("- Last needle probe (N1R1), Needle Test forms / held-out families: " + "; ".join(
                f"{label} {last[role]['needle']:.2f} / {last[role]['needle_heldout']:.2f}"
                for role, label in (("diff", "DIFF"), ("baseline", "baseline"))) + ".")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.learning", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--diff", type=Path, required=True, help="the DIFF run's log.jsonl")
    parser.add_argument("--baseline", type=Path, required=True, help="the baseline run's log.jsonl")
    parser.add_argument("--out", type=Path, required=True, help="folder for learning_curves.png and the logs")
    parser.add_argument("--prefix", default="code", help="the logs are saved as PREFIX-diff.jsonl and PREFIX-baseline.jsonl")
    args = parser.parse_args(argv)
    try:
        curves = learning_curves(args.diff, args.baseline)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    plot_learning_curves(curves, args.out / "learning_curves.png")
    for role in ("diff", "baseline"):
        shutil.copyfile(getattr(args, role), args.out / f"{args.prefix}-{role}.jsonl")
    reach = curves["tokens_to_reach_baseline_final"]
    print(f"wrote {args.out}/learning_curves.png; final code loss DIFF {curves['final_val_code']['diff']:.3f}, "
          f"baseline {curves['final_val_code']['baseline']:.3f}; tokens to reach the baseline's: "
          f"DIFF {_millions(reach['diff'])}, baseline {_millions(reach['baseline'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
