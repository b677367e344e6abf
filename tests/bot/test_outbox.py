import multiprocessing
import os
import random
import socket
import subprocess
import sys
import threading
import uuid
from collections import Counter
from datetime import datetime, timedelta

import httpx
import pytest
from sqlmodel import func, select

from bot.clock import FrozenClock
from bot.config import load_config
from bot.db import make_engine, open_database, transaction
from bot.models import OutboxMessage, ReplyPart
from bot.outbox_admin import retry
from bot.outbox import Delivery, DeliveryStats
from bot.pipeline import Pipeline
from channels.base import PermanentError, RateLimited, TransientError
from channels.registry import FACTORIES
from channels.sandbox.images import make_png
from channels.sandbox.server import SandboxServer
from tests.helpers import RecordingChannel, post


def no_staff_dms(cfg):
    """Staff without handles: a routed report queues its ack and no assignment DM."""
    for department in cfg.departments:
        for member in department.staff:
            member.handles = {}


def setup(app, failures=()):
    no_staff_dms(app.cfg)
    Pipeline(app.engine, app.cfg, app.classifier, app.clock).process(post("farola apagada en la calle Real"))
    channel = RecordingChannel(failures=failures)
    return channel, Delivery(app.engine, app.cfg, {"telegram": channel}, app.clock, random.Random(1))


def row(app):
    with transaction(app.engine) as s:
        return s.exec(select(OutboxMessage)).one()


def test_sent_row_records_the_platform_id_and_is_not_sent_again(app):
    channel, delivery = setup(app)
    assert delivery.deliver_due().sent == 1
    assert delivery.deliver_due().sent == 0
    r = row(app)
    assert (r.state, r.external_id, r.attempts) == ("sent", "100:bot1", 1)
    assert channel.sent[0].in_reply_to == r.in_reply_to and channel.sent[0].idempotency_key == f"citybot-outbox-{r.id}"


def test_rate_limit_waits_the_platforms_retry_after(app, clock):
    channel, delivery = setup(app, [RateLimited(30)])
    assert delivery.deliver_due().sent == 0
    assert (row(app).next_attempt_at - clock.now()).total_seconds() == 30
    clock.advance(seconds=29)
    assert delivery.deliver_due().sent == 0 and channel.sent == []
    clock.advance(seconds=1)
    assert delivery.deliver_due().sent == 1 and len(channel.sent) == 1


def test_transient_errors_back_off_then_the_row_goes_dead(app, clock):
    max_attempts = app.cfg.delivery.max_attempts
    channel, delivery = setup(app, [TransientError("503")] * max_attempts)
    delays = []
    for _ in range(max_attempts):
        delivery.deliver_due()
        r = row(app)
        if r.state == "dead":
            break
        delays.append((r.next_attempt_at - clock.now()).total_seconds())
        clock.advance(seconds=delays[-1])
    assert row(app).state == "dead" and row(app).attempts == max_attempts
    assert "503" in row(app).last_error
    assert all(later > earlier for earlier, later in zip(delays, delays[1:]))
    assert channel.sent == []


def test_permanent_refusal_is_dead_at_once(app):
    _, delivery = setup(app, [PermanentError("chat not found")])
    assert delivery.deliver_due().dead == 1
    assert row(app).state == "dead" and row(app).attempts == 1


# -- several deliverers: claims, leases, partial sends ------------------------------------


def seed_rows(engine, count, now):
    """`count` pending citizen replies, each in its own conversation (so platform ids never collide)."""
    with transaction(engine) as s:
        s.add_all([OutboxMessage(channel="telegram", recipient_id=f"u{n}", conversation_id=f"c{n}", text=f"reply {n}",
                                 purpose="ack", next_attempt_at=now, created_at=now) for n in range(count)])


