"""`citybot digest preview|send`: the public digest (and the staff one) by hand.

`preview` only reads: it writes no DigestRun, queues nothing and draws no chart.
`send` queues the digest once per period and channel, then delivers it right away.
"""

from __future__ import annotations

from typing import Any, Optional

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from bot.config import SANDBOX_ENV

digest_app = typer.Typer(help="Public digests (received, resolved, open) and staff queues.", no_args_is_help=True)
PERIODS = ("daily", "weekly")


def _cli():
    from bot import cli  # late import: cli imports this module
    return cli


def _period(value: str) -> str:
    if value not in PERIODS:
        _cli().fail(f"--period: '{value}' is not a digest period (use one of: {', '.join(PERIODS)})", 2)
    return value


@digest_app.command("preview")
def preview(period: str = typer.Option("daily", "--period", help="daily (today) or weekly (the last full week)."),
            as_json: bool = typer.Option(False, "--json"),
            staff: bool = typer.Option(False, "--staff", help="Each employee's queue instead, and where it would go.")) -> None:
    """Show the digest figures now, without posting anything."""
    from bot.db import transaction
    from bot.digest import period_numbers, staff_digest_preview

    cli = _cli()
    period = _period(period)
    cfg = cli.config()
    application = cli.build(cfg, with_classifier=False)
    if staff:
        rows = staff_digest_preview(application.engine, cfg, application.clock)
        cli.print_json(rows) if as_json else _print_staff(cli, cfg, rows)
        return
    with transaction(application.engine) as session:
        numbers = period_numbers(session, cfg, period, application.clock.now())
    cli.print_json(numbers) if as_json else _print_numbers(cli, cfg, numbers)


def _print_numbers(cli, cfg, numbers: dict[str, Any]) -> None:
    share = numbers["within_promise_share"]
    cli.out.print(f"{cfg.city.name}: {numbers['kind']} digest {numbers['period']} ({numbers['from']} to {numbers['to']})")
    figures = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    figures.add_column("figure")
    figures.add_column("value", justify="right")
    for label, value in (("tickets received", numbers["received"]), ("report posts", numbers["reports"]),
                         ("resolved", numbers["resolved"]),
                         ("within the promise", f"{numbers['within_promise']}/{numbers['promised']}"
                          + (f" ({share:.0%})" if share is not None else "")),
                         ("confirmed fixed", numbers["confirmed_fixed"]), ("open now", numbers["open"]),
                         ("overdue now", numbers["overdue"])):
        figures.add_row(label, str(value))
    cli.out.print(figures)
    categories = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("category", "received", "resolved", "median h"):
        categories.add_column(column, justify="left" if column == "category" else "right")
    for row in numbers["categories"]:
        median = row["median_hours_to_resolve"]
        categories.add_row(row["category"] or "(unclassified)", str(row["received"]), str(row["resolved"]),
                           "-" if median is None else f"{median:g}")
    if numbers["categories"]:
        cli.out.print(categories)
    if numbers["oldest_open"]:
        oldest = Table(title="oldest open", box=box.SIMPLE_HEAD, pad_edge=False)
        for column in ("ref", "category", "place", "age (days)"):
            oldest.add_column(column)
        for item in numbers["oldest_open"]:
            oldest.add_row(item["ref"], item["category"] or "?", Text(item["place"] or ""), str(item["age_days"]))
        cli.out.print(oldest)


def _print_staff(cli, cfg, rows: list[dict[str, Any]]) -> None:
    table = Table(title=f"{cfg.city.name}: staff digests", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("staff", "goes to", "open", "overdue", "tickets"):
        table.add_column(column)
    for row in rows:
        refs = ", ".join(item["ref"] + ("!" if item["overdue"] else "") for item in row["items"])
        table.add_row(row["staff"], row["channel"] or "nowhere (no handle on an enabled channel)",
                      str(row["open"]), str(row["overdue"]), Text(refs or "-"))
    cli.out.print(table)


@digest_app.command("send")
def send(period: str = typer.Option("daily", "--period", help="daily (today) or weekly (the last full week)."),
         sandbox: Optional[str] = typer.Option(None, "--sandbox", envvar=SANDBOX_ENV, help="URL of a running `citybot sandbox serve`."),
         staff: bool = typer.Option(False, "--staff", help="Send today's staff digests instead.")) -> None:
    """Post the digest now, once per period and channel, and deliver it."""
    from bot.config import ConfigError
    from bot.digest import post_public_digest, send_staff_digests
    from bot.digest_stats import period_for
    from bot.outbox import Delivery
    from channels.registry import build_channels

    cli = _cli()
    period = _period(period)
    cfg = cli.config()
    application = cli.build(cfg, with_classifier=False)
    try:
        channels = build_channels(cfg, sandbox)
    except ConfigError as exc:
        cli.fail(str(exc), 2)
    try:
        if staff:
            kind, queued = "staff", send_staff_digests(application.engine, cfg, application.clock)
        else:
            kind, queued = period, post_public_digest(application.engine, cfg, application.clock, period)
        key = period_for(kind, application.clock.now(), cfg.city.timezone)[0]
        if not queued:
            cli.out.print(f"{kind} digest {key}: already sent (or nothing to send); nothing posted")
            return
        delivery = Delivery(application.engine, cfg, channels, application.clock)
        try:
            stats = delivery.deliver_due()
        finally:
            delivery.close()
    except ValueError as exc:
        cli.fail(str(exc))
    finally:
        for channel in channels.values():
            channel.close()
    cli.out.print(f"{kind} digest {key}: queued for {', '.join(queued)}; {stats.sent} message(s) delivered, "
                  f"{stats.retried} to retry, {stats.dead} refused")
    if stats.retried:
        cli.out.print("`citybot run` delivers what is left to retry.")
