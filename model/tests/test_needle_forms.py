"""Needle forms and families (shared/needle_forms.json, model/needle_forms.py): every form renders a
needle that its query retrieves, family documents keep their answers unambiguous, training never
uses a held-out family, and the evaluation summarises trained and held-out families apart."""

import random
import re
from dataclasses import replace

import numpy as np
import pytest

from model.byte_level import GPT2_SPLIT_PATTERN
from model.data import Batches, Mix
from model.family_retrieval import summarise_families
from model.fixtures import FIXTURE_TOKENIZER
from model.needle_forms import (FAMILIES, HELD_OUT_FAMILIES, KEY_CASES, NEEDLES, PROSE_KEY_CASE, STRING_SHAPES,
                                TRAINED_FAMILIES, VALUE_SHAPES, family_key, family_value, fill, filler_category)
from model.package import load_tokenizer
from model.retrieval import make_document, make_training_documents

# What each value shape looks like, before the form's quotes.
SHAPE_PATTERNS = {
    "number": r"\d+", "hex": r"0x[0-9a-f]+", "word": r"[a-z]+", "tag": r"[0-9a-f]+(?:-[0-9a-f]+)+",
    "version": r"\d+\.\d+\.\d+", "path": r"(?:/[\w.-]+)+",
}
# What each key case looks like, to find a form's lines in a document.
KEY_PATTERNS = {
    "upper_snake": r"[A-Z]+_[A-Z]+_[a-z]+", "snake": r"[a-z]+_[a-z]+_[a-z]+", "camel": r"[a-z]+[A-Z][a-z]+_[a-z]+",
    "pascal": r"[A-Z][a-z]+[A-Z][a-z]+_[a-z]+", PROSE_KEY_CASE: r"[a-z]+(?: [a-z]+)+",
}
VALUE_EXTENDER = re.compile(NEEDLES.value_extender_pattern)
# Filler that holds some of the family values' words, so documents must avoid them.
CODE_FILLER = ["def helper(amber):\n    return amber + 1\n\n\nclass Cobalt:\n    opal = 'pebble'\n" * 40]
PROSE_FILLER = ["The committee met on Tuesday near the amber lantern.\nNobody agreed on the cobalt colour.\n" * 40]
FILLERS = {"code": CODE_FILLER, "prose": PROSE_FILLER}


def every_form():
    return [(name, index, form) for name, family in FAMILIES.items() for index, form in enumerate(family.forms)]


def pre_token_ends(text: str) -> set:
    """Where the tokenizer's pre-tokenisation splits the text: a token never spans these offsets."""
    ends, offset = set(), 0
    for piece in GPT2_SPLIT_PATTERN.findall(text):
        offset += len(piece)
        ends.add(offset)
    return ends


def template_pattern(template: str, key_case: str) -> str:
    """The regular expression of a template's lines: its text, any key of the case, any value."""
    parts = re.split(r"(\{key\}|\{value\})", template)
    fields = {"{key}": KEY_PATTERNS[key_case], "{value}": ".+"}
    return "".join(fields.get(part, re.escape(part)) for part in parts)


def line_patterns(families) -> dict:
    """{family: regexes of its forms' whole needle lines and query lines}."""
    return {name: [re.compile(f"^{template_pattern(form.needle, form.key_case)}$")
                   for form in FAMILIES[name].forms]
            + [re.compile(f"^{template_pattern(form.query, form.key_case)}{re.escape(form.continuation_prefix)}.+"
                          f"{re.escape(form.query_close)}$") for form in FAMILIES[name].forms]
            for name in families}


def families_in(text: str, patterns: dict) -> set:
    return {name for line in text.splitlines() for name, regexes in patterns.items()
            if any(regex.match(line) for regex in regexes)}


def test_the_families_are_split_into_trained_and_held_out():
    assert set(TRAINED_FAMILIES) | set(HELD_OUT_FAMILIES) == set(FAMILIES)
    assert not set(TRAINED_FAMILIES) & set(HELD_OUT_FAMILIES)
    assert {"config", "rust"} <= set(HELD_OUT_FAMILIES), "configuration formats and one language family"
    assert {FAMILIES[name].filler for name in HELD_OUT_FAMILIES} == {"code", "prose"}
    assert {shape for _, _, form in every_form() for shape in form.values} == set(VALUE_SHAPES)
    assert {form.key_case for _, _, form in every_form()} <= set(KEY_PATTERNS) == {*KEY_CASES, PROSE_KEY_CASE}


