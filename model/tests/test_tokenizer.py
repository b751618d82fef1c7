"""Tests for the tokenizer (model/tokenizer.py and its byte_level, bpe_training and tokenizer_json modules),
including id parity with the extension's TypeScript tokenizer."""

from __future__ import annotations

import copy
import json
import random
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from model.tokenizer import (
    BYTE_TO_SYMBOL,
    EOT_TOKEN,
    GPT2_SPLIT_PATTERN,
    ByteLevelBPE,
    TokenizerFormatError,
    train_bpe,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_PATH = REPO_ROOT / "test" / "fixtures" / "tokenizer-sample.txt"
SMALL_TOKENIZER_PATH = REPO_ROOT / "test" / "fixtures" / "tokenizer-small.json"
SMALL_VOCAB_SIZE = 400  # test/fixtures/tokenizer-small.json is train_bpe([sample], 400)


def read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8")  # keeps CRLF, unlike text-mode reading


@pytest.fixture(scope="module")
def sample() -> str:
    return read_text(SAMPLE_PATH)


@pytest.fixture(scope="module")
def tokenizer(sample) -> ByteLevelBPE:
    return train_bpe([sample], SMALL_VOCAB_SIZE)


def test_sample_has_the_awkward_cases(sample):
    assert "\r\n" in sample and "\t" in sample and " \n" in sample
    assert max(len(line) for line in sample.splitlines()) > 2000
    assert "👨‍👩‍👧‍👦" in sample and "🇯🇵" in sample and "👍🏽" in sample


def test_committed_small_tokenizer_is_what_the_trainer_produces(tokenizer, tmp_path):
    tokenizer.save(tmp_path / "tokenizer.json")
    assert (tmp_path / "tokenizer.json").read_bytes() == SMALL_TOKENIZER_PATH.read_bytes(), (
        "regenerate with: scripts/python.sh -m model.tokenizer train --vocab-size 400 "
        "--out test/fixtures/tokenizer-small.json test/fixtures/tokenizer-sample.txt"
    )


def test_training_is_deterministic(sample, tmp_path):
    train_bpe([sample], 600).save(tmp_path / "a.json")
    train_bpe([sample], 600).save(tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_vocab_layout(tokenizer):
    assert tokenizer.vocab_size == SMALL_VOCAB_SIZE
    assert tokenizer.eot_id == 0 and tokenizer.vocab[EOT_TOKEN] == 0
    for b in range(256):
        assert tokenizer.vocab[BYTE_TO_SYMBOL[b]] == 1 + b


def reference_merges(texts: list[str], vocab_size: int) -> list[tuple[str, str]]:
    """Textbook BPE: recount every pair before each merge. Slow, but obviously right."""
    words = Counter()
    for text in texts:
        for chunk in text.split(EOT_TOKEN):
            words.update(tuple(BYTE_TO_SYMBOL[b] for b in w.encode("utf-8")) for w in GPT2_SPLIT_PATTERN.findall(chunk))
    vocab = {EOT_TOKEN: 0, **{BYTE_TO_SYMBOL[b]: 1 + b for b in range(256)}}
    merges = []
    while len(vocab) < vocab_size:
        pairs = Counter()
        for word, freq in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += freq
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], vocab[p[0]], vocab[p[1]]))
        merges.append(best)
        vocab.setdefault(best[0] + best[1], len(vocab))
        merged_words = Counter()
        for word, freq in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged_words[tuple(out)] += freq
        words = merged_words
    return merges


def test_incremental_training_matches_textbook_bpe(sample, tokenizer):
    assert tokenizer.merges == reference_merges([sample], SMALL_VOCAB_SIZE)


ROUND_TRIP_CASES = {
    "empty": "",
    "space": " ",
    "tab": "\t",
    "newline": "\n",
    "crlf": "\r\n",
    "mixed whitespace": "  \t \r\n\n\t\t  ",
    "trailing spaces": "x = 1   \nreturn x  \r\n",
    "accents": "café naïve Ångström Dvořák",
    "combining marks": "e\u0301 a\u0308 Z\u0351\u0324a\u0350\u0325",
    "cjk and greek": "注意力机制 東京 한국어 Η διαφορική προσοχή",
    "emoji": "😀 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇯🇵🇫🇷 1️⃣",
    "special token": f"before{EOT_TOKEN}after{EOT_TOKEN}",
    "almost special": "<|endoftext| <|endof",
    "long line": "λ tokens 😀 " * 700,
    "deep indentation": "".join("    " * d + "x\n" for d in range(30)),
    "bom and nel": "\ufeffstart\x85next\u2028line",
    "every code point 0..255": "".join(map(chr, range(256))),
    "astral": "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛 𠜎",
}


