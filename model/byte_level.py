"""The byte level shared by the tokenizer's encoder and its trainer: the end-of-text token, the
GPT-2 pre-tokenisation pattern (as tokenizers.js applies it), GPT-2's byte <-> printable symbol map,
and the merge of one symbol pair.
"""

from __future__ import annotations

import regex

EOT_TOKEN = "<|endoftext|>"

# JavaScript's \s (what tokenizers.js's ByteLevel regex uses), spelled out because Python's \s
# differs on two code points: it matches U+0085 (NEL) and does not match U+FEFF (BOM).
_JS_WHITESPACE = "\t\n\x0b\x0c\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"

# The GPT-2 pre-tokenisation pattern of HF's ByteLevel pre-tokenizer (use_regex=true), with \s
# replaced by _JS_WHITESPACE. Every character matches some branch, so no byte is ever dropped and
# whitespace/indentation survive byte for byte.
GPT2_SPLIT_PATTERN = regex.compile(
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+"
    rf"| ?[^{_JS_WHITESPACE}\p{{L}}\p{{N}}]+|[{_JS_WHITESPACE}]+(?![^{_JS_WHITESPACE}])|[{_JS_WHITESPACE}]+"
)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character map: visible Latin-1 bytes map to themselves, the rest
    (controls, space, ...) to U+0100 onwards, so every token is a readable, whitespace-free string."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    mapping = {b: chr(b) for b in printable}
    next_code_point = 256
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(next_code_point)
            next_code_point += 1
    return dict(sorted(mapping.items()))


BYTE_TO_SYMBOL = bytes_to_unicode()
SYMBOL_TO_BYTE = {symbol: b for b, symbol in BYTE_TO_SYMBOL.items()}


def merge_pair(symbols: list[int], pair: tuple[int, int], merged_id: int) -> list[int]:
    """Replaces every non-overlapping occurrence of ``pair``, scanning left to right."""
    left, right = pair
    out = []
    i = 0
    last = len(symbols) - 1
    while i <= last:
        if i < last and symbols[i] == left and symbols[i + 1] == right:
            out.append(merged_id)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out
