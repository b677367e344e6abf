"""`citybot demo`: the sandbox on loopback, scripted citizens, and the real bot against it."""

from __future__ import annotations

import threading
from typing import Any, Callable

import httpx
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.config import Config
from bot.runner import Runner
from bot.safe_text import neutralize
from bot.service import TicketService
from channels.registry import build_channels

# (platform, citizen, kind, text, extras)
SCENARIO: list[tuple[str, str, str, str, dict[str, Any]]] = [
    ("telegram", "ana_garcia", "dm", "Buenas, la farola de la calle Real 12 lleva tres noches apagada y la calle está a oscuras", {"lang": "es"}),
    ("x", "john_walker", "mention", "There's a big pothole in the road outside the bakery on Calle Mayor, I nearly came off my bike", {"lat": 37.2231, "lon": -3.5902}),
    ("telegram", "marie_dupont", "mention", "Dépôt sauvage de déchets et d'encombrants devant l'école, rue des Écoles 🤢", {"lang": "fr", "photo": True}),
    ("x", "pepe_vecino", "mention", "gracias ayuntamiento!! 👏", {}),
    ("x", "lola_martin", "public", "Otra vez el contenedor de basura desbordado en la plaza de la Iglesia #JunIncidencias", {}),
    ("mastodon", "luc", "mention", "Bonjour, des tags partout sur le mur de la bibliothèque municipale, c'est moche 😕", {"lang": "fr"}),
    ("mastodon", "sam", "dm", "Loud music from the bar on Plaza de España every night until 3am, can't sleep", {"lang": "en"}),
]
STAFF_NOTE = "Hemos cambiado la bombilla."


def demo_config(cfg: Config) -> Config:
    """The config with every channel that has an adapter switched on (the sandbox needs no secrets)."""
    from bot.config import ChannelConfig
    from channels.registry import FACTORIES

    channels = dict(cfg.channels)
    for name in FACTORIES:
        channels[name] = (channels.get(name) or ChannelConfig()).model_copy(update={"enabled": True})
    return cfg.model_copy(update={"channels": channels})


def post_scenario(client: httpx.Client) -> list[dict[str, Any]]:
    posted = []
    for platform, user, kind, text, extras in SCENARIO:
        body = {"user": user, "text": text, "kind": kind, **extras}
        answer = client.post(f"/_sandbox/{platform}/inbound", json=body)
        answer.raise_for_status()
        posted.append({"platform": platform, **body, "id": answer.json()["id"]})
    return posted


def transcript(client: httpx.Client, platforms: list[str], only_ids: set[str]) -> list[tuple[str, str, str]]:
    """(platform, speaker, text) lines: each citizen post followed by the bot's replies in its thread."""
    lines = []
    for platform in platforms:
        inbound = client.get(f"/_sandbox/{platform}/inbound").json()
        sent = client.get(f"/_sandbox/{platform}/sent").json()
        for post in inbound:
            if str(post["id"]) not in only_ids:
                continue
            lines.append((platform, post["user"], post["text"]))
            for reply in sent:
                if str(reply.get("in_reply_to")) == str(post["id"]):
                    media = f"  [{', '.join(reply['media'])}]" if reply.get("media") else ""
                    lines.append((platform, "  ↳ town hall", reply["text"] + media))
    return lines


def print_transcript(out: Console, lines: list[tuple[str, str, str]]) -> None:
    table = Table(title="Conversation transcript", show_lines=False)
    table.add_column("channel")
    table.add_column("who")
    table.add_column("text")
    for platform, who, text in lines:
        table.add_row(platform, who, Text(neutralize(text)))
    out.print(table)


def run_demo(cfg: Config, once: bool, out: Console, err: Console, build: Callable[[Config], Any]) -> int:
    from channels.sandbox.server import SandboxServer

    cfg = demo_config(cfg)
    with SandboxServer(port=0) as sandbox:
        sandbox.start()
        app = build(cfg)
        runner = Runner(app, build_channels(cfg, sandbox.url))
        client = httpx.Client(base_url=sandbox.url, timeout=10)
        try:
            err.print(f"sandbox on {sandbox.url}; database {cfg.resolved_database_url()}")
            posted = post_scenario(client)
            report = runner.run_once()
            show_outcomes(out, posted, report)
            first = next(o.ticket_ref for o in report.outcomes if o.action == "ticket")
            if not once:
                return run_interactive(out, err, runner, sandbox.url, first)
            TicketService(app.engine, cfg, app.clock, actor="manolo").resolve(first, note=STAFF_NOTE)
            out.print(f"\nStaff resolved {first} (tickets resolve {first} --note ...). Delivering the status reply...\n")
            runner.run_once()
            print_transcript(out, transcript(client, sorted({p["platform"] for p in posted}), {p["id"] for p in posted}))
            return 0
        finally:
            client.close()
            runner.close()


def show_outcomes(out: Console, posted: list[dict[str, Any]], report) -> None:
    table = Table(title="What the bot did with each post")
    table.add_column("channel")
    table.add_column("post")
    table.add_column("outcome")
    by_post = {(o.post[0], o.post[1].rsplit(":", 1)[-1]): o for o in report.outcomes if o.post}
    for post in posted:
        outcome = by_post.get((post["platform"], str(post["id"])))
        if outcome is None:
            table.add_row(post["platform"], Text(neutralize(post["text"], single_line=True)[:70]), "not seen yet")
            continue
        what = f"ticket {outcome.ticket_ref} ({outcome.details.get('status')})" if outcome.action == "ticket" else outcome.action.replace("_", " ")
        table.add_row(post["platform"], Text(neutralize(post["text"], single_line=True)[:70]), what)
    out.print(table)
    out.print(f"{report.sent} acknowledgement(s) delivered, {report.pending} pending.")


def run_interactive(out: Console, err: Console, runner: Runner, url: str, ref: str) -> int:
    out.print(
        f"\nThe bot keeps running. Play a citizen:\n"
        f"  • open {url}/ in a browser, or\n"
        f"  • curl -X POST {url}/_sandbox/telegram/inbound -H 'content-type: application/json' "
        "-d '{\"user\": \"rosa\", \"text\": \"hay un bache enorme en la calle Mayor\"}'\n"
        "Work the tickets from a second terminal in this folder:\n"
        f"  citybot tickets list\n  citybot tickets show {ref}\n  citybot --as manolo tickets resolve {ref} --note 'Arreglado'\n"
        "Ctrl-C stops."
    )
    stop = threading.Event()
    try:
        runner.run_forever(stop, on_pass=lambda report: [err.print(f"new ticket {o.ticket_ref}") for o in report.outcomes if o.action == "ticket"])
    except KeyboardInterrupt:
        err.print("stopping.")
    return 0
