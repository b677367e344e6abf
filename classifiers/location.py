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


def extract_location(text: str) -> Location | None:
    """The first place named in `text`, or None."""
    for pattern in (_PREFIXED, _EN_SUFFIXED, _LANDMARK):
        match = pattern.search(text)
        if match:
            return Location(text=match.group(0).strip(" ,."))
    return None
