"""The scheduler: jobs from the config in city time, leader-only runs, failures isolated, digest catch-up."""

from __future__ import annotations

import copy
import logging
import threading
from datetime import datetime, timezone

import pytest
import yaml
from sqlalchemy import text
from sqlmodel import select

from bot.app import build_app
from bot.config import ConfigError, load_config, parse_config
from bot.db import transaction
from bot.leadership import Leadership
from bot.models import DigestRun
from bot.scheduler import CityScheduler, Job, default_jobs, latest_fire_time
from tests.conftest import REPO

UTC = timezone.utc


def write_config(path, **sections):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_config(path)


@pytest.fixture
def bare_app(cfg, clock):
    application = build_app(cfg, clock, with_classifier=False)  # jobs never classify
    yield application
    application.engine.dispose()


class Recorder:
    """A job double: records the time it was given; `digest` writes the DigestRun row a digest job would."""

    def __init__(self, digest: str | None = None, error: Exception | None = None) -> None:
        self.calls: list[datetime] = []
        self.digest = digest
        self.error = error
        self.called = threading.Event()

    def __call__(self, engine, cfg, clock, **kwargs):
        self.calls.append(clock.now())
        self.called.set()
        if self.error:
            raise self.error
        if self.digest:
            with transaction(engine) as session:
                session.add(DigestRun(kind=self.digest, period=clock.now().date().isoformat(), target="x", created_at=clock.now()))
        return ["x"]


# -- registration ----------------------------------------------------------------------
def test_jobs_follow_the_config(config_file):
    jobs = {job.id: job for job in default_jobs(load_config(config_file))}
    assert set(jobs) == {"digest_daily", "digest_weekly", "digest_staff", "escalation", "followups", "retention"}
    assert jobs["digest_weekly"].cron == "0 9 * * mon" and jobs["escalation"].every_minutes == 10
    cfg = write_config(config_file, digests={"weekly": None, "staff": None}, followups={"after_days": None},
                       privacy={"retention_days": None})
    assert [job.id for job in default_jobs(cfg)] == ["digest_daily", "escalation"]


def test_digests_fire_in_the_city_time_zone(bare_app, clock):
    scheduler = CityScheduler(bare_app, clock)
    winter = scheduler.next_fire_times()  # Monday 2026-11-23 09:00 UTC = 10:00 in Madrid
    assert winter["digest_daily"] == datetime(2026, 11, 23, 19, 0, tzinfo=UTC)  # "0 20 * * *": 20:00 CET
    assert winter["digest_weekly"] == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # "0 9 * * mon": next Monday
    assert winter["digest_staff"] == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)  # 08:00 has passed today
    assert winter["escalation"] == datetime(2026, 11, 23, 9, 10, tzinfo=UTC)
    summer = scheduler.next_fire_times(datetime(2026, 6, 1, 9, 0, tzinfo=UTC))
    assert summer["digest_daily"] == datetime(2026, 6, 1, 18, 0, tzinfo=UTC)  # 20:00 CEST


def test_latest_fire_time_looks_back_as_far_as_needed(bare_app, clock):
    scheduler = CityScheduler(bare_app, clock)
    monthly = scheduler.trigger(Job("m", (print,), cron="0 9 1 * *"))
    assert latest_fire_time(monthly, clock.now()) == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    daily = scheduler.trigger(Job("d", (print,), cron="0 20 * * *"))
    assert latest_fire_time(daily, clock.now()) == datetime(2026, 11, 22, 19, 0, tzinfo=UTC)


def test_bad_cron_expression_names_the_key():
    data = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    for bad in ("0 25 * * *", "every evening", "0 20 * *"):
        broken = copy.deepcopy(data)
        broken["digests"]["daily"] = bad
        with pytest.raises(ConfigError) as info:
            parse_config(broken)
        assert str(info.value).startswith(f"digests.daily: '{bad}' is not a cron expression")


def test_the_default_jobs_resolve_to_the_real_functions(bare_app, clock):
    from bot import digest, escalation, followups

    scheduler = CityScheduler(bare_app, clock)
    assert scheduler._resolve(scheduler.jobs["digest_daily"]) is digest.post_public_digest
    assert scheduler.jobs["digest_daily"].kwargs == {"kind": "daily"}
    assert scheduler._resolve(scheduler.jobs["digest_staff"]) is digest.send_staff_digests
    assert scheduler._resolve(scheduler.jobs["escalation"]) is escalation.escalate_overdue
    assert scheduler._resolve(scheduler.jobs["followups"]) is followups.ask_followups
    assert scheduler._resolve(scheduler.jobs["retention"]).__name__ == "purge_expired"


# -- running ---------------------------------------------------------------------------
def test_a_failing_job_does_not_stop_the_others(bare_app, clock, caplog):
    boom, ok = Recorder(error=RuntimeError("kaboom")), Recorder()
    scheduler = CityScheduler(bare_app, clock, jobs=[Job("boom", (boom,), every_minutes=10), Job("ok", (ok,), every_minutes=10)])
    with caplog.at_level(logging.ERROR, logger="bot.scheduler"):
        assert scheduler.run_job("boom") is None
    assert "boom failed" in caplog.text and "kaboom" in caplog.text
    assert scheduler.run_job("ok") == ["x"]
    assert len(boom.calls) == 1 and len(ok.calls) == 1


