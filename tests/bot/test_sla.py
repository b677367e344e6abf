"""Promised dates on Villajún's business calendar: 08:00-15:00 Monday to Friday, Europe/Madrid,
public holidays of Spain and Andalusia (the shipped config)."""

import copy
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import ConfigError, parse_config
from bot.models import Ticket
from bot.sla import BusinessCalendar, calendar_for
from bot.tickets import render, sla_deadline
from tests.conftest import REPO

MADRID = ZoneInfo("Europe/Madrid")
WEEKDAYS_8_15 = {day: "08:00-15:00" for day in ("mon", "tue", "wed", "thu", "fri")}


def local(y, m, d, h, mi=0):
    """A wall-clock time in Villajún, as the aware UTC datetime the database holds."""
    return datetime(y, m, d, h, mi, tzinfo=MADRID).astimezone(timezone.utc)


@pytest.fixture
def cal(cfg):
    return calendar_for(cfg)


def ticket(clock, category="streetlight", priority="normal", status="open"):
    return Ticket(ref="JUN-1", category=category, priority=priority, status=status, created_at=clock.now())


# --- the holiday table -------------------------------------------------------------------------

def test_andalusian_and_national_holidays_come_from_the_package(cal):
    h2025, h2026, h2027 = cal.holidays(2025), cal.holidays(2026), cal.holidays(2027)
    assert date(2025, 2, 28) in h2025                     # Día de Andalucía, a Friday
    assert date(2026, 2, 28) in h2026                     # a Saturday in 2026, and not moved
    assert date(2026, 3, 2) not in h2026
    assert date(2027, 3, 1) in h2027                      # Sunday 28 Feb 2027, moved to Monday
    assert {date(2026, 12, 7), date(2026, 12, 8)} <= h2026  # Monday after Constitution Day (AN), Immaculate Conception
    national = BusinessCalendar("Europe/Madrid", WEEKDAYS_8_15, "ES").holidays(2026)
    assert date(2026, 12, 8) in national and date(2026, 12, 7) not in national
    assert date(2026, 2, 28) not in national


# --- office hours --------------------------------------------------------------------------------

def test_hours_within_one_day(cal):
    assert cal.add_office_hours(local(2026, 11, 23, 10), 3) == local(2026, 11, 23, 13)


def test_a_full_day_ends_at_closing_not_next_morning(cal):
    assert cal.add_office_hours(local(2026, 11, 23, 8), 7) == local(2026, 11, 23, 15)


def test_promise_across_a_weekend(cal):
    # Friday 13:00: two hours on Friday, five on Monday.
    assert cal.add_office_hours(local(2026, 11, 27, 13), 7) == local(2026, 11, 30, 13)


@pytest.mark.parametrize("start, hours, expected", [
    (local(2026, 11, 28, 20), 1, local(2026, 11, 30, 9)),    # Saturday evening: Monday's opening
    (local(2026, 11, 24, 6), 2, local(2026, 11, 24, 10)),    # before opening: counts from 08:00
    (local(2026, 11, 23, 16), 1, local(2026, 11, 24, 9)),    # after closing: next morning
    (local(2026, 11, 23, 15), 0.5, local(2026, 11, 24, 8, 30)),  # at closing: nothing left today
])
def test_start_outside_office_hours_counts_from_the_next_opening(cal, start, hours, expected):
    assert cal.add_office_hours(start, hours) == expected


def test_regional_holiday_dia_de_andalucia_is_skipped(cal):
    # Thursday 27 Feb 2025, 14:00: one hour on Thursday; Friday 28 is a holiday; six on Monday.
    assert cal.add_office_hours(local(2025, 2, 27, 14), 7) == local(2025, 3, 3, 14)
    madrid = BusinessCalendar("Europe/Madrid", WEEKDAYS_8_15, "ES", "MD")
    assert madrid.add_office_hours(local(2025, 2, 27, 14), 7) == local(2025, 2, 28, 14)


def test_friday_27_feb_2026_afternoon_when_the_holiday_falls_on_saturday(cal):
    assert cal.add_office_hours(local(2026, 2, 27, 13), 7) == local(2026, 3, 2, 13)
    # In 2027 the holiday moves to Monday 1 March: Friday's report waits until Tuesday.
    assert cal.add_office_hours(local(2027, 2, 26, 14), 2) == local(2027, 3, 2, 9)


