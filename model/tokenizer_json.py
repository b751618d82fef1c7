"""Hugging Face ``tokenizer.json`` for the byte-level BPE: writing one, and reading one strictly,
accepting only the settings that the encoder reproduces exactly (anything else would silently give
ids that differ from tokenizers.js). A refused file raises TokenizerFormatError naming the field.
"""

from __future__ import annotations

import json
from typing import Sequence

from model.byte_level import BYTE_TO_SYMBOL, EOT_TOKEN


class TokenizerFormatError(ValueError):
    """A tokenizer.json that this project cannot use; the message names the field and what was expected."""


def tokenizer_json(vocab: dict[str, int], merges: Sequence[tuple[str, str]],
                   special_tokens: Sequence[str]) -> dict:
    """The Hugging Face tokenizer.json of a byte-level BPE, in the settings parse_tokenizer_json accepts."""
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": vocab[t],
                "content": t,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
            for t in special_tokens
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": dict(sorted(vocab.items(), key=lambda item: item[1])),
            "merges": [f"{a} {b}" for a, b in merges],
        },
    }


def parse_tokenizer_json(data: object) -> tuple[dict[str, int], list[tuple[str, str]], list[str]]:
    """(vocab, merges, special tokens) of a parsed tokenizer.json, accepting only the settings this encoder
    reproduces exactly (anything else would silently give ids that differ from tokenizers.js)."""
    _check(isinstance(data, dict), "top level", "a JSON object", data)
    _check_field(data, "", "normalizer", lambda v: v is None, "null (no normalizer)")
    _check_field(
        data,
        "",
        "pre_tokenizer",
        lambda v: isinstance(v, dict)
        and v.get("type") == "ByteLevel"
        and v.get("add_prefix_space") is False
        and v.get("use_regex", True) is True,
        '{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}',
    )
    _check_field(data, "", "post_processor", lambda v: v is None, "null (no post-processor)")
    _check_field(data, "", "decoder", lambda v: isinstance(v, dict) and v.get("type") == "ByteLevel", '{"type": "ByteLevel"}')
    _check_field(data, "", "model", lambda v: isinstance(v, dict), "an object")
    model = data["model"]
    _check_field(model, "model.", "type", lambda v: v == "BPE", '"BPE"')
    for option, expected in (
        ("dropout", None),
        ("continuing_subword_prefix", None),
        ("end_of_word_suffix", None),
        ("byte_fallback", False),
        ("ignore_merges", False),
    ):
        value = model.get(option, expected)
        _check(value == expected, f"model.{option}", json.dumps(expected), value)

    _check_field(model, "model.", "vocab", lambda v: isinstance(v, dict) and v, "a non-empty object mapping token strings to ids")
    vocab = model["vocab"]
    for token, token_id in vocab.items():
        _check(type(token_id) is int and token_id >= 0, f"model.vocab[{_show(token)}]", "a non-negative integer id", token_id)
    ids = sorted(vocab.values())
    if ids != list(range(len(ids))):
        _fail("model.vocab", f"ids 0..{len(ids) - 1}, each used once", _describe_id_gap(ids))
    for b, symbol in BYTE_TO_SYMBOL.items():
        if symbol not in vocab:
            _fail("model.vocab", f"a token for every byte (byte 0x{b:02X} is {_show(symbol)})", f"no {_show(symbol)}")

    _check_field(model, "model.", "merges", lambda v: isinstance(v, list), 'a list of "left right" strings')
    merges = []
    for index, merge in enumerate(model["merges"]):
        field = f"model.merges[{index}]"
        parts = merge.split(" ") if isinstance(merge, str) else merge
        _check(
            isinstance(parts, list) and len(parts) == 2 and all(isinstance(p, str) for p in parts),
            field,
            'a "left right" string or a [left, right] pair',
            merge,
        )
        left, right = parts
        for token in (left, right, left + right):
            if token not in vocab:
                _fail(field, "a merge of two vocab tokens into a vocab token", f"{_show(merge)}, and {_show(token)} is not in model.vocab")
        merges.append((left, right))

    _check_field(data, "", "added_tokens", lambda v: isinstance(v, list), "a list")
    special_tokens = []
    for index, added in enumerate(data["added_tokens"]):
        field = f"added_tokens[{index}]"
        _check(
            isinstance(added, dict) and isinstance(added.get("content"), str) and type(added.get("id")) is int,
            field,
            'an object with "id" (integer) and "content" (string)',
            added,
        )
        expected_id = vocab.get(added["content"])
        _check(added["id"] == expected_id, f"{field}.id", f"{expected_id}, the id model.vocab gives {_show(added['content'])}", added["id"])
        # Stripping/normalising options change how text around the token is split.
        for option in ("single_word", "lstrip", "rstrip", "normalized"):
            _check(added.get(option, False) is False, f"{field}.{option}", "false", added.get(option))
        special_tokens.append(added["content"])
    if EOT_TOKEN not in special_tokens:
        _fail("added_tokens", f"an entry for the end-of-text token {EOT_TOKEN}", "none")
    return vocab, merges, special_tokens


def _show(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)[:200]


def _fail(field: str, expected: str, got: str) -> None:
    raise TokenizerFormatError(f"{field}: expected {expected}, got {got}")


def _check(ok: object, field: str, expected: str, value: object) -> None:
    if not ok:
        _fail(field, expected, _show(value))


def _check_field(obj: dict, prefix: str, key: str, is_valid, expected: str) -> None:
    if key not in obj:
        _fail(prefix + key, expected, "nothing (the field is missing)")
    _check(is_valid(obj[key]), prefix + key, expected, obj[key])


def _describe_id_gap(ids: list[int]) -> str:
    seen = set()
    for token_id in ids:
        if token_id in seen:
            return f"id {token_id} used twice"
        seen.add(token_id)
    missing = next(i for i in range(len(ids) + 1) if i not in seen)
    return f"no token with id {missing}"
