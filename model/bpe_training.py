"""Byte-level BPE training: counts pre-tokenised words once, then merges the most frequent pair
again and again, updating pair counts incrementally (a heap with lazy deletion) instead of
recounting the corpus per merge.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from typing import Iterable, Sequence

import regex

from model.byte_level import BYTE_TO_SYMBOL, EOT_TOKEN, GPT2_SPLIT_PATTERN, merge_pair


def learn_bpe(texts: Iterable[str], vocab_size: int,
              special_tokens: Sequence[str]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The vocabulary and merges of a byte-level BPE trained on ``texts``. Ids: special tokens first,
    then the 256 byte symbols in byte order, then merged tokens in merge order. Ties in pair
    frequency go to the smallest (left id, right id), so the same texts always give the same result."""
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
            merged = merge_pair(word, pair, merged_id)
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

    return vocab, merges


def _count_words(texts: Iterable[str], special_tokens: Sequence[str]) -> Counter:
    """Counts pre-tokenised words. Special-token text is cut out first, so no merge spans it."""
    splitter = regex.compile("|".join(map(regex.escape, sorted(special_tokens, key=len, reverse=True))))
    counts: Counter = Counter()
    for text in texts:
        for chunk in splitter.split(text):
            counts.update(GPT2_SPLIT_PATTERN.findall(chunk))
    return counts
