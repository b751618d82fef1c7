"""Held-out documents as long as the context, for the loss by position (the paper's Figure 4, which
uses whole books and concatenated files of one repository). The corpus holds out whole files
(model/corpus.py); files.jsonl names each file's project (its "source" package) and val_*.txt joins
the files by <|endoftext|>. Here each project's held-out files are joined again, in path order, into
one long document, and windows of the full context are cut from the projects long enough for one.
Where files.jsonl is missing or does not name every file (a corpus built by hand, as in the tests),
the held-out files are taken in the order val_*.txt has them, consecutive files concatenated.
"""

import hashlib
import json
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import torch

from model.byte_level import EOT_TOKEN

CONSECUTIVE_FILES = "consecutive held-out files"  # the document's name where no project is known


def project_documents(data_dir: Path, name: str, ids: np.ndarray, eot_id: int) -> Dict[str, np.ndarray]:
    """{project: token ids of its held-out files, each after an <|endoftext|>, in path order} from
    val_{name}.txt's token ids; {CONSECUTIVE_FILES: ids} where projects are not known."""
    texts = (data_dir / f"val_{name}.txt").read_text(encoding="utf-8").split(EOT_TOKEN)
    bounds = np.flatnonzero(ids == eot_id)
    files = np.split(ids, bounds)  # the first has no <|endoftext|> before it, the others start with one
    manifest = data_dir / "files.jsonl"
    if len(files) != len(texts) or not manifest.exists():
        return {CONSECUTIVE_FILES: ids}
    where = {}
    with open(manifest, encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record["split"] == f"val_{name}":
                where[record["sha256"]] = (record["source"], record["path"])
    keys = [where.get(hashlib.sha256(text.encode("utf-8")).hexdigest()) for text in texts]
    if None in keys:
        return {CONSECUTIVE_FILES: ids}
    projects: Dict[str, List[Tuple[str, np.ndarray]]] = {}
    for (project, path), tokens in zip(keys, files):
        body = tokens[1:] if len(tokens) and tokens[0] == eot_id else tokens
        projects.setdefault(project, []).append((path, np.concatenate([[eot_id], body]).astype(ids.dtype)))
    return {project: np.concatenate([tokens for _, tokens in sorted(parts, key=lambda part: part[0])])
            for project, parts in sorted(projects.items())}


def long_document_windows(documents: Dict[str, np.ndarray], context: int,
                          count: int) -> Tuple[torch.Tensor, torch.Tensor, dict]:
    """Up to `count` non-overlapping windows of `context` inputs and their next-token targets, each
    from the start of a document or a later whole window of it: the first window of every document
    long enough, then the second of each, and so on (so as many projects as possible are sampled).
    Also says which documents the windows came from."""
    span = context + 1
    per_document = {name: len(ids) // span for name, ids in documents.items()}
    picked = [(name, k) for k in range(max(per_document.values(), default=0))
              for name in documents if k < per_document[name]][:count]
    if not picked:
        longest = max((len(ids) for ids in documents.values()), default=0)
        raise ValueError(f"no held-out document reaches {span} tokens (the longest has {longest})")
    rows = np.stack([documents[name][k * span:(k + 1) * span] for name, k in picked]).astype(np.int64)
    used = sorted({name for name, _ in picked})
    source = {"documents": used, "windows_per_document": {name: sum(n == name for n, _ in picked) for name in used}}
    return torch.from_numpy(rows[:, :-1]), torch.from_numpy(rows[:, 1:]), source
