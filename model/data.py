"""
Training batches: windows of the corpus, most of them rewritten so that copying and retrieval pay
off from the first step.

A model trained on natural text alone forms copying circuits slowly: 6.6M tokens of this corpus
formed none in a 6.8M-parameter model. So each row of a batch is one of four kinds, drawn per row:

  plain        a window of the corpus as it is (the language-modelling signal)
  span copy    a window in which a 16-64-token span of itself is pasted again later: copying real
               code pays off (the paper's "retrieve key information" at its simplest)
  random copy  a run of random tokens that comes back later: in a corpus window, or repeated to
               fill the whole row. Only induction can predict the second copy, so this is what
               forms induction heads that work on any tokens; the first copy is masked out of the
               loss (it cannot be predicted)

A copy row gets one copy per COPY_SEGMENT tokens, each within its own segment: a long window is
one row of a step where a short one is several, and with one copy per row a 4,096-token run saw a
quarter of the copies a 1,024-token one did (its induction score fell from 0.94 to 0.80).
  needles      a multi-needle retrieval document (model/retrieval.py) as long as the window or a
               little shorter, BOS first, followed by corpus text; its needles are in the Needle
               Test's code or prose form or in a trained family's form, never a held-out family's
               (model/needle_forms.py training_form)

A batch depends only on (seed, step), so a DIFF model and its baseline see the same tokens in the
same order, and a resumed run continues with the batches it would have had.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model.needle_forms import filler_category, training_form
from model.retrieval import make_document
from model.tokenizer import EOT_TOKEN, ByteLevelBPE

IGNORE = -1  # a target the loss skips (model.Transformer's cross-entropy ignore_index)
COPY_SEGMENT = 1024  # a copy row holds one copy per this many tokens


def corpus_tokens(corpus: Path, name: str, tokenizer: ByteLevelBPE) -> np.ndarray:
    """Token ids of ``corpus/NAME.txt`` as uint16, cached in ``corpus/tokens-VOCAB/NAME.bin`` (one
    cache per vocabulary size) and re-tokenised when the text is newer."""
    text_path = corpus / f"{name}.txt"
    cache = corpus / f"tokens-{tokenizer.vocab_size}" / f"{name}.bin"
    if cache.exists() and cache.stat().st_mtime >= text_path.stat().st_mtime:
        return np.fromfile(cache, dtype=np.uint16)
    cache.parent.mkdir(exist_ok=True)
    ids = np.array(tokenizer.encode(text_path.read_text(encoding="utf-8")), dtype=np.uint16)
    tmp = cache.with_suffix(".tmp")
    ids.tofile(tmp)
    tmp.replace(cache)
    return ids


def batch_at(data: np.ndarray, step: int, batch_size: int, seq_len: int, seed: int):
    """Plain corpus windows chosen by (seed, step) alone, and their next-token targets."""
    rng = np.random.default_rng([seed, step])
    starts = rng.integers(0, len(data) - seq_len - 1, batch_size)
    x = np.stack([data[s:s + seq_len] for s in starts]).astype(np.int64)
    y = np.stack([data[s + 1:s + seq_len + 1] for s in starts]).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def chars_per_token(tokenizer: ByteLevelBPE, documents: list[str], sample_chars: int = 20_000) -> float:
    """Characters per token over the documents' first ``sample_chars`` characters: how much text
    to ask for when a document must come out near a token count."""
    sample = "\n".join(documents)[:sample_chars]
    return len(sample) / max(1, len(tokenizer.encode(sample)))


def natural_documents(corpus: Path) -> dict[str, list[str]]:
    """The corpus's real training documents by category ("code", "prose"), as needle filler.

    The category comes from the corpus manifest (files.jsonl); documents it does not list (the
    corpus's own synthetic retrieval documents) are left out. Without a manifest every document
    serves both categories."""
    documents = [d for d in (corpus / "train.txt").read_text(encoding="utf-8").split(EOT_TOKEN) if d.strip()]
    manifest = corpus / "files.jsonl"
    if not manifest.exists():
        return {"code": documents, "prose": documents}
    category_of = {}
    with open(manifest, encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record["split"] == "train":
                category_of[record["sha256"]] = record["category"]
    by_category: dict[str, list[str]] = {"code": [], "prose": []}
    for text in documents:
        category = category_of.get(hashlib.sha256(text.encode("utf-8")).hexdigest())
        if category:
            by_category[category].append(text)
    return by_category


@dataclass(frozen=True)
class Mix:
    """Shares of the row kinds (the rest are plain corpus windows) and their span lengths."""

    span_copy: float = 0.25
    random_copy: float = 0.25
    needles: float = 0.25
    whole_row_repeats: float = 1 / 3  # of the random-copy rows, those that are one run repeated
    copy_tokens: tuple[int, int] = (16, 64)  # span-copy length, both included
    random_tokens: tuple[int, int] = (8, 64)  # random run pasted into a corpus window
    repeat_tokens: tuple[int, int] = (16, 128)  # random run repeated over a whole row

    @classmethod
    def parse(cls, text: str) -> "Mix":
        """'span_copy=0.25,random_copy=0.25,needles=0.25' (omitted kinds keep their defaults)."""
        shares = {}
        for item in filter(None, text.split(",")):
            name, _, value = item.partition("=")
            if name not in ("span_copy", "random_copy", "needles"):
                raise ValueError(f"--mix: unknown row kind {name!r}; expected span_copy, random_copy or needles")
            shares[name] = float(value)
        mix = cls(**shares)
        if mix.span_copy + mix.random_copy + mix.needles > 1 or min(mix.span_copy, mix.random_copy, mix.needles) < 0:
            raise ValueError(f"--mix: shares must be >= 0 and sum to at most 1, got {text!r}")
        return mix


def copy_segments(tokens: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(offset, view) of each COPY_SEGMENT-token part of a row, the last one taking the rest (the
    whole row when it is shorter than two): where a copy row places its copies."""
    count = max(1, len(tokens) // COPY_SEGMENT)
    bounds = [n * COPY_SEGMENT for n in range(count)] + [len(tokens)]
    return [(start, tokens[start:end]) for start, end in zip(bounds, bounds[1:])]


class Batches:
    """The training batch of every step, a function of (seed, step) alone."""

    def __init__(self, data: np.ndarray, tokenizer: ByteLevelBPE, fillers: dict[str, list[str]], mix: Mix, seed: int):
        self.data = data
        self.tokenizer = tokenizer
        self.fillers = fillers
        self.mix = mix
        self.seed = seed
        self.first_plain_id = max(tokenizer.special_ids) + 1  # random runs never hold special tokens
        self.chars_per_token = chars_per_token(tokenizer, fillers["code"])

    def __call__(self, step: int, rows: int, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step])
        kinds = rng.random(rows)
        x = np.empty((rows, seq_len), dtype=np.int64)
        y = np.empty((rows, seq_len), dtype=np.int64)
        m = self.mix
        for row, draw in enumerate(kinds):
            tokens = self.window(rng, seq_len + 1)
            masked: list[tuple[int, int]] = []  # [start, end) of tokens that are not targets
            if draw < m.span_copy:
                for _, segment in copy_segments(tokens):
                    self.paste_copy(rng, segment, m.copy_tokens)
            elif draw < m.span_copy + m.random_copy:
                masked = self.random_copy(rng, tokens)
            elif draw < m.span_copy + m.random_copy + m.needles:
                self.needle_document(random.Random(f"{self.seed}/{step}/{row}"), tokens)
            x[row], y[row] = tokens[:-1], tokens[1:]
            for start, end in masked:
                y[row, max(0, start - 1):end - 1] = IGNORE
        return torch.from_numpy(x), torch.from_numpy(y)

    def window(self, rng: np.random.Generator, length: int) -> np.ndarray:
        start = int(rng.integers(0, len(self.data) - length))
        return self.data[start:start + length].astype(np.int64)

    @staticmethod
    def copy_places(rng: np.random.Generator, length: int, span: tuple[int, int]) -> tuple[int, int, int]:
        """(span length, first start, second start): two non-overlapping places in a row."""
        size = int(rng.integers(span[0], span[1] + 1))
        size = min(size, length // 3)
        first = int(rng.integers(0, length - 2 * size + 1))
        second = int(rng.integers(first + size, length - size + 1))
        return size, first, second

    def paste_copy(self, rng: np.random.Generator, tokens: np.ndarray, span: tuple[int, int]) -> None:
        size, first, second = self.copy_places(rng, len(tokens), span)
        tokens[second:second + size] = tokens[first:first + size]

    def random_copy(self, rng: np.random.Generator, tokens: np.ndarray) -> list[tuple[int, int]]:
        """Writes a random run twice into each of the row's copy segments (or one run repeated over
        all of it after BOS) and returns the spans whose tokens no model can predict: each first
        copy, and each second copy's first token."""
        m = self.mix
        vocab = self.tokenizer.vocab_size
        if rng.random() < m.whole_row_repeats:
            period = int(rng.integers(m.repeat_tokens[0], m.repeat_tokens[1] + 1))
            run = rng.integers(self.first_plain_id, vocab, period)
            tokens[0] = self.tokenizer.eot_id
            tokens[1:] = np.resize(run, len(tokens) - 1)
            return [(1, 2 + period)]  # the first period, and where the second begins
        masked = []
        for offset, segment in copy_segments(tokens):
            size, first, second = self.copy_places(rng, len(segment), m.random_tokens)
            run = rng.integers(self.first_plain_id, vocab, size)
            segment[first:first + size] = run
            segment[second:second + size] = run
            masked += [(offset + first, offset + first + size), (offset + second, offset + second + 1)]
        return masked

    def needle_document(self, rng: random.Random, tokens: np.ndarray) -> None:
        """Overwrites the row's start with BOS and a retrieval document of 50-100% of its length
        (1-6 needles, 1-4 of them queried, in a form training_form draws); corpus text follows after EOT."""
        form = training_form(rng)
        n_needles = rng.randint(1, 6)
        n_queries = rng.randint(1, min(n_needles, 4))
        budget = len(tokens) - 2  # BOS before, EOT after
        goal = rng.uniform(0.5, 0.95) * budget
        chars = goal * self.chars_per_token
        for _ in range(8):
            text, _ = make_document(rng, n_needles, n_queries, self.fillers[filler_category(form)], int(chars),
                                    form=form)
            ids = self.tokenizer.encode(text)
            if len(ids) <= budget:
                break
            chars *= 0.9 * budget / len(ids)
        else:
            return  # filler with very long lines; the row stays a plain window
        tokens[0] = self.tokenizer.eot_id
        tokens[1:1 + len(ids)] = ids
        tokens[1 + len(ids)] = self.tokenizer.eot_id
