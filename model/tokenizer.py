"""Byte-level BPE tokenizer: the encoder/decoder, training, ``tokenizer.json`` files and the CLI.
Its parts live beside it: the byte level (model/byte_level.py), the merge learning
(model/bpe_training.py) and the strict tokenizer.json format (model/tokenizer_json.py).

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
import json
import sys
import time
from pathlib import Path
from typing import Iterable, Sequence

import regex

from model.bpe_training import learn_bpe
from model.byte_level import BYTE_TO_SYMBOL, EOT_TOKEN, GPT2_SPLIT_PATTERN, SYMBOL_TO_BYTE, merge_pair
from model.tokenizer_json import TokenizerFormatError, parse_tokenizer_json, tokenizer_json

_NO_MERGE = (float("inf"), -1)


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
            symbols = merge_pair(symbols, best_pair, ranks[best_pair][1])
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
        return tokenizer_json(self.vocab, self.merges, self.special_tokens)

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
        """A tokenizer from a parsed tokenizer.json; TokenizerFormatError names a field it cannot use."""
        return cls(*parse_tokenizer_json(data))


# ------------------------------------------------------------------------------------- training


def train_bpe(texts: Iterable[str], vocab_size: int, special_tokens: Sequence[str] = (EOT_TOKEN,)) -> ByteLevelBPE:
    """Trains a byte-level BPE (model/bpe_training.py). Ids: special tokens first (EOT = 0 by
    default), then the 256 byte symbols in byte order, then merged tokens in merge order; the same
    texts always give the same tokenizer."""
    vocab, merges = learn_bpe(texts, vocab_size, special_tokens)
    return ByteLevelBPE(vocab, merges, special_tokens)


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
