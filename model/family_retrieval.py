"""Retrieval of single needles in the many forms of shared/needle_forms.json, trained families apart
from held-out ones (those training never used): the evaluation's grid of them, its summary and the
report's section. A model that retrieves by key finds held-out forms about as well as trained ones;
one that learnt the trained surface forms does not.
"""

from __future__ import annotations

from dataclasses import replace
from typing import List, Sequence

from model.needle_forms import FAMILIES, HELD_OUT_FAMILIES, TRAINED_FAMILIES
from model.report_format import compare, fmt, fmt_mean
from model.retrieval_scoring import Grid, mean_with_stderr

FAMILY_CONFIG = "N1R1"  # one needle, queried at the end


def family_grid(grid: Grid, trials: int) -> Grid:
    """N1R1 documents of every family at the grid's context lengths and depths, ``trials`` per cell."""
    return replace(grid, forms=tuple(FAMILIES), configs=(FAMILY_CONFIG,), trials=trials)


def _accuracy(results: List[dict], families: Sequence[str], **cell) -> dict:
    return mean_with_stderr([c for r in results if r["form"] in families and all(r[k] == v for k, v in cell.items())
                             for c in r["correct"]])


def summarise_families(results: List[dict]) -> dict:
    """Exact-match accuracy per family, over the trained and over the held-out families, and those
    two by context length."""
    lengths = sorted({r["length"] for r in results})
    splits = {"trained": TRAINED_FAMILIES, "held_out": HELD_OUT_FAMILIES}
    return {
        "by_family": {name: _accuracy(results, (name,)) for name in FAMILIES},
        **{split: _accuracy(results, names) for split, names in splits.items()},
        "by_length": {split: {str(n): _accuracy(results, names, length=n) for n in lengths}
                      for split, names in splits.items()},
        "held_out_families": list(HELD_OUT_FAMILIES),
    }


def families_section(report: dict) -> List[str]:
    """The report's table of trained and held-out families, DIFF beside the baseline."""
    diff, base = (report["models"][role].get("needle_families") for role in ("diff", "baseline"))
    if diff is None or base is None:
        return []  # a report of models evaluated before the families existed
    settings = report["settings"]
    lines = [
        "",
        "## Needles in many forms: trained and held-out families",
        "",
        f"Single needles ({FAMILY_CONFIG}) in the forms of `shared/needle_forms.json`: assignments and constants in "
        "several languages, configuration formats, function arguments, mappings, comments and prose sentences, "
        "with numbers, hex, words, tags, versions and paths as values, one form per document, scored like the "
        f"grid above at the same lengths and depths, {settings['family_trials']} trial(s) per cell. Training never "
        f"used the held-out families ({', '.join(diff['held_out_families'])}): they show whether a model "
        "retrieves by key in a form it has never seen. Accuracy is per query, ± one standard error.",
        "",
        "| family | split | DIFF | baseline |",
        "|---|---|---|---|",
    ]
    for name, accuracy in diff["by_family"].items():
        split = "held out" if name in diff["held_out_families"] else "trained"
        lines.append(f"| {name} | {split} | {fmt_mean(accuracy)} | {fmt_mean(base['by_family'][name])} |")
    for split, label in (("trained", "all trained families"), ("held_out", "all held-out families")):
        lines.append(f"| **{label}** | | {fmt_mean(diff[split])} | {fmt_mean(base[split])} |")
    lengths = list(diff["by_length"]["trained"])
    lines += ["", "By context length (DIFF / baseline):", "", "| split | " + " | ".join(lengths) + " |",
              "|---" * (len(lengths) + 1) + "|"]
    for split, label in (("trained", "trained"), ("held_out", "held out")):
        cells = [f"{fmt(diff['by_length'][split][n]['mean'], 2)} / {fmt(base['by_length'][split][n]['mean'], 2)}"
                 for n in lengths]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", f"- {compare(diff['trained'], base['trained'], 'trained families')}",
              f"- {compare(diff['held_out'], base['held_out'], 'held-out families')}"]
    return lines

