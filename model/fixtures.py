"""
The tiny, deterministic random-weight packages committed as test fixtures, and their golden
outputs for a fixed text, so the TypeScript side can check its numbers without Python.
"""

import json
from pathlib import Path

import torch

from model.export import reference_outputs
from model.model import ModelConfig, Transformer
from model.package import load_tokenizer, write_package

REPO = Path(__file__).resolve().parent.parent
FIXTURE_TOKENIZER = REPO / "test" / "fixtures" / "tokenizer-small.json"
GOLDEN_TEXT = "def area(r):\r\n\treturn 3.14159 * r * r  # π r² 🙂\r\n\nprint(area(2))\n"
FIXTURES = {"tiny-diff": "diff", "tiny-baseline": "baseline"}
SEED = 1234
QK_SCALE = 15.0  # random q/k of init scale give near-uniform maps; larger ones give visible structure


def tiny_model(kind: str, vocab_size: int, seed: int = SEED, **overrides) -> Transformer:
    torch.manual_seed(seed)
    cfg = ModelConfig(kind=kind, vocab_size=vocab_size, **{"n_layer": 2, "n_head": 2, "n_embd": 32, "max_seq_len": 128, **overrides})
    model = Transformer(cfg)
    with torch.no_grad():
        for layer in model.layers:
            layer.attn.q_proj.weight.mul_(QK_SCALE)
            layer.attn.k_proj.weight.mul_(QK_SCALE)
    return model.eval()


def golden_record(model: Transformer, tokenizer, config: dict, text: str) -> dict:
    ids = [config["bos_token_id"]] + tokenizer.encode(text)
    outputs = reference_outputs(model, ids, config["top_k"])
    with torch.no_grad():
        _, _, inspection = model(torch.tensor([ids]), inspect=True)
    # PyTorch's own maps, which the graph no longer outputs: the extension's on-demand maps are
    # checked against them.
    maps = {name: inspection[name].numpy() for name in ("attn_a1", "attn_a2") if name in inspection}
    return {
        "package": config["name"],
        "text": text,
        "ids": ids,
        "outputs": {name: {"dims": list(a.shape), "dtype": str(a.dtype), "data": a.reshape(-1).tolist()}
                    for name, a in outputs.items()},
        "maps": {name: {"dims": list(a.shape), "data": a.reshape(-1).tolist()} for name, a in maps.items()},
    }


def build_fixtures(models_dir: Path, golden_dir: Path) -> list:
    tokenizer = load_tokenizer(FIXTURE_TOKENIZER)
    written = []
    golden_dir.mkdir(parents=True, exist_ok=True)
    for name, kind in FIXTURES.items():
        model = tiny_model(kind, tokenizer.vocab_size)
        training = {"note": f"untrained: random weights (seed {SEED}, q/k scaled by {QK_SCALE}) for tests"}
        pkg = write_package(model, FIXTURE_TOKENIZER, models_dir / name, name=name, training=training)
        config = json.loads((pkg / "config.json").read_text())
        golden = golden_dir / f"{name}.json"
        golden.write_text(json.dumps(golden_record(model, tokenizer, config, GOLDEN_TEXT)) + "\n")
        written += [pkg, golden]
    return written
