"""Byte-level BPE tokenizer: trainer, encoder/decoder and Hugging Face ``tokenizer.json`` I/O.

The ids this module produces must equal the ids that Hugging Face tokenizers.js (used by the
extension, see extension/core/tokenizer.ts) gives for the same tokenizer.json, so the encoding
pipeline mirrors it step by step: split on special-token strings, pre-tokenise with the GPT-2
pattern, map every UTF-8 byte to a printable symbol, then apply merges by rank.

CLI (run from the repository root):
    scripts/python.sh -m model.tokenizer train --vocab-size 8192 --out tokenizer.json FILES...
    scripts/python.sh -m model.tokenizer encode --tokenizer tokenizer.json < text.txt
"""

from __future__ import annotations

import argparse
import heapq
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable, Sequence

import regex

EOT_TOKEN = "<|endoftext|>"
_NO_MERGE = (float("inf"), -1)

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


class TokenizerFormatError(ValueError):
    """A tokenizer.json that this project cannot use; the message names the field and what was expected."""


class ByteLevelBPE:
    """A trained byte-level BPE tokenizer.

    ``vocab`` maps token strings (byte symbols joined, or special-token text) to ids; ``merges``
    lists merged pairs of token strings in rank order (rank 0 is applied first).
    """

    def __init__(self, vocab: dict[str, int], merges: Sequence[tuple[str, str]], special_tokens: Sequence[str]):
        self.vocab = dict(vocab)
        self.merges = [tuple(m) for m in merges]
        self.special_tokens = list(special_tokens)
        self.special_ids = {self.vocab[t] for t in self.special_tokens}
        # Merges keyed by id pairs: (left id, right id) -> (rank, merged id).
        self._merge_ranks = {
            (self.vocab[a], self.vocab[b]): (rank, self.vocab[a + b]) for rank, (a, b) in enumerate(self.merges)
        }
        self._token_bytes = {
            i: t.encode("utf-8") if i in self.special_ids else bytes(SYMBOL_TO_BYTE[c] for c in t)
            for t, i in self.vocab.items()
        }
        self._byte_ids = [self.vocab[BYTE_TO_SYMBOL[b]] for b in range(256)]
        # Longest first so that, as in HF's added-token matcher, the longest special token wins.
        alternatives = sorted(self.special_tokens, key=len, reverse=True)
        self._special_split = regex.compile("(" + "|".join(map(regex.escape, alternatives)) + ")") if alternatives else None
        self._word_cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def eot_id(self) -> int:
        return self.vocab[EOT_TOKEN]

    # ----------------------------------------------------------------------------------- encoding

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for chunk, is_special in self._split_special(text):
            if is_special:
                ids.append(self.vocab[chunk])
                continue
            for word in GPT2_SPLIT_PATTERN.findall(chunk):
                cached = self._word_cache.get(word)
                if cached is None:
                    cached = self._word_cache[word] = self._encode_word(word)
                ids.extend(cached)
        return ids

    def _split_special(self, text: str) -> Iterable[tuple[str, bool]]:
        """Yields (chunk, is_special_token) in order; special-token text never reaches the BPE."""
        if self._special_split is None:
            yield text, False
            return
        # With one capture group, split() alternates plain text (even indices) and matches (odd).
        for index, chunk in enumerate(self._special_split.split(text)):
            if chunk:
                yield chunk, index % 2 == 1

    def _encode_word(self, word: str) -> list[int]:
        """Applies merges by rank. Merging every occurrence of the best pair left to right gives the
        same result as HF's one-at-a-time priority queue: a pair created by a merge always has a
        higher rank than the merge that created it."""
        symbols = [self._byte_ids[b] for b in word.encode("utf-8")]
        ranks = self._merge_ranks
        while len(symbols) > 1:
            best_pair = min(zip(symbols, symbols[1:]), key=lambda pair: ranks.get(pair, _NO_MERGE))
            if best_pair not in ranks:
                break
            symbols = _merge_pair(symbols, best_pair, ranks[best_pair][1])
        return symbols

    def decode(self, ids: Iterable[int]) -> str:
        try:
            data = b"".join(self._token_bytes[i] for i in ids)
        except KeyError as err:
            raise ValueError(f"token id {err.args[0]} is outside the vocabulary (size {self.vocab_size})") from None
        # "replace" matches the TextDecoder that tokenizers.js uses for partial UTF-8 sequences.
        return data.decode("utf-8", errors="replace")

    # ---------------------------------------------------------------------------------- serialise

    def to_json(self) -> dict:
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [
                {
                    "id": self.vocab[t],
                    "content": t,
                    "single_word": False,
                    "lstrip": False,
                    "rstrip": False,
                    "normalized": False,
                    "special": True,
                }
                for t in self.special_tokens
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
                "vocab": dict(sorted(self.vocab.items(), key=lambda item: item[1])),
                "merges": [f"{a} {b}" for a, b in self.merges],
            },
        }

    def save(self, path: str | Path) -> None:
        text = json.dumps(self.to_json(), ensure_ascii=False, indent=2)
        Path(path).write_text(text + "\n", encoding="utf-8", newline="\n")

    @classmethod
    def load(cls, path: str | Path) -> "ByteLevelBPE":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise TokenizerFormatError(f"{path}: not valid JSON ({err})") from None
        try:
            return cls.from_json(data)
        except TokenizerFormatError as err:
            raise TokenizerFormatError(f"{path}: {err}") from None

    @classmethod
    def from_json(cls, data: object) -> "ByteLevelBPE":
        """Builds a tokenizer from a parsed tokenizer.json, accepting only the settings this encoder
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
        return cls(vocab, merges, special_tokens)


def _merge_pair(symbols: list[int], pair: tuple[int, int], merged_id: int) -> list[int]:
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


# ------------------------------------------------------------------------------------- training


def train_bpe(texts: Iterable[str], vocab_size: int, special_tokens: Sequence[str] = (EOT_TOKEN,)) -> ByteLevelBPE:
    """Trains a byte-level BPE. Ids: special tokens first (EOT = 0 by default), then the 256 byte
    symbols in byte order, then merged tokens in merge order. Ties in pair frequency go to the smallest
    (left id, right id), so the same texts always give the same tokenizer."""
    special_tokens = list(special_tokens)
    if EOT_TOKEN not in special_tokens:
        raise ValueError(f"special_tokens must include {EOT_TOKEN!r} (the project's end-of-text token)")
    if len(set(special_tokens)) != len(special_tokens):
        raise ValueError("special_tokens contains duplicates")
    base_size = len(special_tokens) + 256
    if vocab_size < base_size:
        raise ValueError(f"vocab_size must be at least {base_size} (special tokens + 256 byte symbols), got {vocab_size}")

    vocab = {t: i for i, t in enumerate(special_tokens)}
    for b in range(256):
        vocab[BYTE_TO_SYMBOL[b]] = len(special_tokens) + b
    id_to_token = {i: t for t, i in vocab.items()}

    word_freqs = _count_words(texts, special_tokens)
    # Each unique pre-token once, as a list of byte-symbol ids, weighted by its frequency.
    words = [[len(special_tokens) + b for b in w.encode("utf-8")] for w in word_freqs]
    freqs = list(word_freqs.values())

    pair_counts: dict[tuple[int, int], int] = defaultdict(int)
    # pair -> indices of words that contain it (may hold stale entries; checked when used).
    pair_words: dict[tuple[int, int], set[int]] = defaultdict(set)
    for index, (word, freq) in enumerate(zip(words, freqs)):
        for pair in zip(word, word[1:]):
            pair_counts[pair] += freq
            pair_words[pair].add(index)
    # Max-heap of (-count, pair). Entries can be stale; a popped entry is re-checked against
    # pair_counts, and every count increase pushes a fresh entry.
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)

    merges: list[tuple[str, str]] = []
    while len(vocab) < vocab_size and heap:
        negative_count, pair = heapq.heappop(heap)
        count = pair_counts.get(pair, 0)
        if count != -negative_count:
            if 0 < count < -negative_count:
                heapq.heappush(heap, (-count, pair))
            continue

        left, right = id_to_token[pair[0]], id_to_token[pair[1]]
        merged_token = left + right
        # Different merge paths can build the same string ("a"+"bc", "ab"+"c"): share one id, as HF does.
        merged_id = vocab.get(merged_token)
        if merged_id is None:
            merged_id = vocab[merged_token] = len(vocab)
            id_to_token[merged_id] = merged_token
        merges.append((left, right))

        changes: dict[tuple[int, int], int] = defaultdict(int)
        for index in pair_words.pop(pair):
            word = words[index]
            merged = _merge_pair(word, pair, merged_id)
            if len(merged) == len(word):
                continue  # stale index entry: an earlier merge already consumed this pair here
            freq = freqs[index]
            for old_pair in zip(word, word[1:]):
                changes[old_pair] -= freq
            for new_pair in zip(merged, merged[1:]):
                changes[new_pair] += freq
                if merged_id in new_pair:
                    pair_words[new_pair].add(index)
            words[index] = merged
        for changed_pair, delta in changes.items():
            if delta:
                pair_counts[changed_pair] += delta
                if delta > 0:
                    heapq.heappush(heap, (-pair_counts[changed_pair], changed_pair))
        pair_counts.pop(pair, None)

    return ByteLevelBPE(vocab, merges, special_tokens)


def _count_words(texts: Iterable[str], special_tokens: Sequence[str]) -> Counter:
    """Counts pre-tokenised words. Special-token text is cut out first, so no merge spans it."""
    splitter = regex.compile("|".join(map(regex.escape, sorted(special_tokens, key=len, reverse=True))))
    counts: Counter = Counter()
    for text in texts:
        for chunk in splitter.split(text):
            counts.update(GPT2_SPLIT_PATTERN.findall(chunk))
    return counts


# ------------------------------------------------------------------------------------------ CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.tokenizer", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a tokenizer on UTF-8 text files")
    train.add_argument("--vocab-size", type=int, required=True)
    train.add_argument("--out", required=True, help="where to write tokenizer.json")
    train.add_argument("files", nargs="+")
    encode = commands.add_parser("encode", help="encode stdin, print the ids as JSON")
    encode.add_argument("--tokenizer", required=True, help="path of tokenizer.json")
    args = parser.parse_args(argv)

    if args.command == "train":
        # Read bytes and decode, so that CRLF line endings reach the trainer unchanged.
        texts = [Path(f).read_bytes().decode("utf-8") for f in args.files]
        started = time.perf_counter()
        tokenizer = train_bpe(texts, args.vocab_size)
        elapsed = time.perf_counter() - started
        tokenizer.save(args.out)
        megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
        print(f"trained vocab {tokenizer.vocab_size} on {megabytes:.2f} MB in {elapsed:.1f} s -> {args.out}", file=sys.stderr)
    else:
        try:
            tokenizer = ByteLevelBPE.load(args.tokenizer)
        except TokenizerFormatError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(json.dumps(tokenizer.encode(sys.stdin.buffer.read().decode("utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
