"""Place extraction from free text: street + number patterns in es/en/fr.

Platform coordinates, when present, win over anything found here (the pipeline decides).
"""

from __future__ import annotations

import re

from classifiers.base import Location

_NAME = r"(?:(?:de|del|la|las|los|el|du|des|le|les|of|the)\s+)*[A-ZÁÉÍÓÚÑÇÈÊÀ0-9][\wáéíóúñçèêàüï'.-]*(?:\s+(?:(?:de|del|la|las|los|el|du|des|le|les)\s+)*[A-ZÁÉÍÓÚÑÇÈÊÀ][\wáéíóúñçèêàüï'.-]*){0,3}"
_NUMBER = r"(?:,?\s*(?:n[º°o]\.?\s*)?\d{1,4}[a-zA-Z]?\b)?"
_PREFIX = (
    r"(?:calle|c/|c\.|avda\.?|avenida|av\.|plaza|pza\.?|paseo|camino|carretera|ctra\.?|callej[oó]n|glorieta|barrio|"
    r"rue|avenue|bd|boulevard|place|chemin|impasse|all[ée]e|quai)"
)
_PREFIXED = re.compile(rf"(?i:\b{_PREFIX})\s*{_NAME}{_NUMBER}")
_EN_SUFFIXED = re.compile(rf"\b(?:\d{{1,5}}\s+)?{_NAME}\s+(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Boulevard|Blvd|Drive|Dr|Place|Pl)\b\.?(?:\s+(?:and|&)\s+{_NAME}\s+(?:Street|St|Avenue|Ave|Road|Rd))?")
_LANDMARK = re.compile(
    r"(?i:\b(?:frente al?|junto al?|delante del?|cerca del?|en la puerta del?|in front of|next to|opposite|near|"
    r"en face d[eu]|devant l[ae']?|près d[eu]))(?:\s+|(?<=')\s*)(?i:la |el |los |las |the |le |l')?"
    r"[\wáéíóúñçèêà'-]+(?:\s+[A-ZÁÉÍÓÚÑ][\wáéíóúñ'-]+){0,2}"
)


def without_places(text: str) -> str:
    """`text` with its street names and house numbers blanked out ("pothole on Elm St" → "pothole on ").

    A street's name says nothing about what is wrong there, so the text classifier should not
    learn from it. A name at the very start without a number is kept: "Broken Street Light" is a
    title, not a place.
    """
    def blank(match: re.Match) -> str:
        if match.start() == 0 and not any(c.isdigit() for c in match.group(0)):
            return match.group(0)
        return " "
    return _EN_SUFFIXED.sub(blank, _PREFIXED.sub(blank, text))


def extract_location(text: str) -> Location | None:
    """The first place named in `text`, or None."""
    for pattern in (_PREFIXED, _EN_SUFFIXED, _LANDMARK):
        match = pattern.search(text)
        if match:
            return Location(text=match.group(0).strip(" ,."))
    return None


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
        for number, street in enumerate(streets):
            key = f"street{number}"
            self.names[key] = street
            variants = {fold(street)}
            first, _, rest = fold(street).partition(" ")
            for short in ABBREVIATIONS.get(first, []):
                variants.add(f"{short} {rest}")
            self.matcher.add(key, [self.nlp.make_doc(v) for v in variants])

    def find(self, text: str) -> Location | None:
        return self.find_folded(self._fold(text))

    def find_folded(self, folded: str) -> Location | None:
        """`find` for a text already passed through `classifiers.text.fold`."""
        doc = self.nlp.make_doc(folded)
        matches = sorted(self.matcher(doc), key=lambda m: (m[1], -(m[2] - m[1])))
        if not matches:
            return None
        match_id, start, end = matches[0]
        name = self.names[self.nlp.vocab.strings[match_id]]
        number = _HOUSE_NUMBER.match(folded, doc[end - 1].idx + len(doc[end - 1].text))
        return Location(text=f"{name} {number.group(1)}" if number else name)
