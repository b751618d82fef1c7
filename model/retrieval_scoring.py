"""Multi-needle retrieval measured on a model (the paper's Table 2, Figure 5 and Table 3): the
protocol grid's documents (model/retrieval.py) fitted to a context length and tokenised, greedy
exact match of every query's value, where the query's attention goes, and their summaries as
plain dicts.
"""

from __future__ import annotations

import math
import random
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from model.data import chars_per_token
from model.metrics import quantised_attention_logits
from model.model import Attention, Transformer
from model.needle_forms import FORMS, NEEDLES, filler_category
from model.retrieval import Answer, make_document
from model.tokenizer import EOT_TOKEN, SYMBOL_TO_BYTE, ByteLevelBPE

RETRIEVAL_CONFIGS = NEEDLES.configs  # "N4R2" -> (4 needles, 2 of them queried)
# A byte that, right after a generated value, makes it a longer token rather than the value.
VALUE_EXTENDER = re.compile(NEEDLES.value_extender_pattern.encode("ascii"))


# ---------------------------------------------------------------------------------------------
# Multi-needle retrieval documents


@dataclass
class Query:
    """Token positions of one query in a tokenised retrieval document (BOS at position 0)."""

    prompt_end: int  # the value's first token; the model predicts it at position prompt_end - 1
    query_tokens: List[int]  # the query prefix, e.g. `assert CACHE_TIMEOUT_qzvk ==`
    answer_tokens: List[int]  # tokens overlapping the needle's value (the answer span)
    continuation: bytes  # what greedy decoding must produce: " " + value


@dataclass
class Case:
    """One retrieval document: its cell of the protocol grid and its tokens."""

    config: str  # "N4R2": 4 needles, 2 of them queried
    form: str  # "code", "prose" or a needle family (model/needle_forms.py)
    length: int  # the context length it was made for (its token count is at most this)
    depth: float  # where the queried needles sit, as a fraction of the filler
    trial: int
    ids: List[int]
    queries: List[Query]


def token_bytes_table(tokenizer: ByteLevelBPE) -> List[bytes]:
    """The UTF-8 bytes of every token id (a byte-level token string has one symbol per byte), to
    map token positions to text offsets and to read greedy output byte-exactly."""
    table = [b""] * tokenizer.vocab_size
    for token, i in tokenizer.vocab.items():
        table[i] = token.encode("utf-8") if i in tokenizer.special_ids else bytes(SYMBOL_TO_BYTE[c] for c in token)
    return table


def locate_queries(text: str, answers: Sequence[Answer], ids: List[int], token_bytes: List[bytes]) -> List[Query]:
    """Maps each answer's character spans to token positions of `ids` (= [BOS] + encode(text))."""
    lengths = np.array([0] + [len(token_bytes[i]) for i in ids[1:]])  # BOS covers no text
    ends = np.cumsum(lengths)
    starts = ends - lengths

    def byte_at(char_index: int) -> int:
        return len(text[:char_index].encode("utf-8"))

    def overlapping(lo: int, hi: int) -> List[int]:
        return [int(p) for p in np.nonzero((starts < hi) & (ends > lo))[0]]

    queries = []
    for answer in answers:
        prompt_end_byte = byte_at(answer.query_span[1])
        prompt_end = int(np.searchsorted(starts[1:], prompt_end_byte)) + 1
        if prompt_end >= len(ids) or starts[prompt_end] != prompt_end_byte:
            raise ValueError(f"no token boundary where the query {answer.key!r} ends; cannot prompt with it")
        queries.append(Query(prompt_end, overlapping(byte_at(answer.query_span[0]), prompt_end_byte),
                             overlapping(byte_at(answer.value_span[0]), byte_at(answer.value_span[1])),
                             answer.continuation.encode("utf-8")))
    return queries


def filler_documents(data_dir: Path, form: str) -> List[str]:
    """The held-out documents of one form, used as haystack filler."""
    text = (data_dir / f"val_{form}.txt").read_text(encoding="utf-8")
    return [doc for doc in text.split(EOT_TOKEN) if doc.strip()]


def fitted_document(tokenizer: ByteLevelBPE, fillers: List[str], seed: str, config: str, length: int,
                    depth: float, form: str, chars_per_token: float) -> Tuple[str, List[Answer], List[int]]:
    """A make_document of 90-100% of `length` tokens (BOS included) where possible. It aims at 95% and
    rescales the character budget by the token count it got (the same seed gives the same needles and
    a longer or shorter cut of the same filler); filler with very long lines can defeat that, so after
    6 tries it starts again from another seed, 3 times at most, then keeps the longest that fits."""
    n_needles, n_queries = RETRIEVAL_CONFIGS[config]
    goal = 0.95 * length
    best = None
    for variant in range(3):
        chars = goal * chars_per_token
        for _ in range(6):
            text, answers = make_document(random.Random(f"{seed}/{variant}"), n_needles, n_queries, fillers,
                                          int(chars), depth, form)
            ids = [tokenizer.eot_id] + tokenizer.encode(text)
            if len(ids) <= length and (best is None or len(ids) > len(best[2])):
                best = (text, answers, ids)
            if 0.9 * length <= len(ids) <= length:
                return best
            chars *= goal / len(ids)
    if best is None:
        raise ValueError(f"cannot fit a {config} {form} document into {length} tokens; "
                         "choose longer --context-lengths or a model with a longer context")
    return best


