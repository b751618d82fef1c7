"""The needle definitions model/retrieval.py writes documents with, checked and typed:

  shared/needles.json      the Needle Test's two forms (code: three styles; prose), its value
                           shapes, N/R configs and scoring rule; the extension reads it too
  shared/needle_forms.json many more forms, grouped into families (languages, configuration
                           formats, arguments, mappings, comments, prose sentences), with values of
                           several shapes; some families are held out of training so the
                           evaluation can measure retrieval of forms a model never saw
"""

from __future__ import annotations

import json
import random
import re
import string
from dataclasses import dataclass
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1] / "shared"
NEEDLES_FILE = SHARED / "needles.json"
FAMILIES_FILE = SHARED / "needle_forms.json"
FORMS = ("code", "prose")  # the Needle Test's forms; also the two categories of filler text

# How a key is spelled from two words and a random tag: CACHE_TIMEOUT_qzvk, apiToken_xwbe, ...
KEY_CASES = {
    "upper_snake": lambda first, second, tag: f"{first.upper()}_{second.upper()}_{tag}",
    "camel": lambda first, second, tag: f"{first}{second.capitalize()}_{tag}",
    "snake": lambda first, second, tag: f"{first}_{second}_{tag}",
    "pascal": lambda first, second, tag: f"{first.capitalize()}{second.capitalize()}_{tag}",
}
PROSE_KEY_CASE = "words"  # a family form's key spelled like the prose form's: secret number of the red fox
VALUE_SHAPES = ("number", "hex", "word", "tag", "version", "path")
STRING_SHAPES = ("word", "tag", "version", "path")  # the shapes a form's quote wraps


@dataclass(frozen=True)
class Style:
    """How one Needle Test form writes a needle line and its query. Templates use {key} and {value}."""

    key_case: str  # a key of KEY_CASES, or "" for prose keys
    needle: str
    query: str  # the query prefix, ends right before " VALUE"
    query_close: str  # what follows the value on the query line
    quoted_values: bool


@dataclass(frozen=True)
class Definitions:
    """shared/needles.json, checked and typed."""

    code_words_first: tuple[str, ...]
    code_words_second: tuple[str, ...]
    key_tag_length: int
    code_styles: tuple[Style, ...]
    prose_style: Style
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
    shortest_length: int  # the shortest document length of a grid's default lengths, which double up to the context


def _unreadable(path: Path, err: Exception) -> RuntimeError:
    return RuntimeError(f"{path}: cannot read the needle definitions ({err!r}); fix that field "
                        "(git diff shows what changed from the committed file)")


def _read_definitions(path: Path) -> Definitions:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        code, prose, values = data["code"], data["prose"], data["values"]
        definitions = Definitions(
            code_words_first=tuple(code["keyWordsFirst"]),
            code_words_second=tuple(code["keyWordsSecond"]),
            key_tag_length=int(code["keyTagLength"]),
            code_styles=tuple(Style(style["keyCase"], style["needle"], style["query"], style["queryClose"],
                                    bool(style["quotedValues"])) for style in code["styles"]),
            prose_style=Style("", prose["needle"], prose["query"], prose["queryClose"], False),
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
            shortest_length=int(data["lengths"]["shortest"]),
        )
        unknown = [style["keyCase"] for style in code["styles"] if style["keyCase"] not in KEY_CASES]
        if unknown:
            raise ValueError(f"code.styles: keyCase {unknown[0]!r} is not one of {sorted(KEY_CASES)}")
        return definitions
    except (OSError, ValueError, KeyError, IndexError, TypeError) as err:
        raise _unreadable(path, err) from None


NEEDLES = _read_definitions(NEEDLES_FILE)


def random_tag(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(length))


def random_number(rng: random.Random) -> str:
    low, high = NEEDLES.number_range
    return str(rng.randint(low, high))


def code_key(rng: random.Random, key_case: str) -> str:
    first, second = rng.choice(NEEDLES.code_words_first), rng.choice(NEEDLES.code_words_second)
    return KEY_CASES[key_case](first, second, random_tag(rng, NEEDLES.key_tag_length))


def prose_key(rng: random.Random) -> str:
    return NEEDLES.prose_key.format(attribute=rng.choice(NEEDLES.prose_attributes),
                                    adjective=rng.choice(NEEDLES.adjectives), noun=rng.choice(NEEDLES.nouns))


_FIELD = re.compile(r"\{(key|value)\}")


def fill(template: str, key: str, value: str = "") -> str:
    """``template`` with {key} and {value} filled in; other braces (a JSON object, `${KEY}`) stay."""
    return _FIELD.sub(lambda match: key if match.group(1) == "key" else value, template)


# ---------------------------------------------------------------------------------------------
# Families (shared/needle_forms.json)


