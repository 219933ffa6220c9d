"""The Markdown preview shows cell text as it is, checked with a real CommonMark + GFM-table renderer."""

from __future__ import annotations

from html.parser import HTMLParser

import pyarrow as pa
from markdown_it import MarkdownIt

from datasets_pipeline.steps.preview import MAX_CELL, markdown_preview


class _Cells(HTMLParser):
    """Text of every ``<th>``/``<td>`` per row, and every other tag seen inside cells."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.tags: set[str] = set()
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif self._cell is not None:
            self.tags.add(tag)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def rendered_cells(markdown: str) -> tuple[list[list[str]], set[str]]:
    html = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)
    parser = _Cells()
    parser.feed(html)
    return parser.rows, parser.tags


TEXTS = [
    "3*3=<<3*3=9>>9",
    "snake_case_name and __dunder__",
    "a | b || c",
    "`code` and ``double``",
    "line one\nline two\r\nline three",
    "back\\slash \\| \\*",
    "[link](http://example.com) <b>bold</b> &amp; # not a heading",
    "~~struck~~ ![img](x.png) 1. not a list",
]


def test_cells_render_as_their_text():
    table = pa.table({"text": TEXTS, "n*_|": list(range(len(TEXTS)))})
    rows, tags = rendered_cells(markdown_preview(table, rows=len(TEXTS)))
    assert rows[0] == ["text", "n*_|"]
    assert [r[0] for r in rows[1:]] == [t.replace("\r\n", "⏎").replace("\n", "⏎") for t in TEXTS]
    assert [r[1] for r in rows[1:]] == [str(i) for i in range(len(TEXTS))]
    assert tags == set()  # no <em>, <code>, <a>, <b>, <s> … inside cells


def test_long_cells_are_cut_before_escaping():
    text = "*" * 200
    rows, _ = rendered_cells(markdown_preview(pa.table({"t": [text, "x|" * 100]})))
    assert rows[1] == ["*" * (MAX_CELL - 1) + "…"]
    assert rows[2] == [("x|" * 100)[: MAX_CELL - 1] + "…"]


def test_nested_values_and_bytes():
    table = pa.table({"m": [[{"role": "user", "content": "2*3_4"}]], "b": [b"\x00\x01\x02"]})
    rows, _ = rendered_cells(markdown_preview(table))
    assert rows[1] == ['[{"role": "user", "content": "2*3_4"}]', "<3 bytes>"]
