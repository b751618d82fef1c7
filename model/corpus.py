"""Builds the training corpus from pinned Debian and npm packages, reproducibly and offline-friendly.

    scripts/python.sh -m model.corpus build --out data/corpus [--target-mb 40]

Steps: download each pinned source into the cache (``apt-get download NAME=VERSION`` then
``dpkg-deb -x``; ``npm pack NAME@VERSION`` then untar; nothing is installed) and read the files its
include patterns name (model/corpus_sources.py); turn documentation into plain text (HTML via
html.parser, man pages via a small roff stripper: model/markup_text.py); drop binary / non-UTF-8 /
minified / generated / oversized files (model/corpus_documents.py); then, here, deduplicate by a
hash of the normalised text, hold out whole files for validation by that hash, sample the training
text to a byte budget (65% code, 35% prose, spread over languages and sources) and mix in
synthetic retrieval documents (model/retrieval.py).

Outputs in --out: train.txt, val_code.txt, val_prose.txt (documents joined by <|endoftext|>),
sources.json (package, version, licence, counts per source), stats.json (bytes and files per
language and category) and files.jsonl (one line per kept file: where it went and why).
The same cache and arguments give byte-identical outputs. See docs/corpus.md.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import random
import sys
import time
from pathlib import Path

from model.corpus_documents import HOLDOUT_PER_MILLE, LANGUAGE_SHARES, Document, read_document
from model.corpus_sources import SOURCES, Source, fetch, licence_of, source_files
from model.retrieval import make_training_documents
from model.tokenizer import EOT_TOKEN

DEFAULT_CACHE = Path(".cache/corpus-src")
CODE_SHARE = 0.65  # of the real (non-synthetic) training bytes; the rest is prose


# ---------------------------------------------------------------------------------------------
# Sampling and writing


def allocate(budget: float, shares: dict[str, float], available: dict[str, int]) -> dict[str, float]:
    """Byte budget per language: proportional to ``shares``, capped at what is available, with
    the surplus of short languages redistributed over the rest."""
    allocation: dict[str, float] = {}
    open_shares = {language: share for language, share in shares.items() if share > 0}
    while open_shares:
        weight = sum(open_shares.values())
        short = {language for language, share in open_shares.items()
                 if available.get(language, 0) <= budget * share / weight}
        if not short:
            allocation.update({language: budget * share / weight for language, share in open_shares.items()})
            break
        for language in sorted(short):
            allocation[language] = available.get(language, 0)
            budget -= allocation[language]
            del open_shares[language]
    return allocation


def sample(documents: list[Document], budget: float) -> list[Document]:
    """Documents totalling at least ``budget`` bytes (or all of them), drawn so every source gets
    the same number of bytes until it runs out; within a source in content-hash order, a
    deterministic shuffle."""
    by_source: dict[str, list[Document]] = {}
    for document in sorted(documents, key=lambda d: d.sha256):
        by_source.setdefault(document.source, []).append(document)
    # Heap of (bytes taken so far, source label, position of the next document).
    heap = [(0, label, 0) for label in sorted(by_source)]
    chosen: list[Document] = []
    total = 0
    while heap and total < budget:
        taken, label, position = heapq.heappop(heap)
        document = by_source[label][position]
        chosen.append(document)
        total += document.size
        if position + 1 < len(by_source[label]):
            heapq.heappush(heap, (taken + document.size, label, position + 1))
    return chosen


def sample_category(documents: list[Document], category: str, budget: float) -> list[Document]:
    pool = [d for d in documents if d.category == category]
    available: dict[str, int] = {}
    for document in pool:
        available[document.language] = available.get(document.language, 0) + document.size
    allocation = allocate(budget, LANGUAGE_SHARES[category], available)
    chosen: list[Document] = []
    for language in sorted(allocation):
        chosen += sample([d for d in pool if d.language == language], allocation[language])
    return chosen


def _summary(documents: list[Document], key) -> dict[str, dict[str, int]]:
    summary: dict[str, dict[str, int]] = {}
    for document in documents:
        entry = summary.setdefault(key(document), {"files": 0, "bytes": 0})
        entry["files"] += 1
        entry["bytes"] += document.size
    return dict(sorted(summary.items()))


def _write_documents(path: Path, texts: list[str]) -> int:
    data = EOT_TOKEN.join(texts)
    path.write_text(data, encoding="utf-8", newline="\n")
    return len(data.encode("utf-8"))


def build(out: Path, target_bytes: int, cache: Path = DEFAULT_CACHE, sources: tuple[Source, ...] = SOURCES,
          synthetic_fraction: float = 0.10, seed: int = 0, log=print) -> dict:
    """Builds the corpus into ``out`` and returns the stats written to stats.json."""
    started = time.time()
    cache = cache.resolve()  # downloads run in scratch folders, so relative paths would break
    cache.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)

    source_records: list[dict] = []
    documents: list[Document] = []
    seen_hashes: dict[str, str] = {}
    for source in sources:
        record = {"kind": source.kind, "package": source.name, "version": source.version}
        try:
            root = fetch(source, cache)
        except (RuntimeError, OSError, StopIteration) as error:
            log(f"FAILED {source.label}: {error}")
            source_records.append({**record, "status": "failed", "error": str(error)})
            continue
        record["licence"], record["licence_from"] = licence_of(source, root)
        skipped: dict[str, int] = {}
        kept = duplicates = 0
        for path, relative in source_files(source, root):
            document, reason = read_document(path, relative, source)
            if document is None:
                skipped[reason] = skipped.get(reason, 0) + 1
            elif document.sha256 in seen_hashes:
                duplicates += 1
            else:
                seen_hashes[document.sha256] = source.label
                documents.append(document)
                kept += 1
        record.update(status="ok", files_kept=kept, duplicates=duplicates, skipped=dict(sorted(skipped.items())))
        source_records.append(record)
        log(f"{source.label}: {kept} files kept, {duplicates} duplicates, skipped {sum(skipped.values())}")

    real_budget = target_bytes * (1 - synthetic_fraction)
    held_out = [d for d in documents if d.held_out]
    candidates = [d for d in documents if not d.held_out]
    train = (sample_category(candidates, "code", real_budget * CODE_SHARE)
             + sample_category(candidates, "prose", real_budget * (1 - CODE_SHARE)))
    # Validation mirrors the training mix at ~3% of its size (the held-out pool is larger).
    validation_scale = HOLDOUT_PER_MILLE / 1000
    val = {category: sample_category(held_out, category,
                                     real_budget * validation_scale * (CODE_SHARE if category == "code" else 1 - CODE_SHARE))
           for category in ("code", "prose")}

    train_texts = {"code": [d.text for d in train if d.category == "code"],
                   "prose": [d.text for d in train if d.category == "prose"]}
    synthetic = make_training_documents(seed, train_texts["code"], train_texts["prose"],
                                        total_chars=int(target_bytes * synthetic_fraction))
    mixed = sorted([d.text for d in train], key=lambda t: hashlib.sha256(t.encode()).hexdigest()) + synthetic
    random.Random(seed).shuffle(mixed)

    sizes = {"train.txt": _write_documents(out / "train.txt", mixed)}
    for category in ("code", "prose"):
        name = f"val_{category}.txt"
        sizes[name] = _write_documents(out / name, sorted((d.text for d in val[category]),
                                                          key=lambda t: hashlib.sha256(t.encode()).hexdigest()))

    split_of = {d.sha256: "train" for d in train}
    split_of.update({d.sha256: f"val_{c}" for c, docs in val.items() for d in docs})
    with open(out / "files.jsonl", "w", encoding="utf-8") as manifest:
        for document in sorted(documents, key=lambda d: (d.source, d.path)):
            split = split_of.get(document.sha256, "held-out-unused" if document.held_out else "unused")
            manifest.write(json.dumps({"source": document.source, "path": document.path,
                                       "language": document.language, "category": document.category,
                                       "bytes": document.size, "sha256": document.sha256, "split": split}) + "\n")

    for source, record in zip(sources, source_records):
        if record["status"] == "ok":
            for split, docs in (("train", train), ("val", val["code"] + val["prose"])):
                mine = [d for d in docs if d.source == source.label]
                record[f"{split}_files"] = len(mine)
                record[f"{split}_bytes"] = sum(d.size for d in mine)
    (out / "sources.json").write_text(json.dumps(source_records, indent=2) + "\n", encoding="utf-8")

    synthetic_bytes = sum(len(t.encode("utf-8")) for t in synthetic)
    real_train_bytes = sum(d.size for d in train)
    stats = {
        "target_bytes": target_bytes,
        "file_bytes": sizes,
        "sources": {"ok": sum(r["status"] == "ok" for r in source_records),
                    "failed": [r["package"] for r in source_records if r["status"] != "ok"]},
        "pool": {"files": len(documents), "bytes": sum(d.size for d in documents),
                 "held_out_files": len(held_out), "by_language": _summary(documents, lambda d: d.language)},
        "train": {
            "real_bytes": real_train_bytes,
            "synthetic_retrieval": {"documents": len(synthetic), "bytes": synthetic_bytes},
            "by_category": _summary(train, lambda d: d.category),
            "by_language": _summary(train, lambda d: d.language),
            "by_source": _summary(train, lambda d: d.source),
        },
        "val_code": {"by_language": _summary(val["code"], lambda d: d.language)},
        "val_prose": {"by_language": _summary(val["prose"], lambda d: d.language)},
    }
    (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {out}: train {sizes['train.txt'] / 1e6:.1f} MB ({len(train)} files + {len(synthetic)} retrieval docs), "
        f"val_code {sizes['val_code.txt'] / 1e6:.2f} MB, val_prose {sizes['val_prose.txt'] / 1e6:.2f} MB "
        f"in {time.time() - started:.0f} s")
    return stats


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.corpus", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="download the pinned sources and write the corpus")
    build_parser.add_argument("--out", type=Path, required=True, help="output folder")
    build_parser.add_argument("--target-mb", type=float, default=40.0, help="training text size in MB (1e6 bytes)")
    build_parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="download/extraction cache")
    build_parser.add_argument("--synthetic-fraction", type=float, default=0.10,
                              help="share of training bytes that are synthetic retrieval documents")
    build_parser.add_argument("--seed", type=int, default=0, help="seed for the retrieval documents and the shuffle")
    args = parser.parse_args(argv)
    stats = build(args.out, int(args.target_mb * 1e6), args.cache, synthetic_fraction=args.synthetic_fraction,
                  seed=args.seed)
    return 1 if stats["sources"]["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
