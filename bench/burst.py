"""Burst benchmark: 10,000 mentions across the three platforms, then `citybot run` until all are answered.

    .venv/bin/python bench/burst.py [--posts 10000] [--postgres] [--workers 1 2 4]

Printed, in the same run:
- end to end messages/s: from the moment the bot is up (model loaded) until the last
  acknowledgement is in the sandbox's `sent` (ingest, classify, ticket, ack delivered);
- the raw insert speed of the same rows into SQLite (one transaction per post, as the bot
  commits, and one transaction for all), as the reference for what the store alone costs.
With --postgres, each worker count runs against a fresh database with that many
`citybot run` processes.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (  # noqa: E402
    PHRASES, AnswerCounter, bench_config, bot_env, drop_pg_database, fresh_pg_database,
    post_burst, start_bot, stop, wait_until, warm_model,
)

READY_LINE = b"citybot running"


def wait_ready(log: Path, processes: int, timeout: float = 300) -> bool:
    return wait_until(lambda: log.exists() and log.read_bytes().count(READY_LINE) >= processes, timeout, every=0.05)


def end_to_end(sandbox_url: str, workdir: Path, posts: int, workers: int, database_url: str | None, model_cache: str) -> dict:
    config = bench_config(workdir, database_url)
    env = bot_env(model_cache)
    warm_model(config, env)
    burst = post_burst(sandbox_url, posts)
    log = workdir / "bot.log"
    bots = [start_bot(config, sandbox_url, env, log) for _ in range(workers)]
    try:
        if not wait_ready(log, workers):
            raise SystemExit(f"the bot did not start; see {log}")
        answered_so_far = AnswerCounter(sandbox_url, burst)
        started = time.perf_counter()
        done = wait_until(lambda: answered_so_far() >= posts, timeout=3600, every=0.25)
        elapsed = time.perf_counter() - started
    finally:
        for bot in bots:
            stop(bot)
    answered = answered_so_far()  # and whatever came in after the last poll
    return {"workers": workers, "posts": posts, "answered": answered, "complete": done,
            "seconds": round(elapsed, 2), "messages_per_second": round(answered / elapsed, 1)}


def raw_sqlite_inserts(posts: int, folder: Path) -> dict:
    """The same rows (citizen, message, ticket, outbox) inserted with sqlite3 directly."""
    rows = [(f"vecino{n}", f"{n}", PHRASES[n % len(PHRASES)][1].format(n=n)) for n in range(posts)]
    figures = {}
    for mode in ("per_post", "one_transaction"):
        path = folder / f"raw-{mode}.db"
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(
            "CREATE TABLE citizen(id INTEGER PRIMARY KEY, channel TEXT, user TEXT, UNIQUE(channel, user));"
            "CREATE TABLE ticket(id INTEGER PRIMARY KEY, ref TEXT, status TEXT, category TEXT, created TEXT);"
            "CREATE TABLE message(id INTEGER PRIMARY KEY, channel TEXT, external_id TEXT, citizen INT, ticket INT, text TEXT,"
            " UNIQUE(channel, external_id));"
            "CREATE TABLE outbox(id INTEGER PRIMARY KEY, ticket INT, text TEXT, state TEXT);")
        started = time.perf_counter()
        if mode == "one_transaction":
            db.execute("BEGIN")
        for user, external_id, text in rows:
            if mode == "per_post":
                db.execute("BEGIN")
            citizen = db.execute("INSERT INTO citizen(channel, user) VALUES ('x', ?)", (user,)).lastrowid
            ticket = db.execute("INSERT INTO ticket(ref, status, category, created) VALUES ('', 'open', 'roads', datetime())").lastrowid
            db.execute("INSERT INTO message(channel, external_id, citizen, ticket, text) VALUES ('x', ?, ?, ?, ?)",
                       (external_id, citizen, ticket, text))
            db.execute("INSERT INTO outbox(ticket, text, state) VALUES (?, 'ack', 'pending')", (ticket,))
            if mode == "per_post":
                db.execute("COMMIT")
        if mode == "one_transaction":
            db.execute("COMMIT")
        figures[f"sqlite_raw_{mode}_rows_per_second"] = round(posts / (time.perf_counter() - started), 1)
        db.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--workers", type=int, nargs="*", default=None, help="process counts (PostgreSQL); default 1 2 4")
    args = parser.parse_args()
    from channels.sandbox.server import SandboxServer

    results = []
    worker_counts = (args.workers or [1, 2, 4]) if args.postgres else [1]
    with tempfile.TemporaryDirectory() as folder:
        for workers in worker_counts:
            url = fresh_pg_database() if args.postgres else None
            if args.postgres and url is None:
                sys.exit("PostgreSQL at 127.0.0.1:5432 is not reachable")
            try:
                with SandboxServer(port=0) as sandbox:
                    result = end_to_end(sandbox.url, Path(folder) / f"w{workers}", args.posts, workers, url,
                                        str(Path(folder) / "models"))
            finally:
                if url:
                    drop_pg_database(url)
            result["store"] = "postgresql" if url else "sqlite"
            results.append(result)
            print(json.dumps(result), flush=True)
        print(json.dumps(raw_sqlite_inserts(args.posts, Path(folder))))


if __name__ == "__main__":
    main()
