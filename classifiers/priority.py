"""Urgency from danger words, with a reason a staff member can read."""

from __future__ import annotations

from classifiers.text import contains_phrase, fold

DANGERS = {
    "live wire": ["cable suelto", "cables sueltos", "cable pelado", "cables pelados", "live wire", "exposed wire", "downed wire", "fil dénudé", "fils dénudés", "câble arraché"],
    "gas smell": ["huele a gas", "olor a gas", "fuga de gas", "gas leak", "smell of gas", "smells like gas", "odeur de gaz", "fuite de gaz"],
    "fallen tree": ["árbol caído", "arbol caido", "se ha caído un árbol", "fallen tree", "tree fell", "tree down", "arbre tombé", "arbre couché"],
    "flooding": ["inundación", "inundado", "inundada", "flooding", "flooded", "inondation", "inondé", "inondée"],
    "open manhole": ["alcantarilla abierta", "tapa de alcantarilla", "sin tapa", "open manhole", "missing manhole cover", "bouche d'égout ouverte", "plaque d'égout"],
    "child at risk": ["niño en peligro", "niños en peligro", "child in danger", "kids in danger", "enfant en danger"],
    "danger": ["peligro", "peligroso", "peligrosa", "danger", "dangerous", "dangereux", "dangereuse", "urgente", "urgent", "emergency", "emergencia"],
}


def assess_priority(text: str) -> tuple[str, str | None]:
    """("urgent", reason) when a danger is named, else ("normal", None)."""
    folded = fold(text)
    for reason, phrases in DANGERS.items():
        hit = next((p for p in phrases if contains_phrase(folded, p)), None)
        if hit:
            return ("urgent" if reason != "danger" else "high", f"{reason}: '{hit}'")
    return "normal", None
