"""Ingest uniqueness under concurrency: threads racing on the same posts, on SQLite and PostgreSQL.

Exactly one Message row and one ticket per (channel, external id); every other worker gets
the `duplicate` outcome. New citizens racing on their first post are not lost either.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter

import pytest
from sqlalchemy import create_engine, func, text
from sqlmodel import select

from bot.app import build_app
from bot.db import transaction
from bot.models import Citizen, Message, Ticket
from bot.pipeline import Pipeline
from tests.helpers import post

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
THREADS = 6


def _pg_database():
    """A fresh PostgreSQL database (dropped afterwards), or a skip saying why."""
    name = f"citybot_t_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - no server here: skip, saying why
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {type(exc).__name__}")
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def racing_app(request, cfg, clock):
    """The app on a fresh database of each kind."""
    databases = _pg_database() if request.param == "postgresql" else iter([None])
    url = next(databases)
    if url:
        cfg.database_url = url
    application = build_app(cfg, clock)
    yield application
    application.engine.dispose()
    next(databases, None)


def race(pipeline: Pipeline, batches: list[list]) -> list:
    """Each thread processes its batch; all start together. Every outcome, or the first error."""
    start = threading.Barrier(len(batches))
    outcomes, errors = [], []

    def work(batch):
        start.wait()
        try:
            for inbound in batch:
                outcomes.append(pipeline.process(inbound))
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return outcomes


def counts(app) -> tuple[int, int, int]:
    with transaction(app.engine) as s:
        return tuple(s.exec(select(func.count()).select_from(model)).one() for model in (Message, Ticket, Citizen))


def test_the_same_post_from_many_workers_makes_one_ticket(racing_app):
    pipeline = Pipeline(racing_app.engine, racing_app.cfg, racing_app.classifier, racing_app.clock)
    inbound = post("bache enorme en la calle Mayor 7, casi me caigo", user="rosa")
    outcomes = race(pipeline, [[inbound] for _ in range(THREADS)])
    assert sorted(o.action for o in outcomes) == ["duplicate"] * (THREADS - 1) + ["ticket"]
    assert counts(racing_app) == (1, 1, 1)


def test_overlapping_batches_store_each_post_once(racing_app):
    pipeline = Pipeline(racing_app.engine, racing_app.cfg, racing_app.classifier, racing_app.clock)
    # Two citizens, each new, each with several posts: their first posts race on the citizen row too.
    posts = [post(f"farola apagada en la calle Real {n}", user=("eva", "leo")[n % 2]) for n in range(8)]
    shuffled = random.Random(4)
    batches = [shuffled.sample(posts, k=6) for _ in range(THREADS)]
    outcomes = race(pipeline, batches)
    seen = {p.external_id for batch in batches for p in batch}
    firsts = Counter(o.post for o in outcomes if o.action != "duplicate")
    assert set(firsts) == {("telegram", ident) for ident in seen} and set(firsts.values()) == {1}
    assert len(outcomes) == sum(len(batch) for batch in batches)
    with transaction(racing_app.engine) as s:
        stored = s.exec(select(Message.external_id, Message.ticket_id)).all()
    assert sorted(ident for ident, _ in stored) == sorted(seen)
    tickets = [o.ticket_ref for o in outcomes if o.action == "ticket"]
    assert len(tickets) == len(set(tickets)) == counts(racing_app)[1]
    assert counts(racing_app)[2] == 2


def test_a_new_citizens_first_posts_racing_are_all_kept(racing_app):
    pipeline = Pipeline(racing_app.engine, racing_app.cfg, racing_app.classifier, racing_app.clock)
    # Different posts by one citizen nobody knows yet: every worker inserts that citizen.
    posts = [post(f"contenedor roto en la plaza {n}, huele fatal", user="nuevo") for n in range(THREADS)]
    outcomes = race(pipeline, [[p] for p in posts])
    assert [o.action for o in outcomes].count("duplicate") == 0
    messages, _, citizens = counts(racing_app)
    assert (messages, citizens) == (THREADS, 1)
