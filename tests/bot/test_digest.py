"""Digests on a seeded week (real SQLite, the real classifier, a frozen clock at known times).

The app clock is Monday 2026-11-23 09:00 UTC, so the weekly digest covers 2026-W47:
Monday 16 to Sunday 22 November, Europe/Madrid (UTC+1), i.e. 15 Nov 23:00 to 22 Nov 23:00 UTC.
"""

import json
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlmodel import select

from bot.app import build_app
from bot.clock import FrozenClock
from bot.db import transaction
from bot.digest import (
    digest_numbers, period_for, period_numbers, post_public_digest, render_digest, scrub_place,
    send_staff_digests, staff_digest_preview,
)
from bot.digest_chart import chart_path, chart_png
from bot.models import DigestRun, OutboxMessage
from bot.pipeline import Pipeline
from bot.service import TicketService
from bot.tickets import find_ticket
from tests.helpers import post

MADRID = "Europe/Madrid"
HANDLES = ["ana_garcia99", "john_doe_x", "marie_dupont", "lola_vecina", "pepe_99", "sam_smith"]
SECRETS = HANDLES + [f"u-{h}" for h in HANDLES] + ["Siguen ahí", "gracias ayuntamiento"]


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def seed_week(app) -> None:
    """Eleven posts from six citizens around 2026-W47 (see the expected figures in test_weekly_numbers)."""
    clock = FrozenClock(utc(2026, 10, 20, 10))
    pipeline = Pipeline(app.engine, app.cfg, app.classifier, clock)
    svc = TicketService(app.engine, app.cfg, clock, actor="manolo")

    def at(when: datetime, text: str, user: str, **kw):
        clock._at = when
        return pipeline.process(post(text, user=user, **kw))

    def expect(outcome, ref: str, category: str) -> None:
        assert (outcome.ticket_ref, svc.show(ref)["category"]) == (ref, category)

    expect(at(utc(2026, 10, 20, 10), "La farola de la calle Real 12 está apagada", "ana_garcia99"), "JUN-1", "streetlight")
    expect(at(utc(2026, 10, 21, 10), "Ratas en el parque de la calle Nueva", "sam_smith"), "JUN-2", "pests_animals")
    expect(at(utc(2026, 11, 15, 23, 30), "Hay un bache enorme en la calle Mayor", "john_doe_x"), "JUN-3", "roads")
    clock._at = utc(2026, 11, 16, 1, 30)
    svc.resolve("JUN-3")                                                              # 2 h
    expect(at(utc(2026, 11, 16, 8), "El contenedor de basura de la Plaza de España está desbordado", "marie_dupont"), "JUN-4", "waste")
    clock._at = utc(2026, 11, 17, 10)
    svc.resolve("JUN-1")                                                              # 28 days: late
    svc.resolve("JUN-4")                                                              # 26 h
    branches = post("Hay ramas caídas en la calle Ancha", user="lola_vecina")
    clock._at = utc(2026, 11, 18, 9)
    expect(pipeline.process(branches), "JUN-5", "trees")
    expect(at(utc(2026, 11, 19, 9), "Siguen las ramas caídas en la calle Ancha", "pepe_99"), "JUN-6", "trees")
    clock._at = utc(2026, 11, 19, 10)
    svc.close("JUN-6", "duplicate", of="JUN-5")
    expect(at(utc(2026, 11, 20, 15), "Huge pothole on Calle Nueva, please fix", "sam_smith"), "JUN-7", "roads")
    clock._at = utc(2026, 11, 21, 15)
    svc.resolve("JUN-7")                                                              # 24 h
    assert at(utc(2026, 11, 21, 10), "gracias ayuntamiento!!", "pepe_99").action == "not_request"
    assert at(utc(2026, 11, 21, 11), "Siguen ahí, por favor", "lola_vecina", in_reply_to=branches.external_id).action == "followup"
    expect(at(utc(2026, 11, 22, 22, 30), "Pintadas nuevas en la fachada de la calle San Sebastián", "ana_garcia99"), "JUN-8", "graffiti")
    expect(at(utc(2026, 11, 22, 23, 30), "Fuga de agua en el Paseo del Río", "marie_dupont"), "JUN-9", "water_drains")
    clock._at = utc(2026, 11, 23, 8)
    for ref, staff in (("JUN-2", "lucia"), ("JUN-5", "lucia"), ("JUN-8", "lucia"), ("JUN-9", "manolo")):
        svc.assign(ref, staff)
    with transaction(app.engine) as session:
        find_ticket(session, "JUN-3").fixed_confirmed = True     # as the follow-up question would record it
        find_ticket(session, "JUN-5").location_text = "Calle Ancha 4 @lola_vecina"


