"""Test helpers: building inbound posts and a recording channel (a fake platform, never a fake database)."""

from __future__ import annotations

import itertools

from channels.base import Capabilities, FetchResult, InboundMessage, OutboundMessage, SendResult, TransientError

_ids = itertools.count(1)


def post(text: str, user: str = "ana", channel: str = "telegram", **kw) -> InboundMessage:
    number = next(_ids)
    kw.setdefault("external_id", f"100:{number}")
    kw.setdefault("conversation_id", "100")
    return InboundMessage(channel=channel, author_id=f"u-{user}", author_handle=user, text=text, **kw)


class RecordingChannel:
    """Serves queued posts and records sends; `failures` are raised by the next sends, in order.

    `fail_after_parts=k`: the next send posts its first k parts, then fails with `delivered` set,
    as an adapter does when a split reply breaks off. `posted` lists every part that went out:
    (idempotency key, part number, external id). A send honours `skip_parts`.
    """

    name = "telegram"
    capabilities = Capabilities(max_length=4096)

    def __init__(self, posts=(), failures=(), parts: int = 1, fail_after_parts: int | None = None) -> None:
        self.posts = list(posts)
        self.failures = list(failures)
        self.parts = parts  # how many posts each reply becomes (a thread on X)
        self.sent: list[OutboundMessage] = []
        self.fail_after_parts = fail_after_parts
        self.posted: list[tuple[str | None, int, str]] = []

    def fetch(self, cursor, timeout=0):
        start = int(cursor or 0)
        batch = self.posts[start:start + 10]
        return FetchResult(batch, str(start + len(batch)) if batch else cursor)

    def send(self, message):
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        first = f"{message.conversation_id}:bot{len(self.sent)}"
        ids = [first, *(f"{first}.{n}" for n in range(2, self.parts + 1))]
        numbered = list(enumerate(ids, 1))[message.skip_parts:]
        breaks, self.fail_after_parts = self.fail_after_parts, None
        if breaks is not None:
            numbered = numbered[:breaks]
        self.posted += [(message.idempotency_key, n, i) for n, i in numbered]
        if breaks is not None:
            error = TransientError("connection reset mid-thread")
            error.delivered = tuple(i for _, i in numbered)
            raise error
        return SendResult(external_id=numbered[0][1], extra_ids=tuple(i for _, i in numbered[1:]))

    def close(self):
        pass
