"""Two `citybot run` processes on one database post exactly one daily digest per channel between them.

On SQLite they share one file (the scheduler leader holds a Lease row); on PostgreSQL one database
(the leader holds an advisory lock). They start at once on a database nobody has opened yet.

Both start with a daily digest whose fire time has passed today and never ran: each would catch
it up, but only the scheduler leader does, and the DigestRun key and the outbox leases keep it
to one post per channel.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from bench.harness import bot_env, sent, stop, wait_until
from bot.config import load_config
from bot.db import open_database, transaction
from bot.models import DigestRun, Lease
from channels.sandbox.server import SandboxServer
from tests.conftest import REPO

CHANNELS = ("x", "mastodon")


def two_process_config(folder: Path) -> Path:
    """The shipped config on X and Mastodon, a daily digest at local midnight (so always due today), no other digest."""
    data = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    for name, channel in data["channels"].items():
        channel["enabled"] = name in CHANNELS
        channel["poll_interval"] = 1
        channel["poll_timeout"] = 0
    data["database_url"] = os.environ.get("CITYBOT_DATABASE_URL")  # set on the PostgreSQL run
    data["digests"] = {**data["digests"], "daily": "0 0 * * *", "weekly": None, "staff": None}
    data["scheduler"] = {**data.get("scheduler", {}), "enabled": True}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def start_bot(config: Path, sandbox_url: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    """`citybot -v run` in its own process group, logging (at INFO) to `log`."""
    command = [sys.executable, "-m", "bot.cli", "--config", str(config), "-v", "run", "--sandbox", sandbox_url]
    with open(log, "ab") as handle:
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def log_text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


@pytest.mark.timeout(300)
def test_two_processes_post_one_daily_digest_per_channel(tmp_path, app):
    # `app` trained (or found) the model, so both bots load it instead of training it twice.
    config = two_process_config(tmp_path / "bot")
    env = bot_env(os.environ["CITYBOT_MODEL_CACHE"])
    logs = [tmp_path / "bot-a.log", tmp_path / "bot-b.log"]
    with SandboxServer(port=0) as sandbox:
        bots = [start_bot(config, sandbox.url, env, log) for log in logs]
        try:
            assert wait_until(lambda: all("with the scheduler" in log_text(log) for log in logs), 180), \
                [log_text(log)[-2000:] for log in logs]
            assert wait_until(lambda: all(sent(sandbox.url, name) for name in CHANNELS), 120), \
                [log_text(log)[-2000:] for log in logs]
            # Give the other process time to run its own leadership check and several delivery passes.
            wait_until(lambda: False, 8)
            assert all(bot.poll() is None for bot in bots), [log_text(log)[-2000:] for log in logs]
        finally:
            for bot in bots:
                stop(bot)
        posts = {name: sent(sandbox.url, name) for name in CHANNELS}
    assert {name: len(items) for name, items in posts.items()} == {"x": 1, "mastodon": 1}, posts
    assert all(item["in_reply_to"] is None for items in posts.values() for item in items)
    assert [bot.returncode for bot in bots] == [0, 0], [log_text(log)[-2000:] for log in logs]
    # Both schedulers ran; only the leader caught the missed digest up.
    assert sum("catching up digest_daily" in log_text(log) for log in logs) == 1
    engine = open_database(load_config(config).resolved_database_url())
    with transaction(engine) as session:
        runs = session.exec(select(DigestRun).where(DigestRun.kind == "daily")).all()
        assert sorted(run.target for run in runs) == sorted(CHANNELS)
        assert len({run.period for run in runs}) == 1
        if engine.dialect.name == "sqlite":
            assert session.get(Lease, "scheduler") is not None  # the leader's lease, released on exit
    engine.dispose()