@dataclass(frozen=True)
class Grid:
    """Which retrieval documents to make: the protocol grid's axes and how many per cell."""

    seed: int = 0
    trials: int = 2  # retrieval documents per (config, form, context length, depth) cell
    context_lengths: Tuple[int, ...] = ()  # capped at each model's context; none: lengths_up_to(context)
    depths: Tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    configs: Tuple[str, ...] = tuple(RETRIEVAL_CONFIGS)
    forms: Tuple[str, ...] = FORMS  # the Needle Test's forms, or needle families


def lengths_up_to(context: int) -> List[int]:
    """256, 512, 1024, ... below the context, and the context itself: the default grid's lengths, as
    the Needle Test offers them (shared/needles.json's lengths.shortest)."""
    lengths, shortest = [], NEEDLES.shortest_length
    while shortest < context:
        lengths.append(shortest)
        shortest *= 2
    return lengths + [context]


def make_cases(tokenizer: ByteLevelBPE, fillers: Dict[str, List[str]], context: int, grid: Grid) -> List[Case]:
    """The protocol grid: every needle config x form x context length (capped at the model's
    context) x depth x trial. `fillers` holds the "code" and "prose" filler documents. Each document
    is seeded by its cell alone, so both models get the same texts when they share a tokenizer."""
    token_bytes = token_bytes_table(tokenizer)
    category_chars_per_token = {category: chars_per_token(tokenizer, docs) for category, docs in fillers.items()}
    lengths = sorted({min(length, context) for length in grid.context_lengths or lengths_up_to(context)})
    cases = []
    for config in grid.configs:
        for form in grid.forms:
            category = filler_category(form)
            for length in lengths:
                for depth in grid.depths:
                    for trial in range(grid.trials):
                        seed = f"{grid.seed}/{config}/{form}/{length}/{depth}/{trial}"
                        text, answers, ids = fitted_document(tokenizer, fillers[category], seed, config, length,
                                                             depth, form, category_chars_per_token[category])
                        cases.append(Case(config, form, length, depth, trial, ids,
                                          locate_queries(text, answers, ids, token_bytes)))
    return cases


# ---------------------------------------------------------------------------------------------
# Retrieval accuracy (Table 2 / Figure 5) and attention allocation (Table 3)


def greedy_matches(predicted: List[int], ids: List[int], query: Query, token_bytes: List[bytes]) -> bool:
    """Whether greedy decoding after the query prompt produces exactly the value.

    predicted[p] is the argmax next token at position p of ONE forward pass over the whole document.
    Greedy decoding and this teacher-forced argmax agree for as long as greedy decoding follows the
    document, so the generated text is: the predictions while they equal the document's tokens, plus
    the first prediction that does not (where greedy decoding would go its own way). It matches when
    it starts with " VALUE" and the next character, if known, does not extend the value (VALUE_EXTENDER:
    an ASCII letter, digit or underscore). Later queries in a document see earlier queries answered correctly, as in
    the document's text."""
    generated = b""
    position = query.prompt_end
    while len(generated) <= len(query.continuation):
        token = predicted[position - 1]
        generated += token_bytes[token]
        if position >= len(ids) or token != ids[position]:
            break
        position += 1
    if not generated.startswith(query.continuation):
        return False
    following = generated[len(query.continuation):len(query.continuation) + 1]
    return not VALUE_EXTENDER.fullmatch(following)


ATTENTION_NORMALISATIONS = ("mass", "one_minus_lambda", "raw")


def attention_shares(inspection: dict, query: Query) -> dict:
    """Where the query's last token (the one predicting the value) puts its attention, averaged
    over all heads of all layers: the share on the answer span (the needle value's tokens), on the
    query's own tokens, and on the noise context (every other earlier token: filler, BOS, other
    needles, earlier queries).

    The baseline's map is its softmax. DIFF's is the differential map A1 - lambda * A2, whose rows
    sum to 1 - lambda and can be negative. Three readings of a row a:

      mass              a / sum|a|: signed shares of the row's absolute attention mass. For a softmax
                        this is the plain share; for DIFF each share lies in [-1, 1] and a negative
                        one means that part is cancelled. Well-defined for every lambda (the mass
                        is zero only for an all-zero row), so this is the headline.
      one_minus_lambda  a / (1 - lambda): the three shares sum to 1 like a softmax's (the paper's
                        "normalized attention scores", as we read them), but they blow up and flip
                        sign as lambda nears or passes 1.
      raw               a as the model uses it (it is multiplied by V, then RMS-normalised)."""
    row = query.prompt_end - 1
    rows = softmax_rows(inspection, row)  # (layers, sub-heads, keys)
    one_minus_lambda = torch.ones(1, dtype=torch.float64)
    if "lambda" in inspection:  # DIFF: sub-heads (2h, 2h + 1) are head h's A1 and A2
        lam = inspection["lambda"][0, :, row, :].double()[..., None]  # (layers, heads, 1)
        scores = rows[:, 0::2] - lam * rows[:, 1::2]
        one_minus_lambda = 1 - lam
    else:
        scores = rows
    mass = scores.abs().sum(-1, keepdim=True).clamp_min(torch.finfo(torch.float64).tiny)
    shares = {}
    for name, attention in zip(ATTENTION_NORMALISATIONS, (scores / mass, scores / one_minus_lambda, scores)):
        answer = attention[..., query.answer_tokens].sum(-1).mean().item()
        own = attention[..., query.query_tokens].sum(-1).mean().item()
        total = attention.sum(-1).mean().item()
        shares[name] = {"answer": answer, "noise": total - answer - own, "query": own}
    return shares


