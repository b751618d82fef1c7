"""How the evaluation report writes its numbers: plain values, means with their standard error, and a
sentence comparing DIFF with the baseline (used by model/report.py and the sections it gathers)."""

import math


def fmt(value, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}" if abs(value) < 1000 else f"{value:,.0f}"


def fmt_mean(stat: dict, digits: int = 2) -> str:
    """'0.83 ± 0.04' (standard error) or '–'."""
    if stat["mean"] is None:
        return "–"
    return fmt(stat["mean"], digits) + (f" ± {fmt(stat['stderr'], digits)}" if stat["stderr"] is not None else "")


def compare(diff: dict, baseline: dict, what: str, digits: int = 2) -> str:
    """A sentence comparing two means, saying whether the gap exceeds two standard errors."""
    gap = diff["mean"] - baseline["mean"]
    errors = [s["stderr"] for s in (diff, baseline) if s["stderr"] is not None]
    spread = math.sqrt(sum(e * e for e in errors)) if errors else 0.0
    if gap == 0:
        verdict = "equal"
    elif spread == 0:
        verdict = f"DIFF {'higher' if gap > 0 else 'lower'}; no sampling error to compare with"
    elif abs(gap) <= 2 * spread:
        verdict = "a gap within two standard errors: not distinguishable at this sample size"
    else:
        verdict = f"DIFF {'higher' if gap > 0 else 'lower'} by {abs(gap) / spread:.1f} standard errors"
    return f"{what}: DIFF {fmt(diff['mean'], digits)} vs baseline {fmt(baseline['mean'], digits)} ({verdict})."
