"""The business calendar promises are counted on: office hours, weekends and public holidays.

Work happens in the city's local time (zoneinfo), so a promise keeps its wall-clock hour across
a DST change; every result is an aware UTC datetime.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import holidays

from bot.config import ConfigError, office_span

if TYPE_CHECKING:
    from bot.config import Config

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# No real calendar is closed this long; past it the office hours must be wrong.
_MAX_CLOSED_DAYS = 366


class BusinessCalendar:
    """Office hours per weekday (local wall clock) minus the public holidays of country/region."""

    def __init__(self, timezone_name: str, office_hours: dict[str, str], country: str | None = None, region: str | None = None):
        self.tz = ZoneInfo(timezone_name)
        self.hours: dict[int, tuple[time, time]] = {}
        for day, span in office_hours.items():
            try:
                self.hours[WEEKDAYS.index(day)] = office_span(span)
            except ValueError as exc:
                raise ConfigError(f"sla.office_hours.{day}: {exc}") from None
        if not self.hours:
            raise ConfigError("sla.office_hours: no day is open; give office hours for at least one weekday")
        self.country, self.region = country, region
        self._years: dict[int, frozenset[date]] = {}
        self._lock = threading.Lock()
        if country:
            self.holidays(2000)  # an unknown country/region fails now, not on a ticket

    def holidays(self, year: int) -> frozenset[date]:
        """The public holidays of `year` (built once per year, offline)."""
        if not self.country:
            return frozenset()
        with self._lock:
            if year not in self._years:
                try:
                    table = holidays.country_holidays(self.country, subdiv=self.region, years=year)
                except NotImplementedError as exc:
                    key = "city.region" if self.region and "subdivision" in str(exc) else "city.country"
                    raise ConfigError(f"{key}: {exc}") from None
                self._years[year] = frozenset(table.keys())
            return self._years[year]

    def is_open_day(self, day: date) -> bool:
        return day.weekday() in self.hours and day not in self.holidays(day.year)

    def add_office_hours(self, start: datetime, hours: float) -> datetime:
        """The moment when `hours` office hours have passed since `start` (aware UTC).

        A start outside office hours counts from the next opening; closed weekdays and public
        holidays count nothing. A promise that uses up a day exactly ends at that day's closing.
        """
        if hours < 0:
            raise ValueError(f"hours must not be negative, got {hours}")
        cursor = _as_utc(start)
        remaining = timedelta(hours=hours)
        day = cursor.astimezone(self.tz).date()
        for _ in range(_MAX_CLOSED_DAYS + 7):
            if self.is_open_day(day):
                opens, closes = (_utc(day, t, self.tz) for t in self.hours[day.weekday()])
                begin = max(cursor, opens)
                if begin <= closes:
                    available = closes - begin  # UTC arithmetic: real elapsed time
                    if remaining <= available:
                        return begin + remaining
                    remaining -= available
            day += timedelta(days=1)
        raise ConfigError(f"sla.office_hours: no office hours within a year of {start.isoformat()}")

    def add_calendar_days(self, start: datetime, days: float) -> datetime:
        """`start` plus `days` calendar days on the local wall clock (same local hour after DST), in UTC."""
        local = _as_utc(start).astimezone(self.tz)
        wall = local.replace(tzinfo=None) + timedelta(days=days)
        return wall.replace(tzinfo=self.tz).astimezone(timezone.utc)


def _as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive datetime is taken as UTC (how the database stores times)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(timezone.utc)


def calendar_for(cfg: Config) -> BusinessCalendar:
    """The calendar of `cfg`, built once per distinct (time zone, office hours, country, region)."""
    return _cached(cfg.city.timezone, tuple(sorted(cfg.sla.office_hours.items())), cfg.city.country, cfg.city.region)


@lru_cache(maxsize=32)
def _cached(tz: str, office_hours: tuple[tuple[str, str], ...], country: str | None, region: str | None) -> BusinessCalendar:
    return BusinessCalendar(tz, dict(office_hours), country, region)
