"""Helpers of the review tests: parse a page, find its graph's nodes and edges."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HELPDESK = ROOT / "flows" / "helpdesk.flow.yaml"


class Element:
    """A start tag: its name and attributes."""

    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag = tag
        self.attrs = attrs
        self.text = ""

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def get(self, name: str) -> str | None:
        return self.attrs.get(name)


class Page(HTMLParser):
    """Every element of an HTML page, in document order, with its direct text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.elements.append(element)
        if tag not in ("link", "meta", "br", "img", "input", "path", "rect", "circle", "line"):
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index].tag == tag:
                del self._open[index:]
                return

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1].text += data

    def by_id(self, element_id: str) -> Element | None:
        return next((e for e in self.elements if e.get("id") == element_id), None)

    def select(self, tag: str | None = None, cls: str | None = None) -> list[Element]:
        return [
            e
            for e in self.elements
            if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)
        ]

    @property
    def nodes(self) -> dict[str, Element]:
        return {
            e.attrs["data-state"]: e for e in self.select("g", "node") if "data-state" in e.attrs
        }

    @property
    def edges(self) -> list[Element]:
        return self.select("g", "edge")


def state_line(lines: list[str], state: str) -> int:
    """The 1-based line of ``  state:`` under ``states:``."""
    start = lines.index("states:")
    return next(n for n, line in enumerate(lines, 1) if n > start and line == f"  {state}:")
