"""
One model's evaluation kept on disk, so that an evaluation stopped part-way (or one model evaluated
as soon as its training ends) is not paid for twice: `python -m model.evaluate --cache DIR` stores
each model's results as DIR/ROLE-KEY.json and reuses them when a later run asks for the same thing.

KEY is a hash of what the results depend on: the model's weights and config (so a checkpoint and
the package exported from it share an entry, and retrained weights never hit an old one), the
evaluation settings and the data folder. The model's source path and training record are not part
of its results; the run that reads an entry sets them from the model it was given.
"""

import hashlib
import json
from pathlib import Path
from typing import Callable

from model.model import Transformer

NOT_CACHED = ("source", "training")  # taken from the model given to each run


def evaluation_key(model: Transformer, settings: dict, data_dir: Path) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps({"config": model.cfg.to_dict(), "settings": settings, "data": str(Path(data_dir).resolve())},
                             sort_keys=True).encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def cached_evaluation(cache_dir: Path, role: str, key: str, evaluate: Callable[[], dict], log=print) -> dict:
    """The results stored under (role, key), else evaluate()'s, stored there (written whole or not at
    all: a run killed while writing leaves no entry)."""
    path = Path(cache_dir) / f"{role}-{key}.json"
    if path.exists():
        log(f"[{role}] results from {path} (same weights, settings and data)")
        return json.loads(path.read_text())
    results = evaluate()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps({k: v for k, v in results.items() if k not in NOT_CACHED}) + "\n")
    partial.replace(path)
    return results
