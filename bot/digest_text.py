"""Digest wording in es, en and fr (like bot/i18n.py: the words live in code, not in config).

`render_digest` and `render_staff_digest` turn the figures of bot/digest_stats into short
lines. They only ever print what the figures hold, which carry no citizen data.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_interval
from babel.numbers import format_percent

WORDS: dict[str, dict[str, str]] = {
    "es": {
        "daily": "{city} · Resumen del día, {when}", "weekly": "{city} · Resumen de la semana, {when}",
        "received": "Avisos recibidos: {n}", "resolved": "Resueltos: {n}",
        "within": "Dentro del plazo prometido: {n} de {of} ({share})",
        "confirmed": "Confirmados por los vecinos como arreglados: {n}",
        "open": "Pendientes ahora: {n}", "overdue": " ({n} fuera de plazo)",
        "median": "Tiempo de resolución (mediana):", "oldest": "Los pendientes más antiguos:",
        "days": "{n} días", "day": "1 día", "under_a_day": "menos de un día", "hours": "{n} h",
        "unclassified": "sin clasificar", "received_axis": "recibidos", "resolved_axis": "resueltos",
        "staff_hello": "Buenos días, {name}. Tu cola: {n} abiertas, {late} fuera de plazo.",
        "staff_due": "vence {due}", "staff_no_due": "sin fecha", "staff_late": "FUERA DE PLAZO",
        "staff_more": "… y {n} más (citybot tickets list --assignee {name})", "colon": ": ",
    },
    "en": {
        "daily": "{city} · Daily summary, {when}", "weekly": "{city} · Weekly summary, {when}",
        "received": "Reports received: {n}", "resolved": "Resolved: {n}",
        "within": "Within the promised time: {n} of {of} ({share})",
        "confirmed": "Confirmed fixed by residents: {n}",
        "open": "Open now: {n}", "overdue": " ({n} overdue)",
        "median": "Time to resolve (median):", "oldest": "Oldest open items:",
        "days": "{n} days", "day": "1 day", "under_a_day": "under a day", "hours": "{n} h",
        "unclassified": "unclassified", "received_axis": "received", "resolved_axis": "resolved",
        "staff_hello": "Good morning, {name}. Your queue: {n} open, {late} overdue.",
        "staff_due": "due {due}", "staff_no_due": "no due date", "staff_late": "OVERDUE",
        "staff_more": "… and {n} more (citybot tickets list --assignee {name})", "colon": ": ",
    },
    "fr": {
        "daily": "{city} · Bilan du jour, {when}", "weekly": "{city} · Bilan de la semaine, {when}",
        "received": "Signalements reçus : {n}", "resolved": "Résolus : {n}",
        "within": "Dans le délai promis : {n} sur {of} ({share})",
        "confirmed": "Confirmés réparés par les habitants : {n}",
        "open": "En attente : {n}", "overdue": " (dont {n} en retard)",
        "median": "Délai de résolution (médiane) :", "oldest": "Les plus anciens en attente :",
        "days": "{n} jours", "day": "1 jour", "under_a_day": "moins d'un jour", "hours": "{n} h",
        "unclassified": "non classé", "received_axis": "reçus", "resolved_axis": "résolus",
        "staff_hello": "Bonjour {name}. Votre file : {n} ouverts, {late} en retard.",
        "staff_due": "échéance {due}", "staff_no_due": "sans échéance", "staff_late": "EN RETARD",
        "staff_more": "… et {n} de plus (citybot tickets list --assignee {name})", "colon": " : ",
    },
}
THIN_SPACES = {0x2009: " ", 0x202F: " "}  # babel's thin spaces, plain on every platform
STAFF_MAX_ITEMS = 25  # a longer queue is summarised by a count


def words(lang: str) -> dict[str, str]:
    return WORDS.get(lang, WORDS["en"])


def category_label(code: str | None, lang: str, names: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """The category's name in `lang` (from the config's `names`), else its code in plain words."""
    if code is None:
        return words(lang)["unclassified"]
    localized = (names or {}).get(code) or {}
    return localized.get(lang) or next(iter(localized.values()), None) or code.replace("_", " ")


def _duration(hours: float, lang: str) -> str:
    w = words(lang)
    if hours < 48:
        return w["hours"].format(n=_number(hours))
    return w["days"].format(n=_number(hours / 24))


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _age(days: int, lang: str) -> str:
    w = words(lang)
    if days < 2:
        return w["under_a_day"] if days < 1 else w["day"]
    return w["days"].format(n=days)


def period_label(numbers: Mapping[str, Any], lang: str, kind: str) -> str:
    """"lunes, 23 de noviembre de 2026" for a day; "16–22 nov 2026" for a week."""
    start, end = date.fromisoformat(numbers["from"]), date.fromisoformat(numbers["to"])
    if kind == "weekly":
        label = format_interval(start, end, "yMMMd", locale=lang)
    else:
        label = format_date(start, "full", locale=lang)
    return label.translate(THIN_SPACES)


def render_digest(numbers: Mapping[str, Any], lang: str, city_name: str, kind: str,
                  names: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """The public digest for `numbers` (see digest_numbers) in `lang`; one short line per figure."""
    w = words(lang)
    lines = [w[kind if kind == "weekly" else "daily"].format(city=city_name, when=period_label(numbers, lang, kind)),
             w["received"].format(n=numbers["received"]),
             w["resolved"].format(n=numbers["resolved"])]
    share = numbers.get("within_promise_share")
    if share is not None:
        lines.append(w["within"].format(n=numbers["within_promise"], of=numbers["promised"], share=format_percent(share, locale=lang)))
    if numbers.get("confirmed_fixed"):
        lines.append(w["confirmed"].format(n=numbers["confirmed_fixed"]))
    lines.append(w["open"].format(n=numbers["open"]) + (w["overdue"].format(n=numbers["overdue"]) if numbers.get("overdue") else ""))
    medians = [row for row in numbers["categories"] if row["median_hours_to_resolve"] is not None]
    if medians:
        lines.append(w["median"])
        lines += [f"· {category_label(row['category'], lang, names)}{w['colon']}{_duration(row['median_hours_to_resolve'], lang)}"
                  for row in medians]
    if numbers["oldest_open"]:
        lines.append(w["oldest"])
        for item in numbers["oldest_open"]:
            where = f", {item['place']}" if item.get("place") else ""
            lines.append(f"· {item['ref']} {category_label(item['category'], lang, names)}{where} ({_age(item['age_days'], lang)})")
    return "\n".join(lines)


def render_staff_digest(name: str, items: list[dict[str, Any]], lang: str, timezone: str,
                        names: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """A staff member's morning DM: their open queue, overdue items marked."""
    w = words(lang)
    late = sum(1 for item in items if item["overdue"])
    lines = [w["staff_hello"].format(name=name, n=len(items), late=late)]
    for item in items[:STAFF_MAX_ITEMS]:
        if item["due"]:
            due = format_datetime(datetime.fromisoformat(item["due"]).astimezone(ZoneInfo(timezone)), "EEE d/M HH:mm", locale=lang)
            when = w["staff_due"].format(due=due)
        else:
            when = w["staff_no_due"]
        where = f", {item['place']}" if item.get("place") else ""
        mark = f" · {w['staff_late']}" if item["overdue"] else ""
        lines.append(f"· {item['ref']} {category_label(item['category'], lang, names)}{where}{w['colon']}{when}{mark}")
    if len(items) > STAFF_MAX_ITEMS:
        lines.append(w["staff_more"].format(n=len(items) - STAFF_MAX_ITEMS, name=name))
    return "\n".join(lines)
