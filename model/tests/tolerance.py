"""The one tolerance for numeric comparisons in the Python tests, read from shared/tolerance.json
(which the TypeScript tests read too), and the helpers that apply it.

A value passes when |actual - expected| <= atol + rtol * |expected| (numpy.allclose's rule). A test
of a method with a resolution of its own (a quantisation step, a histogram bin) passes that as
method_rtol / method_atol, added on top of the float32 tolerance, so the two sources of error stay
visible and separate.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TOLERANCE_FILE = Path(__file__).resolve().parents[2] / "shared" / "tolerance.json"


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float
    why: str


def _load_float32() -> Tolerance:
    try:
        entry = json.loads(TOLERANCE_FILE.read_text(encoding="utf-8"))["float32"]
        return Tolerance(float(entry["rtol"]), float(entry["atol"]), str(entry["why"]))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RuntimeError(f"{TOLERANCE_FILE}: cannot read the float32 tolerance ({err!r}); it needs "
                           '{"float32": {"rtol": number, "atol": number, "why": text}}') from None


FLOAT32 = _load_float32()


def _as_float64(value) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().double().numpy()
    return np.asarray(value, dtype=np.float64)


def _bounds(actual, expected, method_rtol: float, method_atol: float):
    actual, expected = np.broadcast_arrays(_as_float64(actual), _as_float64(expected))
    error = np.abs(actual - expected)
    allowed = FLOAT32.atol + method_atol + (FLOAT32.rtol + method_rtol) * np.abs(expected)
    return error, allowed


def is_close(actual, expected, method_rtol: float = 0.0, method_atol: float = 0.0) -> bool:
    """Whether every element of ``actual`` is within tolerance of ``expected`` (arrays, tensors or numbers)."""
    error, allowed = _bounds(actual, expected, method_rtol, method_atol)
    return bool(np.all(error <= allowed))


def assert_close(actual, expected, what: str = "", method_rtol: float = 0.0, method_atol: float = 0.0) -> None:
    """Fails with the worst element's error and its allowance when ``actual`` is not close to ``expected``."""
    error, allowed = _bounds(actual, expected, method_rtol, method_atol)
    if not np.all(error <= allowed):
        worst = np.unravel_index(np.argmax(error - allowed), error.shape) if error.ndim else ()
        raise AssertionError(f"{what or 'values'} differ by {error[worst]:.3g} at index {worst}, more than the "
                             f"{allowed[worst]:.3g} allowed ({np.count_nonzero(error > allowed)} of {error.size} "
                             "elements); tolerance: shared/tolerance.json float32")

