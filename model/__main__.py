"""
Command line: python -m model {export,inspect,generate,fixtures,analysis-graphs,hf-checkpoint} ...

  export           checkpoint + tokenizer.json -> model package folder
  inspect          run a package on a text with PyTorch (the reference the extension is checked against)
  generate         greedy decoding with PyTorch after given token ids (the reference Continue Text is checked against)
  fixtures         rebuild the tiny random-weight test packages and their golden outputs
  analysis-graphs  rebuild the extension's weight-free analysis graphs (extension/graphs/)
  hf-checkpoint    write a random-weight (or a package's) checkpoint in the Hugging Face layout with
                   the outputs its import must reproduce (expected.json), for the import tests
"""

import argparse
import json
import sys
from pathlib import Path

import torch

from model.checkpoints import SIZES
from model.package import PackageError, load_checkpoint, load_package, write_package


def run_inspection(model, tokenizer, config: dict, text: str, top: int) -> dict:
    """Lambda per layer, top attended tokens of the last position per layer and head, and the
    top next-token predictions, computed in PyTorch."""
    ids = [config["bos_token_id"]] + tokenizer.encode(text)
    ids = ids[: config["max_seq_len"]]
    with torch.no_grad():
        logits, _, ins = model(torch.tensor([ids]), inspect=True)
    pieces = [tokenizer.decode([i]) for i in ids]
    diff = config["kind"] == "diff"
    attention = []
    for layer in range(config["n_layer"]):
        a1 = ins["attn_a1"][0, layer, :, -1]  # (heads, T): the last query row
        rows = a1 - ins["lambda"][0, layer, -1][:, None] * ins["attn_a2"][0, layer, :, -1] if diff else a1
        for head, row in enumerate(rows):
            scores, keys = row.topk(min(top, len(ids)))
            attention.append({"layer": layer, "head": head, "keys": [
                {"position": int(k), "token": pieces[int(k)], "score": float(s)} for s, k in zip(scores, keys)]})
    probs, next_ids = torch.softmax(logits[0, -1].float(), -1).topk(top)
    return {
        "kind": config["kind"],
        "tokens": len(ids),
        "lambda": [float(v) for v in ins["lambda"][0, :, -1, 0]] if diff else [],
        "attention": attention,
        "next_tokens": [{"id": int(i), "token": tokenizer.decode([int(i)]), "prob": float(p)}
                        for p, i in zip(probs, next_ids)],
    }


