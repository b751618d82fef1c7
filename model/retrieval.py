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

Families of many more forms (shared/needle_forms.json, model/needle_forms.py), one form per
document, values of several shapes::

    static final String MAX_PORT_hpod = "amber";   ...   assertEquals(MAX_PORT_hpod, "amber");    (java)
    cache_timeout_qzvk: /var/lib/opal/cache.db     ...   cache_timeout_qzvk: /var/lib/opal/cache.db   (config)

Every query ends just before " VALUE" (a form may drop the space: ``answer.continuation``), so an
evaluator prompts with ``text[:answer.query_span[1]]`` and expects the continuation
``answer.continuation``; ``answer.value_span`` locates the value in the needle, the span a
retrieval head should attend to.

The word lists, code styles, prose form, value shapes and N/R configs are read from
shared/needles.json, which the extension's Needle Test reads too, so both make and score the same
kind of document.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Sequence

from model.needle_forms import (FAMILIES, FORMS, NEEDLES, FamilyForm, Style, code_key, family_key, family_value, fill,
                                prose_key, random_number, random_tag)


@dataclass(frozen=True)
class Answer:
    """One query of a retrieval document and where its answer lives in the text."""

    key: str
    value: str  # the answer text, e.g. "48291" or "\"k3j9m\""
    value_span: tuple[int, int]  # [start, end) of the value inside its needle
    query_span: tuple[int, int]  # [start, end) of the query prefix; the continuation follows
    depth: float  # where the needle starts, as a fraction of the text before the queries
    continuation_prefix: str = NEEDLES.continuation_prefix  # between the query and the value

    @property
    def continuation(self) -> str:
        """The text a model should produce after ``text[:query_span[1]]``."""
        return self.continuation_prefix + self.value


@dataclass(frozen=True)
class _Needle:
    key: str
    value: str
    line: str  # the full definition line
    value_offset: int  # where the value starts inside ``line``


def _code_key_and_value(rng: random.Random, style: Style) -> tuple[str, str]:
    key = code_key(rng, style.key_case)
    quoted = style.quoted_values and rng.random() < NEEDLES.quoted_share
    return key, f'"{random_tag(rng, NEEDLES.quoted_tag_length)}"' if quoted else random_number(rng)


def _prose_key_and_value(rng: random.Random) -> tuple[str, str]:
    return prose_key(rng), random_number(rng)


@dataclass(frozen=True)
class _DocumentForm:
    """The lines of one document's needles and queries, and how its keys and values are drawn."""

    lines: Style | FamilyForm  # needle, query and query_close templates
    key_and_value: Callable[[random.Random], tuple[str, str]]
    continuation_prefix: str
    unique_values: bool  # each value occurs once before the queries: in its needle, not in the filler


def _document_form(rng: random.Random, form: str) -> _DocumentForm:
    """A Needle Test form (code: one of its styles; prose) or one form of a family, drawn by the rng."""
    if form in FORMS:
        code_style = rng.choice(NEEDLES.code_styles)  # drawn for either form, so a seed's rng sequence is fixed
        if form == "code":
            return _DocumentForm(code_style, lambda r: _code_key_and_value(r, code_style), NEEDLES.continuation_prefix,
                                 False)
        return _DocumentForm(NEEDLES.prose_style, _prose_key_and_value, NEEDLES.continuation_prefix, False)
    if form in FAMILIES:
        family_form = rng.choice(FAMILIES[form].forms)
        return _DocumentForm(family_form, lambda r: (family_key(r, family_form), family_value(r, family_form)),
                             family_form.continuation_prefix, True)
    raise ValueError(f"form must be one of {FORMS} or a family of {sorted(FAMILIES)}, got {form!r}")


# Draws of a key and value per needle before giving up: the filler may hold nearly every value of a
# shape with few values, or more needles than distinct keys may be asked for.
_DRAWS_PER_NEEDLE = 1000


def _make_needles(rng: random.Random, count: int, form: _DocumentForm, forbidden_text: str) -> list[_Needle]:
    """``count`` definitions with distinct keys that do not occur in the filler (so each key appears
    only where the document puts it); with ``form.unique_values``, the same holds for the values,
    which also occur in no other needle's line."""
    needles: list[_Needle] = []
    keys: set[str] = set()
    for _ in range(count * _DRAWS_PER_NEEDLE):
        if len(needles) == count:
            return needles
        key, value = form.key_and_value(rng)
        if key in keys or key in forbidden_text:
            continue
        line = fill(form.lines.needle, key, value)
        if form.unique_values and (value in forbidden_text or line.count(value) > 1 or any(
                value in other.line or other.value in line for other in needles)):
            continue
        keys.add(key)
        value_offset = len(fill(form.lines.needle.split("{value}")[0], key))
        needles.append(_Needle(key, value, line, value_offset))
    if len(needles) == count:
        return needles
    raise ValueError(f"cannot draw {count} needles whose keys{' and values' if form.unique_values else ''} "
                     "are unique and absent from the filler")


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
    if not 1 <= n_queries <= n_needles:
        raise ValueError(f"need 1 <= n_queries <= n_needles, got {n_queries} and {n_needles}")
    if not any(filler_texts):
        raise ValueError("filler_texts must contain some text")
    document_form = _document_form(rng, form)
    style = document_form.lines

    # Needles and queries first, so the filler fills the rest of target_chars.
    needles = _make_needles(rng, n_needles, document_form, forbidden_text="")
    overhead = sum(len(n.line) + 1 for n in needles) * 2
    filler = _filler(rng, filler_texts, max(0, target_chars - overhead))
    if any(needle.key in filler or (document_form.unique_values and needle.value in filler) for needle in needles):
        needles = _make_needles(rng, n_needles, document_form, forbidden_text=filler)  # rare: the filler has one of them
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
        prefix = fill(style.query, needle.key)
        parts.append(prefix + document_form.continuation_prefix + needle.value + style.query_close + "\n")
        answers.append(Answer(
            key=needle.key,
            value=needle.value,
            value_span=(value_starts[index], value_starts[index] + len(needle.value)),
            query_span=(length, length + len(prefix)),
            depth=needle_starts[index] / haystack_chars,
            continuation_prefix=document_form.continuation_prefix,
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
