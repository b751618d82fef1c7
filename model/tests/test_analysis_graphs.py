"""The committed analysis graphs (extension/graphs/) are what model/analysis_graphs.py builds now.
Their numbers are checked against direct recomputations by the TypeScript tests, which run them in
ONNX Runtime (test/unit/engine.test.ts)."""

from model.analysis_graphs import build_all
from model.metrics import QUANT_BITS


def test_committed_graphs_are_up_to_date(repo):
    built = build_all(len(QUANT_BITS))
    committed = sorted(p.name for p in (repo / "extension" / "graphs").glob("*.onnx"))
    assert committed == sorted(built), "run: python -m model analysis-graphs"
    for name, model in built.items():
        assert (repo / "extension" / "graphs" / name).read_bytes() == model.SerializeToString(), \
            f"extension/graphs/{name} is stale; run: python -m model analysis-graphs"