def print_inspection(result: dict) -> None:
    print(f"{result['kind']} model, {result['tokens']} tokens (BOS included)")
    if result["lambda"]:
        print("lambda per layer: " + "  ".join(f"L{i}={v:.4f}" for i, v in enumerate(result["lambda"])))
    print("last position attends to (score = A1 - lambda*A2 for DIFF, A for the baseline):")
    for row in result["attention"]:
        keys = ", ".join(f"{k['position']}:{k['token']!r} {k['score']:+.3f}" for k in row["keys"])
        print(f"  L{row['layer']} H{row['head']}: {keys}")
    print("next token:")
    for t in result["next_tokens"]:
        print(f"  {t['prob']:.4f}  {t['token']!r} (id {t['id']})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("export", help="export a checkpoint (or a package, again) to a model package")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", type=Path)
    src.add_argument("--package", type=Path, help="a package to export again with this exporter (same weights)")
    p.add_argument("--tokenizer", type=Path, help="tokenizer.json (default with --package: the package's)")
    p.add_argument("--out", required=True, type=Path, help="package folder to create or replace")
    p.add_argument("--name", help="package name (default: the folder name)")
    p.add_argument("--top-k", type=int, default=10)
    p = sub.add_parser("inspect", help="run a package on a text with PyTorch")
    p.add_argument("--package", required=True, type=Path)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text")
    src.add_argument("--file", type=Path)
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    p = sub.add_parser("generate", help="greedy decoding with PyTorch after given token ids, as JSON")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--package", type=Path)
    src.add_argument("--checkpoint", type=Path, help="a Hugging Face checkpoint folder (with --format)")
    p.add_argument("--format", choices=["diffllama", "llama", "mistral", "diff-v1", "diff-v2"], default="diffllama")
    p.add_argument("--ids", required=True, help="the prompt's token ids as a JSON list, BOS first")
    p.add_argument("--tokens", type=int, required=True)
    p.add_argument("--vocab", type=int, help="choose among the first VOCAB ids (default: all the logits)")
    p = sub.add_parser("fixtures", help="rebuild the tiny test packages and golden outputs")
    p.add_argument("--models", type=Path, default=Path("models"))
    p.add_argument("--golden", type=Path, default=Path("test/fixtures/golden"))
    p = sub.add_parser("analysis-graphs", help="rebuild the extension's analysis graphs")
    p.add_argument("--out", type=Path, default=Path("extension/graphs"))
    p = sub.add_parser("hf-checkpoint", help="write a Hugging Face-layout checkpoint and its expected outputs")
    p.add_argument("--format", required=True, choices=["diffllama", "llama", "mistral", "diff-v1", "diff-v2"])
    p.add_argument("--out", required=True, type=Path, help="folder to create (new or empty)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    p.add_argument("--shards", type=int, default=1, help="number of safetensors files (more than 1: with an index)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", default="tiny", choices=SIZES)
    p.add_argument("--from-package", type=Path,
                   help="a DIFF package of this project to write instead of random weights (V1 as diff-v1, V2 as diff-v2)")
    p.add_argument("--vocab-size", type=int, help="embedding rows (default: the tokenizer's, plus 16 for tiny)")
    p.add_argument("--retrieval", nargs=2, metavar=("QUERY", "KEY"),
                   help="plant a retrieval head (layer 0, head 0): the one-token text QUERY attends to the one-token text KEY")
    p.add_argument("--text", help="the text of expected.json (default: the golden text; a shorter one for 100m and 1b)")
    args = parser.parse_args(argv)

    try:
        if args.command == "export":
            if args.package:
                model, config, _ = load_package(args.package)
                training, tokenizer = config["training"], args.tokenizer or args.package / "tokenizer.json"
            elif args.tokenizer:
                model, ckpt = load_checkpoint(args.checkpoint)
                training, tokenizer = ckpt.get("training", {}), args.tokenizer
            else:
                parser.error("export --checkpoint needs --tokenizer")
            out = write_package(model, tokenizer, args.out, name=args.name or args.out.name,
                                training=training, top_k=args.top_k)
            print(f"wrote {out}")
        elif args.command == "inspect":
            model, config, tokenizer = load_package(args.package)
            text = args.text if args.text is not None else args.file.read_text(encoding="utf-8")
            result = run_inspection(model, tokenizer, config, text, args.top)
            print(json.dumps(result, indent=2, ensure_ascii=False)) if args.json else print_inspection(result)
        elif args.command == "generate":
            from model.generate import checkpoint_logits, greedy_decode, package_logits
            logits = package_logits(args.package) if args.package else checkpoint_logits(args.checkpoint, args.format)
            print(json.dumps(greedy_decode(logits, json.loads(args.ids), args.tokens, args.vocab)))
        elif args.command == "fixtures":
            from model.fixtures import build_fixtures
            for path in build_fixtures(args.models, args.golden):
                print(f"wrote {path}")
        elif args.command == "analysis-graphs":
            from model.analysis_graphs import write_all
            from model.metrics import QUANT_BITS
            for path in write_all(args.out, len(QUANT_BITS)):
                print(f"wrote {path}")
        elif args.command == "hf-checkpoint":
            from model.checkpoints import write_checkpoint
            for path in write_checkpoint(args.format, args.out, dtype=args.dtype, shards=args.shards, seed=args.seed,
                                         size=args.size, vocab_size=args.vocab_size, text=args.text,
                                         from_package=args.from_package, retrieval=args.retrieval):
                print(f"wrote {path}")
    except PackageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
