"""`citybot outbox list|retry`: see what is waiting, sent or dead, and put dead rows back (bot/outbox_admin.py)."""

from __future__ import annotations

from typing import Optional

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from bot.safe_text import neutralize

outbox_app = typer.Typer(help="Replies and posts waiting for delivery, sent, or dead.", no_args_is_help=True)


def _application():
    from bot import cli

    return cli.build(cli.config(), with_classifier=False)


@outbox_app.command("list")
def outbox_list(
    state: str = typer.Option("pending", help="pending, sent, dead or all."),
    limit: Optional[int] = typer.Option(None, help="At most N rows (default 50 in the table, none with --json)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Outbox rows, newest first."""
    from bot import cli
    from bot.outbox_admin import OutboxAdminError, list_outbox

    application = _application()
    if limit is None and not as_json:
        limit = 50
    try:
        rows = list_outbox(application.engine, state, limit)
    except OutboxAdminError as exc:
        cli.fail(str(exc))
    if as_json:
        cli.print_json(rows)
        return
    cfg = application.cfg
    table = Table(title=f"outbox: {len(rows)} {state} row(s)", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("id", "channel", "purpose", "audience", "state", "tries", "next", "ticket"):
        table.add_column(column, no_wrap=True)
    table.add_column("to", overflow="fold", max_width=24)
    table.add_column("last error", overflow="fold", min_width=12)
    for row in rows:
        table.add_row(str(row["id"]), row["channel"], row["purpose"], row["audience"], row["state"], str(row["attempts"]),
                      cli.local_time(cfg, row["next_attempt_at"], short=True) if row["state"] == "pending" else "-",
                      row["ticket"] or "-", Text(neutralize(row["recipient"], single_line=True) or "-"),
                      Text(neutralize(row["last_error"], single_line=True)))
    cli.out.print(table)


@outbox_app.command("retry")
def outbox_retry(
    row_id: Optional[int] = typer.Argument(None, metavar="ID", help="The dead row to retry."),
    all_dead: bool = typer.Option(False, "--all-dead", help="Retry every dead row."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Put a dead row (or every dead row) back in the queue: pending, attempts reset, due now."""
    from bot import cli
    from bot.outbox_admin import OutboxAdminError, retry

    application = _application()
    try:
        ids = retry(application.engine, application.clock, row_id, all_dead)
    except OutboxAdminError as exc:
        cli.fail(str(exc))
    if as_json:
        cli.print_json({"retried": ids})
        return
    cli.out.print(f"retried {len(ids)} row(s)" + (f": {', '.join(map(str, ids))}" if ids else ""))
