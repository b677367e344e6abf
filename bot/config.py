"""Configuration: `config.yaml` parsed and checked by pydantic.

`load_config(path)` returns a `Config` or raises `ConfigError` whose message names
the key path at fault, e.g. ``categories[3].department: 'parks' is not a department``.
Secrets never live in the file: each credential names an environment variable.
"""

from __future__ import annotations

import os
import re
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

CONFIG_ENV = "CITYBOT_CONFIG"
DATABASE_ENV = "CITYBOT_DATABASE_URL"
SANDBOX_ENV = "CITYBOT_SANDBOX"
CHANNEL_NAMES = ("telegram", "x", "mastodon")


class ConfigError(Exception):
    """The configuration cannot be used. The message names the key path and the problem."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class City(Strict):
    name: str
    ticket_prefix: str = Field(pattern=r"^[A-Z][A-Z0-9]{1,9}$")
    languages: list[str] = Field(min_length=1)
    default_language: str | None = None
    timezone: str = "UTC"
    streets: list[str] = []
    # Public holidays come from the `holidays` package: ISO country code and subdivision (e.g. ES, AN).
    country: str | None = None
    region: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not a known time zone") from None
        return value

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is not None and value not in holidays.list_supported_countries():
            raise ValueError(f"'{value}' is not a country the holidays package knows (ISO 3166 code, e.g. ES)")
        return value

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        country = info.data.get("country")
        if country is None:
            raise ValueError("needs city.country")
        regions = holidays.list_supported_countries()[country]
        if value not in regions:
            raise ValueError(f"'{value}' is not a region of {country} (known: {', '.join(regions)})")
        return value

    @property
    def language(self) -> str:
        return self.default_language or self.languages[0]


class StaffMember(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_.-]*$")
    full_name: str | None = None
    handles: dict[str, str] = {}


class Department(Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    staff: list[StaffMember] = []
    # Who gets overdue escalations; the first staff member when unset.
    head: str | None = None

    @property
    def head_name(self) -> str | None:
        return self.head or (self.staff[0].name if self.staff else None)


class Category(Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    names: dict[str, str]
    department: str
    # The promise: `sla_hours` counts office hours on the city's calendar, `sla_days` counts calendar days.
    sla_hours: float | None = Field(default=None, gt=0)
    sla_days: float | None = Field(default=None, gt=0)
    keywords: dict[str, list[str]] = {}


class ChannelConfig(Strict):
    """One platform. Every `*_env` names an environment variable holding a secret."""

    enabled: bool = False
    token_env: str | None = None
    # X only: OAuth 1.0a user context for posting (token_env is then the bearer token for reading).
    consumer_key_env: str | None = None
    consumer_secret_env: str | None = None
    access_token_env: str | None = None
    access_token_secret_env: str | None = None
    base_url: str | None = None
    bot_username: str | None = None
    hashtags: list[str] = []
    keywords: list[str] = []
    poll_timeout: float = Field(default=1.0, ge=0, le=50)
    poll_interval: float = Field(default=0.0, ge=0, description="Least seconds between two fetches.")
    # The language of public posts (digests) on this channel; the city's language when unset.
    language: str | None = None
    # Telegram only: the chat or channel (@name or id) where public digests go; none when unset.
    digest_chat: str | None = None
    # Mastodon only.
    visibility: Literal["public", "unlisted", "private", "direct"] = "unlisted"
    streaming: bool = False


class Classification(Strict):
    min_confidence: float = Field(default=0.35, ge=0, le=1)
    is_request_threshold: float = Field(default=0.5, ge=0, le=1)
    triage_sla_hours: float = Field(default=72, gt=0)
    models_dir: str = "models"
    architecture: Literal["tfidf", "bow", "cnn", "ensemble"] = "tfidf"
    reply_to_non_requests: bool = True


_SPAN = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")


def office_span(value: str) -> tuple[time, time]:
    """Parse "HH:MM-HH:MM" into (opens, closes); ValueError unless it opens before it closes."""
    match = _SPAN.match(value)
    if not match:
        raise ValueError(f"'{value}' is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"'{value}' is not HH:MM-HH:MM (hours 00-23, minutes 00-59)")
    opens, closes = time(h1, m1), time(h2, m2)
    if opens >= closes:
        raise ValueError(f"'{value}' closes before it opens")
    return opens, closes


def _check_span(value: str) -> str:
    office_span(value)
    return value


class Sla(Strict):
    """The business calendar promises are computed on (the city's time zone)."""

    # Office hours per weekday, "HH:MM-HH:MM"; a day left out is closed.
    office_hours: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], Annotated[str, AfterValidator(_check_span)]] = {
        "mon": "09:00-14:00", "tue": "09:00-14:00", "wed": "09:00-14:00", "thu": "09:00-14:00", "fri": "09:00-14:00",
    }
    # The SLA is multiplied by the factor of the ticket's priority.
    priority_factors: dict[Literal["low", "normal", "high", "urgent"], Annotated[float, Field(gt=0)]] = {
        "low": 1.0, "normal": 1.0, "high": 0.5, "urgent": 0.25,
    }

    @field_validator("office_hours")
    @classmethod
    def _some_day_open(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("no day is open; give office hours for at least one weekday")
        return value


class Digests(Strict):
    """Cron expressions (5 fields, the city's time zone) for the scheduled digests."""

    daily: str | None = "0 20 * * *"
    weekly: str | None = "0 9 * * mon"
    staff: str | None = "0 8 * * mon-fri"
    oldest_items: int = Field(default=5, ge=0)

    @field_validator("daily", "weekly", "staff")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(value, timezone="UTC")
            except ValueError as exc:
                raise ValueError(f"'{value}' is not a cron expression (minute hour day month weekday): {exc}") from None
        return value


class Followups(Strict):
    """After resolution, ask the reporters "is it fixed?"; `after_days: null` turns it off."""

    after_days: float | None = Field(default=3, gt=0)


class Scheduler(Strict):
    enabled: bool = True
    misfire_grace_seconds: int = Field(default=3600, ge=1)
    # How often overdue escalation and follow-ups are checked.
    check_every_minutes: float = Field(default=10, gt=0)
    # The leader's lease on SQLite; it renews it well before it ends.
    lease_seconds: float = Field(default=60, ge=5)


class Privacy(Strict):
    # Personal data of tickets closed more than this many days ago is purged; null keeps it.
    retention_days: int | None = Field(default=None, ge=1)
    # `citizens forget` keeps the messages' text, anonymised, when true; deletes it when false.
    keep_text_on_forget: bool = True
    # More new tickets than this from one citizen within an hour go to triage, not to staff.
    max_tickets_per_hour: int = Field(default=10, ge=1)


class Delivery(Strict):
    max_attempts: int = Field(default=8, ge=1)
    backoff_base_seconds: float = Field(default=2.0, gt=0)
    backoff_max_seconds: float = Field(default=900.0, gt=0)
    once_max_wait_seconds: float = Field(default=60.0, ge=0)


class Config(Strict):
    city: City
    database_url: str | None = None
    departments: list[Department] = Field(min_length=1)
    categories: list[Category] = Field(min_length=1)
    channels: dict[Literal["telegram", "x", "mastodon"], ChannelConfig] = {}
    templates: dict[str, dict[str, str]]
    classification: Classification = Classification()
    delivery: Delivery = Delivery()
    sla: Sla = Sla()
    digests: Digests = Digests()
    followups: Followups = Followups()
    scheduler: Scheduler = Scheduler()
    privacy: Privacy = Privacy()

    # Where the file was read from; the default SQLite database lives beside it.
    base_dir: Path = Field(default=Path("."), exclude=True)

    def department(self, code: str) -> Department:
        return next(d for d in self.departments if d.code == code)

    def category(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)

    def enabled_channels(self) -> list[str]:
        return [name for name in CHANNEL_NAMES if name in self.channels and self.channels[name].enabled]

    def resolved_database_url(self) -> str:
        """`CITYBOT_DATABASE_URL`, else `database_url`, else SQLite `tickets.db` beside the config."""
        url = os.environ.get(DATABASE_ENV) or self.database_url
        if url:
            return url
        return f"sqlite:///{(self.base_dir / 'tickets.db').resolve()}"

    def template(self, key: str, lang: str) -> str:
        """The reply template `key` in `lang`, falling back to the city's language.

        Keys of BUILTIN_TEMPLATES that the config lacks come from there (older configs keep working).
        """
        for candidate in (lang, self.city.language, "en"):
            text = self.templates.get(candidate, {}).get(key) or BUILTIN_TEMPLATES.get(candidate, {}).get(key)
            if text is not None:
                return text
        raise KeyError(key)


REQUIRED_TEMPLATES = ("ack", "resolved", "not_request", "welcome", "status", "status_unknown", "reply", "closed", "reopened", "followup")
# Optional templates (the "is it fixed?" follow-up) with built-in wording.
BUILTIN_TEMPLATES = {
    "es": {"fixed_question": "Incidencia {ref}: ¿Está arreglado? Responda sí o no.",
           "fixed_thanks": "¡Gracias por confirmarlo! La incidencia {ref} queda resuelta.",
           "fixed_reopened": "Lo sentimos. Hemos reabierto la incidencia {ref} y avisado al equipo."},
    "en": {"fixed_question": "Ticket {ref}: Is it fixed? Reply yes or no.",
           "fixed_thanks": "Thank you for confirming! Ticket {ref} stays resolved.",
           "fixed_reopened": "Sorry about that. We reopened ticket {ref} and told the team."},
    "fr": {"fixed_question": "Ticket {ref} : Est-ce réparé ? Répondez oui ou non.",
           "fixed_thanks": "Merci de l'avoir confirmé ! Le ticket {ref} reste résolu.",
           "fixed_reopened": "Désolés. Nous avons rouvert le ticket {ref} et prévenu l'équipe."},
}


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path or "(top level)"


def _check_references(cfg: Config) -> None:
    """Cross-key checks pydantic cannot express per field."""
    dept_codes = [d.code for d in cfg.departments]
    _unique(dept_codes, "departments", "code")
    _unique([c.code for c in cfg.categories], "categories", "code")
    staff = [s.name for d in cfg.departments for s in d.staff]
    if len(staff) != len(set(staff)):
        dup = next(n for n in staff if staff.count(n) > 1)
        raise ConfigError(f"departments: staff name '{dup}' appears more than once")
    if cfg.city.default_language and cfg.city.default_language not in cfg.city.languages:
        raise ConfigError(f"city.default_language: '{cfg.city.default_language}' is not in city.languages")
    for i, dept in enumerate(cfg.departments):
        if dept.head and dept.head not in [s.name for s in dept.staff]:
            raise ConfigError(f"departments[{i}].head: '{dept.head}' is not on this department's staff")
    for i, cat in enumerate(cfg.categories):
        if cat.department not in dept_codes:
            raise ConfigError(f"categories[{i}].department: '{cat.department}' is not a department")
        if (cat.sla_hours is None) == (cat.sla_days is None):
            raise ConfigError(f"categories[{i}]: give exactly one of sla_hours (office hours) or sla_days (calendar days)")
        for lang in cfg.city.languages:
            if lang not in cat.names:
                raise ConfigError(f"categories[{i}].names: no name in '{lang}' (city.languages lists it)")
    for lang in cfg.city.languages:
        missing = [k for k in REQUIRED_TEMPLATES if k not in cfg.templates.get(lang, {})]
        if missing:
            raise ConfigError(f"templates.{lang}: missing {', '.join(missing)}")


def _unique(values: list[str], section: str, key: str) -> None:
    for i, value in enumerate(values):
        if value in values[:i]:
            raise ConfigError(f"{section}[{i}].{key}: '{value}' is used twice")


def parse_config(data: Any, base_dir: Path = Path(".")) -> Config:
    """Validate an already-loaded mapping. Raises ConfigError naming the key path."""
    if not isinstance(data, dict):
        raise ConfigError("(top level): the config must be a mapping of keys to values")
    try:
        cfg = Config.model_validate({**data, "base_dir": base_dir})
    except ValidationError as exc:
        first = exc.errors()[0]
        msg = first["msg"].removeprefix("Value error, ")
        if first["type"] == "missing":
            msg = "is required"
        elif first["type"] == "extra_forbidden":
            msg = "is not a known key"
        raise ConfigError(f"{_loc_to_path(first['loc'])}: {msg}") from None
    _check_references(cfg)
    return cfg


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--config`, else `CITYBOT_CONFIG`, else ./config.yaml."""
    return Path(explicit or os.environ.get(CONFIG_ENV) or "config.yaml")


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate the YAML file at `path` (see `config_path`)."""
    file = config_path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found (use --config PATH or {CONFIG_ENV})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}") from None
    return parse_config(data, base_dir=file.resolve().parent)


def channel_token(cfg: Config, channel: str, key: str = "token_env") -> str:
    """The secret for `channel`, read from the environment variable that its `key` names."""
    env = getattr(cfg.channels[channel], key)
    if not env:
        raise ConfigError(f"channels.{channel}.{key}: is required for an enabled channel")
    value = os.environ.get(env)
    if not value:
        raise ConfigError(f"{env} is not set")
    return value
