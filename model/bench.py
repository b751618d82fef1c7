"""
The PyTorch side of the benchmark (npm run bench, test/bench/bench.ts). For one model package it
writes the bare forward graph (the model's logits alone) and a 2048^3 matrix-multiply graph that
measures the machine's limit, prints one JSON line with their paths and the useful FLOPs of a
forward pass per length, then times PyTorch eager forward passes on the same weights on request:
one length per line on stdin, one time in ms per line on stdout. The benchmark interleaves these
with its ONNX Runtime runs.

    python -m model.bench --package models/code-diff --out DIR --lengths 128,512,1024
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
from onnx import TensorProto

from model.analysis_graphs import GraphBuilder
from model.export import export_bare
from model.model import Transformer
from model.package import load_package

MATMUL_SIZE = 2048


def useful_flops(model: Transformer, length: int) -> int:
    """2 x the multiply-adds a forward pass needs: every weight matrix once per token (the tied
    LM head included) and causal attention, q.k and the weighted values over the T(T+1)/2 visible
    pairs (S d + E per pair and layer, S d = E). Masked pairs that a kernel computes anyway are
    not useful work."""
    cfg = model.cfg
    per_token = sum(module.weight.numel() for module in model.modules() if isinstance(module, torch.nn.Linear))
    per_token += cfg.vocab_size * cfg.n_embd  # LM head (the tied embedding)
    pairs = length * (length + 1) // 2
    attention = cfg.n_layer * pairs * 2 * cfg.n_embd
    return 2 * (per_token * length + attention)


def matmul_graph(path: Path) -> None:
    g = GraphBuilder()
    a = g.input("a", TensorProto.FLOAT, [MATMUL_SIZE, MATMUL_SIZE])
    b = g.input("b", TensorProto.FLOAT, [MATMUL_SIZE, MATMUL_SIZE])
    g.output(g.op("MatMul", a, b), "c", TensorProto.FLOAT, [MATMUL_SIZE, MATMUL_SIZE])
    path.write_bytes(g.model("matmul").SerializeToString())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--package", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path, help="folder for the graphs")
    parser.add_argument("--lengths", required=True, help="comma-separated token counts")
    args = parser.parse_args(argv)
    # Every core, as ONNX Runtime uses (PyTorch may default to fewer).
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    model, config, _ = load_package(args.package)
    model.eval()
    args.out.mkdir(parents=True, exist_ok=True)
    bare, matmul = args.out / f"{config['name']}-bare.onnx", args.out / "matmul.onnx"
    export_bare(model, bare)
    matmul_graph(matmul)
    lengths = [int(n) for n in args.lengths.split(",")]
    print(json.dumps({"bare": str(bare), "matmul": str(matmul), "matmul_flops": 2 * MATMUL_SIZE ** 3,
                      "threads": torch.get_num_threads(),
                      "flops": {str(n): useful_flops(model, n) for n in lengths}}), flush=True)
    for line in sys.stdin:
        length = int(line)
        ids = torch.arange(length, dtype=torch.long)[None] * 7919 % config["vocab_size"]
        with torch.no_grad():
            start = time.perf_counter()
            model(ids)
            print(f"{(time.perf_counter() - start) * 1000:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
