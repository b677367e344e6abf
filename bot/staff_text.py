"""Wording of what the bot tells staff (in the city's language) and of its staff-command replies.

`staff_text(key, lang, **fields)` fills one string; unknown languages fall back to English.
"""

from __future__ import annotations

STAFF_TEXT: dict[str, dict[str, str]] = {
    "es": {
        "assigned": "Nueva incidencia para usted: {ref} ({category}).",
        "reopened": "El ciudadano dice que {ref} ({category}) no está arreglada: la incidencia está reabierta.",
        "escalated": "Fuera de plazo: {ref} ({category}) vencía el {promised} y sigue {status}. Responsable: {assignee}.",
        "place": "Lugar: {place}",
        "report": "Aviso: «{text}»",
        "promised": "Fecha prevista: {promised}",
        "hint": "Comandos: /claim {ref} · /note {ref} texto · /resolve {ref} nota",
        "unassigned": "sin asignar",
        "done_resolve": "{ref} resuelta. Avisados: {recipients} ciudadano(s).",
        "done_claim": "{ref} es suya: en curso.",
        "done_note": "Nota añadida a {ref}.",
        "unknown_ref": "No existe la incidencia {ref}.",
        "failed": "No se pudo hacer /{command}: {error}",
        "usage": "Uso: /resolve REF nota · /note REF texto · /claim REF",
        "refused": "Lo sentimos, ese comando es solo para el personal del Ayuntamiento.",
    },
    "en": {
        "assigned": "New ticket for you: {ref} ({category}).",
        "reopened": "The citizen says {ref} ({category}) is not fixed: the ticket is reopened.",
        "escalated": "Overdue: {ref} ({category}) was due {promised} and is still {status}. Assignee: {assignee}.",
        "place": "Place: {place}",
        "report": "Report: “{text}”",
        "promised": "Due: {promised}",
        "hint": "Commands: /claim {ref} · /note {ref} text · /resolve {ref} note",
        "unassigned": "unassigned",
        "done_resolve": "{ref} resolved. Citizens notified: {recipients}.",
        "done_claim": "{ref} is yours: in progress.",
        "done_note": "Note added to {ref}.",
        "unknown_ref": "There is no ticket {ref}.",
        "failed": "Could not /{command}: {error}",
        "usage": "Usage: /resolve REF note · /note REF text · /claim REF",
        "refused": "Sorry, that command is for town hall staff only.",
    },
    "fr": {
        "assigned": "Nouveau ticket pour vous : {ref} ({category}).",
        "reopened": "Le citoyen dit que {ref} ({category}) n'est pas réparé : le ticket est rouvert.",
        "escalated": "En retard : {ref} ({category}) était prévu le {promised} et reste {status}. Responsable : {assignee}.",
        "place": "Lieu : {place}",
        "report": "Signalement : « {text} »",
        "promised": "Échéance : {promised}",
        "hint": "Commandes : /claim {ref} · /note {ref} texte · /resolve {ref} note",
        "unassigned": "non attribué",
        "done_resolve": "{ref} résolu. Citoyens prévenus : {recipients}.",
        "done_claim": "{ref} est à vous : en cours.",
        "done_note": "Note ajoutée à {ref}.",
        "unknown_ref": "Le ticket {ref} n'existe pas.",
        "failed": "Impossible de faire /{command} : {error}",
        "usage": "Usage : /resolve REF note · /note REF texte · /claim REF",
        "refused": "Désolés, cette commande est réservée au personnel de la mairie.",
    },
}


def staff_text(key: str, lang: str, **fields: object) -> str:
    """The string `key` in `lang` (English when the language is unknown), filled with `fields`."""
    return STAFF_TEXT.get(lang, STAFF_TEXT["en"])[key].format(**fields)
