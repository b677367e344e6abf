"""The client libraries' own floor: fetch and answer mentions through each adapter, no database, no classifier.

    .venv/bin/python bench/adapter_floor.py [--posts 1500]

The sandbox runs as its own process (`citybot sandbox serve`), as in bench/burst.py, and this
process only drives the adapters (tweepy, python-telegram-bot, Mastodon.py). Printed per
platform: posts fetched per second (every fetch until the backlog is empty) and replies sent
per second (one `send` per post, in its thread). `floor_messages_per_second` is what one core
could do end to end if everything citybot adds (store, classify, route, outbox) cost nothing:
a fetch and a send per post, with the posts spread evenly over the three platforms. bench/burst.py
is bounded by it.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import PLATFORMS, REPO, bench_config, post_burst  # noqa: E402
from bot.config import load_config  # noqa: E402
from channels.base import OutboundMessage  # noqa: E402
from channels.registry import build_channels  # noqa: E402


def start_sandbox() -> tuple[subprocess.Popen, str]:
    """The sandbox in its own process, on a port it picks; the process and its URL."""
    code = "from channels.sandbox.server import serve; serve(port=0, announce=lambda line: print(line, flush=True))"
    process = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    announced = re.search(r"http://\S+", process.stdout.readline())  # printed once the port is bound
    if announced is None:
        process.kill()
        raise SystemExit("the sandbox did not start")
    return process, announced.group(0)


def measure(channel, posts: int) -> dict:
    started = time.perf_counter()
    messages, cursor = [], None
    while True:
        result = channel.fetch(cursor)
        messages += result.messages
        if result.next_cursor == cursor and not result.messages:
            break
        cursor = result.next_cursor
    fetch_seconds = time.perf_counter() - started
    if len(messages) != posts:
        raise SystemExit(f"{channel}: fetched {len(messages)} of {posts} posts")
    started = time.perf_counter()
    for n, inbound in enumerate(messages):
        channel.send(OutboundMessage(
            channel=inbound.channel, recipient_id=inbound.author_id, recipient_handle=inbound.author_handle,
            conversation_id=inbound.conversation_id, in_reply_to=inbound.external_id,
            text=f"Thanks, we have it: JUN-{n}. We expect to fix it by Monday.", idempotency_key=f"floor-{n}"))
    send_seconds = time.perf_counter() - started
    return {"posts": posts, "fetched_per_second": round(posts / fetch_seconds, 1),
            "sent_per_second": round(posts / send_seconds, 1),
            "ms_per_post": round(1000 * (fetch_seconds + send_seconds) / posts, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1500, help="posts per platform")
    args = parser.parse_args()
    sandbox, url = start_sandbox()
    try:
        with tempfile.TemporaryDirectory() as folder:
            cfg = load_config(bench_config(Path(folder)))
            channels = build_channels(cfg, url)
            post_burst(url, args.posts * len(PLATFORMS))
            figures = {}
            try:
                for name in PLATFORMS:
                    figures[name] = measure(channels[name], args.posts)
                    print(json.dumps({"platform": name, **figures[name]}), flush=True)
            finally:
                for channel in channels.values():
                    channel.close()
        mean_ms = sum(f["ms_per_post"] for f in figures.values()) / len(figures)
        print(json.dumps({"floor_messages_per_second": round(1000 / mean_ms, 1), "mean_ms_per_post": round(mean_ms, 2)}))
    finally:
        sandbox.terminate()
        sandbox.wait(10)


if __name__ == "__main__":
    main()
