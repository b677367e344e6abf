"""`citybot digest preview|send` in-process, on a real SQLite database; `send` through the sandbox.

The CLI runs on the real clock, so the seeded posts sit in the last complete week before now.
"""

import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import yaml
from sqlmodel import select
from typer.testing import CliRunner

from bot.app import build_app
from bot.cli import app as cli
from bot.clock import FrozenClock
from bot.config import load_config
from bot.db import transaction
from bot.digest_stats import period_for
from bot.models import OutboxMessage
from bot.pipeline import Pipeline
from bot.service import TicketService
from tests.helpers import post
from tests.test_end_to_end_platforms import sandbox  # noqa: F401 - the loopback sandbox fixture

HANDLES = ["vecina_rocio77", "juan_el_del_bar"]


@pytest.fixture
def run(config_file):
    runner = CliRunner()

    def invoke(*args, env=None):
        return runner.invoke(cli, ["--config", str(config_file), *args], env=env)
    return invoke


@pytest.fixture
def last_week(config_file):
    """Two reports last week (one resolved 3 hours later) and one today; returns the week's key."""
    cfg = load_config(config_file)
    key, start, _ = period_for("weekly", datetime.now(timezone.utc), cfg.city.timezone)
    clock = FrozenClock(start + timedelta(days=1, hours=10))
    application = build_app(cfg, clock)
    pipeline = Pipeline(application.engine, cfg, application.classifier, clock)
    assert pipeline.process(post("La farola de la calle Real 12 está apagada", user=HANDLES[0])).ticket_ref == "JUN-1"
    clock.advance(hours=3)
    TicketService(application.engine, cfg, clock, actor="manolo").resolve("JUN-1")
    clock.advance(days=1)
    assert pipeline.process(post("Hay un bache enorme en la calle Mayor @juan_el_del_bar", user=HANDLES[1])).ticket_ref == "JUN-2"
    clock._at = datetime.now(timezone.utc)
    assert pipeline.process(post("Fuga de agua en el Paseo del Río", user=HANDLES[0])).ticket_ref == "JUN-3"
    with transaction(application.engine) as session:  # the acknowledgements went out when the posts came in
        for row in session.exec(select(OutboxMessage)).all():
            row.state = "sent"
    application.engine.dispose()
    return key


def test_preview_json_is_the_figures_and_nothing_else(run, last_week):
    result = run("digest", "preview", "--period", "weekly", "--json")
    assert result.exit_code == 0, result.output
    numbers = json.loads(result.stdout)
    assert (numbers["kind"], numbers["period"]) == ("weekly", last_week)
    assert (numbers["received"], numbers["reports"], numbers["resolved"], numbers["open"]) == (2, 2, 1, 2)
    assert [(c["category"], c["received"], c["resolved"], c["median_hours_to_resolve"]) for c in numbers["categories"]] == [
        ("streetlight", 1, 1, 3.0), ("roads", 1, 0, None)]
    for handle in HANDLES:
        assert handle not in result.stdout and f"u-{handle}" not in result.stdout
    daily = json.loads(run("digest", "preview", "--json").stdout)
    assert (daily["kind"], daily["received"]) == ("daily", 1)


def test_preview_table_and_staff_queues(run, last_week):
    table = run("digest", "preview", "--period", "weekly")
    assert table.exit_code == 0, table.output
    assert f"weekly digest {last_week}" in table.stdout and "tickets received" in table.stdout
    assert "streetlight" in table.stdout and "JUN-2" in table.stdout
    staff = json.loads(run("digest", "preview", "--staff", "--json").stdout)
    assert {row["staff"]: row["channel"] for row in staff} == {
        "antonio": "telegram", "carmen": "telegram", "lucia": "telegram", "manolo": "telegram", "rosa": "telegram"}
    assert sorted(item["ref"] for row in staff for item in row["items"]) == ["JUN-2", "JUN-3"]
    assert "nowhere" not in run("digest", "preview", "--staff").stdout


@pytest.mark.parametrize("command", ["preview", "send"])
def test_a_bad_period_is_named_on_stderr(run, command):
    result = run("digest", command, "--period", "monthly")
    assert result.exit_code == 2
    assert "--period: 'monthly' is not a digest period" in result.stderr and result.stdout == ""


@pytest.fixture
def all_platforms(config_file):
    """Every platform on; X posts digests in English, Mastodon in French, Telegram in the city's Spanish."""
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    for name, lang in (("telegram", None), ("x", "en"), ("mastodon", "fr")):
        data["channels"][name]["enabled"] = True
        if lang:
            data["channels"][name]["language"] = lang
    config_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return config_file


def test_send_posts_once_on_every_platform_with_the_chart(run, all_platforms, last_week, sandbox):
    from channels.registry import build_channels

    result = run("digest", "send", "--period", "weekly", "--sandbox", sandbox.url)
    assert result.exit_code == 0, result.output
    assert "queued for telegram, x, mastodon; 3 message(s) delivered" in result.stdout
    admin = httpx.Client(base_url=sandbox.url, timeout=10)
    headers = {"telegram": "Villajún · Resumen de la semana", "x": "Villajún · Weekly summary",
               "mastodon": "Villajún · Bilan de la semaine"}
    channels = build_channels(load_config(all_platforms), sandbox.url)
    for platform, header in headers.items():
        sent = admin.get(f"/_sandbox/{platform}/sent").json()
        digest = [s for s in sent if header in s["text"]]  # X numbers the parts of a thread
        assert len(digest) == 1, (platform, sent)
        # the chart rides on the post where the platform takes media (X's client cannot upload: text only)
        assert bool(digest[0]["media"]) == channels[platform].capabilities.media, (platform, digest)
        assert digest[0]["in_reply_to"] is None
        assert all(handle not in s["text"] for s in sent for handle in HANDLES)
    [telegram] = admin.get("/_sandbox/telegram/sent").json()
    assert telegram["to_user"] == "villajun_avisos"  # the digest_chat channel
    assert (all_platforms.parent / "media" / "digests" / f"weekly-{last_week}.png").is_file()

    counts = {p: len(admin.get(f"/_sandbox/{p}/sent").json()) for p in headers}
    again = run("digest", "send", "--period", "weekly", "--sandbox", sandbox.url)
    assert again.exit_code == 0, again.output
    assert f"weekly digest {last_week}: already sent" in again.stdout and "nothing posted" in again.stdout
    assert {p: len(admin.get(f"/_sandbox/{p}/sent").json()) for p in headers} == counts
    for channel in channels.values():
        channel.close()
