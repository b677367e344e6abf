"""Faults benchmark: the sandbox fails 20% of the bot's API calls (429, 500 or 503); everything still arrives.

    .venv/bin/python bench/faults.py [--posts 1000] [--rate 0.2]

Every platform fails a random `rate` of calls (reads and writes alike) with a random one of
429 (retry-after 1 s), 500 and 503, seeded. The bot runs until every post is answered. Printed:
posts answered per platform, the faults injected, the delivery retries (outbox attempts beyond
the first), the fetch failures the bot logged, duplicate answers, and the time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402

from bench.harness import (  # noqa: E402
    PLATFORMS, AnswerCounter, bench_config, bot_env, post_burst, start_bot, stop, wait_until, warm_model,
)

FAULT_BUDGET = 1_000_000  # failures allowed in total; the rate decides how many happen


def set_faults(sandbox_url: str, rate: float, seed: int) -> None:
    for n, platform in enumerate(PLATFORMS):
        body = {"status": [429, 500, 503], "count": FAULT_BUDGET, "rate": rate, "retry_after": 1, "seed": seed + n}
        requests.post(f"{sandbox_url}/_sandbox/{platform}/faults", json=body, timeout=30).raise_for_status()


def faults_injected(sandbox_url: str) -> dict[str, int]:
    return {p: requests.get(f"{sandbox_url}/_sandbox/{p}/faults", timeout=30).json()["injected"] for p in PLATFORMS}


def delivery_retries(db_file: Path) -> dict[str, int]:
    import sqlite3

    db = sqlite3.connect(db_file)
    rows = db.execute("SELECT channel, sum(attempts) - count(*), sum(state = 'dead') FROM outboxmessage "
                      "WHERE state != 'pending' GROUP BY channel").fetchall()
    db.close()
    return {channel: {"retries": retries, "dead": dead} for channel, retries, dead in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    from channels.sandbox.server import SandboxServer

    with tempfile.TemporaryDirectory() as folder, SandboxServer(port=0) as sandbox:
        workdir = Path(folder)
        config = bench_config(workdir)
        env = bot_env(str(workdir / "models"))
        warm_model(config, env)
        burst = post_burst(sandbox.url, args.posts)
        set_faults(sandbox.url, args.rate, args.seed)
        log = workdir / "bot.log"
        started = time.perf_counter()
        bot = start_bot(config, sandbox.url, env, log)
        try:
            answered = AnswerCounter(sandbox.url, burst)
            done = wait_until(lambda: answered() >= args.posts, timeout=3600, every=1)
            elapsed = time.perf_counter() - started
        finally:
            stop(bot)
        injected = faults_injected(sandbox.url)
        text = log.read_text(errors="replace")
        answered()  # the replies since the last poll
        result = {
            "posts": args.posts, "rate": args.rate, "all_answered": done, "seconds": round(elapsed, 1),
            "acks": answered.per_platform(),
            "faults_injected": injected,
            "delivery": delivery_retries(workdir / "tickets.db"),
            "fetch_failures_logged": text.count("fetch failed") + text.count("rate limited"),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