@pytest.fixture
def week(app):
    seed_week(app)
    return app


def weekly_numbers(app) -> dict:
    with transaction(app.engine) as session:
        return period_numbers(session, app.cfg, "weekly", app.clock.now())


def test_weekly_numbers_of_the_seeded_week(week):
    numbers = weekly_numbers(week)
    assert (numbers["kind"], numbers["period"], numbers["from"], numbers["to"]) == ("weekly", "2026-W47", "2026-11-16", "2026-11-22")
    # JUN-3 (Sunday 23:30 UTC is Monday local) .. JUN-8 (Sunday 23:30 local); not JUN-9 (Monday 00:30 local)
    assert (numbers["received"], numbers["reports"]) == (6, 6)
    assert (numbers["resolved"], numbers["promised"], numbers["within_promise"]) == (4, 4, 3)
    assert numbers["within_promise_share"] == 0.75
    assert numbers["confirmed_fixed"] == 1
    assert (numbers["open"], numbers["overdue"]) == (4, 1)
    assert numbers["categories"] == [
        {"category": "streetlight", "received": 0, "resolved": 1, "median_hours_to_resolve": 672.0},
        {"category": "roads", "received": 2, "resolved": 2, "median_hours_to_resolve": 13.0},
        {"category": "trees", "received": 2, "resolved": 0, "median_hours_to_resolve": None},
        {"category": "waste", "received": 1, "resolved": 1, "median_hours_to_resolve": 26.0},
        {"category": "graffiti", "received": 1, "resolved": 0, "median_hours_to_resolve": None},
    ]
    assert numbers["oldest_open"] == [
        {"ref": "JUN-2", "category": "pests_animals", "place": "Calle Nueva", "age_days": 32},
        {"ref": "JUN-5", "category": "trees", "place": "Calle Ancha 4", "age_days": 5},
        {"ref": "JUN-8", "category": "graffiti", "place": "Calle San Sebastián", "age_days": 0},
        {"ref": "JUN-9", "category": "water_drains", "place": "Paseo del Río", "age_days": 0},
    ]


def test_daily_numbers_follow_the_local_day(week):
    with transaction(week.engine) as session:
        monday = period_numbers(session, week.cfg, "daily", week.clock.now())
        sunday_key, start, end = period_for("daily", utc(2026, 11, 22, 19), MADRID)
        sunday = digest_numbers(session, week.cfg, start, end, utc(2026, 11, 22, 19))
    assert (monday["period"], monday["received"], monday["resolved"]) == ("2026-11-23", 1, 0)
    assert [row["category"] for row in monday["categories"]] == ["water_drains"]
    assert (sunday_key, sunday["received"], sunday["from"], sunday["to"]) == ("2026-11-22", 1, "2026-11-22", "2026-11-22")


def test_oldest_items_follow_the_config(week):
    week.cfg.digests.oldest_items = 2
    assert [item["ref"] for item in weekly_numbers(week)["oldest_open"]] == ["JUN-2", "JUN-5"]


def test_an_empty_period_has_zeros_and_no_share(app):
    numbers = weekly_numbers(app)
    assert (numbers["received"], numbers["resolved"], numbers["open"], numbers["within_promise_share"]) == (0, 0, 0, None)
    assert numbers["categories"] == [] and numbers["oldest_open"] == []
    assert "Avisos recibidos: 0" in render_digest(numbers, "es", "Villajún", "weekly")


