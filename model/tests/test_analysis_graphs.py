"""The committed analysis graphs (extension/graphs/) are what model/analysis_graphs.py builds now, and
run over blocks of query rows in ONNX Runtime (onnxruntime-node) they compute what PyTorch computes
from the whole (S, T, T) logits. The TypeScript tests check the engine's use of them
(test/unit/engine.test.ts, test/unit/blocks.test.ts)."""

import base64
import json
import subprocess

import numpy as np
import pytest
import torch

from model.analysis_graphs import build_all
from model.metrics import QUANT_BITS
from tolerance import assert_close

S, T, D, ROWS, SCALE = 4, 37, 8, 16, 0.35  # 3 blocks, the last one partial
BLOCKS = [(first, min(ROWS, T - first)) for first in range(0, T, ROWS)]

# Runs one graph per request in ONNX Runtime: stdin {"graph", "runs": [{name: tensor}]}, tensors as
# {"dtype", "dims", "base64"}; prints the outputs the same way.
ORT_RUNNER = """
const ort = require('onnxruntime-node');
const kinds = { float32: Float32Array, int64: BigInt64Array, uint16: Uint16Array };
let text = '';
process.stdin.on('data', (chunk) => (text += chunk)).on('end', async () => {
  const request = JSON.parse(text);
  const session = await ort.InferenceSession.create(request.graph);
  const runs = [];
  for (const inputs of request.runs) {
    const feeds = {};
    for (const [name, t] of Object.entries(inputs)) {
      const bytes = Buffer.from(t.base64, 'base64');
      const data = new kinds[t.dtype](bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      feeds[name] = new ort.Tensor(t.dtype, data, t.dims);
    }
    const outputs = await session.run(feeds);
    runs.push(Object.fromEntries(Object.entries(outputs).map(([name, t]) => [name, { dtype: t.type, dims: t.dims,
      base64: Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('base64') }])));
  }
  process.stdout.write(JSON.stringify(runs));
});
"""


def run_graph(repo, name: str, runs: list) -> list:
    """Runs extension/graphs/{name} once per dict of numpy inputs; returns dicts of numpy outputs."""
    encode = lambda a: {"dtype": {np.float32: "float32", np.int64: "int64"}[a.dtype.type], "dims": list(a.shape),
                        "base64": base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()}
    request = {"graph": str(repo / "extension" / "graphs" / name), "runs": [{k: encode(np.asarray(v)) for k, v in r.items()} for r in runs]}
    reply = subprocess.run(["node", "-e", ORT_RUNNER], cwd=repo, input=json.dumps(request), capture_output=True, text=True, check=True)
    dtypes = {"float32": np.float32, "int64": np.int64, "uint16": np.uint16}
    return [{k: np.frombuffer(base64.b64decode(t["base64"]), dtype=dtypes[t["dtype"]]).reshape(t["dims"]) for k, t in run.items()}
            for run in json.loads(reply.stdout)]


@pytest.fixture(scope="module")
def qk():
    torch.manual_seed(0)
    return torch.randn(S, T, D) * 1.5, torch.randn(S, T, D) * 1.5


def whole_logits(q, k):
    """PyTorch's (S, T, T) logits with -inf after each query, as the model masks them."""
    return (q @ k.transpose(1, 2) * SCALE).masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))


def block_feeds(q, k, first, rows, **extra):
    return {"q": q[:, first:first + rows].numpy(), "k": k[:, :first + rows].numpy(), "first_row": np.array(first, np.int64),
            "scale": np.array(SCALE, np.float32), **extra}


def head_feeds(q, k, first, rows, lam=None, **extra):
    """A block's inputs of a per-head graph: the sub-heads as a standard model's heads, or with lam
    (H, T) as differential heads, A1 the even sub-heads (q1, k1) and A2 the odd ones (q2, k2)."""
    block = block_feeds(q, k, first, rows, **extra)
    if lam is None:
        return block
    pairs = {f"{name}{n + 1}": block[name][n::2] for name in ("q", "k") for n in range(2)}
    return {**{key: v for key, v in block.items() if key not in ("q", "k")}, **pairs, "lambda": lam[:, first:first + rows].numpy()}


def test_committed_graphs_are_up_to_date(repo):
    built = build_all(len(QUANT_BITS))
    committed = sorted(p.name for p in (repo / "extension" / "graphs").glob("*.onnx"))
    assert committed == sorted(built), "run: python -m model analysis-graphs"
    for name, model in built.items():
        assert (repo / "extension" / "graphs" / name).read_bytes() == model.SerializeToString(), \
            f"extension/graphs/{name} is stale; run: python -m model analysis-graphs"


def test_attention_blocks_and_tiles_are_the_softmax_rows(repo, qk):
    q, k = qk
    logits = whole_logits(q, k)
    probs, lse = torch.softmax(logits, -1), torch.logsumexp(logits, -1)
    blocks = run_graph(repo, "attention_maps.onnx", [block_feeds(q, k, first, rows) for first, rows in BLOCKS])
    for (first, rows), out in zip(BLOCKS, blocks):
        assert_close(out["probs"], probs[:, first:first + rows, :first + rows].numpy(), f"probs of rows {first}..")
        assert_close(out["lse"], lse[:, first:first + rows].numpy(), f"lse of rows {first}..")
    # Tiles of keys before, across and after each block's diagonal, from the blocks' lse.
    tiles = [(b, first_key, keys) for b in range(len(BLOCKS)) for first_key, keys in [(0, 5), (3, 20), (18, 19)]]
    feeds = [{**block_feeds(q, k, *BLOCKS[b]), "k": k[:, first_key:first_key + keys].numpy(),
              "first_key": np.array(first_key, np.int64), "lse": blocks[b]["lse"]} for b, first_key, keys in tiles]
    for (b, first_key, keys), out in zip(tiles, run_graph(repo, "attention_tile.onnx", feeds)):
        first, rows = BLOCKS[b]
        assert_close(out["probs"], probs[:, first:first + rows, first_key:first_key + keys].numpy(), f"tile of rows {first}.., keys {first_key}..")