def test_a_failing_job_does_not_stop_the_running_scheduler(bare_app, clock):
    boom, ok = Recorder(error=RuntimeError("kaboom")), Recorder()
    second_boom = threading.Event()
    scheduler = CityScheduler(bare_app, clock, jobs=[Job("boom", (boom,), every_minutes=1 / 60),
                                                     Job("ok", (ok,), every_minutes=1 / 60)])
    scheduler.start()
    try:
        assert ok.called.wait(30)
        ok.called.clear()
        boom.called.clear()
        assert boom.called.wait(30)  # it failed once already and is still scheduled
        assert ok.called.wait(30)  # and the other job still runs
        second_boom.set()
    finally:
        scheduler.stop()
    assert second_boom.is_set() and len(boom.calls) >= 2


def test_a_non_leader_runs_nothing(bare_app, clock):
    other = Leadership(bare_app.engine, "scheduler", "other-process", 60, clock)
    assert other.try_acquire()
    job, digest = Recorder(), Recorder(digest="daily")
    scheduler = CityScheduler(bare_app, clock, jobs=[Job("escalation", (job,), every_minutes=10),
                                                     Job("digest_daily", (digest,), cron="0 20 * * *", digest="daily")])
    assert not scheduler.check_leadership()
    assert scheduler.run_job("escalation") is None and scheduler.run_job("digest_daily") is None
    assert scheduler.catch_up() == []
    assert job.calls == [] and digest.calls == []
    if bare_app.engine.dialect.name == "postgresql":
        other.release()  # a dead process's connection closes, and its advisory lock with it
    else:
        clock.advance(seconds=61)  # the other process died without renewing: its lease runs out
    assert scheduler.run_job("escalation") == ["x"]
    assert len(digest.calls) == 1  # becoming leader caught the missed digest up


def test_a_missing_job_function_is_logged_once_and_skipped(bare_app, clock, caplog):
    fallback = Recorder()
    scheduler = CityScheduler(bare_app, clock, jobs=[Job("gone", ("bot.no_such_module:run",), every_minutes=10),
                                                     Job("moved", ("bot.no_such_module:run", fallback), every_minutes=10)])
    with caplog.at_level(logging.WARNING, logger="bot.scheduler"):
        assert scheduler.run_job("gone") is None
        assert scheduler.run_job("gone") is None
        assert scheduler.run_job("moved") == ["x"]
    assert caplog.text.count("gone: no job function available") == 1
    assert "bot.no_such_module" in caplog.text


def test_a_cron_job_covers_its_scheduled_time_when_it_runs_late(bare_app, clock):
    digest = Recorder()
    scheduler = CityScheduler(bare_app, clock, jobs=[Job("digest_daily", (digest,), cron="0 20 * * *")])
    clock.advance(hours=10, minutes=25)  # 19:25 UTC = 20:25 in Madrid: 25 minutes late
    scheduler.run_job("digest_daily")
    assert digest.calls == [datetime(2026, 11, 23, 19, 0, tzinfo=UTC)]
    assert digest.calls[0].tzinfo is UTC  # a Clock gives aware UTC, whatever the city's zone


def test_catch_up_runs_a_missed_digest_once(bare_app, clock):
    digest = Recorder(digest="daily")
    jobs = [Job("digest_daily", (digest,), cron="0 20 * * *", digest="daily")]
    scheduler = CityScheduler(bare_app, clock, jobs=jobs)
    assert scheduler.check_leadership()  # becoming leader: yesterday's 20:00 digest never ran
    assert digest.calls == [datetime(2026, 11, 22, 19, 0, tzinfo=UTC)]
    assert scheduler.check_leadership()  # still leader: no second catch-up
    assert scheduler.catch_up() == []
    scheduler.stop()
    restarted = CityScheduler(bare_app, clock, jobs=jobs)
    assert restarted.check_leadership()
    assert len(digest.calls) == 1  # a restart finds the DigestRun and posts nothing
    clock.advance(hours=11)  # 20:00 in Madrid today has passed while nobody ran it
    assert restarted.catch_up() == ["digest_daily"]
    assert digest.calls[-1] == datetime(2026, 11, 23, 19, 0, tzinfo=UTC)
    with transaction(bare_app.engine) as session:
        assert sorted(session.exec(select(DigestRun.period)).all()) == ["2026-11-22", "2026-11-23"]


def test_a_failed_catch_up_check_is_retried_at_the_next_heartbeat(bare_app, clock, caplog):
    digest = Recorder(digest="daily")
    scheduler = CityScheduler(bare_app, clock, jobs=[Job("digest_daily", (digest,), cron="0 20 * * *", digest="daily")])
    with bare_app.engine.begin() as conn:
        conn.execute(text("ALTER TABLE digestrun RENAME TO digestrun_away"))
    with caplog.at_level(logging.ERROR, logger="bot.scheduler"):
        assert scheduler.check_leadership()  # leads, but cannot tell whether the digest ran
    assert digest.calls == [] and "catch-up check failed" in caplog.text
    with bare_app.engine.begin() as conn:
        conn.execute(text("ALTER TABLE digestrun_away RENAME TO digestrun"))
    assert scheduler.check_leadership()
    assert len(digest.calls) == 1


def test_a_started_scheduler_takes_the_lead_and_catches_up_in_the_background(bare_app, clock):
    digest = Recorder(digest="daily")
    scheduler = CityScheduler(bare_app, clock, jobs=[Job("digest_daily", (digest,), cron="0 20 * * *", digest="daily")])
    scheduler.start()
    try:
        assert digest.called.wait(30)
        assert scheduler.leadership.is_leader
    finally:
        scheduler.stop()
    assert digest.calls == [datetime(2026, 11, 22, 19, 0, tzinfo=UTC)]
    assert not scheduler.leadership.is_leader  # stopping hands leadership back
    assert Leadership(bare_app.engine, "scheduler", "next-process", 60, clock).try_acquire()
