"""Scale of the store: 1,000,000 tickets seeded, then the staff commands timed.

    .venv/bin/python bench/store_scale.py [--tickets 1000000] [--postgres] [--keep PATH]

Seeds tickets (about 8% unfinished, a spread of categories, statuses and dates over three
years), one report message each from 50,000 citizens, through the real schema (migrations
applied). Then prints, for each of `tickets list` (default filters), `tickets list --overdue`,
`tickets show REF` and `digest preview`, the time of the service call in a warm process (the
median of 5) and the wall time of the whole CLI command (process start included).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import REPO, bench_config, bot_env, drop_pg_database, fresh_pg_database  # noqa: E402

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
CITIZENS = 50_000
CHUNK = 20_000


def seed(url: str, tickets: int, categories: list[str], staff: list[str], rng: random.Random) -> None:
    """Insert the rows with SQLAlchemy Core in large batches (schema from the migrations)."""
    from sqlalchemy import insert

    from bot.db import open_database
    from bot.models import Citizen, Message, Ticket

    engine = open_database(url)
    with engine.begin() as conn:
        for start in range(0, CITIZENS, CHUNK):
            conn.execute(insert(Citizen), [
                {"id": i + 1, "channel": "telegram", "external_user_id": f"u{i}", "handle": f"vecino{i}", "language": "es",
                 "created_at": NOW - timedelta(days=1000)} for i in range(start, min(CITIZENS, start + CHUNK))])
    for start in range(0, tickets, CHUNK):
        ticket_rows, message_rows = [], []
        for i in range(start, min(tickets, start + CHUNK)):
            created = NOW - timedelta(minutes=(tickets - i) * 1.5)  # oldest first, about 3 years for 1M
            unfinished = rng.random() < 0.08 or i > tickets - 500
            status = rng.choice(("open", "in_progress", "triage")) if unfinished else rng.choice(("resolved", "resolved", "closed"))
            resolved_at = created + timedelta(hours=rng.uniform(1, 300)) if status == "resolved" else None
            ticket_rows.append({
                "id": i + 1, "ref": f"JUN-{i + 1}", "status": status, "category": rng.choice(categories),
                "priority": "normal", "department": "public_works", "assignee": rng.choice(staff), "channel": "telegram",
                "language": "es", "confidence": 0.8, "location_text": f"Calle Real {i % 90 + 1}",
                "created_at": created, "updated_at": resolved_at or created,
                "expected_at": created + timedelta(hours=rng.choice((24, 72, 120))), "resolved_at": resolved_at,
            })
            message_rows.append({
                "channel": "telegram", "external_id": f"1:{i}", "citizen_id": rng.randrange(CITIZENS) + 1,
                "ticket_id": i + 1, "role": "report", "kind": "mention", "text": "Farola apagada en la calle Real",
                "media": [], "raw": {}, "received_at": created,
            })
        with engine.begin() as conn:
            conn.execute(insert(Ticket), ticket_rows)
            conn.execute(insert(Message), message_rows)
        print(f"seeded {min(tickets, start + CHUNK)}/{tickets}", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    if url.startswith("postgresql"):
        from sqlalchemy import text

        with engine.begin() as conn:
            conn.execute(text("SELECT setval('ticket_id_seq', (SELECT max(id) FROM ticket))"))
            conn.execute(text("ANALYZE"))
    engine.dispose()


def warm_timings(config: Path, ref: str) -> dict[str, float]:
    """Median seconds of each service call, in one process with the database open."""
    from bot.app import build_app
    from bot.clock import FrozenClock
    from bot.config import load_config
    from bot.digest import period_numbers
    from bot.db import transaction
    from bot.service import TicketService

    cfg = load_config(config)
    app = build_app(cfg, FrozenClock(NOW), with_classifier=False)
    svc = TicketService(app.engine, cfg, app.clock)

    def digest() -> None:
        with transaction(app.engine) as session:
            period_numbers(session, cfg, "weekly", NOW)

    calls = {
        "tickets list": lambda: svc.list(limit=50),
        "tickets list --overdue": lambda: svc.list(overdue=True, limit=50),
        f"tickets show {ref}": lambda: svc.show(ref),
        "digest preview --period weekly": digest,
    }
    timings = {}
    for name, call in calls.items():
        samples = []
        for _ in range(5):
            started = time.perf_counter()
            call()
            samples.append(time.perf_counter() - started)
        timings[name] = round(statistics.median(samples), 4)
    app.engine.dispose()
    return timings


def cli_timings(config: Path, ref: str) -> dict[str, float]:
    commands = {
        "tickets list": ["tickets", "list", "--json", "--limit", "50"],
        "tickets list --overdue": ["tickets", "list", "--overdue", "--json", "--limit", "50"],
        f"tickets show {ref}": ["tickets", "show", ref, "--json"],
        "digest preview --period weekly": ["digest", "preview", "--period", "weekly", "--json"],
    }
    timings = {}
    for name, args in commands.items():
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(config), *args], cwd=REPO, env=bot_env(),
                       capture_output=True, check=True)
        timings[name] = round(time.perf_counter() - started, 3)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import bot.cli"], cwd=REPO, env=bot_env(), check=True)
    timings["(python start + imports only)"] = round(time.perf_counter() - started, 3)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--keep", help="folder to keep the seeded SQLite database in (reused when it exists)")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp())
    url = fresh_pg_database() if args.postgres else None
    if args.postgres and url is None:
        sys.exit("PostgreSQL at 127.0.0.1:5432 is not reachable")
    config = bench_config(folder, url)
    from bot.config import load_config

    cfg = load_config(config)
    db_file = folder / "tickets.db"
    try:
        if url or not db_file.exists():
            started = time.perf_counter()
            seed(cfg.resolved_database_url(), args.tickets, [c.code for c in cfg.categories],
                 [s.name for d in cfg.departments for s in d.staff], random.Random(5))
            print(f"seeded {args.tickets} tickets in {time.perf_counter() - started:.0f}s", file=sys.stderr)
        ref = f"JUN-{args.tickets // 2}"
        result = {"tickets": args.tickets, "store": "postgresql" if url else "sqlite",
                  "service_call_seconds": warm_timings(config, ref), "cli_wall_seconds": cli_timings(config, ref)}
        print(json.dumps(result, indent=2))
    finally:
        if url:
            drop_pg_database(url)


if __name__ == "__main__":
    main()