@dataclass(frozen=True)
class FamilyForm:
    """One needle form of a family: its line, its query in the same language, its values' shapes."""

    key_case: str  # a key of KEY_CASES, or PROSE_KEY_CASE
    needle: str
    query: str  # the query prefix, ends right before continuation_prefix + VALUE
    query_close: str
    quote: str  # wraps the values of STRING_SHAPES ("" leaves them bare)
    values: tuple[str, ...]  # of VALUE_SHAPES
    continuation_prefix: str


@dataclass(frozen=True)
class Family:
    name: str
    filler: str  # "code" or "prose": the text its needles are hidden in
    forms: tuple[FamilyForm, ...]
    held_out: bool  # never in training documents


@dataclass(frozen=True)
class ValueParts:
    """What the value shapes are made of."""

    hex_digits: tuple[int, int]
    words: tuple[str, ...]
    tag_groups: tuple[int, ...]  # hex digits per dash-separated group: 3f9a2c1e-7b4d
    version_parts: tuple[int, ...]  # the largest number of each part: 2.14.37
    path_roots: tuple[str, ...]
    path_files: tuple[str, ...]


def _read_form(form: dict) -> FamilyForm:
    family_form = FamilyForm(form["keyCase"], form["needle"], form["query"], form["queryClose"], form["quote"],
                             tuple(form["values"]), form.get("continuationPrefix", NEEDLES.continuation_prefix))
    if family_form.key_case not in (*KEY_CASES, PROSE_KEY_CASE):
        raise ValueError(f"keyCase {family_form.key_case!r} is not one of {[*KEY_CASES, PROSE_KEY_CASE]}")
    if not family_form.values or not set(family_form.values) <= set(VALUE_SHAPES):
        raise ValueError(f"values {list(family_form.values)} must be some of {list(VALUE_SHAPES)}")
    if family_form.needle.count("{value}") != 1 or "{key}" not in family_form.needle or "{key}" not in family_form.query:
        raise ValueError(f"the needle {family_form.needle!r} needs {{key}} and one {{value}}, its query {{key}}")
    return family_form


def _read_families(path: Path) -> tuple[dict[str, Family], ValueParts, float]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        held_out = set(data["heldOut"])
        families = {name: Family(name, family["filler"], tuple(_read_form(form) for form in family["forms"]),
                                 name in held_out)
                    for name, family in data["families"].items()}
        values = data["values"]
        parts = ValueParts(tuple(values["hexDigits"]), tuple(values["words"]), tuple(values["tagGroups"]),
                           tuple(values["versionParts"]), tuple(values["pathRoots"]), tuple(values["pathFiles"]))
        if held_out - set(families):
            raise ValueError(f"heldOut names no family: {sorted(held_out - set(families))}")
        clashes = set(families) & set(FORMS)
        if clashes or any(family.filler not in FORMS or not family.forms for family in families.values()):
            raise ValueError(f"a family needs forms and a filler of {FORMS}, and a name other than those")
        return families, parts, float(data["trainingShare"])
    except (OSError, ValueError, KeyError, IndexError, TypeError) as err:
        raise _unreadable(path, err) from None


FAMILIES, VALUE_PARTS, FAMILY_TRAINING_SHARE = _read_families(FAMILIES_FILE)
TRAINED_FAMILIES = tuple(name for name, family in FAMILIES.items() if not family.held_out)
HELD_OUT_FAMILIES = tuple(name for name, family in FAMILIES.items() if family.held_out)


def family_key(rng: random.Random, form: FamilyForm) -> str:
    return prose_key(rng) if form.key_case == PROSE_KEY_CASE else code_key(rng, form.key_case)


def _hex(rng: random.Random, digits: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(digits))


def family_value(rng: random.Random, form: FamilyForm) -> str:
    """A value of one of the form's shapes, quoted as the form quotes strings: 48291, 0x3fa9c,
    "amber", '3f9a2c1e-7b4d', 2.14.37, /var/lib/amber/cache.db."""
    shape = rng.choice(form.values)
    parts = VALUE_PARTS
    if shape == "number":
        return random_number(rng)
    if shape == "hex":
        return "0x" + _hex(rng, rng.randint(*parts.hex_digits))
    if shape == "word":
        value = rng.choice(parts.words)
    elif shape == "tag":
        value = "-".join(_hex(rng, digits) for digits in parts.tag_groups)
    elif shape == "version":
        value = ".".join(str(rng.randint(0, largest)) for largest in parts.version_parts)
    else:
        value = f"{rng.choice(parts.path_roots)}/{rng.choice(parts.words)}/{rng.choice(parts.path_files)}"
    return f"{form.quote}{value}{form.quote}"


def training_form(rng: random.Random) -> str:
    """The form of one training document: a trained family (FAMILY_TRAINING_SHARE of them), else
    the Needle Test's code or prose form, half each. Never a held-out family."""
    if rng.random() < FAMILY_TRAINING_SHARE:
        return rng.choice(TRAINED_FAMILIES)
    return "code" if rng.random() < 0.5 else "prose"


def filler_category(form: str) -> str:
    """The filler a form's documents are cut from: "code" or "prose"."""
    return form if form in FORMS else FAMILIES[form].filler
