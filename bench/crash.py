"""Crash benchmark: a burst of mentions, and `kill -9` of the bot at random moments while it works.

    .venv/bin/python bench/crash.py [--posts 10000] [--kills 5] [--postgres] [--seed 1]

Each kill comes after a random number of new acknowledgements since the bot (re)started, so it
lands in the middle of ingesting, classifying or delivering. After the last restart the bot runs
until every post is answered. Printed: tickets, duplicate tickets, posts left unanswered, and the
duplicate acknowledgements per platform (Mastodon's Idempotency-Key keeps its count at 0; X and
Telegram can repeat a reply whose send succeeded just before the kill: see the README).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (  # noqa: E402
    PLATFORMS, AnswerCounter, bench_config, bot_env, drop_pg_database, fresh_pg_database,
    kill_hard, post_burst, start_bot, stop, wait_until,
)


@dataclass
class CrashReport:
    posts: int
    kills: int
    tickets: int = 0
    duplicate_tickets: int = 0
    messages: int = 0
    unanswered: int = 0
    acks: dict = field(default_factory=dict)
    seconds: float = 0.0


def database_counts(url: str) -> tuple[int, int, int]:
    """(tickets, duplicate tickets by first report, citizen messages)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        tickets = conn.execute(text("SELECT count(*) FROM ticket")).scalar_one()
        messages = conn.execute(text("SELECT count(*) FROM message")).scalar_one()
        duplicates = conn.execute(text(
            "SELECT count(*) FROM (SELECT channel, external_id FROM message WHERE role = 'report' "
            "GROUP BY channel, external_id HAVING count(*) > 1) d")).scalar_one()
    engine.dispose()
    return tickets, duplicates, messages


def run_crash(sandbox_url: str, workdir: Path, posts: int, kills: int, database_url: str | None = None,
              seed: int = 1, model_cache: str | None = None, settle_timeout: float = 600) -> CrashReport:
    """Play the burst with `kills` hard kills; return what the store and the platforms show at the end."""
    rng = random.Random(seed)
    config = bench_config(workdir, database_url)
    db_url = database_url or f"sqlite:///{workdir / 'tickets.db'}"
    burst = post_burst(sandbox_url, posts, seed)
    env = bot_env(model_cache)
    report = CrashReport(posts=posts, kills=kills)
    answered = AnswerCounter(sandbox_url, burst)
    started = time.monotonic()
    for round_number in range(kills):
        before = answered()
        bot = start_bot(config, sandbox_url, env, workdir / "bot.log")
        target = before + rng.randint(1, max(1, posts // (2 * kills)))
        # kill after some progress, or after a while if the bot is slow to start
        wait_until(lambda: answered() >= target or bot.poll() is not None, timeout=120, every=0.05)
        time.sleep(rng.uniform(0, 0.5))
        kill_hard(bot)
        print(f"kill {round_number + 1}: {answered()}/{posts} answered", file=sys.stderr)
    bot = start_bot(config, sandbox_url, env, workdir / "bot.log")
    try:
        wait_until(lambda: answered() >= posts, timeout=settle_timeout, every=0.5)
        time.sleep(2)  # let a repeated reply, if any, show up before counting
    finally:
        stop(bot)
    report.seconds = round(time.monotonic() - started, 1)
    answered()  # the replies since the last poll
    report.acks = answered.per_platform()
    report.unanswered = posts - sum(v["answered"] for v in report.acks.values())
    report.tickets, report.duplicate_tickets, report.messages = database_counts(db_url)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--postgres", action="store_true", help="a fresh database on 127.0.0.1:5432 instead of SQLite")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    from channels.sandbox.server import SandboxServer

    url = fresh_pg_database() if args.postgres else None
    if args.postgres and url is None:
        sys.exit("PostgreSQL at 127.0.0.1:5432 is not reachable")
    with tempfile.TemporaryDirectory() as folder, SandboxServer(port=0) as sandbox:
        try:
            report = run_crash(sandbox.url, Path(folder), args.posts, args.kills, url, args.seed)
        finally:
            if url:
                drop_pg_database(url)
    print(json.dumps(asdict(report), indent=2))
    for platform in PLATFORMS:
        acks = report.acks.get(platform, {})
        print(f"{platform:9} answered {acks.get('answered', 0)}/{acks.get('posted', 0)}, "
              f"duplicate acknowledgements {acks.get('duplicate_answers', 0)}")
    print(f"tickets {report.tickets} for {report.posts} posts, duplicate tickets {report.duplicate_tickets}, "
          f"{report.kills} kills, {report.seconds}s")


if __name__ == "__main__":
    main()