def test_december_bridge_skips_the_7th_and_the_8th(cal):
    # Friday 4 Dec 2026, 12:00: three hours Friday; Sat, Sun, Mon 7 (AN) and Tue 8 (national) closed.
    assert cal.add_office_hours(local(2026, 12, 4, 12), 7) == local(2026, 12, 9, 12)
    national = BusinessCalendar("Europe/Madrid", WEEKDAYS_8_15, "ES")
    assert national.add_office_hours(local(2026, 12, 4, 12), 7) == local(2026, 12, 7, 12)


def test_dst_autumn_keeps_the_office_clock(cal):
    # Clocks go back on Sunday 25 Oct 2026: Friday is UTC+2, Monday UTC+1.
    start = local(2026, 10, 23, 14)
    promised = cal.add_office_hours(start, 7)
    assert promised == datetime(2026, 10, 26, 13, 0, tzinfo=timezone.utc)
    assert promised.astimezone(MADRID).hour == 14 and promised.tzinfo == timezone.utc


def test_dst_spring_keeps_the_office_clock(cal):
    # Clocks go forward on Sunday 29 Mar 2026: Friday is UTC+1, Monday UTC+2.
    assert cal.add_office_hours(local(2026, 3, 27, 14), 7) == datetime(2026, 3, 30, 12, 0, tzinfo=timezone.utc)


def test_naive_start_is_taken_as_utc(cal):
    naive = datetime(2026, 11, 23, 9, 0)
    assert cal.add_office_hours(naive, 1) == cal.add_office_hours(naive.replace(tzinfo=timezone.utc), 1)


def test_negative_hours_are_refused(cal):
    with pytest.raises(ValueError, match="negative"):
        cal.add_office_hours(local(2026, 11, 23, 10), -1)


def test_weekend_office_hours_count_when_configured():
    open_saturday = BusinessCalendar("Europe/Madrid", {**WEEKDAYS_8_15, "sat": "10:00-13:00"}, "ES", "AN")
    assert open_saturday.add_office_hours(local(2026, 11, 27, 13), 7) == local(2026, 11, 30, 10)


@settings(max_examples=150, deadline=None)
@given(start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31)),
       hours=st.floats(min_value=0.01, max_value=80))
def test_every_promise_ends_inside_office_hours_on_an_open_day(start, hours):
    cal = BusinessCalendar("Europe/Madrid", WEEKDAYS_8_15, "ES", "AN")
    start = start.replace(tzinfo=timezone.utc)
    promised = cal.add_office_hours(start, hours)
    at = promised.astimezone(MADRID)
    assert promised > start
    assert cal.is_open_day(at.date())
    assert (8, 0) <= (at.hour, at.minute) and at.time() <= datetime(2000, 1, 1, 15).time()
    assert cal.add_office_hours(start, hours + 1) > promised


# --- calendar days -------------------------------------------------------------------------------

def test_calendar_days_run_through_weekends_and_holidays(cal):
    assert cal.add_calendar_days(local(2026, 12, 4, 10), 2) == local(2026, 12, 6, 10)
    assert cal.add_calendar_days(local(2026, 12, 7, 10), 1) == local(2026, 12, 8, 10)


def test_calendar_days_keep_the_local_hour_across_dst(cal):
    promised = cal.add_calendar_days(local(2026, 10, 24, 10), 2)
    assert promised.astimezone(MADRID).hour == 10
    assert promised - local(2026, 10, 24, 10) == timedelta(hours=49)


# --- sla_deadline on tickets ---------------------------------------------------------------------

def test_ticket_promise_uses_category_office_hours(cfg, clock):
    t = ticket(clock)  # streetlight: 21 office hours; Monday 10:00 in Villajún
    sla_deadline(cfg, t)
    assert t.expected_at == local(2026, 11, 26, 10)


@pytest.mark.parametrize("priority, expected", [
    ("low", local(2026, 11, 26, 10)),
    ("high", local(2026, 11, 24, 13, 30)),     # 10.5 h: 5 on Monday, 5.5 on Tuesday
    ("urgent", local(2026, 11, 24, 8, 15)),    # 5.25 h: 5 on Monday, a quarter hour on Tuesday
])
def test_priority_shortens_the_promise(cfg, clock, priority, expected):
    t = ticket(clock, priority=priority)
    sla_deadline(cfg, t)
    assert t.expected_at == expected


