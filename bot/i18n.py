"""Citizen-facing wording that is not a config template: status names, close reasons, dates."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

STATUS_NAMES = {
    "es": {"new": "recibida", "triage": "en revisión", "open": "abierta", "in_progress": "en curso", "resolved": "resuelta", "closed": "cerrada"},
    "en": {"new": "received", "triage": "under review", "open": "open", "in_progress": "in progress", "resolved": "resolved", "closed": "closed"},
    "fr": {"new": "reçu", "triage": "en cours d'examen", "open": "ouvert", "in_progress": "en cours", "resolved": "résolu", "closed": "clôturé"},
}

CLOSE_REASONS = {
    "es": {"duplicate": "es un duplicado de {of}", "not_ours": "no es competencia del Ayuntamiento", "invalid": "no hemos podido confirmar el problema"},
    "en": {"duplicate": "it duplicates {of}", "not_ours": "it is not a town hall matter", "invalid": "we could not confirm the problem"},
    "fr": {"duplicate": "il fait doublon avec {of}", "not_ours": "cela ne relève pas de la mairie", "invalid": "nous n'avons pas pu confirmer le problème"},
}

# Office-hours promises, so the time stays: "jueves 26 de noviembre, 10:00", "Thursday 26 November at 10:00",
# "jeudi 26 novembre à 10h00".
DATE_PATTERNS = {"es": "EEEE d 'de' MMMM, HH:mm", "en": "EEEE d MMMM 'at' HH:mm", "fr": "EEEE d MMMM 'à' HH'h'mm"}


def status_name(status: str, lang: str) -> str:
    return STATUS_NAMES.get(lang, STATUS_NAMES["en"]).get(status, status)


def close_reason(reason: str, lang: str, of: str | None = None) -> str:
    return CLOSE_REASONS.get(lang, CLOSE_REASONS["en"])[reason].format(of=of or "")


def promised_date(when: datetime | None, lang: str, timezone: str) -> str:
    """`when` in the city's time zone, spelled out in `lang` ("jueves 3 de diciembre, 18:00")."""
    if when is None:
        return "—"
    pattern = DATE_PATTERNS.get(lang, DATE_PATTERNS["en"])
    return format_datetime(when.astimezone(ZoneInfo(timezone)), pattern, locale=lang)
