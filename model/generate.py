"""
Greedy decoding in PyTorch, the reference that Continue Text's generation (extension/core/generate.ts)
is checked against token for token: each step runs the whole sequence (as the extension's graph
does, without a key/value cache) and appends the most likely next token, the lowest id on a tie
(as the extension's argmax does). For a package of this project (model.model) or a Hugging Face
checkpoint of any format Import Model reads (model.hf_reference, model.checkpoints).
"""

from pathlib import Path

import torch

from model.hf_reference import REFERENCES


def greedy_decode(next_logits, ids: list, tokens: int, vocab=None) -> dict:
    """`tokens` greedy steps after `ids` (BOS included), choosing among the first `vocab` ids (the
    tokenizer's: imported models pad their embedding with rows no token has). next_logits(ids) ->
    float32 logits [V] after the last id. Returns the generated ids and, per step, the gap between the top two logits (how
    far float32 rounding would have to move them to swap the choice)."""
    ids, generated, margins = list(ids), [], []
    with torch.no_grad():
        for _ in range(tokens):
            logits = next_logits(ids).float()[:vocab]
            top = torch.topk(logits, 2)
            chosen = int(torch.argmax(logits))  # torch.argmax returns the first maximum: the lowest id
            margins.append(float(top.values[0] - top.values[1]))
            generated.append(chosen)
            ids.append(chosen)
    return {"ids": generated, "margins": margins}


def package_logits(package: Path):
    from model.package import load_package
    model, _, _ = load_package(package)
    return lambda ids: model(torch.tensor([ids]))[0][0, -1]


def checkpoint_logits(folder: Path, fmt: str):
    """A Hugging Face-layout checkpoint's logits: the independent reference of its format, or for the
    official DIFF formats (diff-v1, diff-v2) model.py's Transformer with its tensors."""
    import json
    from model.checkpoints import diff_model
    from model.safetensors_files import read_weights
    config, tensors = json.loads((folder / "config.json").read_text()), read_weights(folder)
    if fmt in REFERENCES:
        reference = REFERENCES[fmt](config, tensors)
        return lambda ids: reference.forward(torch.tensor(ids, dtype=torch.long))[0][-1]
    model = diff_model(config, tensors)
    return lambda ids: model(torch.tensor([ids]))[0][0, -1]