def test_calendar_day_category(cfg, clock):
    clock.advance(days=4)  # Friday 27 Nov, 10:00 local
    t = ticket(clock, category="waste")
    sla_deadline(cfg, t)
    assert t.expected_at == local(2026, 11, 29, 10)  # Sunday: waste collection does not stop
    urgent = ticket(clock, category="waste", priority="urgent")
    sla_deadline(cfg, urgent)
    assert urgent.expected_at == local(2026, 11, 27, 22)


def test_triage_promise_is_office_hours(cfg, clock):
    for t in (ticket(clock, category=None, status="triage"), ticket(clock, status="triage")):
        sla_deadline(cfg, t)
        assert t.expected_at == local(2026, 11, 25, 10)  # 14 office hours: 5 + 7 + 2


def test_calendar_is_built_once_per_configuration(cfg):
    assert calendar_for(cfg) is calendar_for(cfg)
    cfg.sla.office_hours = {"mon": "09:00-10:00"}
    changed = calendar_for(cfg)
    assert changed.add_office_hours(local(2026, 11, 23, 9), 2) == local(2026, 11, 30, 10)


def test_acknowledgement_states_the_promise_in_the_citizens_language(cfg, clock):
    t = ticket(clock)
    sla_deadline(cfg, t)
    assert "Fecha prevista de solución: jueves 26 de noviembre, 10:00." in render(cfg, "ack", "es", t)
    assert "Expected fix by Thursday 26 November at 10:00." in render(cfg, "ack", "en", t)
    assert "Résolution prévue : jeudi 26 novembre à 10h00." in render(cfg, "ack", "fr", t)


# --- configuration errors ------------------------------------------------------------------------

BASE = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d["sla"]["office_hours"].update(mon="9-14"), "sla.office_hours.mon: '9-14' is not HH:MM-HH:MM"),
    (lambda d: d["sla"]["office_hours"].update(sat="24:00-25:00"),
     "sla.office_hours.sat: '24:00-25:00' is not HH:MM-HH:MM (hours 00-23, minutes 00-59)"),
    (lambda d: d["sla"]["office_hours"].update(tue="15:00-08:00"), "sla.office_hours.tue: '15:00-08:00' closes before it opens"),
    (lambda d: d["sla"]["office_hours"].update(mo="08:00-15:00"), "sla.office_hours.mo: Input should be 'mon', 'tue', 'wed', 'thu', 'fri', 'sat' or 'sun'"),
    (lambda d: d["sla"].update(office_hours={}), "sla.office_hours: no day is open; give office hours for at least one weekday"),
    (lambda d: d["sla"]["priority_factors"].update(urgent=0), "sla.priority_factors.urgent: Input should be greater than 0"),
    (lambda d: d["city"].update(country="XX"), "city.country: 'XX' is not a country the holidays package knows (ISO 3166 code, e.g. ES)"),
    (lambda d: d["city"].update(region="ZZ"), "city.region: 'ZZ' is not a region of ES (known: AN, AR, AS, CB, CE, CL, CM, CN, CT, "
                                               "EX, GA, IB, MC, MD, ML, NC, PV, RI, VC, Barcelona)"),
    (lambda d: d["city"].update(country=None), "city.region: needs city.country"),
    (lambda d: d["categories"][4].update(sla_hours=5), "categories[4]: give exactly one of sla_hours (office hours) or sla_days (calendar days)"),
])
def test_bad_sla_config_names_the_key(mutate, expected):
    data = copy.deepcopy(BASE)
    mutate(data)
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert str(info.value) == expected


def test_calendar_built_by_hand_checks_its_inputs():
    with pytest.raises(ConfigError, match=r"^sla.office_hours.wed: '8:00-15:00' is not HH:MM-HH:MM$"):
        BusinessCalendar("Europe/Madrid", {"wed": "8:00-15:00"})
    with pytest.raises(ConfigError, match="^city.region: "):
        BusinessCalendar("Europe/Madrid", WEEKDAYS_8_15, "ES", "XX")
    with pytest.raises(ConfigError, match="^city.country: "):
        BusinessCalendar("Europe/Madrid", WEEKDAYS_8_15, "XX")
