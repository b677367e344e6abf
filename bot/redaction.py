"""Secrets never reach a log line or an error message.

`install(cfg)` collects the values of every environment variable the config names as a secret
(`*_env` keys of the channels) and the database password, and adds a filter to every handler of the root logger that
replaces them with `***`, in the message, its arguments and any traceback text.
`redact(text)` does the same for strings shown to a person (CLI errors).
"""

from __future__ import annotations

import logging
import os
import re
from urllib.parse import unquote, urlsplit

from bot.config import Config

MASK = "***"
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words
_secrets: set[str] = set()


def secret_values(cfg: Config) -> set[str]:
    """The values of every environment variable named by a `*_env` key, and the database password
    (as written in the URL and percent-decoded)."""
    values = {form for form in database_passwords(cfg.resolved_database_url() or "") if len(form) >= MIN_SECRET_LENGTH}
    for channel in cfg.channels.values():
        for key, env in channel.model_dump().items():
            if key.endswith("_env") and env and len(os.environ.get(env, "")) >= MIN_SECRET_LENGTH:
                values.add(os.environ[env])
    return values


# SQLAlchemy's reading: the password runs from the first ":" after the user name to the next "@".
_SQLALCHEMY_PASSWORD = re.compile(r"^[\w+]+://[^:/]*:([^@]*)@")


def database_passwords(url: str) -> set[str]:
    """Every reading of the password in a database URL, raw and percent-decoded: SQLAlchemy's and
    the URL standard's disagree on odd passwords ("p@ss", "a/b", "a#b"), and a secret must be
    masked whichever one the driver used. Found without importing SQLAlchemy, so a command that
    needs no database does not pay for it (a quarter of a second)."""
    readings = set()
    match = _SQLALCHEMY_PASSWORD.match(url)
    if match:
        readings.add(match.group(1))
    try:
        readings.add(urlsplit(url).password or "")
    except ValueError:  # not a URL the standard can read; SQLAlchemy's reading above still counts
        pass
    readings |= {unquote(reading) for reading in readings}
    readings.discard("")
    return readings


def redact(text: str) -> str:
    """`text` with every known secret replaced by `***` (longest first, so no fragment survives)."""
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


class RedactSecrets(logging.Filter):
    """A handler filter: formats the record once, scrubbed, and drops the traceback objects."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = redact(formatted), None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install(cfg: Config, logger: logging.Logger | None = None) -> None:
    """Learn the config's secrets and filter every handler of `logger` (the root logger by default)."""
    _secrets.update(secret_values(cfg))
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())
