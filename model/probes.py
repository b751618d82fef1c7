"""
Probes of whether copying and retrieval have formed, cheap enough to run at every evaluation step
of training and reported again in the evaluation (model/evaluate.py):

  induction score   a run of random tokens followed by the same run: the share of the second
                    copy's tokens (all but its first) that the model predicts top-1. Only an
                    induction mechanism can; a model without one scores about 1/vocabulary.
  repeated code     the same on held-out code passages (evaluation only): accuracy on the first
                    copy and on the second.
  needle accuracy   N1R1 retrieval documents (one needle, queried at the end) at each context
                    length and a few depths, greedy exact match of the value, as the evaluation
                    scores it: "needle" in the Needle Test's forms, "needle_heldout" in the
                    held-out families' forms (model/needle_forms.py), which training never uses,
                    one document per family at the shortest and at the longest length.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from model.needle_forms import FORMS, HELD_OUT_FAMILIES
from model.retrieval_scoring import Grid, filler_documents, make_cases, score_queries, token_bytes_table
from model.model import Transformer
from model.tokenizer import ByteLevelBPE

INDUCTION_PERIOD = 100  # random tokens per copy
INDUCTION_SEQUENCES = 16
NEEDLE_DEPTHS = (0.0, 0.5, 1.0)
HELD_OUT_DEPTH = 0.5  # of the held-out families' documents


@contextmanager
def eval_mode(model: Transformer):
    """The model in eval mode for the block, then back in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@torch.no_grad()
def repeat_accuracy(model: Transformer, runs: torch.Tensor, bos_id: int) -> dict[str, float]:
    """Top-1 accuracy on each copy of [BOS] + run + run, for rows of runs: the first copy (what the
    model predicts of the run by itself) and the second (what copying adds; its first token is
    left out, since nothing announces it)."""
    period = runs.shape[1]
    ids = torch.cat([torch.full((len(runs), 1), bos_id), runs, runs], dim=1).to(next(model.parameters()).device)
    with eval_mode(model):
        predicted = model(ids)[0][:, :-1].argmax(-1)
    hits = predicted == ids[:, 1:]  # position p predicts token p + 1
    return {"first_copy": hits[:, :period].float().mean().item(),
            "second_copy": hits[:, period + 1:].float().mean().item()}


def induction_score(model: Transformer, tokenizer: ByteLevelBPE, period: int = INDUCTION_PERIOD,
                    sequences: int = INDUCTION_SEQUENCES, seed: int = 0) -> float:
    """repeat_accuracy's second copy for runs uniform over the non-special tokens."""
    rng = np.random.default_rng(seed)
    first_plain_id = max(tokenizer.special_ids) + 1
    runs = torch.from_numpy(rng.integers(first_plain_id, tokenizer.vocab_size, (sequences, period)))
    return repeat_accuracy(model, runs, tokenizer.eot_id)["second_copy"]


class NeedleProbe:
    """A fixed set of N1R1 documents on held-out filler, built once and scored at every evaluation:
    both Needle Test forms at every context length up to the model's and a few depths, and each
    held-out family at the shortest and the longest length (a few documents more)."""

    def __init__(self, tokenizer: ByteLevelBPE, data_dir: Path, context: int,
                 lengths: tuple[int, ...] = (256, 512, 1024), seed: int = 0):
        fillers = {form: filler_documents(data_dir, form) for form in FORMS}
        grid = Grid(seed=seed, trials=1, context_lengths=lengths, depths=NEEDLE_DEPTHS, configs=("N1R1",))
        held_out = replace(grid, context_lengths=(min(lengths), max(lengths)), depths=(HELD_OUT_DEPTH,),
                           forms=HELD_OUT_FAMILIES)
        self.cases = make_cases(tokenizer, fillers, context, grid) + make_cases(tokenizer, fillers, context, held_out)
        self.token_bytes = token_bytes_table(tokenizer)

    @torch.no_grad()
    def accuracy(self, model: Transformer) -> dict[str, float]:
        """{"needle": overall, "needle_256": at 256 tokens, ..., "needle_heldout": held-out families}:
        share of queries answered exactly."""
        with eval_mode(model):
            results = score_queries(model, self.cases, self.token_bytes)
        scores: dict[str, list[bool]] = {"needle": [], "needle_heldout": []}
        for result in results:
            if result["form"] in HELD_OUT_FAMILIES:
                scores["needle_heldout"] += result["correct"]
                continue
            scores["needle"] += result["correct"]
            scores.setdefault(f"needle_{result['length']}", []).extend(result["correct"])
        return {name: float(np.mean(correct)) for name, correct in scores.items()}
