"""Urgency from danger words, with a reason a staff member can read."""

from __future__ import annotations

import re

from classifiers.text import RUN, fold

DANGERS = {
    "live wire": ["cable suelto", "cables sueltos", "cable pelado", "cables pelados", "live wire", "exposed wire", "downed wire", "fil dénudé", "fils dénudés", "câble arraché"],
    "gas smell": ["huele a gas", "olor a gas", "fuga de gas", "gas leak", "smell of gas", "smells like gas", "odeur de gaz", "fuite de gaz"],
    "fallen tree": ["árbol caído", "arbol caido", "se ha caído un árbol", "fallen tree", "tree fell", "tree down", "arbre tombé", "arbre couché"],
    "flooding": ["inundación", "inundado", "inundada", "flooding", "flooded", "inondation", "inondé", "inondée"],
    "open manhole": ["alcantarilla abierta", "tapa de alcantarilla", "sin tapa", "open manhole", "missing manhole cover", "bouche d'égout ouverte", "plaque d'égout"],
    "child at risk": ["niño en peligro", "niños en peligro", "child in danger", "kids in danger", "enfant en danger"],
    "danger": ["peligro", "peligroso", "peligrosa", "danger", "dangerous", "dangereux", "dangereuse", "urgente", "urgent", "emergency", "emergencia"],
}


_PATTERNS = {
    reason: re.compile("|".join(rf"(?<![a-z0-9ñ]){re.escape(fold(p))}(?![a-z0-9ñ])" for p in phrases))
    for reason, phrases in DANGERS.items()
}
# A phrase matches only as whole words, so a post can match only if it has, as a word, the
# longest word of some phrase. Most posts name no danger, and seven regex scans cost 0.07 ms.
_CLUE_WORDS = frozenset(max(RUN.findall(fold(p)), key=len) for phrases in DANGERS.values() for p in phrases)


def assess_priority(text: str) -> tuple[str, str | None]:
    """("urgent", reason) when a danger is named ("high" for a bare "danger"), else ("normal", None)."""
    return assess_priority_folded(fold(text))


def assess_priority_folded(folded: str, runs: list[str] | None = None) -> tuple[str, str | None]:
    """`assess_priority` of a text already passed through `fold`; `runs`, if given, is
    `RUN.findall(folded)`."""
    if _CLUE_WORDS.isdisjoint(RUN.findall(folded) if runs is None else runs):
        return "normal", None
    for reason, pattern in _PATTERNS.items():
        match = pattern.search(folded)
        if match:
            hit = next(p for p in DANGERS[reason] if fold(p) == match.group(0))
            return ("urgent" if reason != "danger" else "high", f"{reason}: '{hit}'")
    return "normal", None