def deliver_in_threads(url, cfg, clock, worker_ids, barrier, batch=7):
    """Each worker (a real thread with its own engine and channel) delivers until it can claim nothing.

    Returns {worker id: idempotency keys it sent}.
    """
    sent = {}

    def work(worker_id):
        engine = make_engine(url)
        channel = RecordingChannel()
        delivery = Delivery(engine, cfg, {"telegram": channel}, clock, random.Random(1), worker_id=worker_id)
        barrier.wait()
        while delivery.deliver_due(batch=batch).sent:
            pass
        engine.dispose()
        sent[worker_id] = [m.idempotency_key for m in channel.sent]

    threads = [threading.Thread(target=work, args=(w,)) for w in worker_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sent


def assert_each_row_sent_once(engine, sent, count):
    keys = Counter(key for worker in sent.values() for key in worker)
    assert len(keys) == count and set(keys.values()) == {1}
    with transaction(engine) as s:
        rows = s.exec(select(OutboxMessage)).all()
        assert {r.state for r in rows} == {"sent"} and all(r.lease_owner is None and r.attempts == 1 for r in rows)
        assert {f"citybot-outbox-{r.id}" for r in rows} == set(keys)
        assert s.exec(select(func.count()).select_from(ReplyPart)).one() == count


@pytest.mark.one_database  # about SQLite itself
def test_two_deliverers_on_one_sqlite_file_take_disjoint_rows(app, clock):
    seed_rows(app.engine, 60, clock.now())
    sent = deliver_in_threads(app.cfg.resolved_database_url(), app.cfg, clock, ["w1", "w2"], threading.Barrier(2))
    assert not set(sent["w1"]) & set(sent["w2"])
    assert_each_row_sent_once(app.engine, sent, 60)


@pytest.mark.one_database  # about SQLite itself
def test_sqlite_without_returning_claims_row_by_row(app, clock, monkeypatch):
    seed_rows(app.engine, 3, clock.now())
    monkeypatch.setattr(app.engine.dialect, "update_returning", False)
    first = Delivery(app.engine, app.cfg, {"telegram": RecordingChannel()}, clock, worker_id="w1")
    second = Delivery(app.engine, app.cfg, {"telegram": RecordingChannel()}, clock, worker_id="w2")
    assert [c.row.id for c in first.claim(2)] == [1, 2]
    assert [c.row.id for c in second.claim(5)] == [3]
    assert first.claim(5) == []


def test_a_crashed_deliverers_lease_expires_and_the_row_is_claimed_again(app, clock):
    _, crashed = setup(app)
    crashed.worker_id = "crashed"
    channel = RecordingChannel()
    survivor = Delivery(app.engine, app.cfg, {"telegram": channel}, clock, random.Random(1), worker_id="survivor")
    [held] = crashed.claim(10)  # claimed, then the process died before sending
    assert (row(app).lease_owner, row(app).lease_until) == ("crashed", clock.now() + timedelta(seconds=crashed.lease_seconds))
    assert survivor.deliver_due().sent == 0 and channel.sent == []
    assert survivor.next_due() == row(app).lease_until
    clock.advance(seconds=crashed.lease_seconds + 1)
    assert survivor.deliver_due().sent == 1 and len(channel.sent) == 1
    assert channel.sent[0].maybe_sent  # the crashed attempt may have reached the platform
    assert (row(app).state, row(app).lease_owner) == ("sent", None)
    # The crashed deliverer waking up late cannot overwrite what the survivor recorded.
    late = DeliveryStats()
    crashed._deliver(held, late)
    assert (late.sent, late.lost) == (0, 1) and row(app).external_id == "100:bot1"


def test_a_first_attempt_and_a_recorded_failure_are_not_flagged_as_maybe_sent(app, clock):
    seed_rows(app.engine, 1, clock.now())
    channel = RecordingChannel(failures=[TransientError("503")])
    delivery = Delivery(app.engine, app.cfg, {"telegram": channel}, clock, random.Random(1))
    assert delivery.deliver_due().retried == 1
    clock.advance(seconds=app.cfg.delivery.backoff_max_seconds)
    assert delivery.deliver_due().sent == 1
    assert [m.maybe_sent for m in channel.sent] == [False]  # the retry after a recorded 503


def test_a_partial_send_is_recorded_at_once_and_the_retry_posts_only_the_rest(app, clock):
    no_staff_dms(app.cfg)
    Pipeline(app.engine, app.cfg, app.classifier, app.clock).process(post("farola apagada en la calle Real"))
    channel = RecordingChannel(parts=3, fail_after_parts=1)
    delivery = Delivery(app.engine, app.cfg, {"telegram": channel}, clock, random.Random(1))
    assert delivery.deliver_due().retried == 1
    first = row(app)
    with transaction(app.engine) as s:
        assert [p.external_id for p in s.exec(select(ReplyPart))] == ["100:bot1"]
    assert (first.state, first.attempts, first.lease_owner) == ("pending", 1, None)
    clock.advance(seconds=(first.next_attempt_at - clock.now()).total_seconds())
    assert delivery.deliver_due().sent == 1
    retry = channel.sent[-1]
    assert (retry.skip_parts, retry.in_reply_to) == (1, "100:bot1")
    key = f"citybot-outbox-{first.id}"
    assert sorted((k, n) for k, n, _ in channel.posted) == [(key, 1), (key, 2), (key, 3)]
    done = row(app)
    assert (done.state, done.external_id, done.attempts) == ("sent", "100:bot1", 2)
    with transaction(app.engine) as s:
        parts = [p.external_id for p in s.exec(select(ReplyPart).order_by(ReplyPart.id))]
    assert parts == ["100:bot1", "100:bot2.2", "100:bot2.3"]


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 (user postgres, db test) is unreachable: {exc}")
    name = f"citybot_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def _deliver_in_process(url, config_path, at, worker_ids, barrier, results):
    sent = deliver_in_threads(url, load_config(config_path), FrozenClock(datetime.fromisoformat(at)), worker_ids, barrier)
    results.put(sent)


@pytest.mark.one_database  # makes its own PostgreSQL database
def test_four_deliverers_in_two_processes_on_postgresql_send_each_row_once(pg_url, config_file, clock):
    engine = open_database(pg_url)
    seed_rows(engine, 500, clock.now())
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(4), context.Queue()
    processes = [context.Process(target=_deliver_in_process,
                                 args=(pg_url, str(config_file), clock.now().isoformat(), [f"p{p}t1", f"p{p}t2"], barrier, results))
                 for p in (1, 2)]
    for p in processes:
        p.start()
    sent = {}
    for _ in processes:
        sent.update(results.get(timeout=300))
    for p in processes:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sorted(sent) == ["p1t1", "p1t2", "p2t1", "p2t2"]
    assert_each_row_sent_once(engine, sent, 500)
    engine.dispose()


# Real adapters over the sandbox: a later part's photo is missing, so the reply breaks off after part 1.
PHOTOS_BEFORE_THE_BREAK = {"telegram": 1, "mastodon": 4}  # Telegram: a post per photo; Mastodon: 4 per status


@pytest.mark.parametrize("platform", sorted(PHOTOS_BEFORE_THE_BREAK))
def test_a_real_adapter_breaking_off_mid_reply_resumes_after_the_parts_it_posted(app, clock, tmp_path, platform):
    photos = [tmp_path / f"p{n}.png" for n in range(PHOTOS_BEFORE_THE_BREAK[platform] + 1)]
    for photo in photos[:-1]:
        photo.write_bytes(make_png(8, 8))
    with SandboxServer(port=0) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        channel = FACTORIES[platform](app.cfg, server.url, tmp_path / "media")
        try:
            assert client.post(f"/_sandbox/{platform}/inbound", json={"user": "ana", "text": "bache"}).status_code == 200
            (citizen,) = channel.fetch(None).messages
            with transaction(app.engine) as s:
                s.add(OutboxMessage(channel=platform, recipient_id=citizen.author_id, recipient_handle=citizen.author_handle,
                                    conversation_id=citizen.conversation_id, in_reply_to=citizen.external_id,
                                    text="Arreglado", media=[str(p) for p in photos], purpose="resolved",
                                    next_attempt_at=clock.now(), created_at=clock.now()))
            delivery = Delivery(app.engine, app.cfg, {platform: channel}, clock, random.Random(1))
            assert delivery.deliver_due().dead == 1  # an unreadable photo is a permanent failure
            (first,) = client.get(f"/_sandbox/{platform}/sent").json()
            with transaction(app.engine) as s:
                assert [p.external_id.rsplit(":", 1)[-1] for p in s.exec(select(ReplyPart))] == [first["id"]]
            photos[-1].write_bytes(make_png(8, 8))  # staff fix the cause, then retry the dead row
            assert retry(app.engine, clock, row(app).id) == [row(app).id]
            assert delivery.deliver_due().sent == 1
            records = client.get(f"/_sandbox/{platform}/sent").json()
            assert [r["id"] for r in records[:1]] == [first["id"]] and len(records) == 2
            assert records[1]["in_reply_to"] == first["id"] and records[1]["media"]
            done = row(app)
            assert done.state == "sent" and done.external_id.rsplit(":", 1)[-1] == first["id"]
            with transaction(app.engine) as s:
                parts = [p.external_id.rsplit(":", 1)[-1] for p in s.exec(select(ReplyPart).order_by(ReplyPart.id))]
            assert parts == [r["id"] for r in records]
        finally:
            channel.close()


class PoolWatchingChannel(RecordingChannel):
    """Notes how many database connections the deliverer holds while the platform call runs."""

    def __init__(self, engine, **kw):
        super().__init__(**kw)
        self.engine, self.held = engine, []

    def send(self, message):
        self.held.append(self.engine.pool.checkedout())
        return super().send(message)


def test_the_platform_call_runs_with_no_transaction_open(app, clock):
    seed_rows(app.engine, 3, clock.now())
    channel = PoolWatchingChannel(app.engine, failures=[TransientError("503")])
    assert Delivery(app.engine, app.cfg, {"telegram": channel}, clock, random.Random(1)).deliver_due().sent == 2
    assert channel.held == [0, 0, 0]


def test_leases_of_a_killed_process_on_this_host_are_freed_at_once(app, clock):
    _, killed = setup(app)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    killed.worker_id = f"{this_host()}:{int(gone.stdout)}:dead0000"   # that process has exited
    [_] = killed.claim(10)
    elsewhere = Delivery(app.engine, app.cfg, {"telegram": RecordingChannel()}, clock, worker_id=f"other-host:{os.getpid()}:x")
    assert elsewhere.deliver_due().sent == 0      # another host cannot tell whether that process lives
    channel = RecordingChannel()
    restarted = Delivery(app.engine, app.cfg, {"telegram": channel}, clock, random.Random(1))
    assert restarted.deliver_due().sent == 1 and len(channel.sent) == 1
    assert channel.sent[0].maybe_sent
    assert row(app).state == "sent"


def test_leases_of_a_live_process_are_kept(app, clock):
    _, alive = setup(app)
    alive.worker_id = f"{this_host()}:1:init"    # pid 1 always runs
    [_] = alive.claim(10)
    other = Delivery(app.engine, app.cfg, {"telegram": RecordingChannel()}, clock)
    assert other.free_orphaned_leases() == 0 and other.deliver_due().sent == 0


def this_host():
    return socket.gethostname()[:40]


class GatedChannel(RecordingChannel):
    """Each send waits (up to 5 s) for `gate`; records whether it had opened in time."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__()
        self.gate = gate
        self.waited_in_vain = 0

    def send(self, message):
        if not self.gate.wait(5):
            self.waited_in_vain += 1
        return super().send(message)


class OpeningChannel(RecordingChannel):
    """Opens `gate` once it has sent `count` replies."""

    def __init__(self, gate: threading.Event, count: int) -> None:
        super().__init__()
        self.gate, self.count = gate, count

    def send(self, message):
        result = super().send(message)
        if len(self.sent) == self.count:
            self.gate.set()
        return result


def test_each_channel_is_a_lane_that_does_not_wait_for_another(app):
    """Telegram's sends block until X has sent all of its own: only lanes side by side get there."""
    no_staff_dms(app.cfg)
    pipeline = Pipeline(app.engine, app.cfg, app.classifier, app.clock)
    for n in range(3):
        pipeline.process(post(f"farola apagada en la calle Real {n}", user=f"t{n}"))
        pipeline.process(post(f"bache en la calle Mayor {n}", user=f"x{n}", channel="x", external_id=f"x{n}",
                              conversation_id=f"x{n}"))
    gate = threading.Event()
    telegram, x = GatedChannel(gate), OpeningChannel(gate, count=3)
    delivery = Delivery(app.engine, app.cfg, {"telegram": telegram, "x": x}, app.clock, random.Random(1))
    try:
        stats = delivery.deliver_due()
    finally:
        delivery.close()
    assert stats.sent == 6 and telegram.waited_in_vain == 0
    with transaction(app.engine) as s:
        rows = s.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert {r.state for r in rows} == {"sent"}
    for channel, name in ((telegram, "telegram"), (x, "x")):  # each lane keeps its rows' order
        assert [m.idempotency_key for m in channel.sent] == [f"citybot-outbox-{r.id}" for r in rows if r.channel == name]


class Boom(BaseException):
    """Not an Exception: escapes `_deliver` as a bug in a lane would."""


class ExplodingChannel(RecordingChannel):
    def send(self, message):
        raise Boom("lane broke")


def queue_on_two_channels(app, count=3):
    no_staff_dms(app.cfg)
    pipeline = Pipeline(app.engine, app.cfg, app.classifier, app.clock)
    for n in range(count):
        pipeline.process(post(f"farola apagada en la calle Real {n}", user=f"t{n}"))
        pipeline.process(post(f"bache en la calle Mayor {n}", user=f"x{n}", channel="x", external_id=f"x{n}",
                              conversation_id=f"x{n}"))


def test_a_failing_lane_raises_only_after_the_other_lanes_finished(app):
    queue_on_two_channels(app)
    x = RecordingChannel()
    delivery = Delivery(app.engine, app.cfg, {"telegram": ExplodingChannel(), "x": x}, app.clock, random.Random(1))
    try:
        with pytest.raises(Boom):
            delivery.deliver_due()
        assert len(x.sent) == 3  # X's lane had finished before the error came out
    finally:
        delivery.close()


class PausingChannel(RecordingChannel):
    """The first send signals `started` and waits for `resume`."""

    def __init__(self, started: threading.Event, resume: threading.Event) -> None:
        super().__init__()
        self.started, self.resume = started, resume

    def send(self, message):
        if not self.sent:
            self.started.set()
            self.resume.wait(5)
        return super().send(message)


def test_close_stops_the_lanes_after_the_send_in_flight_and_gives_back_the_rest(app):
    queue_on_two_channels(app, count=4)
    started, resume = threading.Event(), threading.Event()
    telegram, x = PausingChannel(started, resume), RecordingChannel()
    delivery = Delivery(app.engine, app.cfg, {"telegram": telegram, "x": x}, app.clock, random.Random(1))
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.setdefault("stats", delivery.deliver_due()))
    worker.start()
    assert started.wait(5)
    closing = threading.Thread(target=delivery.close)
    closing.start()
    resume.set()
    closing.join(10)
    worker.join(10)
    assert not closing.is_alive() and not worker.is_alive()
    assert len(telegram.sent) == 1  # the send in flight finished; no other Telegram row was tried
    with transaction(app.engine) as s:
        left = s.exec(select(OutboxMessage).where(OutboxMessage.channel == "telegram",
                                                  OutboxMessage.state == "pending")).all()
    assert len(left) == 3 and all(r.lease_until is None and r.lease_owner is None for r in left)
