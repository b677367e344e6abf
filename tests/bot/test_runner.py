import threading

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from bot.db import transaction
from bot.models import ChannelCursor, Message, QuarantinedPayload, Ticket
from bot.runner import PassReport, Runner
from channels.base import FetchResult
from tests.helpers import RecordingChannel, post


class CountingChannel(RecordingChannel):
    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.fetches = 0

    def fetch(self, cursor, timeout=0):
        self.fetches += 1
        return super().fetch(cursor, timeout)


def test_poll_interval_spaces_out_fetches(app):
    app.cfg.channels["telegram"].poll_interval = 30
    app.cfg.channels["telegram"].poll_timeout = 0
    channel = CountingChannel([post("farola apagada en la calle Real")])
    runner = Runner(app, {"telegram": channel})
    stop = threading.Event()
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    runner.run_forever(stop)
    assert channel.fetches == 1


def test_cursor_is_stored_only_after_the_posts_are_committed(app):
    posts = [post(f"bache enorme en la calle Mayor {n}", user=f"v{n}") for n in range(3)]
    channel = RecordingChannel(posts)
    runner = Runner(app, {"telegram": channel})
    runner.ingest("telegram")
    with transaction(app.engine) as s:
        assert s.get(ChannelCursor, "telegram").cursor == "3"
        assert len(s.exec(select(Ticket)).all()) == 3
    # a crash before the cursor is saved re-fetches the same posts: nothing doubles
    with transaction(app.engine) as s:
        s.delete(s.get(ChannelCursor, "telegram"))
    runner.ingest("telegram")
    with transaction(app.engine) as s:
        assert len(s.exec(select(Ticket)).all()) == 3


def test_a_channel_read_by_another_process_is_skipped_until_its_lease_ends(app):
    from bot.leadership import Leadership

    other = Leadership(app.engine, "cursor:telegram", "other-process", lease_seconds=30)
    assert other.try_acquire()
    channel = CountingChannel([post("farola apagada en la calle Real")])
    runner = Runner(app, {"telegram": channel})
    assert runner.run_once().tickets == [] and channel.fetches == 0
    other.release()
    assert runner.run_once().tickets == ["JUN-1"] and channel.fetches >= 1
    # now this runner holds it: the other process is refused
    assert not Leadership(app.engine, "cursor:telegram", "other-process", lease_seconds=30).try_acquire()
    runner.close()


def test_roles_split_ingest_from_delivery(app):
    app.cfg.channels["telegram"].poll_interval = 30
    app.cfg.channels["telegram"].poll_timeout = 0
    channel = CountingChannel([post("farola apagada en la calle Real")])
    runner = Runner(app, {"telegram": channel})

    def run(**role):
        stop = threading.Event()
        threading.Timer(0.5, stop.set).start()
        runner.run_forever(stop, **role)

    run(deliver=False)  # `--role ingest`: the ticket opens, its messages wait in the outbox
    queued = runner._pending()
    assert channel.fetches == 1 and channel.sent == [] and queued >= 1
    run(ingest=False)  # `--role deliver`: sends them, fetches nothing
    assert channel.fetches == 1 and len(channel.sent) == queued and runner._pending() == 0


# -- poison: quarantined, never stalling the cursor ----------------------------------


class PoisonChannel(RecordingChannel):
    """Serves its posts, plus `rejected` payloads (as an adapter reports them) on the first fetch."""

    def __init__(self, posts, rejected=()):
        super().__init__(posts)
        self.rejected = list(rejected)

    def fetch(self, cursor, timeout=0):
        result = super().fetch(cursor, timeout)
        rejected, self.rejected = self.rejected, []
        return FetchResult(result.messages, result.next_cursor, rejected)


def failing_on(app, text, error):
    """Make the classifier raise `error` for `text` (a bug, or the database going away mid-post)."""
    real = app.classifier.classify

    def classify(value, **kw):
        if value == text:
            raise error
        return real(value, **kw)

    app.classifier.classify = classify
    return lambda: setattr(app.classifier, "classify", real)


def rows(app, model):
    with transaction(app.engine) as s:
        return s.exec(select(model)).all()


def cursor_of(app, name="telegram"):
    with transaction(app.engine) as s:
        row = s.get(ChannelCursor, name)
        return row.cursor if row else None


def test_rejected_payloads_are_quarantined_and_the_cursor_moves(app):
    poison = [{"update_id": 7, "error": "MalformedPayload: message.chat is missing", "raw": {"message": {"x": 1}}},
              {"source": "mentions", "id": "991", "error": "MalformedPayload: text must be a string",
               "raw": {"id": "991", "text": ["a"]}}]
    channel = PoisonChannel([post("bache enorme en la calle Mayor 40", user="q1")], poison)
    runner = Runner(app, {"telegram": channel})
    assert runner.ingest("telegram") == 3
    kept = sorted(rows(app, QuarantinedPayload), key=lambda r: r.id)
    assert [(q.channel, q.external_id, q.error, q.raw) for q in kept] == [
        ("telegram", "update:7", poison[0]["error"], poison[0]["raw"]),
        ("telegram", "991", poison[1]["error"], poison[1]["raw"])]
    assert cursor_of(app) == "1" and len(rows(app, Ticket)) == 1


def test_a_post_that_breaks_processing_is_quarantined_and_the_rest_go_on(app, caplog):
    posts = [post(f"bache enorme en la calle Mayor {n}", user=f"w{n}") for n in range(3)]
    restore = failing_on(app, posts[1].text, ValueError("classifier bug"))
    runner = Runner(app, {"telegram": RecordingChannel(posts)})
    report = PassReport()
    with caplog.at_level("WARNING", logger="bot.runner"):
        assert runner.ingest("telegram", report=report) == 3
    assert report.failed == 1 and len(report.tickets) == 2
    (kept,) = rows(app, QuarantinedPayload)
    assert (kept.external_id, kept.error) == (posts[1].external_id, "ValueError: classifier bug")
    assert cursor_of(app) == "3"
    assert {m.external_id for m in rows(app, Message)} == {posts[0].external_id, posts[2].external_id}
    assert posts[1].external_id in caplog.text and "calle Mayor" not in caplog.text  # no citizen text in logs
    # a crash before the cursor was stored re-fetches: the same poison is not kept twice
    with transaction(app.engine) as s:
        s.delete(s.get(ChannelCursor, "telegram"))
    runner.ingest("telegram")
    assert len(rows(app, QuarantinedPayload)) == 1 and len(rows(app, Ticket)) == 2
    restore()


def test_a_database_outage_mid_batch_leaves_the_cursor_and_loses_nothing(app):
    posts = [post(f"farola apagada en la calle Real {n}", user=f"z{n}") for n in range(3)]
    outage = OperationalError("INSERT INTO message ...", {}, Exception("server closed the connection unexpectedly"))
    restore = failing_on(app, posts[1].text, outage)
    poison = [{"update_id": 9, "error": "MalformedPayload: message.date is missing", "raw": {"message": {}}}]
    runner = Runner(app, {"telegram": PoisonChannel(posts, poison)})
    with pytest.raises(OperationalError):
        runner.ingest("telegram")
    # not quarantined (not the post's fault), the cursor stays, the poison was kept before it
    assert cursor_of(app) is None
    assert [q.external_id for q in rows(app, QuarantinedPayload)] == ["update:9"]
    assert len(rows(app, Ticket)) == 1
    restore()  # the database is back: the same posts come again, none lost, none doubled
    runner.ingest("telegram")
    assert cursor_of(app) == "3" and len(rows(app, Ticket)) == 3 and len(rows(app, QuarantinedPayload)) == 1
