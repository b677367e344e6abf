"""The crash benchmark at a small size: kill -9 the bot three times during a burst of 500 posts.

Nothing is lost (every post has a ticket and an answer) and nothing is doubled (one ticket per
post; Mastodon never gets a second acknowledgement). Runs on SQLite and on the real PostgreSQL.
"""

import os

import pytest

from bench.crash import run_crash
from bench.harness import drop_pg_database, fresh_pg_database
from channels.sandbox.server import SandboxServer

POSTS, KILLS = 500, 3


@pytest.fixture
def trained(app):
    """Train (or find) the shipped model first, so the bot processes start quickly."""
    return os.environ["CITYBOT_MODEL_CACHE"]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    if request.param == "sqlite":
        yield None
        return
    url = fresh_pg_database()
    if url is None:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    yield url
    drop_pg_database(url)


@pytest.mark.timeout(900)
def test_nothing_lost_nothing_doubled_across_kills(tmp_path, trained, database_url):
    with SandboxServer(port=0) as sandbox:
        report = run_crash(sandbox.url, tmp_path / "crash", POSTS, KILLS, database_url, seed=3, model_cache=trained)
    assert report.tickets == POSTS and report.messages == POSTS
    assert report.duplicate_tickets == 0
    assert report.unanswered == 0, report.acks
    assert report.acks["mastodon"]["duplicate_answers"] == 0
    for platform in ("telegram", "x"):
        # a reply accepted just before a kill may be repeated; never more than once per kill
        assert report.acks[platform]["duplicate_answers"] <= KILLS
