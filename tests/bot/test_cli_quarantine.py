"""`citybot quarantine list|show`, in-process, on a real SQLite database beside a copy of the shipped config."""

import json
from datetime import datetime, timezone

import pytest
from typer.testing import CliRunner

from bot import quarantine
from bot.app import build_app
from bot.cli import app as cli
from bot.clock import FrozenClock
from bot.config import load_config

CLOCK = FrozenClock(datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc))
NASTY = {"message": {"text": "\x1b]8;;http://evil.example\x07pulsa\u202e \x9b31m", "chat": None}}


@pytest.fixture
def run(config_file):
    def invoke(*args):
        return CliRunner().invoke(cli, ["--config", str(config_file), *args])
    return invoke


@pytest.fixture
def kept(config_file):
    application = build_app(load_config(config_file), with_classifier=False)
    engine = application.engine
    assert quarantine.store(engine, CLOCK, "telegram", "update:7", "MalformedPayload: message.chat is missing", NASTY)
    assert quarantine.store(engine, CLOCK, "x", "991", "ValueError: classifier bug\x1b[2J", {"id": "991", "n": 1.5})
    # the same poison fetched again after a crash is not kept twice
    assert not quarantine.store(engine, CLOCK, "x", "991", "ValueError: classifier bug\x1b[2J", {"id": "991"})
    yield engine
    engine.dispose()


def test_list_json_is_newest_first_without_payloads(run, kept):
    result = run("quarantine", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["id"], r["channel"], r["external_id"]) for r in rows] == [(2, "x", "991"), (1, "telegram", "update:7")]
    assert "raw" not in rows[0] and rows[1]["error"] == "MalformedPayload: message.chat is missing"
    assert rows[0]["created_at"] == "2026-11-23T09:00:00+00:00"
    only_x = json.loads(run("quarantine", "list", "--channel", "x", "--json").stdout)
    assert [r["id"] for r in only_x] == [2]


def test_list_table_escapes_terminal_sequences(run, kept):
    result = run("quarantine", "list")
    assert result.exit_code == 0, result.output
    assert "update:7" in result.stdout and "message.chat is missing" in result.stdout
    assert "\x1b" not in result.stdout and "\\x1b[2J" in result.stdout


def test_show_json_gives_the_raw_payload_exactly(run, kept):
    result = run("quarantine", "show", "1", "--json")
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)
    assert row["raw"] == NASTY and row["external_id"] == "update:7"


def test_show_prints_the_payload_as_json_with_nothing_a_terminal_would_run(run, kept):
    result = run("quarantine", "show", "1")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\x9b" not in result.stdout and "\u202e" not in result.stdout
    assert "\\u202e" in result.stdout and '"chat": null' in result.stdout
    assert "error: MalformedPayload: message.chat is missing" in result.stdout


def test_show_an_unknown_id_names_it(run, kept):
    result = run("quarantine", "show", "99")
    assert result.exit_code == 1
    assert "no quarantined payload with id 99" in result.stderr
