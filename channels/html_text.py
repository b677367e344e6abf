"""HTML to plain text, for Mastodon status content (and any other HTML a platform sends).

`html_to_text(html)` keeps what a reader sees and nothing else:

- `<br>` is a line break; paragraphs and other blocks (`<p>`, `<div>`,
  `<blockquote>`, headings...) are separated by one blank line; list items and
  table rows start a new line;
- every tag is dropped and its text kept: Mastodon's mention
  `<span class="h-card"><a ...>@<span>ana</span></a></span>` becomes `@ana`, and
  a link's "invisible" URL parts are kept so URLs stay whole;
- `<script>`, `<style>`, `<template>` and `<noscript>` are dropped with their content;
- comments, declarations and a tag left unfinished at the end are dropped;
- entities are decoded exactly once (`&amp;lt;` becomes the text `&lt;`);
- whitespace is collapsed as a browser would (newlines in the source are
  spaces), lines are stripped, at most one blank line is kept, and control
  characters are removed.

The result is plain text. It may contain `<` or `&` where the author typed them
(decoded from entities), never a tag of the input. Stdlib only, linear time.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["html_to_text"]

# Content of these is never shown to a reader.
_HIDDEN = frozenset({"script", "style", "template", "noscript"})
# Blocks separated by a blank line.
_PARAGRAPH = frozenset({
    "p", "div", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol",
    "table", "section", "article", "header", "footer", "figure", "hr",
})
# Blocks that start a new line.
_LINE = frozenset({"li", "tr", "dt", "dd", "figcaption"})

# Break requests between text runs: a <br> adds a line break; blocks ask for at least one.
_BR, _NEW_LINE, _BLANK_LINE = 0, 1, 2
_UNFINISHED = re.compile(r"<[A-Za-z/!?]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t\r\n\f\v]+")


class _TextParser(HTMLParser):
    """Collects text runs and break requests (ints); drops hidden elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str | int] = []
        self.hidden = 0  # depth inside hidden elements
        self.pre = 0  # depth inside <pre>: line breaks kept

    def _block(self, tag: str) -> None:
        if tag == "br":
            self.parts.append(_BR)
        elif tag in _PARAGRAPH:
            self.parts.append(_BLANK_LINE)
        elif tag in _LINE:
            self.parts.append(_NEW_LINE)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif not self.hidden:
            self._block(tag)
            self.pre += tag == "pre"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HIDDEN:  # "<script/>" hides nothing
            self.handle_starttag(tag, attrs)
            self.pre -= tag == "pre"

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif not self.hidden:
            self._block(tag)  # "</br>" breaks in browsers too
            if tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        data = _CONTROL.sub("", data.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " "))
        if not self.pre:
            self.parts.append(_SPACES.sub(" ", data))
            return
        for index, line in enumerate(data.split("\n")):  # newlines survive _CONTROL
            if index:
                self.parts.append(_BR)
            self.parts.append(line)

    # Comments, <!DOCTYPE>, <![CDATA[...]]> and <?pi?> fall to the defaults, which drop them.

    def finish(self) -> list[str | int]:
        """Close the parser, first dropping a tag or comment cut off at the end.

        HTMLParser.close() would hand such a tail back as text; browsers drop it.
        """
        start = self.rawdata.find("<")
        if start >= 0 and _UNFINISHED.match(self.rawdata, start):
            self.rawdata = self.rawdata[:start]
        self.close()
        return self.parts


def _join(parts: list[str | int]) -> str:
    """Lay text runs out with the strongest break requested between them."""
    out: list[str] = []
    pending = 0
    for part in parts:
        if isinstance(part, int):
            pending = min(_BLANK_LINE, pending + 1 if part == _BR else max(pending, part))
            continue
        if not part.strip() and (pending or not out):
            continue  # whitespace at the start of a line
        if pending and out:
            out.append("\n" * pending)
        pending = 0
        out.append(part)
    lines = (re.sub(r" {2,}", " ", line).strip() for line in "".join(out).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> str:
    """The plain text a reader sees in `html` (see the module docstring); '' for ''."""
    if not html:
        return ""
    parser = _TextParser()
    parser.feed(str(html))
    return _join(parser.finish())