@pytest.mark.parametrize("text", ROUND_TRIP_CASES.values(), ids=ROUND_TRIP_CASES.keys())
def test_round_trip(tokenizer, text):
    ids = tokenizer.encode(text)
    assert all(0 <= i < tokenizer.vocab_size for i in ids)
    assert tokenizer.decode(ids) == text


def test_round_trip_sample(tokenizer, sample):
    assert tokenizer.decode(tokenizer.encode(sample)) == sample


def test_every_byte_has_a_token(tokenizer):
    for b in range(256):
        token_id = tokenizer.vocab[BYTE_TO_SYMBOL[b]]
        assert tokenizer.decode([token_id]) == bytes([b]).decode("utf-8", errors="replace")
    # Each ASCII byte on its own encodes to exactly its byte token.
    for b in range(128):
        assert tokenizer.encode(chr(b)) == [1 + b]


def test_special_token_is_a_single_id(tokenizer):
    ids = tokenizer.encode(f"a{EOT_TOKEN}b")
    assert ids.count(tokenizer.eot_id) == 1
    assert tokenizer.decode(ids) == f"a{EOT_TOKEN}b"


def test_decode_rejects_unknown_ids(tokenizer):
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tokenizer.decode([tokenizer.vocab_size])


def test_save_load_round_trip(tokenizer, sample, tmp_path):
    tokenizer.save(tmp_path / "tokenizer.json")
    loaded = ByteLevelBPE.load(tmp_path / "tokenizer.json")
    assert loaded.vocab == tokenizer.vocab and loaded.merges == tokenizer.merges
    assert loaded.encode(sample) == tokenizer.encode(sample)


def test_train_rejects_impossible_settings():
    with pytest.raises(ValueError, match="at least 257"):
        train_bpe(["abc"], 100)
    with pytest.raises(ValueError, match="must include"):
        train_bpe(["abc"], 300, special_tokens=("<pad>",))


def without(data: dict, dotted: str) -> dict:
    data = copy.deepcopy(data)
    *parents, last = dotted.split(".")
    target = data
    for key in parents:
        target = target[key]
    del target[last]
    return data


def edited(data: dict, edit) -> dict:
    data = copy.deepcopy(data)
    edit(data)
    return data


def rename_vocab_token(data: dict, old: str, new: str) -> None:
    data["model"]["vocab"] = {new if t == old else t: i for t, i in data["model"]["vocab"].items()}


BAD_TOKENIZERS = {
    "missing model.vocab": (
        lambda d: without(d, "model.vocab"),
        "model.vocab: expected a non-empty object mapping token strings to ids, got nothing",
    ),
    "missing model": (lambda d: without(d, "model"), "model: expected an object, got nothing"),
    "merge of an unknown token": (
        lambda d: edited(d, lambda d: d["model"]["merges"].insert(0, "Ġ nosuchtoken")),
        'model.merges[0]: expected a merge of two vocab tokens into a vocab token, got "Ġ nosuchtoken", and "nosuchtoken" is not in model.vocab',
    ),
    "byte symbol missing": (
        lambda d: edited(d, lambda d: rename_vocab_token(d, BYTE_TO_SYMBOL[0x41], "not-a-byte")),
        'model.vocab: expected a token for every byte (byte 0x41 is "A")',
    ),
    "id gap": (
        lambda d: edited(d, lambda d: d["model"]["vocab"].update({"Ā": 9999})),
        "model.vocab: expected ids 0..399, each used once, got no token with id 1",
    ),
    "wrong pre-tokenizer": (
        lambda d: edited(d, lambda d: d.update(pre_tokenizer={"type": "Whitespace"})),
        'pre_tokenizer: expected {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}',
    ),
    "not BPE": (lambda d: edited(d, lambda d: d["model"].update(type="WordPiece")), 'model.type: expected "BPE", got "WordPiece"'),
    "byte fallback": (lambda d: edited(d, lambda d: d["model"].update(byte_fallback=True)), "model.byte_fallback: expected false, got true"),
    "no end-of-text token": (
        lambda d: edited(d, lambda d: d.update(added_tokens=[])),
        "added_tokens: expected an entry for the end-of-text token <|endoftext|>, got none",
    ),
    "added token id disagrees with vocab": (
        lambda d: edited(d, lambda d: d["added_tokens"][0].update(id=5)),
        'added_tokens[0].id: expected 0, the id model.vocab gives "<|endoftext|>", got 5',
    ),
}


