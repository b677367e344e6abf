"""`citybot citizens forget CHANNEL HANDLE`: erase a citizen's personal data (see bot/privacy.py)."""

from __future__ import annotations

import typer

from bot.config import CHANNEL_NAMES

citizens_app = typer.Typer(help="Citizens' personal data (GDPR).", no_args_is_help=True)


@citizens_app.command("forget")
def forget(channel: str = typer.Argument(..., help="telegram, x or mastodon"),
           handle: str = typer.Argument(..., help="The citizen's handle (with or without @) or platform user id."),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Erase what identifies the citizen; tickets and statistics stay."""
    from bot import cli
    from bot.privacy import UnknownCitizen, forget_citizen

    if channel not in CHANNEL_NAMES:
        cli.fail(f"'{channel}' is not a channel (use one of: {', '.join(CHANNEL_NAMES)})")
    cfg = cli.config()
    application = cli.build(cfg, with_classifier=False)
    try:
        report = forget_citizen(application.engine, cfg, application.clock, channel, handle)
    except UnknownCitizen as exc:
        cli.fail(str(exc))
    if as_json:
        cli.print_json(report.as_dict())
        return
    cli.out.print(f"erased: {report.citizens} citizen(s), {report.messages} message(s), {report.replies} repl(ies) "
                  f"({report.cancelled_replies} unsent cancelled), {report.photos} photo(s); tickets kept")
