"""
The goals the shipped pair is measured against (issue 19), and the evaluation report's section that
says for each whether it was met and, where not, by how much and what more would close it. The
judgements also go into the report's JSON ("targets").
"""

from __future__ import annotations

from typing import Callable, List, NamedTuple, Optional

BEYOND = 1024  # the loss target's far positions: those after the old pair's whole context


class Judgement(NamedTuple):
    measured: str  # the number(s), with their standard errors where they are averages of trials
    asked: str
    met: Optional[bool]  # None where the report cannot say (a model whose context does not reach that far)
    short_by: str = ""  # how far from the goal, where missed


class Target(NamedTuple):
    goal: str
    judge: Callable[[dict], Judgement]
    closing: str  # what more would close the gap, where it is missed


def _mean(cell: dict) -> str:
    stderr = f" ± {cell['stderr']:.2f}" if cell.get("stderr") is not None else ""
    return f"{cell['mean']:.2f}{stderr} (n={cell['n']})"


def _at_least(value: float, goal: float, measured: str, asked: str) -> Judgement:
    return Judgement(measured, asked, value >= goal, "" if value >= goal else f"{goal - value:.2f}")


def _models(report: dict) -> tuple:
    return report["models"]["diff"], report["models"]["baseline"]


def _n1r1_cells(report: dict) -> Judgement:
    grid = _models(report)[0]["retrieval"]["by_config_length_and_depth"]["N1R1"]
    cells = {(length, depth): cell for length, row in grid.items() for depth, cell in row.items()}
    (length, depth), worst = min(cells.items(), key=lambda item: item[1]["mean"])
    below = sum(cell["mean"] < 0.9 for cell in cells.values())
    return _at_least(worst["mean"], 0.9, f"lowest of {len(cells)} cells {_mean(worst)} at {length} tokens, depth {depth}; "
                     f"{below} cells below 0.9", "≥ 0.9 in every cell")


def _held_out_forms(report: dict) -> Judgement:
    held_out = _models(report)[0]["needle_families"]["held_out"]
    return _at_least(held_out["mean"], 0.6, f"DIFF {_mean(held_out)}", "≥ 0.6")


def _held_out_margin(report: dict) -> Judgement:
    diff, base = (m["needle_families"]["held_out"] for m in _models(report))
    margin = diff["mean"] - base["mean"]
    return _at_least(margin, 0.10, f"{margin:+.2f} (DIFF {_mean(diff)}, baseline {_mean(base)})", "≥ +0.10")


def _longest(report: dict) -> str:
    return max(_models(report)[0]["retrieval"]["by_config_and_length"]["N4R2"], key=int)


def _multi_needle(report: dict) -> Judgement:
    length = _longest(report)
    cells = {config: [m["retrieval"]["by_config_and_length"][config][length] for m in _models(report)]
             for config in ("N4R2", "N6R2")}
    margins = {config: diff["mean"] - base["mean"] for config, (diff, base) in cells.items()}
    measured = "; ".join(f"{config} at {length} tokens {margins[config]:+.2f} (DIFF {_mean(diff)}, baseline {_mean(base)})"
                         for config, (diff, base) in cells.items())
    return _at_least(min(margins.values()), 0.10, measured, "≥ +0.10 on each")


def _induction(report: dict) -> Judgement:
    scores = [m["copying"]["induction"]["score"] for m in _models(report)]
    return _at_least(min(scores), 0.95, f"DIFF {scores[0]:.2f}, baseline {scores[1]:.2f}", "≥ 0.95 for both")


def _repeated_text(report: dict) -> Judgement:
    copying = _models(report)[0]["copying"]["repeated_code"]
    return _at_least(copying["second_copy"], 0.9, f"DIFF {copying['second_copy']:.2f} "
                     f"({copying['passages']} passages; first copy {copying['first_copy']:.2f})", "≥ 0.9")


def _loss_gap(report: dict, key: Callable[[dict], Optional[float]], what: str) -> Judgement:
    diff, base = _models(report)
    gaps = {}
    for name in diff["loss"]:
        pair = [key(m["loss_by_position"][name]) for m in (diff, base)]
        if None not in pair:
            gaps[name] = pair[0] - pair[1]
    if not gaps:
        return Judgement(f"the context does not reach past {BEYOND} tokens", "≤ 0", None)
    worst = max(gaps.values())
    return Judgement(", ".join(f"val_{name} {gap:+.3f} nats {what}" for name, gap in gaps.items()), "≤ 0 (DIFF − baseline)",
                     worst <= 0, "" if worst <= 0 else f"{worst:.3f} nats")


