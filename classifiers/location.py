"""Place extraction from free text: street + number patterns in es/en/fr.

Platform coordinates, when present, win over anything found here (the pipeline decides).
"""

from __future__ import annotations

import re
from typing import Iterator

from classifiers.base import Location
from classifiers.text import RUN

_NAME = r"(?:(?:de|del|la|las|los|el|du|des|le|les|of|the)\s+)*[A-ZÁÉÍÓÚÑÇÈÊÀ0-9][\wáéíóúñçèêàüï'.-]*(?:\s+(?:(?:de|del|la|las|los|el|du|des|le|les)\s+)*[A-ZÁÉÍÓÚÑÇÈÊÀ][\wáéíóúñçèêàüï'.-]*){0,3}"
_NUMBER = r"(?:,?\s*(?:n[º°o]\.?\s*)?\d{1,4}[a-zA-Z]?\b)?"
_PREFIX = (
    r"(?:calle|c/|c\.|avda\.?|avenida|av\.|plaza|pza\.?|paseo|camino|carretera|ctra\.?|callej[oó]n|glorieta|barrio|"
    r"rue|avenue|bd|boulevard|place|chemin|impasse|all[ée]e|quai)"
)
_PREFIXED = re.compile(rf"(?i:\b{_PREFIX})\s*{_NAME}{_NUMBER}")
_EN_SUFFIXED = re.compile(rf"\b(?:\d{{1,5}}\s+)?{_NAME}\s+(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Boulevard|Blvd|Drive|Dr|Place|Pl)\b\.?(?:\s+(?:and|&)\s+{_NAME}\s+(?:Street|St|Avenue|Ave|Road|Rd))?")
_LANDMARK_WORDS = (r"(?:frente al?|junto al?|delante del?|cerca del?|en la puerta del?|in front of|next to|opposite|near|"
                   r"en face d[eu]|devant l[ae']?|près d[eu])")
_LANDMARK = re.compile(
    rf"(?i:\b{_LANDMARK_WORDS})(?:\s+|(?<=')\s*)(?i:la |el |los |las |the |le |l')?"
    r"[\wáéíóúñçèêà'-]+(?:\s+[A-ZÁÉÍÓÚÑ][\wáéíóúñ'-]+){0,2}"
)


# Case-insensitive search costs about 12 microseconds a post, a case-sensitive search of the
# lower-cased text for where a match could start about 4; the full pattern is then tried only
# there. That equals the pattern's own search unless lower() changes the text's length or the
# text has one of the three letters Python's case-insensitive matching equates with another
# ASCII letter (ı and İ with i, ſ with s), and then the pattern's own search runs.
_PREFIXED_STARTS = re.compile(rf"\b{_PREFIX}")
_LANDMARK_STARTS = re.compile(rf"\b{_LANDMARK_WORDS}")
_ODD_CASES = frozenset("ıİſ")
# _EN_SUFFIXED (case-sensitive) can match only where one of these occurs.
_SUFFIX_CLUES = ("St", "Ave", "Road", "Rd", "Lane", "Ln", "Boulevard", "Blvd", "Dr", "Pl")


def _finditer(pattern: re.Pattern, starts: re.Pattern, text: str, lowered: str) -> Iterator[re.Match]:
    """`pattern.finditer(text)` for a case-insensitive `pattern` whose matches begin where
    `starts` matches in `lowered` (`text.lower()`)."""
    if len(lowered) != len(text) or (not text.isascii() and not _ODD_CASES.isdisjoint(text)):
        yield from pattern.finditer(text)
        return
    position = 0
    while (start := starts.search(lowered, position)) is not None:
        match = pattern.match(text, start.start())
        if match is None:
            position = start.start() + 1
            continue
        yield match
        position = max(match.end(), match.start() + 1)


