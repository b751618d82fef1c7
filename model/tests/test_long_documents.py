"""Held-out long documents for the loss by position (model/long_documents.py): each project's
held-out files joined in path order, and the windows cut from them."""

import hashlib
import json

import numpy as np
import pytest

from model.fixtures import FIXTURE_TOKENIZER
from model.long_documents import CONSECUTIVE_FILES, long_document_windows, project_documents
from model.package import load_tokenizer
from model.tokenizer import EOT_TOKEN

# Held-out files in val_code.txt's order, and the project and path files.jsonl gives each.
FILES = [("alpha", "src/b.py", "def second():\n    return 2\n" * 3),
         ("beta", "lib/only.js", "function only() { return 1; }\n" * 4),
         ("alpha", "src/a.py", "def first():\n    return 1\n" * 5)]


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(FIXTURE_TOKENIZER)


def write_corpus(folder, with_manifest=True):
    text = EOT_TOKEN.join(body for _, _, body in FILES)
    (folder / "val_code.txt").write_text(text)
    if with_manifest:
        records = [{"source": project, "path": path, "split": "val_code", "sha256": hashlib.sha256(body.encode()).hexdigest()}
                   for project, path, body in FILES]
        records.append({"source": "gamma", "path": "x.c", "split": "train", "sha256": "0" * 64})
        (folder / "files.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return text


def test_a_projects_files_are_joined_in_path_order(tokenizer, tmp_path):
    ids = np.array(tokenizer.encode(write_corpus(tmp_path)), dtype=np.uint16)
    documents = project_documents(tmp_path, "code", ids, tokenizer.eot_id)
    assert list(documents) == ["alpha", "beta"]
    eot = [tokenizer.eot_id]
    assert documents["alpha"].tolist() == eot + tokenizer.encode(FILES[2][2]) + eot + tokenizer.encode(FILES[0][2])
    assert documents["beta"].tolist() == eot + tokenizer.encode(FILES[1][2])


def test_without_a_manifest_the_files_stay_as_they_are(tokenizer, tmp_path):
    ids = np.array(tokenizer.encode(write_corpus(tmp_path, with_manifest=False)), dtype=np.uint16)
    documents = project_documents(tmp_path, "code", ids, tokenizer.eot_id)
    assert list(documents) == [CONSECUTIVE_FILES] and np.array_equal(documents[CONSECUTIVE_FILES], ids)


def test_windows_take_each_long_documents_first_window_before_any_second():
    documents = {"long": np.arange(0, 35), "short": np.arange(100, 108), "middle": np.arange(200, 222)}
    inputs, targets, source = long_document_windows(documents, context=9, count=3)
    assert inputs[:, 0].tolist() == [0, 200, 10], "long's first, middle's first, then long's second"
    assert inputs.shape == targets.shape == (3, 9) and (targets[:, :-1] == inputs[:, 1:]).all()
    assert source == {"documents": ["long", "middle"], "windows_per_document": {"long": 2, "middle": 1}}
    assert len(long_document_windows(documents, context=9, count=10)[0]) == 5, "only as many as fit"
    with pytest.raises(ValueError, match="reaches 41 tokens"):
        long_document_windows(documents, context=40, count=1)
