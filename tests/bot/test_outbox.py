import random

from sqlmodel import select

from bot.db import transaction
from bot.models import OutboxMessage
from bot.outbox import Delivery
from bot.pipeline import Pipeline
from channels.base import PermanentError, RateLimited, TransientError
from tests.helpers import RecordingChannel, post


def setup(app, failures=()):
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
