import threading

from sqlmodel import select

from bot.db import transaction
from bot.models import ChannelCursor, Ticket
from bot.runner import Runner
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