def softmax_rows(inspection: dict, row: int) -> torch.Tensor:
    """Every layer's softmax rows at query position `row` (layers, sub-heads, row + 1), recomputed
    in float64 from the inspection's q (batch, layers, S, T, d) and k (batch, layers, S_kv, T, d)."""
    q = inspection["q"][0, :, :, row].double()  # (layers, S, d)
    k = inspection["k"][0, :, :, :row + 1].double()  # (layers, S_kv, keys, d)
    k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)  # grouped keys, as repeat_kv
    return torch.softmax(torch.einsum("lsd,lskd->lsk", q, k) * q.shape[-1] ** -0.5, dim=-1)


@contextmanager
def without_whole_maps():
    """Eager inspections that skip the whole T x T maps (model.Attention.whole_maps)."""
    previous = Attention.whole_maps
    Attention.whole_maps = False
    try:
        yield
    finally:
        Attention.whole_maps = previous


@torch.no_grad()
def score_queries(model: Transformer, cases: List[Case], token_bytes: List[bytes], bits: Optional[int] = None,
                  with_attention: bool = False) -> List[dict]:
    """Runs each document once (one at a time: no padding, so quantisation scales are the
    document's own) and returns per document its cell, token count, each query's greedy exact match
    and, with_attention, each query's attention shares (of the exact logits: not with bits)."""
    if bits is not None and with_attention:
        raise ValueError("attention shares are read from the exact logits; score quantised runs without them")
    results = []
    with quantised_attention_logits(bits), without_whole_maps():
        for case in cases:
            logits, _, inspection = model(torch.tensor([case.ids]), inspect=with_attention)
            predicted = logits[0].argmax(-1).tolist()
            result = {"config": case.config, "form": case.form, "length": case.length, "depth": case.depth,
                      "trial": case.trial, "tokens": len(case.ids),
                      "correct": [greedy_matches(predicted, case.ids, q, token_bytes) for q in case.queries]}
            if with_attention:
                result["attention"] = [attention_shares(inspection, q) for q in case.queries]
            results.append(result)
    return results


def mean_with_stderr(values: Sequence[float]) -> dict:
    """Mean, its standard error (sample std / sqrt(n); for 0/1 values the binomial one) and n."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return {"mean": None, "stderr": None, "n": 0}
    stderr = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else None
    return {"mean": float(values.mean()), "stderr": stderr, "n": len(values)}


def accuracy(results: List[dict], **cell) -> dict:
    """Per-query exact-match accuracy over the documents whose fields equal `cell`."""
    return mean_with_stderr([c for r in results if all(r[k] == v for k, v in cell.items()) for c in r["correct"]])


def share(results: List[dict], part: str, kind: str = "mass", **cell) -> dict:
    """Mean attention share `part` ("answer", "noise" or "query") over the queries of matching documents."""
    return mean_with_stderr([a[kind][part] for r in results if all(r[k] == v for k, v in cell.items())
                             for a in r["attention"]])


def summarise_retrieval(results: List[dict]) -> dict:
    lengths = sorted({r["length"] for r in results})
    depths = sorted({r["depth"] for r in results})
    configs = RETRIEVAL_CONFIGS
    return {
        "overall": accuracy(results),
        "by_config": {c: accuracy(results, config=c) for c in configs},
        "by_config_and_length": {c: {str(n): accuracy(results, config=c, length=n) for n in lengths} for c in configs},
        "by_config_and_depth": {c: {str(d): accuracy(results, config=c, depth=d) for d in depths} for c in configs},
        "by_config_length_and_depth": {c: {str(n): {str(d): accuracy(results, config=c, length=n, depth=d) for d in depths}
                                           for n in lengths} for c in configs},
        "by_form": {f: accuracy(results, form=f) for f in FORMS},
        "mean_tokens_by_length": {str(n): float(np.mean([r["tokens"] for r in results if r["length"] == n]))
                                  for n in lengths},
    }


def summarise_attention(results: List[dict]) -> dict:
    depths = sorted({r["depth"] for r in results})
    parts = ("answer", "noise", "query")
    return {kind: {"overall": {p: share(results, p, kind) for p in parts},
                   "by_depth": {str(d): {p: share(results, p, kind, depth=d) for p in parts} for d in depths}}
            for kind in ATTENTION_NORMALISATIONS}