def _loss_overall(report: dict) -> Judgement:
    return _loss_gap(report, lambda curve: curve["table"]["cumulative_loss"][-1], "")


def _loss_beyond(report: dict) -> Judgement:
    return _loss_gap(report, lambda curve: curve.get(f"loss_after_{BEYOND}"), f"after {BEYOND}")


def _outliers(report: dict) -> Judgement:
    diff, base = (m["outliers"] for m in _models(report))
    parts = {what: (diff[what]["top1"], base[what]["top1"]) for what in ("attention_logits", "hidden_states")}
    measured = "; ".join(f"{what.replace('_', ' ')} DIFF {d:.1f}, baseline {b:.1f}" for what, (d, b) in parts.items())
    over = [f"{what.replace('_', ' ')} {d - b:+.1f}" for what, (d, b) in parts.items() if d >= b]
    return Judgement(measured, "DIFF < baseline for both", not over, ", ".join(over))


MORE_LONG_CONTEXT_TRAINING = ("more steps at 4,096-token windows: the learning curves show whether the probe at the "
                              "longest length was still rising; more retrieval documents in the mix with needles near "
                              "the edges of the context, where the lowest cells are")

TARGETS = (
    Target("N1R1 retrieval ≥ 0.9 in every length × depth cell up to the context, DIFF", _n1r1_cells,
           MORE_LONG_CONTEXT_TRAINING),
    Target("held-out needle families (N1R1): DIFF ≥ 0.6", _held_out_forms,
           "more variety in the trained needle forms (key spellings, separators, value shapes), so that retrieval "
           "generalises to forms never seen; the held-out families stay out of training"),
    Target("held-out needle families (N1R1): DIFF ≥ baseline + 0.10", _held_out_margin,
           "the same as the row above; a margin measured on few documents also needs more --family-trials"),
    Target("multi-needle at the full context: DIFF ≥ baseline + 0.10 on N4R2 and N6R2", _multi_needle,
           MORE_LONG_CONTEXT_TRAINING + "; more --trials to shrink the standard errors"),
    Target("induction score ≥ 0.95 for both models", _induction,
           "more tokens for the model below it: the learning curves show when each one's induction score began to rise"),
    Target("repeated passage of real text: DIFF's top-1 accuracy on the second copy ≥ 0.9", _repeated_text,
           "more tokens: copying real text follows the induction score"),
    Target("held-out loss: DIFF ≤ baseline overall", _loss_overall,
           "more tokens for both at equal budgets: the learning curves show whether the gap was closing"),
    Target(f"held-out loss at positions beyond {BEYOND}: DIFF ≤ baseline", _loss_beyond,
           "more training at 4,096-token windows, where the far positions are learnt"),
    Target("activation outliers: DIFF's largest attention logit and hidden-state magnitude below the baseline's",
           _outliers, "a longer run: the outliers grow with training in the baseline more than in DIFF (paper, Table 5)"),
)


def judge_targets(report: dict) -> List[dict]:
    """Each target judged on the report's numbers, ready for JSON."""
    judged = []
    for target in TARGETS:
        judgement = target.judge(report)
        judged.append({"goal": target.goal, **judgement._asdict(),
                       "closing": target.closing if judgement.met is False else ""})
    return judged


def targets_section(report: dict) -> List[str]:
    """A table of the targets: what was measured, what was asked, met or not, by how much it was
    missed, and what would close the gap."""
    lines = ["", "## Targets", "",
             "Measured on this report's numbers; ± is the standard error of a mean over documents (n queries).", "",
             "| target | measured | asked | met | short by | what more would close it |", "|---|---|---|---|---|---|"]
    met_words = {True: "yes", False: "**no**", None: "n/a"}
    for judged in judge_targets(report):
        lines.append(f"| {judged['goal']} | {judged['measured']} | {judged['asked']} | {met_words[judged['met']]} | "
                     f"{judged['short_by']} | {judged['closing']} |")
    return lines
