"""The CLI run in-process, on a real SQLite database beside a copy of the shipped config."""

import json

import pytest
from typer.testing import CliRunner

from bot.app import build_app
from bot.cli import app as cli
from bot.config import load_config
from bot.pipeline import Pipeline
from tests.helpers import post


@pytest.fixture
def run(config_file):
    runner = CliRunner()

    def invoke(*args, stdin=None):
        return runner.invoke(cli, ["--config", str(config_file), *args], input=stdin)
    return invoke


@pytest.fixture
def seeded(config_file):
    application = build_app(load_config(config_file))
    p = Pipeline(application.engine, application.cfg, application.classifier)
    p.process(post("La farola de la calle Real 12 está apagada", user="ana"))
    p.process(post("\x1b[2J\x1b]8;;http://evil.example\x07bache\x1b]8;;\x07 en la calle \u202eroyaM", user="mallory"))
    application.engine.dispose()


def test_list_json_is_pure_json(run, seeded):
    result = run("tickets", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["ref"] for r in rows] == ["JUN-2", "JUN-1"]


def test_show_escapes_citizen_text(run, seeded):
    result = run("tickets", "show", "JUN-2")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b]8;;http://evil.example" in result.stdout
    table = run("tickets", "list")
    assert "\x1b]8" not in table.stdout and "JUN-2" in table.stdout


def test_resolve_then_show_has_the_queued_reply(run, seeded):
    result = run("--as", "manolo", "tickets", "resolve", "JUN-1", "--note", "Bombilla nueva.", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "resolved"
    shown = json.loads(run("tickets", "show", "JUN-1", "--json").stdout)
    assert [r["purpose"] for r in shown["replies"]] == ["ack", "staff_assigned", "resolved"]
    assert shown["events"][-1]["actor"] == "manolo"


@pytest.mark.parametrize("args, message", [
    (("tickets", "show", "JUN-404"), "unknown ticket 'JUN-404'"),
    (("tickets", "list", "--status", "finished"), "'finished' is not a status"),
    (("tickets", "assign", "JUN-1", "batman"), "unknown staff member 'batman'"),
    (("tickets", "claim", "JUN-1"), "pass --as STAFF"),
])
def test_errors_go_to_stderr_with_non_zero_exit(run, seeded, args, message):
    result = run(*args)
    assert result.exit_code != 0
    assert message in result.stderr and result.stdout == ""


def test_bad_config_fails_at_start_naming_the_key(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text("city: {name: X, ticket_prefix: jun, languages: [es]}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(bad), "tickets", "list"])
    assert result.exit_code == 2
    assert "city.ticket_prefix:" in result.stderr


def test_run_without_the_secret_names_the_variable(run, monkeypatch):
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    result = run("run", "--once")
    assert result.exit_code == 2 and "TELEGRAM_BOT_TOKEN is not set" in result.stderr


def test_classify_filter(run):
    lines = '{"text": "There is a pothole on Main St", "lang": "en"}\nmerci beaucoup !\n'
    result = run("classify", stdin=lines)
    assert result.exit_code == 0, result.output
    first, second = [json.loads(line) for line in result.stdout.splitlines()]
    assert first["category"] == "roads" and first["is_request"] is True
    assert set(second) == {"category", "confidence", "is_request", "lang", "priority", "location"}
    assert (second["category"], second["is_request"], second["lang"]) == (None, False, "fr")
