"""Synthetic multi-needle retrieval documents, for training data and for evaluation.

A document is real filler text (code or prose) with N "needles" (key/value definitions) placed
at chosen depths, followed at the end by R queries that each restate a key and are completed by
its value. The Differential Transformer paper's multi-needle protocol (Table 2 / Figure 5) varies
N, R, the context length and the needle depth; ``make_document`` takes each as a parameter.

Code form (one style per document, picked by the rng)::

    CACHE_TIMEOUT_qzvk = 48291          ...filler...   assert CACHE_TIMEOUT_qzvk == 48291
    const apiToken_xwbe = "k3j9m";      ...filler...   console.assert(apiToken_xwbe === "k3j9m");
    #define MAX_RETRIES_hpod 7321       ...filler...   static_assert(MAX_RETRIES_hpod == 7321);

Prose form::

    The secret number of the red fox is 48291.   ...filler...   The secret number of the red fox is 48291.

Every query ends just before " VALUE", so an evaluator prompts with ``text[:answer.query_span[1]]``
and expects the continuation ``answer.continuation``; ``answer.value_span`` locates the value in
the needle, the span a retrieval head should attend to.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Sequence

FORMS = ("code", "prose")

_CODE_WORDS_FIRST = ("cache", "config", "api", "session", "max", "default", "retry", "buffer", "server",
                     "user", "queue", "render", "auth", "build", "worker", "index", "socket", "layout")
_CODE_WORDS_SECOND = ("key", "token", "limit", "port", "timeout", "size", "id", "secret", "count",
                      "offset", "seed", "version", "width", "depth", "level", "code")
_ADJECTIVES = ("red", "blue", "green", "silver", "golden", "quiet", "brave", "ancient", "hidden", "small",
               "northern", "eastern", "clever", "sleepy", "wild", "crimson", "pale", "restless")
_NOUNS = ("fox", "owl", "river", "mountain", "lantern", "garden", "harbor", "tower", "falcon", "violin",
          "orchard", "comet", "bridge", "meadow", "whale", "compass", "forest", "island")
_PROSE_ATTRIBUTES = ("secret number", "magic number", "hidden code", "lucky number", "special number")


@dataclass(frozen=True)
class _CodeStyle:
    key_case: str  # "upper_snake" or "camel"
    needle: str  # format with key, value
    query: str  # the query prefix, ends right before " VALUE"
    query_close: str  # what follows the value on the query line
    quoted_values: bool


_CODE_STYLES = (
    _CodeStyle("upper_snake", "{key} = {value}", "assert {key} ==", "", False),
    _CodeStyle("camel", "const {key} = {value};", "console.assert({key} ===", ");", True),
    _CodeStyle("upper_snake", "#define {key} {value}", "static_assert({key} ==", ");", False),
)


@dataclass(frozen=True)
class Answer:
    """One query of a retrieval document and where its answer lives in the text."""

    key: str
    value: str  # the answer text, e.g. "48291" or "\"k3j9m\""
    value_span: tuple[int, int]  # [start, end) of the value inside its needle
    query_span: tuple[int, int]  # [start, end) of the query prefix; the value follows after a space
    depth: float  # where the needle starts, as a fraction of the text before the queries

    @property
    def continuation(self) -> str:
        """The text a model should produce after ``text[:query_span[1]]``."""
        return " " + self.value


@dataclass(frozen=True)
class _Needle:
    key: str
    value: str
    line: str  # the full definition line
    value_offset: int  # where the value starts inside ``line``


def _random_tag(rng: random.Random, length: int = 4) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(length))


def _make_needles(rng: random.Random, count: int, form: str, style: _CodeStyle, forbidden_text: str) -> list[_Needle]:
    """``count`` definitions with distinct keys that do not occur in the filler (so each key appears
    only where the document puts it)."""
    needles: list[_Needle] = []
    keys: set[str] = set()
    while len(needles) < count:
        if form == "code":
            first, second, tag = rng.choice(_CODE_WORDS_FIRST), rng.choice(_CODE_WORDS_SECOND), _random_tag(rng)
            key = (f"{first.upper()}_{second.upper()}_{tag}" if style.key_case == "upper_snake"
                   else f"{first}{second.capitalize()}_{tag}")
            value = f'"{_random_tag(rng, 5)}"' if style.quoted_values and rng.random() < 0.5 else str(rng.randint(1000, 99999))
            line = style.needle.format(key=key, value=value)
            value_offset = line.index(value, len(key))
        else:
            key = f"{rng.choice(_PROSE_ATTRIBUTES)} of the {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
            value = str(rng.randint(1000, 99999))
            line = f"The {key} is {value}."
            value_offset = len(line) - len(value) - 1
        if key in keys or key in forbidden_text:
            continue
        keys.add(key)
        needles.append(_Needle(key, value, line, value_offset))
    return needles


def _query_prefix(needle: _Needle, form: str, style: _CodeStyle) -> str:
    return style.query.format(key=needle.key) if form == "code" else f"The {needle.key} is"


def _query_suffix(form: str, style: _CodeStyle) -> str:
    return style.query_close if form == "code" else "."


def _filler(rng: random.Random, filler_texts: Sequence[str], chars: int) -> str:
    """About ``chars`` characters of whole lines cut from random places in the filler texts."""
    pieces: list[str] = []
    total = 0
    while total < chars:
        lines = rng.choice(filler_texts).splitlines()
        if not lines:
            continue
        start = rng.randrange(len(lines))
        for line in lines[start:]:
            if total >= chars:
                break
            pieces.append(line)
            total += len(line) + 1
    return "\n".join(pieces)


def _line_start_at(text: str, position: int) -> int:
    """The start of the first line at or after ``position`` (or the end of the text)."""
    if position <= 0:
        return 0
    newline = text.find("\n", position - 1)
    return len(text) if newline == -1 else newline + 1


def make_document(rng: random.Random, n_needles: int, n_queries: int, filler_texts: Sequence[str],
                  target_chars: int, depth: float | None = None, form: str = "code") -> tuple[str, list[Answer]]:
    """A retrieval document of about ``target_chars`` characters and its answers, one per query.

    ``n_needles`` definitions are spread over the filler; ``n_queries`` of them (chosen at random)
    are queried at the end, the rest are distractors. With ``depth`` (0..1) the queried needles are
    placed together at that fraction of the filler and the distractors at random depths; without
    it every needle gets a random depth. Queries come last, in random order, each completed by its
    value so the document is a valid training example.
    """
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    if not 1 <= n_queries <= n_needles:
        raise ValueError(f"need 1 <= n_queries <= n_needles, got {n_queries} and {n_needles}")
    if not any(filler_texts):
        raise ValueError("filler_texts must contain some text")
    style = rng.choice(_CODE_STYLES)

    # Needles and queries first, so the filler fills the rest of target_chars.
    needles = _make_needles(rng, n_needles, form, style, forbidden_text="")
    overhead = sum(len(n.line) + 1 for n in needles) * 2
    filler = _filler(rng, filler_texts, max(0, target_chars - overhead))
    if any(needle.key in filler for needle in needles):  # rare: a key also occurs in the filler
        needles = _make_needles(rng, n_needles, form, style, forbidden_text=filler)
    queried = rng.sample(range(n_needles), n_queries)

    if depth is None:
        depths = [rng.random() for _ in needles]
    else:
        if not 0.0 <= depth <= 1.0:
            raise ValueError(f"depth must be within [0, 1], got {depth}")
        depths = [depth if i in queried else rng.random() for i in range(n_needles)]

    # Insert each needle as its own line at the line boundary nearest after its depth.
    insertions = sorted((_line_start_at(filler, round(d * len(filler))), i) for i, d in enumerate(depths))
    parts: list[str] = []
    value_starts: dict[int, int] = {}
    needle_starts: dict[int, int] = {}
    length = 0
    cursor = 0
    for position, index in insertions:
        chunk = filler[cursor:position]
        if chunk and not chunk.endswith("\n"):
            chunk += "\n"  # the filler's last line has no newline of its own
        parts.append(chunk)
        length += len(chunk)
        needle_starts[index] = length
        value_starts[index] = length + needles[index].value_offset
        parts.append(needles[index].line + "\n")
        length += len(needles[index].line) + 1
        cursor = position
    tail = filler[cursor:]
    parts.append(tail + "\n" if tail and not tail.endswith("\n") else tail)
    length += len(parts[-1])
    haystack_chars = length

    answers: list[Answer] = []
    for index in queried:
        needle = needles[index]
        prefix = _query_prefix(needle, form, style)
        parts.append(prefix + " " + needle.value + _query_suffix(form, style) + "\n")
        answers.append(Answer(
            key=needle.key,
            value=needle.value,
            value_span=(value_starts[index], value_starts[index] + len(needle.value)),
            query_span=(length, length + len(prefix)),
            depth=needle_starts[index] / haystack_chars,
        ))
        length += len(parts[-1])
    return "".join(parts), answers


def make_training_documents(seed: int, code_fillers: Sequence[str], prose_fillers: Sequence[str],
                            total_chars: int, min_chars: int = 800, max_chars: int = 3200) -> list[str]:
    """Retrieval documents (half code form, half prose form) totalling at least ``total_chars``.

    Lengths default to 800-3200 characters so a whole document, needles and queries, fits in one
    1024-token training window; 1-6 needles and 1-4 queries each, at random depths.
    """
    rng = random.Random(seed)
    documents: list[str] = []
    total = 0
    while total < total_chars:
        form = "code" if rng.random() < 0.5 else "prose"
        n_needles = rng.randint(1, 6)
        text, _ = make_document(rng, n_needles, rng.randint(1, min(n_needles, 4)),
                                code_fillers if form == "code" else prose_fillers,
                                rng.randint(min_chars, max_chars), form=form)
        documents.append(text)
        total += len(text)
    return documents
