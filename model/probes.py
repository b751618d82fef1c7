"""
Probes of whether copying and retrieval have formed, cheap enough to run at every evaluation step
of training and reported again in the evaluation (model/evaluate.py):

  induction score   a run of random tokens followed by the same run: the share of the second
                    copy's tokens (all but its first) that the model predicts top-1. Only an
                    induction mechanism can; a model without one scores about 1/vocabulary.
  needle accuracy   N1R1 retrieval documents (one needle, queried at the end) at each context
                    length and a few depths, greedy exact match of the value, as the evaluation
                    scores it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from model.retrieval import FORMS
from model.retrieval_scoring import Grid, filler_documents, make_cases, score_queries, token_bytes_table
from model.model import Transformer
from model.tokenizer import ByteLevelBPE

INDUCTION_PERIOD = 100  # random tokens per copy
INDUCTION_SEQUENCES = 16
NEEDLE_DEPTHS = (0.0, 0.5, 1.0)


@torch.no_grad()
def induction_score(model: Transformer, tokenizer: ByteLevelBPE, period: int = INDUCTION_PERIOD,
                    sequences: int = INDUCTION_SEQUENCES, seed: int = 0) -> float:
    """Top-1 accuracy on the second copy of [BOS] + run + run, the run uniform over the
    non-special tokens; the second copy's first token is left out (nothing announces it)."""
    rng = np.random.default_rng(seed)
    first_plain_id = max(tokenizer.special_ids) + 1
    runs = rng.integers(first_plain_id, tokenizer.vocab_size, (sequences, period))
    bos = np.full((sequences, 1), tokenizer.eot_id)
    ids = torch.from_numpy(np.concatenate([bos, runs, runs], axis=1)).to(next(model.parameters()).device)
    was_training = model.training
    model.eval()
    logits = model(ids)[0]
    model.train(was_training)
    # Position p predicts token p + 1; the second copy spans positions period + 1 .. 2 * period.
    predicted = logits[:, period + 1:2 * period].argmax(-1)
    return (predicted == ids[:, period + 2:]).float().mean().item()


class NeedleProbe:
    """A fixed set of N1R1 documents (both forms, every context length up to the model's, a few
    depths) on held-out filler, built once and scored at every evaluation."""

    def __init__(self, tokenizer: ByteLevelBPE, data_dir: Path, context: int,
                 lengths: tuple[int, ...] = (256, 512, 1024), seed: int = 0):
        fillers = {form: filler_documents(data_dir, form) for form in FORMS}
        grid = Grid(seed=seed, trials=1, context_lengths=lengths, depths=NEEDLE_DEPTHS, configs=("N1R1",))
        self.cases = make_cases(tokenizer, fillers, context, grid)
        self.token_bytes = token_bytes_table(tokenizer)

    @torch.no_grad()
    def accuracy(self, model: Transformer) -> dict[str, float]:
        """{"needle": overall, "needle_256": at 256 tokens, ...}: share of queries answered exactly."""
        was_training = model.training
        model.eval()
        results = score_queries(model, self.cases, self.token_bytes)
        model.train(was_training)
        scores: dict[str, list[bool]] = {"needle": []}
        for result in results:
            scores["needle"] += result["correct"]
            scores.setdefault(f"needle_{result['length']}", []).extend(result["correct"])
        return {name: float(np.mean(correct)) for name, correct in scores.items()}