@pytest.mark.parametrize("break_it, message", BAD_TOKENIZERS.values(), ids=BAD_TOKENIZERS.keys())
def test_bad_tokenizer_json_is_explained(tokenizer, tmp_path, break_it, message):
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(break_it(tokenizer.to_json()), ensure_ascii=False), encoding="utf-8")
    with pytest.raises(TokenizerFormatError) as error:
        ByteLevelBPE.load(path)
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)


def test_invalid_json_is_explained(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text('{"model": ', encoding="utf-8")
    with pytest.raises(TokenizerFormatError, match="not valid JSON"):
        ByteLevelBPE.load(path)


def run_cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "model.tokenizer", *args], input=stdin, cwd=REPO_ROOT, capture_output=True, check=True
    )


def test_cli_train_and_encode(tmp_path):
    out = tmp_path / "tokenizer.json"
    run_cli("train", "--vocab-size", str(SMALL_VOCAB_SIZE), "--out", str(out), str(SAMPLE_PATH))
    assert out.read_bytes() == SMALL_TOKENIZER_PATH.read_bytes()
    text = "def f(x):\r\n\treturn x 😀\n"
    result = run_cli("encode", "--tokenizer", str(out), stdin=text.encode("utf-8"))
    assert json.loads(result.stdout) == ByteLevelBPE.load(out).encode(text)


# ------------------------------------------------------------------------- TypeScript parity


@pytest.fixture(scope="module")
def compiled_extension() -> None:
    """Compiles the TypeScript (about a second), so the parity tests never run stale output."""
    if shutil.which("node") is None or shutil.which("npx") is None:
        pytest.fail("node and npx are required for the TypeScript parity tests")
    result = subprocess.run(["npx", "tsc", "-p", "."], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"npx tsc -p . failed:\n{result.stdout}{result.stderr}"


def typescript_encode(tokenizer_path: Path, text_path: Path) -> dict:
    result = subprocess.run(
        ["node", "test/support/tokenize.cjs", str(tokenizer_path), str(text_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_typescript_agrees(tokenizer_path: Path, text_path: Path) -> None:
    text = read_text(text_path)
    encoding = typescript_encode(tokenizer_path, text_path)
    assert encoding["ids"] == ByteLevelBPE.load(tokenizer_path).encode(text)
    # Offsets are UTF-16 code unit indices: check they tile the text exactly.
    utf16 = text.encode("utf-16-le")
    assert len(encoding["offsets"]) == len(encoding["ids"])
    position = 0
    pieces = []
    for start, end in encoding["offsets"]:
        assert start == position and end >= start
        pieces.append(utf16[2 * start : 2 * end].decode("utf-16-le"))  # raises if a surrogate pair is split
        position = end
    assert "".join(pieces) == text


def test_typescript_ids_and_offsets_match_on_sample(compiled_extension):
    assert_typescript_agrees(SMALL_TOKENIZER_PATH, SAMPLE_PATH)


def test_typescript_matches_a_larger_vocab(compiled_extension, sample, tmp_path):
    # More merges means long multi-byte tokens, which exercises offsets ending mid-character.
    train_bpe([sample], 1200).save(tmp_path / "tokenizer.json")
    assert_typescript_agrees(tmp_path / "tokenizer.json", SAMPLE_PATH)


# Characters where regex engines disagree most easily: whitespace variants (\s differs between
# Python, Oniguruma and JavaScript), apostrophe contractions, digits of other scripts, marks.
TRICKY_CHARACTERS = list(
    " \t\n\r\x0b\x0c\x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\u200b"
    "'sStTdDmlLvVrReE" "0123456789٣۴߅५௬๓¼½²³Ⅻ" "aZéßΩж中あ한"
    "\u0301\u0308\u093f" ".,;:!?-_=+*/\\|\"'`()[]{}<>@#$%^&~" "😀👍🏽\u200d🇯🇵"
)


def test_typescript_matches_on_random_tricky_text(compiled_extension, sample, tmp_path):
    rng = random.Random(1234)
    text = "".join(rng.choice(TRICKY_CHARACTERS) for _ in range(20000))
    text_path = tmp_path / "tricky.txt"
    text_path.write_bytes(text.encode("utf-8"))
    train_bpe([sample, text], 800).save(tmp_path / "tokenizer.json")
    assert_typescript_agrees(tmp_path / "tokenizer.json", text_path)
