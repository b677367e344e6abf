import io
import logging

import pytest
from typer.testing import CliRunner

from bot import redaction
from bot.cli import app as cli

TOKEN = "7777777:AAH-very-secret-telegram-token"
DB_PASSWORD = "Db-Pa55word-never-shown"


@pytest.fixture
def captured(cfg, monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("CITYBOT_DATABASE_URL", f"postgresql+psycopg://bot:{DB_PASSWORD}@127.0.0.1:1/nowhere")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    redaction.install(cfg)
    yield stream
    root.removeHandler(handler)


def test_secrets_are_masked_in_messages_arguments_and_tracebacks(captured):
    log = logging.getLogger("channels.telegram")
    log.warning("calling https://api.telegram.org/bot%s/getUpdates", TOKEN)
    log.warning(f"connect to postgresql://bot:{DB_PASSWORD}@db failed")
    try:
        raise RuntimeError(f"refused token {TOKEN}")
    except RuntimeError:
        log.exception("send failed")
    text = captured.getvalue()
    assert TOKEN not in text and DB_PASSWORD not in text
    assert text.count(redaction.MASK) == 3
    assert "send failed" in text and "RuntimeError: refused token ***" in text


def test_short_values_are_not_treated_as_secrets(cfg, monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "abc")
    assert "abc" not in redaction.secret_values(cfg)


def test_cli_errors_never_show_the_database_password(config_file, monkeypatch):
    monkeypatch.setenv("CITYBOT_DATABASE_URL", f"postgresql+psycopg://bot:{DB_PASSWORD}@127.0.0.1:1/nowhere")
    result = CliRunner().invoke(cli, ["--config", str(config_file), "tickets", "list"])
    assert result.exit_code == 2
    assert "database:" in result.stderr and DB_PASSWORD not in result.stderr + result.stdout


def test_a_percent_encoded_database_password_is_masked_in_both_forms(cfg, monkeypatch):
    monkeypatch.setenv("CITYBOT_DATABASE_URL", "postgresql+psycopg://bot:p%40ss%2Fw0rd-long@127.0.0.1:1/nowhere")
    assert {"p%40ss%2Fw0rd-long", "p@ss/w0rd-long"} <= redaction.secret_values(cfg)


@pytest.mark.parametrize("url, password", [
    ("postgresql+psycopg://bot:s3cr3t/pass@db:5432/city", "s3cr3t/pass"),  # "/" in the password
    ("postgresql+psycopg://bot:s3cr#t-pass@db:5432/city", "s3cr#t-pass"),
    ("postgresql+psycopg://bot:s3cr?t-pass@db:5432/city", "s3cr?t-pass"),
    ("postgresql+psycopg://bot:[abc]defgh@db:5432/city", "[abc]defgh"),
    ("postgresql+psycopg://bot:p@ssword99@db:5432/city", "p@ssword99"),  # the URL standard's reading
])
def test_every_reading_of_an_odd_database_password_is_masked(url, password):
    from sqlalchemy.engine import make_url

    found = redaction.database_passwords(url)
    assert password in found
    assert make_url(url).password in found  # and SQLAlchemy's reading (masked when long enough)
