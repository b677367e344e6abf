"""`citybot quarantine list|show`: the poison payloads the bot set aside (bot/quarantine.py)."""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from bot.safe_text import neutralize

quarantine_app = typer.Typer(help="Payloads the bot could not parse or process, kept for staff.",
                             no_args_is_help=True)


@quarantine_app.command("list")
def quarantine_list(
    channel: Optional[str] = typer.Option(None, help="Only this channel (telegram, x, mastodon)."),
    limit: Optional[int] = typer.Option(None, help="At most N rows (default 50 in the table, none with --json)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Quarantined payloads, newest first (without the payloads: see `show ID`)."""
    from bot import cli
    from bot.quarantine import list_rows

    if limit is not None and limit < 1:
        cli.fail(f"--limit must be at least 1, got {limit}")
    application = cli.build(cli.config(), with_classifier=False)
    rows = list_rows(application.engine, channel, limit if limit is not None or as_json else 50)
    if as_json:
        cli.print_json(rows)
        return
    table = Table(title=f"quarantine: {len(rows)} payload(s)", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("id", "channel", "external id", "at"):
        table.add_column(column, no_wrap=True)
    table.add_column("error", overflow="fold", min_width=20)
    for row in rows:
        table.add_row(str(row["id"]), row["channel"], Text(neutralize(row["external_id"], single_line=True) or "-"),
                      cli.local_time(application.cfg, row["created_at"], short=True),
                      Text(neutralize(row["error"], single_line=True)))
    cli.out.print(table)


@quarantine_app.command("show")
def quarantine_show(
    row_id: int = typer.Argument(..., metavar="ID", help="The quarantined payload's id (from `list`)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """One quarantined payload: where it came from, the error, and the raw payload as JSON."""
    from bot import cli
    from bot.quarantine import UnknownQuarantine, get_row

    application = cli.build(cli.config(), with_classifier=False)
    try:
        row = get_row(application.engine, row_id)
    except UnknownQuarantine as exc:
        cli.fail(str(exc))
    if as_json:
        cli.print_json(row)
        return
    cli.out.print(Text(f"#{row['id']} {row['channel']} {neutralize(row['external_id'], True) or '-'} "
                       f"at {cli.local_time(application.cfg, row['created_at'])}"))
    cli.out.print(Text(f"error: {neutralize(row['error'], single_line=True)}"))
    # JSON escapes control characters; neutralize catches what it leaves (bidi marks).
    cli.out.print(Text(neutralize(json.dumps(row["raw"], ensure_ascii=False, indent=2))))
