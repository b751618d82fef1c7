"""Plain text of documentation markup for the corpus: HTML pages (via html.parser) and man pages
(a small roff stripper). Not renderers, but good enough for language-model text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser


class _HtmlToText(HTMLParser):
    """Visible text of an HTML page: block elements become line breaks, <pre> keeps its layout,
    and navigation (Sphinx sidebars, DocBook headers/footers, scripts, "¶" anchors) is dropped."""

    SKIPPED_TAGS = {"script", "style", "head", "nav", "footer", "header"}
    SKIPPED_CLASSES = {"sphinxsidebar", "related", "footer", "navheader", "navfooter", "headerlink", "toc"}
    BLOCK_TAGS = {"p", "div", "br", "li", "ul", "ol", "dl", "dt", "dd", "tr", "table", "pre", "blockquote",
                  "h1", "h2", "h3", "h4", "h5", "h6", "section", "hr", "title"}
    VOID_TAGS = {"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base", "source"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.skip_depth = 0  # >0 while inside a dropped element (counts nested open tags)
        self.pre_depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID_TAGS:
            if tag in {"br", "hr"} and not self.skip_depth:
                self.pieces.append("\n")
            return
        classes = set((dict(attrs).get("class") or "").split())
        if self.skip_depth or tag in self.SKIPPED_TAGS or classes & self.SKIPPED_CLASSES:
            self.skip_depth += 1
            return
        if tag == "pre":
            self.pre_depth += 1
        if tag in self.BLOCK_TAGS:
            self.pieces.append("\n\n" if tag in {"p", "pre", "h1", "h2", "h3", "h4", "table"} else "\n")
            if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
                self.pieces.append("#" * int(tag[1]) + " ")

    def handle_endtag(self, tag):
        if tag in self.VOID_TAGS:
            return
        if self.skip_depth:
            self.skip_depth -= 1
            return
        if tag == "pre":
            self.pre_depth = max(0, self.pre_depth - 1)
        if tag in self.BLOCK_TAGS:
            self.pieces.append("\n")

    def handle_data(self, data):
        if self.skip_depth:
            return
        self.pieces.append(data if self.pre_depth else re.sub(r"\s+", " ", data))

    def text(self) -> str:
        # Outside <pre> whitespace was collapsed, so an indent of 4+ spaces can only be preformatted.
        lines = [line.strip() if not line.startswith("    ") else line.rstrip()
                 for line in "".join(self.pieces).split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def html_to_text(html: str) -> str:
    parser = _HtmlToText()
    parser.feed(html)
    parser.close()
    return parser.text()


_ROFF_ESCAPES = [
    (re.compile(r"\\f(\[[^\]]*\]|\(..|.)"), ""),  # font changes
    (re.compile(r"\\s[+-]?\d"), ""),  # size changes
    (re.compile(r"\\\(em|\\\[em\]"), "\u2014"),
    (re.compile(r"\\\(en|\\\[en\]"), "\u2013"),
    (re.compile(r"\\\((lq|rq|dq)|\\\[(lq|rq|dq)\]"), '"'),
    (re.compile(r"\\\((oq|cq)|\\\[(oq|cq)\]"), "'"),
    (re.compile(r"\\\(bu|\\\[bu\]"), "\u2022"),
    (re.compile(r"\\\((co|rg|tm)|\\\[(co|rg|tm)\]"), ""),
    (re.compile(r"\\\*(\(..|\[[^\]]*\]|.)"), ""),  # string registers
    (re.compile(r"\\[&|^%:)]"), ""),
    (re.compile(r"\\[-]"), "-"),
    (re.compile(r"\\e|\\\\"), "\\\\"),
    (re.compile(r"\\ "), " "),
    (re.compile(r'\\".*$'), ""),  # trailing comment
]
_ROFF_TEXT_MACROS = {"SH", "SS", "TP", "IP", "B", "I", "BR", "IR", "RB", "RI", "BI", "IB", "SM", "SB", "UR", "MT",
                     "Nm", "Nd", "Sh", "Ss", "It", "Fn", "Fa", "Ft", "Ar", "Fl", "Pa", "Xr", "Em", "Dq", "Ql", "Sy"}


def _roff_escapes(line: str) -> str:
    for pattern, replacement in _ROFF_ESCAPES:
        line = pattern.sub(replacement, line)
    return line


def roff_to_text(roff: str) -> str:
    """Readable text of a man page: requests are dropped except those that carry words (headings,
    bold/italic runs, list tags), and escapes are replaced or removed. Not a renderer, but good
    enough for language-model text; `.so` include stubs come out empty and are skipped."""
    out: list[str] = []
    in_table_format = False  # tbl's column-format lines (after .TS or .T&, up to one ending in ".")
    for line in roff.splitlines():
        if in_table_format:
            in_table_format = not line.rstrip().endswith(".")
            continue
        if line.startswith((".", "'")):
            if line[1:].strip() in {"TS", "T&"}:
                in_table_format = True
                continue
            name, _, rest = line[1:].strip().partition(" ")
            if name in {"SH", "Sh"}:
                out.append("\n" + _roff_escapes(rest).strip('"').upper())
            elif name in {"SS", "Ss"}:
                out.append("\n" + _roff_escapes(rest).strip('"'))
            elif name in {"PP", "LP", "P", "sp", "Pp"}:
                out.append("")
            elif name in _ROFF_TEXT_MACROS and rest:
                words = re.findall(r'"[^"]*"|\S+', rest)
                joiner = "" if len(name) == 2 and name.isupper() and name not in {"SH", "SS", "TP", "IP"} else " "
                out.append(_roff_escapes(joiner.join(w.strip('"') for w in words)))
            continue
        out.append(_roff_escapes(line))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()