@pytest.mark.parametrize("now, kind, key, start, end", [
    # Monday morning: the week just finished (Madrid is UTC+1 in November)
    (utc(2026, 11, 23, 9), "weekly", "2026-W47", utc(2026, 11, 15, 23), utc(2026, 11, 22, 23)),
    # 00:30 Monday local is still 23:30 Sunday UTC: W47 is already complete
    (utc(2026, 11, 22, 23, 30), "weekly", "2026-W47", utc(2026, 11, 15, 23), utc(2026, 11, 22, 23)),
    # 23:30 Sunday local: W47 is not over, so the last complete week is W46
    (utc(2026, 11, 22, 22, 30), "weekly", "2026-W46", utc(2026, 11, 8, 23), utc(2026, 11, 15, 23)),
    # the week summer time ends (25 October 2026) is 169 hours long
    (utc(2026, 10, 26, 8), "weekly", "2026-W43", utc(2026, 10, 18, 22), utc(2026, 10, 25, 23)),
    # ISO week 53 of 2026, run in 2027
    (utc(2027, 1, 4, 8), "weekly", "2026-W53", utc(2026, 12, 27, 23), utc(2027, 1, 3, 23)),
    (utc(2026, 11, 22, 22, 59), "daily", "2026-11-22", utc(2026, 11, 21, 23), utc(2026, 11, 22, 23)),
    (utc(2026, 11, 22, 23, 0), "daily", "2026-11-23", utc(2026, 11, 22, 23), utc(2026, 11, 23, 23)),
    (utc(2026, 11, 26, 7), "staff", "2026-11-26", utc(2026, 11, 25, 23), utc(2026, 11, 26, 23)),
    # the day summer time ends is 25 hours long
    (utc(2026, 10, 25, 12), "daily", "2026-10-25", utc(2026, 10, 24, 22), utc(2026, 10, 25, 23)),
])
def test_period_keys_around_boundaries_in_madrid(now, kind, key, start, end):
    assert period_for(kind, now, MADRID) == (key, start, end)


def test_an_unknown_period_is_named():
    with pytest.raises(ValueError, match="'monthly' is not a digest period"):
        period_for("monthly", utc(2026, 11, 23), MADRID)


def test_scrub_place_drops_handles_and_contacts():
    assert scrub_place("Calle Ancha 4 @lola_vecina") == "Calle Ancha 4"
    assert scrub_place("junto a @luc@mastodon.social, Paseo del Río") == "junto a, Paseo del Río"
    assert scrub_place("@pepe_99") is None and scrub_place(None) is None
    assert scrub_place("Plaza de España, llamar al 600 123 456") == "Plaza de España, llamar al"


def test_rendered_digest_in_each_language(week):
    numbers = weekly_numbers(week)
    names = {c.code: c.names for c in week.cfg.categories}
    es = render_digest(numbers, "es", "Villajún", "weekly", names).splitlines()
    en = render_digest(numbers, "en", "Villajún", "weekly", names).splitlines()
    fr = render_digest(numbers, "fr", "Villajún", "weekly", names).splitlines()
    assert es[:3] == ["Villajún · Resumen de la semana, 16–22 nov 2026", "Avisos recibidos: 6", "Resueltos: 4"]
    assert en[:3] == ["Villajún · Weekly summary, Nov 16 – 22, 2026", "Reports received: 6", "Resolved: 4"]
    assert fr[1:3] == ["Signalements reçus : 6", "Résolus : 4"]
    assert "Within the promised time: 3 of 4 (75%)" in en
    assert "Confirmed fixed by residents: 1" in en and "Open now: 4 (1 overdue)" in en
    assert "· calzada y aceras: 13 h" in es and "· street lighting: 28 days" in en and "· chaussée et trottoirs : 13 h" in fr
    assert "· JUN-2 plagas y animales, Calle Nueva (32 días)" in es
    assert "· JUN-5 trees and vegetation, Calle Ancha 4 (5 days)" in en
    assert "· JUN-9 water and drains, Paseo del Río (under a day)" in en
    daily = render_digest(weekly_numbers(week) | {"from": "2026-11-23", "to": "2026-11-23"}, "es", "Villajún", "daily")
    assert daily.startswith("Villajún · Resumen del día, lunes, 23 de noviembre de 2026")


