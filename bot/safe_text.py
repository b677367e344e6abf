"""Citizen text made safe for a staff terminal: nothing in it is ever interpreted.

Control characters (C0 except newline and tab, DEL, C1 — which covers ESC-based ANSI
and OSC-8 link sequences) and bidirectional overrides are shown as visible `\\xNN` /
`\\u202e` escapes instead of being passed to the terminal.
"""

from __future__ import annotations

import re

_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def neutralize(text: str | None, single_line: bool = False) -> str:
    """`text` with every terminal-interpreted character replaced by a visible escape."""
    if text is None:
        return ""
    text = _UNSAFE.sub(_escape, text)
    if single_line:
        text = text.replace("\r", " ").replace("\n", " ⏎ ").replace("\t", " ")
    return text
