import base64
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def run_onnxruntime(model_path: Path, sequences: list, workdir: Path) -> list:
    """Runs model.onnx in ONNX Runtime (onnxruntime-node) and returns one dict of arrays per sequence."""
    request, response = workdir / "request.json", workdir / "response.json"
    request.write_text(json.dumps({"sequences": sequences}))
    subprocess.run(["node", str(REPO / "test/support/ort-run.cjs"), str(model_path), str(request), str(response)],
                   cwd=REPO, check=True)
    dtypes = {"float32": np.float32, "int64": np.int64}
    return [
        {name: np.frombuffer(base64.b64decode(t["base64"]), dtype=dtypes[t["dtype"]]).reshape(t["dims"])
         for name, t in run.items()}
        for run in json.loads(response.read_text())["runs"]
    ]


def run_module(*args, cwd=REPO):
    """Runs `python -m model ARGS` and returns the completed process (exit code and output)."""
    return subprocess.run([sys.executable, "-m", "model", *map(str, args)], cwd=cwd, capture_output=True, text=True)
