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

The word lists, code styles, prose form, value shapes and N/R configs are read from
shared/needles.json, which the extension's Needle Test reads too, so both make and score the same
kind of document.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

NEEDLES_FILE = Path(__file__).resolve().parents[1] / "shared" / "needles.json"
FORMS = ("code", "prose")


@dataclass(frozen=True)
class _Style:
    """How one form writes a needle line and its query. Templates use {key} and {value}."""

    key_case: str  # a key of _KEY_CASES, or "" for prose keys
    needle: str
    query: str  # the query prefix, ends right before " VALUE"
    query_close: str  # what follows the value on the query line
    quoted_values: bool


# How a code style spells a key from its two words and random tag: CACHE_TIMEOUT_qzvk, apiToken_xwbe.
_KEY_CASES = {
    "upper_snake": lambda first, second, tag: f"{first.upper()}_{second.upper()}_{tag}",
    "camel": lambda first, second, tag: f"{first}{second.capitalize()}_{tag}",
}


@dataclass(frozen=True)
class _Definitions:
    """shared/needles.json, checked and typed."""

    code_words_first: tuple[str, ...]
    code_words_second: tuple[str, ...]
    key_tag_length: int
    code_styles: tuple[_Style, ...]
    prose_style: _Style
    prose_key: str  # template with {attribute}, {adjective} and {noun}
    prose_attributes: tuple[str, ...]
    adjectives: tuple[str, ...]
    nouns: tuple[str, ...]
    number_range: tuple[int, int]  # both ends included
    quoted_tag_length: int
    quoted_share: float  # of the values of a style with quoted values
    configs: dict[str, tuple[int, int]]  # "N4R2" -> (needles, queries)
    continuation_prefix: str  # between a query and its value
    value_extender_pattern: str  # a character that, after the value, makes an answer not exact


def _read_definitions(path: Path) -> _Definitions:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        code, prose, values = data["code"], data["prose"], data["values"]
        definitions = _Definitions(
            code_words_first=tuple(code["keyWordsFirst"]),
            code_words_second=tuple(code["keyWordsSecond"]),
            key_tag_length=int(code["keyTagLength"]),
            code_styles=tuple(_Style(style["keyCase"], style["needle"], style["query"], style["queryClose"],
                                     bool(style["quotedValues"])) for style in code["styles"]),
            prose_style=_Style("", prose["needle"], prose["query"], prose["queryClose"], False),
            prose_key=prose["key"],
            prose_attributes=tuple(prose["attributes"]),
            adjectives=tuple(prose["adjectives"]),
            nouns=tuple(prose["nouns"]),
            number_range=(int(values["numberRange"][0]), int(values["numberRange"][1])),
            quoted_tag_length=int(values["quotedTagLength"]),
            quoted_share=float(values["quotedShare"]),
            configs={config["name"]: (int(config["needles"]), int(config["queries"])) for config in data["configs"]},
            continuation_prefix=data["scoring"]["continuationPrefix"],
            value_extender_pattern=data["scoring"]["valueExtenderPattern"],
        )
        unknown = [style["keyCase"] for style in code["styles"] if style["keyCase"] not in _KEY_CASES]
        if unknown:
            raise ValueError(f"code.styles: keyCase {unknown[0]!r} is not one of {sorted(_KEY_CASES)}")
        return definitions
    except (OSError, ValueError, KeyError, IndexError, TypeError) as err:
        raise RuntimeError(f"{path}: cannot read the Needle Test's definitions ({err!r}); fix that field "
                           "(git diff shows what changed from the committed file)") from None


NEEDLES = _read_definitions(NEEDLES_FILE)


@dataclass(frozen=True)
class Answer:
    """One query of a retrieval document and where its answer lives in the text."""

    key: str
    value: str  # the answer text, e.g. "48291" or "\"k3j9m\""
    value_span: tuple[int, int]  # [start, end) of the value inside its needle
    query_span: tuple[int, int]  # [start, end) of the query prefix; the continuation follows
    depth: float  # where the needle starts, as a fraction of the text before the queries

    @property
    def continuation(self) -> str:
        """The text a model should produce after ``text[:query_span[1]]``."""
        return NEEDLES.continuation_prefix + self.value


@dataclass(frozen=True)
class _Needle:
    key: str
    value: str
    line: str  # the full definition line
    value_offset: int  # where the value starts inside ``line``


def _random_tag(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(length))


def _random_number(rng: random.Random) -> str:
    low, high = NEEDLES.number_range
    return str(rng.randint(low, high))


def _code_key_and_value(rng: random.Random, style: _Style) -> tuple[str, str]:
    first, second = rng.choice(NEEDLES.code_words_first), rng.choice(NEEDLES.code_words_second)
    key = _KEY_CASES[style.key_case](first, second, _random_tag(rng, NEEDLES.key_tag_length))
    quoted = style.quoted_values and rng.random() < NEEDLES.quoted_share
    return key, f'"{_random_tag(rng, NEEDLES.quoted_tag_length)}"' if quoted else _random_number(rng)


def _prose_key_and_value(rng: random.Random) -> tuple[str, str]:
    key = NEEDLES.prose_key.format(attribute=rng.choice(NEEDLES.prose_attributes),
                                   adjective=rng.choice(NEEDLES.adjectives), noun=rng.choice(NEEDLES.nouns))
    return key, _random_number(rng)


def _make_needles(rng: random.Random, count: int, form: str, style: _Style, forbidden_text: str) -> list[_Needle]:
    """``count`` definitions with distinct keys that do not occur in the filler (so each key appears
    only where the document puts it)."""
    needles: list[_Needle] = []
    keys: set[str] = set()
    while len(needles) < count:
        key, value = _code_key_and_value(rng, style) if form == "code" else _prose_key_and_value(rng)
        if key in keys or key in forbidden_text:
            continue
        keys.add(key)
        value_offset = len(style.needle.split("{value}")[0].format(key=key))
        needles.append(_Needle(key, value, style.needle.format(key=key, value=value), value_offset))
    return needles


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
    code_style = rng.choice(NEEDLES.code_styles)  # drawn for either form, so a seed's rng sequence is fixed
    style = code_style if form == "code" else NEEDLES.prose_style

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
        prefix = style.query.format(key=needle.key)
        parts.append(prefix + NEEDLES.continuation_prefix + needle.value + style.query_close + "\n")
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
