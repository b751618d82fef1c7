"""The corpus's pinned sources: which Debian and npm package versions, which of their files, and
how each is fetched into the cache (``apt-get download`` then ``dpkg-deb -x``; ``npm pack`` then
untar; nothing is installed) and what licence it carries.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


@dataclass(frozen=True)
class Source:
    """A pinned package and the files of it that go into the corpus."""

    kind: str  # "deb" or "npm"
    name: str
    version: str
    include: tuple[str, ...]  # glob patterns relative to the extracted package root
    licence: str  # short licence name, used when the package metadata gives none
    exclude: tuple[str, ...] = ()  # fnmatch patterns on the relative path
    fallback_language: str | None = None  # for files without extension or shebang (e.g. completions)

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}@{self.version}"


def _deb(name, version, licence, *include, exclude=(), fallback_language=None) -> Source:
    return Source("deb", name, version, tuple(include), licence, tuple(exclude), fallback_language)


def _npm(name, version, *include, exclude=()) -> Source:
    # npm metadata always carries the licence; "see package.json" is only shown if it does not.
    return Source("npm", name, version, tuple(include), "see package.json", tuple(exclude))


_PY = "usr/lib/python3/dist-packages/**/*.py"
_HEADERS = "usr/include/**/*.h"
_MAN_PAGES = "usr/share/man/man*/*"  # English pages only (translations live in usr/share/man/LANG/)
_NPM_META = ("package/README.md", "package/Readme.md", "package/readme.md", "package/package.json")

# Versions looked up with `apt-cache policy` (Debian 12 "bookworm" + security) and `npm view`.
SOURCES: tuple[Source, ...] = (
    # Python
    _deb("libpython3.11-minimal", "3.11.2-6+deb12u9", "PSF-2.0", "usr/lib/python3.11/**/*.py"),
    _deb("libpython3.11-stdlib", "3.11.2-6+deb12u9", "PSF-2.0", "usr/lib/python3.11/**/*.py"),
    _deb("python3-pygments", "2.14.0+dfsg-1", "BSD-2-clause", _PY),
    _deb("python3-docutils", "0.19+dfsg-6", "public-domain", _PY),
    _deb("python3-jinja2", "3.1.2-1+deb12u3", "BSD-3-clause", _PY),
    _deb("python3-click", "8.1.3-2", "BSD-3-clause", _PY),
    _deb("python3-requests", "2.28.1+dfsg-1", "Apache-2.0", _PY),
    # C
    _deb("libc6-dev", "2.36-9+deb12u14", "LGPL-2.1+", _HEADERS),
    _deb("linux-libc-dev", "6.1.192-3", "GPL-2", _HEADERS),
    _deb("libglib2.0-dev", "2.74.6-2+deb12u9", "LGPL-2+", _HEADERS),
    _deb("libssl-dev", "3.0.22-1~deb12u2", "Apache-2.0", _HEADERS),
    _deb("libcurl4-openssl-dev", "7.88.1-10+deb12u15", "curl", _HEADERS),
    _deb("libcurl4-doc", "7.88.1-10+deb12u15", "curl", "usr/share/doc/libcurl4/examples/*.c", _MAN_PAGES),
    _deb("zlib1g-dev", "1:1.2.13.dfsg-1", "Zlib", _HEADERS, "usr/share/doc/zlib1g-dev/examples/*.c"),
    _deb("libxml2-dev", "2.9.14+dfsg-1.3~deb12u6", "MIT", _HEADERS),
    # Shell (and devscripts' Perl)
    _deb("bash-completion", "1:2.11-6", "GPL-2+", "usr/share/bash-completion/**/*", fallback_language="shell"),
    _deb("bash-doc", "5.2.15-2", "GPL-3+", "usr/share/doc/bash/examples/**/*", "usr/share/doc/bash/*.html",
         exclude=("*/README*", "*/INDEX*", "*/Makefile*", "*/*.c", "*/*.h"), fallback_language="shell"),
    _deb("live-build", "1:20230502", "GPL-3+", "usr/lib/live/build/*", "usr/share/live/build/functions/*",
         "usr/share/live/build/hooks/**/*", fallback_language="shell"),
    _deb("debootstrap", "1.0.128+nmu2+deb12u2", "MIT", "usr/sbin/debootstrap", "usr/share/debootstrap/functions",
         "usr/share/debootstrap/scripts/*", fallback_language="shell"),
    _deb("dkms", "3.0.10-8+deb12u1", "GPL-2+", "usr/sbin/dkms", "usr/lib/dkms/*"),
    _deb("xdg-utils", "1.1.3-4.1", "Expat", "usr/bin/*"),
    _deb("initramfs-tools-core", "0.142+deb12u3", "GPL-2+", "usr/share/initramfs-tools/**/*", "usr/sbin/*",
         "usr/bin/*", fallback_language="shell"),
    _deb("devscripts", "2.23.4+deb12u2", "GPL-2+", "usr/bin/*", "usr/share/perl5/**/*.pm", _PY),
    # English prose
    _deb("python3.11-doc", "3.11.2-6+deb12u9", "PSF-2.0", "usr/share/doc/python3.11/html/**/*.html",
         exclude=("*/genindex*", "*/py-modindex.html", "*/search.html", "*/_sources/*")),
    _deb("debian-reference-en", "2.100", "GPL-2+", "usr/share/debian-reference/*.en.html"),
    _deb("debian-handbook", "11.20220922", "GPL-2.0+ or CC-BY-SA-3.0",
         "usr/share/doc/debian-handbook/html/en-US/*.html"),
    _deb("developers-reference", "12.18", "GPL-2", "usr/share/developers-reference/*.html",
         exclude=("*/developers-reference.html", "*/search.html", "*/genindex.html")),  # the first repeats all chapters
    _deb("debian-policy", "4.6.2.0", "GPL-2+", "usr/share/doc/debian-policy/policy.html/ch-*.html",
         "usr/share/doc/debian-policy/policy.html/ap-*.html", "usr/share/doc/debian-policy/copyright-format-1.0.html",
         "usr/share/doc/debian-policy/debconf_specification.html", "usr/share/doc/debian-policy/fhs/*.html"),
    _deb("manpages", "6.03-2", "GPL-2+", _MAN_PAGES),
    _deb("manpages-dev", "6.03-2", "GPL-2+", _MAN_PAGES),
    _deb("git-man", "1:2.39.5-0+deb12u3", "GPL-2", _MAN_PAGES),
    # TypeScript
    _npm("typescript", "5.9.3", "package/lib/lib.*.d.ts", *_NPM_META),
    _npm("zod", "4.6.7", "package/src/**/*.ts", *_NPM_META),
    _npm("rxjs", "7.8.2", "package/src/**/*.ts", "package/CHANGELOG.md", *_NPM_META),
    _npm("effect", "4.1.0", "package/src/**/*.ts", *_NPM_META),
    _npm("@tanstack/query-core", "5.108.4", "package/src/**/*.ts", *_NPM_META),
    _npm("type-fest", "5.10.0", "package/source/*.d.ts", *_NPM_META),
    _npm("@types/node", "26.6.7", "node/**/*.d.ts", "node/README.md", "node/package.json"),
    _npm("@types/react", "19.3.3", "react/**/*.d.ts", "react/README.md", "react/package.json"),
    # JavaScript
    _npm("lodash", "4.18.1", "package/*.js", *_NPM_META),
    _npm("express", "5.3.0", "package/index.js", "package/lib/**/*.js", *_NPM_META),
    _npm("react", "19.3.1", "package/cjs/*.development.js", *_NPM_META),
    _npm("d3-array", "3.2.5", "package/dist/d3-array.js", *_NPM_META),
    _npm("d3-scale", "4.0.3", "package/dist/d3-scale.js", *_NPM_META),
    _npm("d3-shape", "3.2.1", "package/dist/d3-shape.js", *_NPM_META),
    _npm("d3-selection", "3.0.1", "package/dist/d3-selection.js", *_NPM_META),
    _npm("axios", "1.21.1", "package/lib/**/*.js", "package/index.d.ts", "package/*.md", *_NPM_META),
    _npm("commander", "15.1.0", "package/lib/*.js", "package/typings/*.d.ts", *_NPM_META),
    _npm("eslint", "10.15.0", "package/lib/**/*.js", "package/conf/*", "package/messages/*.js", *_NPM_META),
    _npm("three", "0.187.0", "package/src/**/*.js", *_NPM_META),
    _npm("preact", "11.2.0", "package/src/**/*", "package/*/src/**/*", *_NPM_META),
    _npm("marked", "18.2.1", "package/lib/marked.esm.js", "package/man/marked.1", *_NPM_META),
    _npm("webpack", "5.113.0", "package/lib/**/*.js", "package/schemas/**/*.json", *_NPM_META),
)


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {(result.stderr or result.stdout).strip()[-500:]}")


def _extract_npm_tarball(tarball: Path, destination: Path) -> None:
    """Extracts regular files only, refusing absolute or parent-relative names (this Python's
    tarfile predates extraction filters)."""
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive.getmembers():
            path = PurePosixPath(member.name)
            if not member.isfile() or path.is_absolute() or ".." in path.parts:
                continue
            target = destination / path
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.extractfile(member) as data, open(target, "wb") as out:
                shutil.copyfileobj(data, out)


def _slug(source: Source) -> str:
    return re.sub(r"[^A-Za-z0-9.+~-]", "_", f"{source.name}_{source.version}")


def extracted_root(source: Source, cache: Path) -> Path:
    """Where the extracted package tree of ``source`` lives in the cache."""
    return cache / "extracted" / source.kind / _slug(source)


def fetch(source: Source, cache: Path) -> Path:
    """The extracted package tree of ``source``, downloading and extracting it on first use."""
    slug = _slug(source)
    root = extracted_root(source, cache)
    if root.is_dir():
        return root
    archives = cache / "archives" / source.kind
    archives.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        scratch_dir = Path(scratch)
        staging = scratch_dir / "tree"
        staging.mkdir()
        if source.kind == "deb":
            archive = archives / f"{slug}.deb"
            if not archive.exists():
                _run(["apt-get", "download", "-q", f"{source.name}={source.version}"], cwd=scratch_dir)
                shutil.move(next(scratch_dir.glob("*.deb")), archive)
            _run(["dpkg-deb", "-x", str(archive), str(staging)], cwd=scratch_dir)
        else:
            archive = archives / f"{slug}.tgz"
            if not archive.exists():
                _run(["npm", "pack", "--silent", f"{source.name}@{source.version}"], cwd=scratch_dir)
                shutil.move(next(scratch_dir.glob("*.tgz")), archive)
            _extract_npm_tarball(archive, staging)
        root.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(root)  # only a complete tree ever appears under extracted/
    return root


def licence_of(source: Source, root: Path) -> tuple[str, str]:
    """(licence, where it came from): the npm package.json ``license``, or the License of the
    ``Files: *`` paragraph of a machine-readable Debian copyright file, else the pinned name."""
    if source.kind == "npm":
        for package_json in sorted(root.glob("*/package.json")):
            licence = json.loads(package_json.read_text(encoding="utf-8")).get("license")
            if isinstance(licence, str) and licence:
                return licence, "package.json"
    else:
        copyright_file = root / "usr/share/doc" / source.name / "copyright"
        if copyright_file.is_file():
            for paragraph in re.split(r"\n\s*\n", copyright_file.read_text(encoding="utf-8", errors="replace")):
                if re.search(r"^Files:\s*\*\s*$", paragraph, re.MULTILINE):
                    match = re.search(r"^License:[ \t]*(\S[^\n]*)", paragraph, re.MULTILINE)
                    if match:
                        return match.group(1).strip(), "debian copyright (Files: *)"
    return source.licence, "pinned"


def source_files(source: Source, root: Path) -> list[tuple[Path, str]]:
    """(path, relative path) of every file the source's patterns select, sorted."""
    selected: dict[str, Path] = {}
    for pattern in source.include:
        for path in root.glob(pattern):
            relative = path.relative_to(root).as_posix()
            if not any(fnmatch.fnmatch(relative, p) for p in source.exclude) and (path.is_file() or path.is_symlink()):
                selected[relative] = path
    return [(selected[relative], relative) for relative in sorted(selected)]
