"""`citybot outbox list|retry`, in-process, on a real SQLite database beside a copy of the shipped config."""

import json
from datetime import datetime, timezone

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from bot.app import build_app
from bot.cli import app as cli
from bot.config import load_config
from bot.db import transaction
from bot.models import OutboxMessage

AT = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def run(config_file):
    def invoke(*args):
        return CliRunner().invoke(cli, ["--config", str(config_file), *args])
    return invoke


def outbox_row(**kw):
    values = dict(channel="telegram", recipient_id="555", conversation_id="555", text="hola", purpose="ack",
                  audience="citizen", next_attempt_at=AT, created_at=AT)
    return OutboxMessage(**{**values, **kw})


@pytest.fixture
def engine(config_file):
    application = build_app(load_config(config_file), with_classifier=False)
    with transaction(application.engine) as s:
        s.add_all([
            outbox_row(recipient_handle="\x1b]8;;http://evil.example\x07ana\u202e"),  # 1 pending, citizen
            outbox_row(audience="staff", recipient_id="100001", purpose="assigned"),  # 2 pending, staff DM
            outbox_row(audience="public", recipient_id="-100200", recipient_handle="somebody", purpose="digest"),  # 3
            outbox_row(state="dead", attempts=8, last_error="TransientError: 503", recipient_handle="luis"),  # 4
            outbox_row(state="dead", attempts=1, recipient_id="forgotten",
                       last_error="not sent: the citizen's data was erased"),  # 5
            outbox_row(state="sent", attempts=1, external_id="555:9", sent_at=AT),  # 6
        ])
    yield application.engine
    application.engine.dispose()


def rows(engine):
    with transaction(engine) as s:
        return {r.id: r for r in s.exec(select(OutboxMessage)).all()}


def test_list_json_is_one_json_value_newest_first(run, engine):
    result = run("outbox", "list", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert [r["id"] for r in listed] == [3, 2, 1]
    assert set(listed[0]) >= {"id", "channel", "purpose", "audience", "state", "attempts", "next_attempt_at", "last_error"}
    by_id = {r["id"]: r for r in listed}
    assert by_id[1]["recipient"] == "\x1b]8;;http://evil.example\x07ana\u202e"
    assert by_id[2]["recipient"] == "100001"
    assert by_id[3]["recipient"] is None and "somebody" not in result.stdout and "-100200" not in result.stdout


@pytest.mark.parametrize("state, ids", [("dead", [5, 4]), ("sent", [6]), ("all", [6, 5, 4, 3, 2, 1])])
def test_list_by_state_and_limit(run, engine, state, ids):
    assert [r["id"] for r in json.loads(run("outbox", "list", "--state", state, "--json").stdout)] == ids
    assert [r["id"] for r in json.loads(run("outbox", "list", "--state", state, "--limit", "1", "--json").stdout)] == ids[:1]


def test_list_table_escapes_the_handle_and_shows_the_error(run, engine):
    result = run("outbox", "list", "--state", "all")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b]8;;http" in result.stdout and "\\u202e" in result.stdout and "TransientError: 503" in result.stdout
    assert "somebody" not in result.stdout


def test_retry_one_dead_row_puts_it_back_in_the_queue(run, engine):
    before = datetime.now(timezone.utc)
    result = run("outbox", "retry", "4", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"retried": [4]}
    row = rows(engine)[4]
    assert (row.state, row.attempts) == ("pending", 0) and before <= row.next_attempt_at <= datetime.now(timezone.utc)


def test_retry_all_dead_leaves_rows_of_forgotten_citizens(run, engine):
    result = run("outbox", "retry", "--all-dead")
    assert result.exit_code == 0, result.output
    assert "retried 1 row(s): 4" in result.stdout
    assert {i: r.state for i, r in rows(engine).items()} == {1: "pending", 2: "pending", 3: "pending", 4: "pending",
                                                            5: "dead", 6: "sent"}


@pytest.mark.parametrize("args, message", [
    (("retry", "999"), "unknown outbox message 999"),
    (("retry", "6"), "outbox message 6 is sent, not dead"),
    (("retry", "5"), "its citizen's data was erased"),
    (("retry",), "give an outbox id or --all-dead"),
    (("retry", "4", "--all-dead"), "give an outbox id or --all-dead"),
    (("list", "--state", "stuck"), "'stuck' is not an outbox state"),
    (("list", "--limit", "0"), "--limit must be at least 1"),
])
def test_errors_go_to_stderr_with_non_zero_exit(run, engine, args, message):
    result = run("outbox", *args)
    assert result.exit_code != 0
    assert message in result.stderr and result.stdout == ""
    assert rows(engine)[4].state == "dead"