def scan_places(text: str) -> tuple[str, Location | None]:
    """(`without_places(text)`, `extract_location(text)`), each pattern run once for both: the
    prefixed streets, then the English suffixed ones, blanked in turn; the place is the first
    match of the first of those patterns (or of the landmarks) that has one."""
    pieces, end, first = [], 0, None
    lowered = text.lower()
    for match in _finditer(_PREFIXED, _PREFIXED_STARTS, text, lowered):
        first = first or match
        pieces += [text[end:match.start()], _blank(match)]
        end = match.end()
    blanked = "".join(pieces) + text[end:] if pieces else text
    pieces, end = [], 0
    suffixed = _EN_SUFFIXED.finditer(blanked) if any(clue in blanked for clue in _SUFFIX_CLUES) else ()
    for match in suffixed:
        # With no street prefix the blanked text is the text itself, so this is its first match.
        first = first or match
        pieces += [blanked[end:match.start()], _blank(match)]
        end = match.end()
    if pieces:
        blanked = "".join(pieces) + blanked[end:]
    if first is None:
        first = next(_finditer(_LANDMARK, _LANDMARK_STARTS, text, lowered), None)
    return blanked, Location(text=first.group(0).strip(" ,.")) if first else None


def _blank(match: re.Match) -> str:
    if match.start() == 0 and not any(c.isdigit() for c in match.group(0)):
        return match.group(0)
    return " "


def without_places(text: str) -> str:
    """`text` with its street names and house numbers blanked out ("pothole on Elm St" → "pothole on ").

    A street's name says nothing about what is wrong there, so the text classifier should not
    learn from it. A name at the very start without a number is kept: "Broken Street Light" is a
    title, not a place.
    """
    return scan_places(text)[0]


def extract_location(text: str) -> Location | None:
    """The first place named in `text`, or None."""
    return scan_places(text)[1]


ABBREVIATIONS = {"calle": ["c/", "c.", "cl"], "avenida": ["avda", "avda.", "av.", "av"], "plaza": ["pza", "pza.", "pl."],
                 "paseo": ["pº", "po."], "carretera": ["ctra", "ctra."], "rue": ["r."], "avenue": ["av.", "ave"], "street": ["st", "st."]}
_HOUSE_NUMBER = re.compile(r"\s*,?\s*(?:n[º°o]\.?\s*|no\.?\s*|number\s+)?(\d{1,4}[a-z]?)\b")


class Gazetteer:
    """The city's own street names, matched with spaCy's PhraseMatcher, ignoring case and accents.

    Abbreviated forms ("c/ Real", "avda. de Andalucía") match too; a house number right after
    the name is kept. The canonical name from the config is returned.
    """

    def __init__(self, streets: list[str]) -> None:
        import spacy
        from spacy.matcher import PhraseMatcher

        from classifiers.text import fold

        self._fold = fold
        self.nlp = spacy.blank("xx")
        self.nlp.tokenizer.max_cache_size = 100_000  # 10,000 by default: fewer than the words of a city's posts
        self.matcher = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self.names: dict[str, str] = {}
        # A street can match only if the longest word of its name is a word of the post; most
        # posts name none, and a set test is far cheaper than tokenizing the post.
        clues: set[str] = set()
        for number, street in enumerate(streets):
            key = f"street{number}"
            self.names[key] = street
            variants = {fold(street)}
            first, _, rest = fold(street).partition(" ")
            for short in ABBREVIATIONS.get(first, []):
                variants.add(f"{short} {rest}")
            self.matcher.add(key, [self.nlp.make_doc(v) for v in variants])
            words = RUN.findall(rest or first) or RUN.findall(fold(street))
            # the longest, the last of equals ("del rio": "rio"); a name in another script has none
            clues.add(max(reversed(words), key=len) if words else None)
        self._clues = frozenset(clues) if None not in clues else None

    def find(self, text: str) -> Location | None:
        return self.find_folded(self._fold(text))

    def find_folded(self, folded: str, runs: list[str] | None = None) -> Location | None:
        """`find` for a text already passed through `classifiers.text.fold`; `runs`, if given, is
        `classifiers.text.RUN.findall(folded)`."""
        if self._clues is not None and self._clues.isdisjoint(RUN.findall(folded) if runs is None else runs):
            return None
        doc = self.nlp.make_doc(folded)
        matches = sorted(self.matcher(doc), key=lambda m: (m[1], -(m[2] - m[1])))
        if not matches:
            return None
        match_id, start, end = matches[0]
        name = self.names[self.nlp.vocab.strings[match_id]]
        number = _HOUSE_NUMBER.match(folded, doc[end - 1].idx + len(doc[end - 1].text))
        return Location(text=f"{name} {number.group(1)}" if number else name)
