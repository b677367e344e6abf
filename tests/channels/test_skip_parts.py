"""Adapters resume a split reply: `skip_parts` parts were posted by an earlier attempt (X here;
Telegram and Mastodon are covered end to end in tests/bot/test_outbox.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from channels.x import split_thread
from tests.channels.helpers import only
from tests.channels.test_x import make, post, reply, sent

LONG = " ".join(f"Paso {n}: revisamos la farola y el bordillo." for n in range(20))


@pytest.fixture
def channel(sandbox, tmp_path):
    adapter = make(sandbox.url, tmp_path)
    yield adapter
    adapter.close()


def test_x_thread_resumes_numbered_under_in_reply_to(channel, client):
    root = post(client, user="ana", text="bache")  # stands for the last part an earlier attempt posted
    citizen = only(channel)
    parts = split_thread(LONG)
    resumed = channel.send(replace(reply(citizen, LONG), skip_parts=1))
    records = sent(client)
    assert len(parts) >= 3 and [r["text"] for r in records] == parts[1:]
    assert records[-1]["text"].startswith(f"{len(parts)}/{len(parts)} ")
    assert [r["in_reply_to"] for r in records] == [root] + [r["id"] for r in records[:-1]]
    assert (resumed.external_id, *resumed.extra_ids) == tuple(r["id"] for r in records)


def test_x_dm_resumes_with_the_remaining_chunks(channel, client):
    post(client, user="luc", text="salut", kind="dm")
    citizen = only(channel)
    text = "\n\n".join(f"Párrafo {n}: " + "palabra " * 1100 for n in range(3))  # ~8.8k chars each: 3 DMs
    channel.send(reply(citizen, text))
    assert len(sent(client)) == 3
    channel.send(replace(reply(citizen, text), in_reply_to=f"dm:{sent(client)[0]['id']}", skip_parts=1))
    records = sent(client)
    assert len(records) == 5 and [r["text"] for r in records[3:]] == [r["text"] for r in records[1:3]]
    assert all(r["to_user"] == "luc" for r in records)