def test_no_citizen_data_in_any_output(week):
    numbers = weekly_numbers(week)
    with transaction(week.engine) as session:
        daily = period_numbers(session, week.cfg, "daily", week.clock.now())
    names = {c.code: c.names for c in week.cfg.categories}
    outputs = [json.dumps(numbers, ensure_ascii=False), json.dumps(daily, ensure_ascii=False)]
    outputs += [render_digest(n, lang, "Villajún", kind, names) for n, kind in ((numbers, "weekly"), (daily, "daily"))
                for lang in ("es", "en", "fr", "de")]
    enable(week.cfg, "x", "mastodon")
    post_public_digest(week.engine, week.cfg, week.clock, "weekly")
    with transaction(week.engine) as session:
        outputs += [row.text for row in session.exec(select(OutboxMessage).where(OutboxMessage.audience == "public")).all()]
        outputs += [json.dumps(run.data, ensure_ascii=False) for run in session.exec(select(DigestRun)).all()]
    assert len(outputs) == 2 + 8 + 3 + 3
    for text in outputs:
        for secret in SECRETS:
            assert secret.lower() not in text.lower(), (secret, text)


def enable(cfg, *channels: str, **languages: str) -> None:
    for name in channels:
        cfg.channels[name].enabled = True
    for name, lang in languages.items():
        cfg.channels[name].language = lang


def public_rows(app) -> list[OutboxMessage]:
    with transaction(app.engine) as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.audience == "public").order_by(OutboxMessage.id)).all())


def test_public_digest_posts_once_per_period_and_channel(week):
    enable(week.cfg, "x", "mastodon", x="en", mastodon="fr")
    assert post_public_digest(week.engine, week.cfg, week.clock, "weekly") == ["telegram", "x", "mastodon"]
    assert post_public_digest(week.engine, week.cfg, week.clock, "weekly") == []
    rows = public_rows(week)
    assert [(r.channel, r.recipient_id, r.purpose) for r in rows] == [
        ("telegram", "@villajun_avisos", "digest_weekly"), ("x", "", "digest_weekly"), ("mastodon", "", "digest_weekly")]
    assert [r.text.splitlines()[1] for r in rows] == ["Avisos recibidos: 6", "Reports received: 6", "Signalements reçus : 6"]
    chart = chart_path(week.cfg.base_dir, "weekly", "2026-W47")
    assert all(r.media == [str(chart)] for r in rows)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with transaction(week.engine) as session:
        runs = session.exec(select(DigestRun.kind, DigestRun.period, DigestRun.target).order_by(DigestRun.id)).all()
    assert runs == [("weekly", "2026-W47", "telegram"), ("weekly", "2026-W47", "x"), ("weekly", "2026-W47", "mastodon")]
    # the daily digest is its own period; the next day is a new one
    assert post_public_digest(week.engine, week.cfg, week.clock, "daily", ["x"]) == ["x"]
    week.clock.advance(days=1)
    assert post_public_digest(week.engine, week.cfg, week.clock, "daily") == ["telegram", "x", "mastodon"]
    assert post_public_digest(week.engine, week.cfg, week.clock, "weekly") == []
    assert len(public_rows(week)) == 7


def test_a_process_that_posts_between_check_and_insert_wins(app, monkeypatch):
    """The unique key, not the read-ahead check, decides: the loser skips the channel and queues nothing."""
    import bot.digest

    enable(app.cfg, "x")
    real_chart = bot.digest.chart_png

    def other_process_posts_x_first(*args, **kwargs):
        with transaction(app.engine) as session:
            session.add(DigestRun(kind="weekly", period="2026-W47", target="x", created_at=app.clock.now()))
        return real_chart(*args, **kwargs)

    monkeypatch.setattr(bot.digest, "chart_png", other_process_posts_x_first)
    assert post_public_digest(app.engine, app.cfg, app.clock, "weekly") == ["telegram"]
    assert [r.channel for r in public_rows(app)] == ["telegram"]


def test_telegram_gets_no_public_digest_without_a_digest_chat(app):
    app.cfg.channels["telegram"].digest_chat = None
    assert post_public_digest(app.engine, app.cfg, app.clock, "daily") == []
    with pytest.raises(ValueError, match="channels.telegram.digest_chat"):
        post_public_digest(app.engine, app.cfg, app.clock, "daily", ["telegram"])
    with pytest.raises(ValueError, match="channels.x: not an enabled channel"):
        post_public_digest(app.engine, app.cfg, app.clock, "daily", ["x"])
    with pytest.raises(ValueError, match="'staff' is not a public digest period"):
        post_public_digest(app.engine, app.cfg, app.clock, "staff")
    assert public_rows(app) == []


