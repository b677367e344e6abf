"""The `citybot` command line (typer + rich). Commands are thin: they call bot.service and bot.runner.

`--json` prints one JSON value on stdout and nothing else. Errors go to stderr with a
non-zero exit status and a message naming the problem.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.config import SANDBOX_ENV, Config, ConfigError, load_config
from bot.safe_text import neutralize
from bot.errors import ServiceError

if TYPE_CHECKING:
    from bot.service import TicketService

app = typer.Typer(help="citybot: a town hall's service desk on X, Telegram and Mastodon.", no_args_is_help=True, add_completion=False)
tickets_app = typer.Typer(help="The staff ticket queue.", no_args_is_help=True)
sandbox_app = typer.Typer(help="The loopback fake of the platforms' APIs.", no_args_is_help=True)
app.add_typer(tickets_app, name="tickets")
app.add_typer(sandbox_app, name="sandbox")

out = Console(highlight=False, emoji=False, markup=False)
if not out.is_terminal and "COLUMNS" not in os.environ:
    out.width = 132  # piped output: wide enough for the queue table
err = Console(stderr=True, highlight=False, emoji=False, markup=False)


class State:
    config_path: Optional[str] = None
    actor: Optional[str] = None


def fail(message: str, code: int = 1) -> None:
    from bot.redaction import redact

    err.print(f"error: {redact(message)}")
    raise typer.Exit(code)


def config() -> Config:
    from bot import redaction

    try:
        cfg = load_config(State.config_path)
    except ConfigError as exc:
        fail(str(exc), 2)
    redaction.install(cfg)
    return cfg


def build(cfg: Config, with_classifier: bool = True):
    from bot.app import build_app
    from bot.cli_classifier import first_use_progress

    try:
        return build_app(cfg, progress=first_use_progress(), with_classifier=with_classifier)
    except Exception as exc:  # noqa: BLE001 - a bad database URL must read as one line, not a trace
        fail(f"database: {type(exc).__name__}: {exc}".splitlines()[0], 2)


def service() -> TicketService:
    from bot.service import TicketService  # not at import: `citybot classify` needs no database

    cfg = config()
    application = build(cfg, with_classifier=False)
    return TicketService(application.engine, cfg, application.clock, actor=State.actor or "staff")


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=True, indent=2) + "\n")


def run_verb(call, as_json: bool, done: str) -> None:
    try:
        ticket = call()
    except ServiceError as exc:
        fail(str(exc))
    if as_json:
        print_json(ticket)
    else:
        out.print(f"{ticket['ref']}: {done} (status {ticket['status']}, assignee {ticket['assignee'] or '-'})")


@app.callback()
def main_options(
    config_path: Optional[str] = typer.Option(None, "--config", help="config.yaml to use (default ./config.yaml or $CITYBOT_CONFIG)."),
    actor: Optional[str] = typer.Option(None, "--as", envvar="CITYBOT_STAFF", help="The staff member acting (for claim and the audit trail)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what the bot does."),
) -> None:
    State.config_path = config_path
    State.actor = actor
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "telegram", "alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# -- tickets --------------------------------------------------------------------------
@tickets_app.command("list")
def tickets_list(
    status: Optional[str] = typer.Option(None, help="A status, or 'all'. Default: everything not resolved or closed."),
    category: Optional[str] = typer.Option(None),
    assignee: Optional[str] = typer.Option(None),
    overdue: bool = typer.Option(False, "--overdue"),
    limit: Optional[int] = typer.Option(None),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The staff queue, newest first."""
    svc = service()
    if limit is None and not as_json:
        limit = 50
    try:
        rows = svc.list(status, category, assignee, overdue, limit)
    except ServiceError as exc:
        fail(str(exc))
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"{svc.cfg.city.name}: {len(rows)} ticket(s)", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("ref", "status", "prio", "category", "assignee", "created", "due"):
        table.add_column(column, no_wrap=True)
    table.add_column("place", overflow="fold", min_width=12)
    table.add_column("rep", justify="right")
    for row in rows:
        place = (row["location"] or {}).get("text") or ("pin" if row["location"] else "")
        table.add_row(row["ref"], row["status"], row["priority"], row["category"] or "?", row["assignee"] or "-",
                      local_time(svc.cfg, row["created_at"], short=True), local_time(svc.cfg, row["expected_at"], short=True),
                      Text(neutralize(place, single_line=True)), str(row["reports"]))
    out.print(table)


