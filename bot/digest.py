"""Public and staff digests, idempotent per period.

Each digest is one DigestRun row (kind, period, target) plus its outbox row, written in one
transaction. The unique key on DigestRun is the guard: a second run in the same period, or a
second process racing this one, hits IntegrityError and skips that target. Figures come from
bot/digest_stats, wording from bot/digest_text, the chart from bot/digest_chart.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.clock import Clock
from bot.config import Config
from bot.db import transaction
from bot.digest_chart import chart_path, chart_png
from bot.digest_stats import digest_numbers, period_for, scrub_place, staff_queue
from bot.digest_text import category_label, period_label, render_digest, render_staff_digest, words
from bot.models import DigestRun, Staff
from bot.tickets import queue_public_post, queue_staff_dm, staff_handle

__all__ = ["period_for", "digest_numbers", "render_digest", "chart_png", "scrub_place", "public_targets",
           "period_numbers", "post_public_digest", "send_staff_digests", "staff_digest_preview"]

log = logging.getLogger(__name__)
PUBLIC_KINDS = ("daily", "weekly")


def category_names(cfg: Config) -> dict[str, dict[str, str]]:
    return {c.code: dict(c.names) for c in cfg.categories}


def public_targets(cfg: Config, channels: Iterable[str] | None = None) -> dict[str, str]:
    """{channel: target} for public posts: every enabled channel, Telegram only with `digest_chat`.

    Given `channels`, exactly those; ValueError names one that cannot take a public digest.
    """
    enabled = cfg.enabled_channels()
    targets = {}
    for name in channels if channels is not None else enabled:
        if name not in enabled:
            raise ValueError(f"channels.{name}: not an enabled channel (enabled: {', '.join(enabled) or 'none'})")
        if name == "telegram":
            chat = cfg.channels["telegram"].digest_chat
            if not chat:
                if channels is not None:
                    raise ValueError("channels.telegram.digest_chat: is not set, so Telegram gets no public digest")
                continue
            targets[name] = chat
        else:
            targets[name] = ""
    return targets


def period_numbers(session: Session, cfg: Config, kind: str, now: datetime) -> dict[str, Any]:
    """The digest figures of the `kind` period around `now`, headed by kind and period key."""
    if kind not in PUBLIC_KINDS:
        raise ValueError(f"'{kind}' is not a public digest period (use one of: {', '.join(PUBLIC_KINDS)})")
    key, start, end = period_for(kind, now, cfg.city.timezone)
    return {"kind": kind, "period": key, **digest_numbers(session, cfg, start, end, now)}


def channel_language(cfg: Config, channel: str) -> str:
    return cfg.channels[channel].language or cfg.city.language


def post_public_digest(engine: Engine, cfg: Config, clock: Clock, kind: str, channels: Iterable[str] | None = None) -> list[str]:
    """Queue the `kind` digest (daily|weekly) on each channel not yet served this period; return those channels.

    One transaction per channel: the DigestRun row and the public outbox row, with the chart as
    media (adapters that cannot post media drop it). Running it twice in a period queues once.
    """
    now = clock.now()
    targets = public_targets(cfg, channels)
    with transaction(engine) as session:
        numbers = period_numbers(session, cfg, kind, now)
        done = set(session.exec(select(DigestRun.target).where(DigestRun.kind == kind, DigestRun.period == numbers["period"])).all())
    pending = {name: target for name, target in targets.items() if name not in done}
    if not pending:
        return []
    names = category_names(cfg)
    city_words = words(cfg.city.language)
    chart = chart_png(numbers, chart_path(cfg.base_dir, kind, numbers["period"]),
                      labels={code: category_label(code, cfg.city.language, names) for code in [*names, None]},
                      legend=(city_words["received_axis"], city_words["resolved_axis"]),
                      title=f"{cfg.city.name} · {period_label(numbers, cfg.city.language, kind)}")
    queued = []
    for name, target in pending.items():
        text = render_digest(numbers, channel_language(cfg, name), cfg.city.name, kind, names)
        try:
            with transaction(engine) as session:
                session.add(DigestRun(kind=kind, period=numbers["period"], target=name, created_at=now, data=numbers))
                session.flush()  # the unique key decides here, before anything is queued
                queue_public_post(session, clock, name, text, f"digest_{kind}", target=target, media=[str(chart)])
        except IntegrityError:
            log.info("digest %s %s on %s: already posted", kind, numbers["period"], name)
            continue
        queued.append(name)
    return queued


def staff_digest_preview(engine: Engine, cfg: Config, clock: Clock) -> list[dict[str, Any]]:
    """Every active staff member's queue and where their digest would go (`channel` null: nowhere)."""
    now = clock.now()
    with transaction(engine) as session:
        active = session.exec(select(Staff.name).where(Staff.active).order_by(Staff.name)).all()
        rows = []
        for name in active:
            items = staff_queue(session, cfg, name, now)
            reach = staff_handle(cfg, name)
            rows.append({"staff": name, "channel": reach[0] if reach else None, "open": len(items),
                         "overdue": sum(1 for item in items if item["overdue"]), "items": items})
    return rows


def send_staff_digests(engine: Engine, cfg: Config, clock: Clock) -> list[str]:
    """DM each reachable active staff member with an open queue, once per local day; return their names."""
    now = clock.now()
    key, _, _ = period_for("staff", now, cfg.city.timezone)
    names = category_names(cfg)
    sent = []
    for row in staff_digest_preview(engine, cfg, clock):
        if row["channel"] is None or not row["items"]:
            continue
        text = render_staff_digest(row["staff"], row["items"], cfg.city.language, cfg.city.timezone, names)
        try:
            with transaction(engine) as session:
                summary = {"open": row["open"], "overdue": row["overdue"]}
                session.add(DigestRun(kind="staff", period=key, target=f"staff:{row['staff']}", created_at=now, data=summary))
                session.flush()
                queue_staff_dm(session, cfg, clock, row["staff"], text, "digest_staff")
        except IntegrityError:
            continue
        sent.append(row["staff"])
    return sent