def test_chart_is_a_png_of_the_figures(week, tmp_path):
    numbers = weekly_numbers(week)
    path = chart_png(numbers, tmp_path / "deep" / "chart.png", labels={"roads": "calzada"}, title="W47")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1200, 675)
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    empty = chart_png({"categories": []}, tmp_path / "empty.png")
    assert empty.read_bytes()[:4] == b"\x89PNG"


def test_staff_digest_lists_each_queue_once_a_day(week):
    week.cfg.department("public_works").staff[0].handles = {}   # manolo: no handle on any channel
    preview = {row["staff"]: row for row in staff_digest_preview(week.engine, week.cfg, week.clock)}
    assert set(preview) == {"antonio", "carmen", "lucia", "manolo", "rosa"}
    assert (preview["manolo"]["channel"], [i["ref"] for i in preview["manolo"]["items"]]) == (None, ["JUN-9"])
    lucia = preview["lucia"]
    assert (lucia["channel"], lucia["open"], lucia["overdue"]) == ("telegram", 3, 1)
    assert [(i["ref"], i["overdue"]) for i in lucia["items"][:1]] == [("JUN-2", True)]  # overdue first
    rest = lucia["items"][1:]
    assert {i["ref"] for i in rest} == {"JUN-5", "JUN-8"} and not any(i["overdue"] for i in rest)
    assert [i["due"] for i in rest] == sorted(i["due"] for i in rest)                      # then by due date
    assert next(i["place"] for i in rest if i["ref"] == "JUN-5") == "Calle Ancha 4"

    assert send_staff_digests(week.engine, week.cfg, week.clock) == ["lucia"]
    assert send_staff_digests(week.engine, week.cfg, week.clock) == []
    with transaction(week.engine) as session:
        [dm] = session.exec(select(OutboxMessage).where(OutboxMessage.purpose == "digest_staff")).all()
        run = session.exec(select(DigestRun).where(DigestRun.kind == "staff")).one()
    assert (dm.channel, dm.recipient_id, dm.purpose) == ("telegram", "100003", "digest_staff")
    assert (run.period, run.target) == ("2026-11-23", "staff:lucia")
    lines = dm.text.splitlines()
    assert lines[0] == "Buenos días, lucia. Tu cola: 3 abiertas, 1 fuera de plazo."
    assert lines[1].startswith("· JUN-2 plagas y animales, Calle Nueva: vence ") and lines[1].endswith("FUERA DE PLAZO")
    assert "FUERA DE PLAZO" not in "".join(lines[2:])
    assert "lola_vecina" not in dm.text
    week.clock.advance(days=1)
    assert send_staff_digests(week.engine, week.cfg, week.clock) == ["lucia"]


@pytest.fixture
def pg_url(monkeypatch):
    """A throw-away PostgreSQL database (the concurrency test's own), dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    name = f"citybot_digest_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        pytest.skip("no PostgreSQL at 127.0.0.1:5432")
    admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    monkeypatch.setenv("CITYBOT_DATABASE_URL", url)
    yield url
    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


@pytest.mark.one_database  # makes its own PostgreSQL database
def test_racing_processes_post_once_on_postgresql(cfg, clock, pg_url):
    enable(cfg, "x", "mastodon")
    application = build_app(cfg, clock, with_classifier=False)
    engines = [application.engine, build_app(cfg, clock, with_classifier=False).engine]
    barrier = threading.Barrier(len(engines))
    results: list[list[str]] = []

    def worker(engine):
        barrier.wait()
        results.append(post_public_digest(engine, cfg, clock, "weekly"))

    threads = [threading.Thread(target=worker, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sum(results, [])) == ["mastodon", "telegram", "x"]
    assert sorted(r.channel for r in public_rows(application)) == ["mastodon", "telegram", "x"]
    for engine in engines:
        engine.dispose()
    assert Path(chart_path(cfg.base_dir, "weekly", "2026-W47")).is_file()