def local_time(cfg: Config, iso_value: str | None, short: bool = False) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    if not iso_value:
        return "-"
    when = datetime.fromisoformat(iso_value).astimezone(ZoneInfo(cfg.city.timezone))
    return when.strftime("%d/%m %H:%M" if short else "%Y-%m-%d %H:%M")


@tickets_app.command("show")
def tickets_show(ref: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """One ticket with its whole timeline."""
    svc = service()
    try:
        data = svc.show(ref)
    except ServiceError as exc:
        fail(str(exc))
    if as_json:
        print_json(data)
        return
    cfg = svc.cfg
    loc = data["location"] or {}
    out.print(Text(f"{data['ref']}  [{data['status']}]  {data['category'] or '?'}  priority {data['priority']}"
                   + (f" ({neutralize(data['priority_reason'])})" if data["priority_reason"] else "")))
    out.print(Text(f"department {data['department'] or '-'}, assignee {data['assignee'] or '-'}, "
                   f"created {local_time(cfg, data['created_at'])}, expected {local_time(cfg, data['expected_at'])}"))
    if loc:
        coords = f" ({loc['lat']}, {loc['lon']})" if loc.get("lat") is not None else ""
        out.print(Text(f"place: {neutralize(loc.get('text') or '')}{coords}"))
    timeline = [(m["at"], "message", f"{m['channel']} {neutralize(m['from'], True)} [{m['role']}]: {neutralize(m['text'])}"
                 + (f"  media: {', '.join(map(str, m['media']))}" if m["media"] else "")) for m in data["messages"]]
    timeline += [(e["at"], "event", f"{e['actor']} {e['kind']}" + event_summary(e["data"]) + (" (public)" if e["public"] else "")
                  + (f": {neutralize(e['text'])}" if e["text"] else "")) for e in data["events"]]
    timeline += [(r["at"], "reply", f"to {neutralize(r['to'], True)} on {r['channel']} [{r['state']}]: {neutralize(r['text'])}") for r in data["replies"]]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("when", no_wrap=True)
    table.add_column("what", no_wrap=True)
    table.add_column("detail")
    for at, what, detail in sorted(timeline, key=lambda item: item[0] or ""):
        table.add_row(local_time(cfg, at), what, Text(detail))
    out.print(table)


def event_summary(data: dict[str, Any]) -> str:
    """The few event fields worth a glance: who, which category, why."""
    shown = [f"{key}={data[key]}" for key in ("assignee", "category", "previous", "reason", "of", "priority_reason") if data.get(key)]
    return f" ({neutralize(', '.join(shown))})" if shown else ""


@tickets_app.command("assign")
def tickets_assign(ref: str, staff: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Give the ticket to a staff member."""
    svc = service()
    run_verb(lambda: svc.assign(ref, staff), as_json, f"assigned to {staff}")


@tickets_app.command("claim")
def tickets_claim(ref: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Take the ticket yourself (--as STAFF or $CITYBOT_STAFF)."""
    svc = service()
    if not State.actor:
        fail("claim needs to know who you are: pass --as STAFF or set CITYBOT_STAFF")
    run_verb(lambda: svc.claim(ref), as_json, "claimed")


@tickets_app.command("note")
def tickets_note(ref: str, text: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """An internal note, never sent out."""
    svc = service()
    run_verb(lambda: svc.note(ref, text), as_json, "note added")


@tickets_app.command("reply")
def tickets_reply(ref: str, text: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """A public reply to the reporter(s), on their original channels."""
    svc = service()
    run_verb(lambda: svc.reply(ref, text), as_json, "reply queued")


@tickets_app.command("resolve")
def tickets_resolve(ref: str, note: Optional[str] = typer.Option(None), photo: Optional[str] = typer.Option(None),
                    as_json: bool = typer.Option(False, "--json")) -> None:
    """Mark resolved and queue the status reply to every reporter."""
    svc = service()
    run_verb(lambda: svc.resolve(ref, note, photo), as_json, "resolved; reporters will be told")


@tickets_app.command("close")
def tickets_close(ref: str, reason: str = typer.Option(..., help="duplicate, not_ours or invalid"),
                  of: Optional[str] = typer.Option(None, help="The ticket this one duplicates."),
                  as_json: bool = typer.Option(False, "--json")) -> None:
    """Close without fixing: a duplicate, not the town's business, or invalid."""
    svc = service()
    run_verb(lambda: svc.close(ref, reason, of), as_json, f"closed ({reason})")


@tickets_app.command("reopen")
def tickets_reopen(ref: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Reopen a resolved or closed ticket."""
    svc = service()
    run_verb(lambda: svc.reopen(ref), as_json, "reopened")


@tickets_app.command("recategorize")
def tickets_recategorize(ref: str, code: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Move the ticket to another category (kept as a training correction)."""
    svc = service()
    run_verb(lambda: svc.recategorize(ref, code), as_json, f"now {code}")


# -- classifier -----------------------------------------------------------------------
from bot.cli_classifier import classifier_app, classify_command  # noqa: E402

app.add_typer(classifier_app, name="classifier")
from bot.cli_quarantine import quarantine_app  # noqa: E402
app.add_typer(quarantine_app, name="quarantine")
from bot.cli_citizens import citizens_app  # noqa: E402

app.add_typer(citizens_app, name="citizens")
from bot.cli_outbox import outbox_app  # noqa: E402

app.add_typer(outbox_app, name="outbox")
from bot.cli_digest import digest_app  # noqa: E402
app.add_typer(digest_app, name="digest")
app.command("classify")(classify_command)


# -- run ----------------------------------------------------------------------------
RUN_ROLES = ("all", "ingest", "deliver", "scheduler")


@app.command("run")
def run(once: bool = typer.Option(False, "--once", help="One pass: ingest, process, deliver, exit."),
        sandbox: Optional[str] = typer.Option(None, "--sandbox", envvar=SANDBOX_ENV, help="URL of a running `citybot sandbox serve`."),
        role: str = typer.Option("all", "--role", help="What this process does: ingest, deliver, scheduler or all.")) -> None:
    """The bot: ingest every enabled channel, open tickets, deliver replies, run the scheduler."""
    from bot.runner import Runner
    from channels.registry import build_channels

    if role not in RUN_ROLES:
        fail(f"--role: '{role}' is not one of {', '.join(RUN_ROLES)}", 2)
    if once and role != "all":
        fail(f"--role {role}: --once always runs one whole pass; leave --role out", 2)
    cfg = config()
    if role == "scheduler" and not cfg.scheduler.enabled:
        fail("--role scheduler: scheduler.enabled is false in the config", 2)
    try:
        channels = build_channels(cfg, sandbox) if role != "scheduler" else {}
    except ConfigError as exc:
        fail(str(exc), 2)
    application = build(cfg, with_classifier=role in ("all", "ingest"))
    runner = Runner(application, channels)
    scheduler = None
    try:
        if once:
            report = runner.run_once()
            err.print(f"{len(report.outcomes)} post(s), {len(report.tickets)} new ticket(s), {report.sent} repl(ies) sent, "
                      f"{report.pending} pending, {report.dead} dead")
            return
        if role in ("all", "scheduler") and cfg.scheduler.enabled:
            from bot.scheduler import CityScheduler

            scheduler = CityScheduler(application)
            scheduler.start()
        err.print(f"citybot running ({role}) on {', '.join(channels) or 'no channel'}"
                  f"{', with the scheduler' if scheduler else ''}; Ctrl-C stops.")
        run_until_interrupted(runner, ingest=role in ("all", "ingest"), deliver=role in ("all", "deliver"))
    finally:
        if scheduler is not None:
            scheduler.stop()
        runner.close()


def run_until_interrupted(runner, ingest: bool = True, deliver: bool = True) -> None:
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        runner.run_forever(stop, on_pass=report_pass, ingest=ingest, deliver=deliver)
    except KeyboardInterrupt:
        err.print("stopping.")
    finally:
        signal.signal(signal.SIGTERM, previous)


def report_pass(report) -> None:
    for outcome in report.outcomes:
        if outcome.action == "ticket":
            err.print(f"new ticket {outcome.ticket_ref} ({outcome.details.get('status')})")
    if report.sent:
        err.print(f"{report.sent} repl(ies) delivered")


# -- sandbox / demo -------------------------------------------------------------------
@sandbox_app.command("serve")
def sandbox_serve(host: str = typer.Option("127.0.0.1"), port: int = typer.Option(8765)) -> None:
    """Serve the fake platform APIs, the admin API and a web page to play a citizen."""
    from channels.sandbox.server import serve

    err.print(f"sandbox on http://{host}:{port}/ (Ctrl-C stops)")
    serve(host, port)


@app.command("demo")
def demo(once: bool = typer.Option(False, "--once", help="Play, resolve one ticket, print the transcript, exit.")) -> None:
    """Offline demo: a sandbox on loopback, scripted citizens, the real bot."""
    from bot.demo import run_demo

    cfg = config()
    raise typer.Exit(run_demo(cfg, once, out, err, build))


def main() -> None:
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    app()


if __name__ == "__main__":
    main()