def test_logit_statistics_per_block_merge_to_the_whole(repo, qk):
    q, k = qk
    magnitudes = whole_logits(q, k).abs().masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    top = run_graph(repo, "logit_top.onnx", [block_feeds(q, k, first, rows, top=np.array([10], np.int64)) for first, rows in BLOCKS])
    merged = []
    for (first, rows), out in zip(BLOCKS, top):
        for value, flat in zip(out["top_values"], out["top_indices"]):
            s, r, j = np.unravel_index(flat, (S, rows, first + rows))
            assert_close(value, magnitudes[s, first + r, j].item(), "a top value at its flat index")
            merged.append(value)
    assert_close(sorted(merged, reverse=True)[:10], magnitudes.flatten().topk(10).values.numpy(), "top 10")
    absmax, bins = magnitudes.max().item(), 64
    counted = np.zeros(bins + 1, np.int64)
    for out in run_graph(repo, "logit_bins.onnx", [block_feeds(q, k, first, rows, absmax=np.array(absmax, np.float32), bins=np.array(bins, np.float32))
                                                   for first, rows in BLOCKS]):
        counted += np.bincount(out["bin_plus_one"].ravel(), minlength=bins + 1)
    visible = magnitudes[magnitudes > float("-inf")]
    expected = torch.bincount((visible * bins / absmax).floor().clamp(max=bins - 1).long(), minlength=bins).numpy()
    assert counted[1:].sum() == S * T * (T + 1) // 2, "every visible pair counted once"
    # A value on a bin edge may fall either side in float32.
    assert np.abs(counted[1:] - expected).sum() <= 2


@pytest.mark.parametrize("diff", [True, False])
def test_quantisation_sums_over_blocks_are_the_whole_layers(repo, qk, diff):
    q, k = qk
    logits = whole_logits(q, k)
    visible = logits > float("-inf")
    absmax = logits[visible].abs().max().item()
    levels = [2.0 ** (bits - 1) - 1 for bits in QUANT_BITS]
    heads = S // 2 if diff else S
    lam = torch.rand(heads, T) - 0.2  # per head and query, negative for some

    def effective(x):
        probs = torch.softmax(x, -1)
        return probs[0::2] - lam[..., None] * probs[1::2] if diff else probs

    exact = effective(logits)
    expected_errors, expected_distances = [], []
    for top in levels:
        step = absmax / top
        quantised = ((logits / step).round().clamp(-top, top) * step).masked_fill(~visible, float("-inf"))
        expected_errors.append(((quantised - logits)[visible] ** 2).sum().item())
        distance = (effective(quantised) - exact).abs().sum(-1) / exact.abs().sum(-1)
        expected_distances.append(0.5 * distance.sum().item())

    extra = {"absmax": np.array(absmax, np.float32), "top_levels": np.array(levels, np.float32)}
    feeds = [head_feeds(q, k, first, rows, lam if diff else None, **extra) for first, rows in BLOCKS]
    outs = run_graph(repo, f"quantisation_{'diff' if diff else 'standard'}.onnx", feeds)
    assert_close(sum(o["squared_sum"].item() for o in outs), (logits[visible] ** 2).sum().item(), "squared logits")
    assert_close(sum(o["squared_error"] for o in outs), expected_errors, "squared quantisation errors")
    assert_close(sum(o["distance"] for o in outs), expected_distances, "attention distances")


@pytest.mark.parametrize("diff", [True, False])
def test_sink_sums_over_blocks_are_the_whole_maps_first_column(repo, qk, diff):
    q, k = qk
    probs = torch.softmax(whole_logits(q, k), -1)
    heads = S // 2 if diff else S
    lam = torch.rand(heads, T) - 0.2  # per head and query, negative for some

    feeds = [head_feeds(q, k, first, rows, lam if diff else None) for first, rows in BLOCKS]
    outs = run_graph(repo, f"sink_shares_{'diff' if diff else 'standard'}.onnx", feeds)
    total = lambda name: sum(o[name] for o in outs)
    if not diff:
        assert_close(total("first"), probs[:, :, 0].sum(1).numpy(), "A[:, 0] summed over the rows")
        return
    a1, a2 = probs[0::2], probs[1::2]
    magnitude = (a1 - lam[..., None] * a2).abs()
    assert_close(total("first_a1"), a1[:, :, 0].sum(1).numpy(), "A1[:, 0]")
    assert_close(total("first_a2"), a2[:, :, 0].sum(1).numpy(), "A2[:, 0]")
    assert_close(total("first_diff"), magnitude[:, :, 0].sum(1).numpy(), "|D[:, 0]|")
    assert_close(total("mass_diff"), magnitude.sum((1, 2)).numpy(), "|D| over every pair")