@pytest.mark.parametrize("family, index, form", every_form(), ids=lambda x: x if isinstance(x, (str, int)) else "")
def test_every_form_renders_a_needle_its_query_retrieves(family, index, form):
    rng = random.Random(f"{family}/{index}")
    for shape in form.values:
        for _ in range(20):
            key, value = family_key(rng, form), family_value(rng, replace(form, values=(shape,)))
            quote = form.quote if shape in STRING_SHAPES else ""
            assert re.fullmatch(re.escape(quote) + SHAPE_PATTERNS[shape] + re.escape(quote), value), (shape, value)
            line = fill(form.needle, key, value)
            assert line.count(value) == 1 and line.count(key) == 1, line
            value_start = line.index(value)
            assert line[value_start + len(value):][:1] == "" or not VALUE_EXTENDER.match(line[value_start + len(value)])

            prefix = fill(form.query, key)
            query_line = prefix + form.continuation_prefix + value + form.query_close
            assert key in prefix and value not in prefix
            assert len(prefix) in pre_token_ends(query_line), f"a token would span the end of {prefix!r}"
            assert not VALUE_EXTENDER.match(form.query_close[:1] or "\n"), "the value's end is decidable"


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_documents_hold_each_key_and_value_once_before_the_queries(family):
    filler = FILLERS[filler_category(family)]
    for seed in range(25):
        rng = random.Random(seed)
        n_needles = rng.randint(1, 6)
        text, answers = make_document(rng, n_needles, rng.randint(1, n_needles), filler, 1500, form=family)
        queries_start = min(a.query_span[0] for a in answers)
        for answer in answers:
            assert text[slice(*answer.value_span)] == answer.value
            assert text[:queries_start].count(answer.value) == 1, f"{answer.value!r} is in the filler or another needle"
            assert text[:queries_start].count(answer.key) == 1
            q_start, q_end = answer.query_span
            assert answer.key in text[q_start:q_end]
            assert text[q_end:q_end + len(answer.continuation)] == answer.continuation
            assert answer.continuation == answer.continuation_prefix + answer.value
    with pytest.raises(ValueError, match="form must be one of"):
        make_document(random.Random(0), 1, 1, CODE_FILLER, 500, form="klingon")


def test_training_documents_never_contain_a_held_out_family():
    held_out, trained = line_patterns(HELD_OUT_FAMILIES), line_patterns(TRAINED_FAMILIES)
    for name in HELD_OUT_FAMILIES:  # the patterns find what they look for
        text, _ = make_document(random.Random(1), 3, 2, FILLERS[FAMILIES[name].filler], 800, form=name)
        assert families_in(text, held_out) == {name}

    tokenizer = load_tokenizer(FIXTURE_TOKENIZER)
    data = np.array(tokenizer.encode(CODE_FILLER[0] + PROSE_FILLER[0]), dtype=np.uint16)
    batches = Batches(data, tokenizer, FILLERS, Mix(span_copy=0.0, random_copy=0.0, needles=1.0), seed=7)
    seen = set()
    for step in range(40):
        for row in batches(step, rows=8, seq_len=384)[0].tolist():
            if row[0] != tokenizer.eot_id or tokenizer.eot_id not in row[1:]:
                continue  # a plain window: its document did not fit
            text = tokenizer.decode(row[1:row.index(tokenizer.eot_id, 1)])
            assert not families_in(text, held_out), text
            seen |= families_in(text, trained)
    assert seen == set(TRAINED_FAMILIES), "training draws every trained family"

    for text in make_training_documents(3, CODE_FILLER, PROSE_FILLER, total_chars=100_000):
        assert not families_in(text, held_out)


def test_family_summary_keeps_trained_and_held_out_apart():
    trained, held_out = TRAINED_FAMILIES[0], HELD_OUT_FAMILIES[0]
    results = [{"form": trained, "length": 256, "correct": [True]}, {"form": trained, "length": 512, "correct": [True]},
               {"form": held_out, "length": 256, "correct": [False]}, {"form": held_out, "length": 512, "correct": [True]}]
    summary = summarise_families(results)
    assert summary["trained"]["mean"] == 1.0 and summary["trained"]["n"] == 2
    assert summary["held_out"]["mean"] == 0.5 and summary["held_out"]["n"] == 2
    assert summary["by_length"]["held_out"]["256"]["mean"] == 0.0
    assert summary["by_family"][held_out]["n"] == 2 and summary["by_family"][TRAINED_FAMILIES[1]]["n"] == 0
    assert summary["held_out_families"] == list(HELD_OUT_FAMILIES)
