"""The scheduler inside `citybot run`: digests on cron, escalation, follow-ups and retention on an interval.

Every process running `citybot run` may start one; only the leader (bot.leadership, name
"scheduler") runs jobs, and every job checks leadership first. Jobs live in an in-memory store,
never shared between processes. A job is `(engine, cfg, clock, **kwargs) -> list[str]` named by
import path and resolved when it runs: a missing one is logged once and skipped. A job that raises
is logged; the scheduler and the other jobs go on.

Cron jobs run with a clock frozen at their scheduled fire time, so a late run (within the misfire
grace) or a catch-up covers the period it was due for. When a process becomes leader it catches
up: each digest whose most recent fire time has no DigestRun since is run now (the DigestRun
unique key keeps it to one post per period and target, whoever runs it).
"""

from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlmodel import func, select

from bot.app import App
from bot.clock import Clock
from bot.config import Config
from bot.db import transaction
from bot.leadership import Leadership
from bot.models import DigestRun

log = logging.getLogger(__name__)

JobFunction = Callable[..., Any]
LEADER_LOCK = "scheduler"
# How far back to look for a cron's latest fire time, widening until one is found.
_LOOKBACK = (timedelta(hours=1), timedelta(days=1), timedelta(days=8), timedelta(days=32), timedelta(days=367),
             timedelta(days=4 * 366))


@dataclass
class Job:
    """One scheduled job. `targets`: callables or "module:function" paths; the first that resolves runs.

    Exactly one of `cron` (5-field crontab, city time zone) and `every_minutes`. `digest`: the
    DigestRun kind this job writes, which makes it a catch-up candidate.
    """

    id: str
    targets: tuple[str | JobFunction, ...]
    cron: str | None = None
    every_minutes: float | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    digest: str | None = None

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.every_minutes is None):
            raise ValueError(f"job {self.id}: give exactly one of cron or every_minutes")


def default_jobs(cfg: Config) -> list[Job]:
    """The jobs the config asks for: each digest with a cron, escalation, follow-ups and retention when on."""
    jobs = []
    for kind in ("daily", "weekly"):
        expr = getattr(cfg.digests, kind)
        if expr is not None:
            jobs.append(Job(f"digest_{kind}", ("bot.digest:post_public_digest",), cron=expr, kwargs={"kind": kind}, digest=kind))
    if cfg.digests.staff is not None:
        jobs.append(Job("digest_staff", ("bot.digest:send_staff_digests",), cron=cfg.digests.staff, digest="staff"))
    every = cfg.scheduler.check_every_minutes
    jobs.append(Job("escalation", ("bot.escalation:escalate_overdue",), every_minutes=every))
    if cfg.followups.after_days is not None:
        jobs.append(Job("followups", ("bot.followups:ask_followups",), every_minutes=every))
    if cfg.privacy.retention_days is not None:
        jobs.append(Job("retention", ("bot.retention:purge_expired", "bot.privacy:purge_expired"), every_minutes=24 * 60))
    return jobs


class ScheduledClock(Clock):
    """A clock stopped at a job's scheduled fire time (aware UTC, like every Clock)."""

    def __init__(self, at: datetime) -> None:
        self._at = at.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self._at


def latest_fire_time(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The trigger's most recent fire time at or before `now` (None if none in four years)."""
    for window in _LOOKBACK:
        latest, fire = None, trigger.get_next_fire_time(None, now - window)
        while fire is not None and fire <= now:
            latest, fire = fire, trigger.get_next_fire_time(fire, fire)
        if latest is not None:
            return latest
    return None


class CityScheduler:
    def __init__(self, app: App, clock: Clock | None = None, jobs: list[Job] | None = None,
                 leadership: Leadership | None = None) -> None:
        self.app = app
        self.cfg = app.cfg
        self.clock = clock or app.clock
        self.tz = ZoneInfo(self.cfg.city.timezone)
        self.jobs = {job.id: job for job in (default_jobs(self.cfg) if jobs is None else jobs)}
        self.leadership = leadership or Leadership(app.engine, LEADER_LOCK, lease_seconds=self.cfg.scheduler.lease_seconds,
                                                   clock=self.clock)
        self._leading = False
        self._lead_lock = threading.Lock()
        self._missing: set[str] = set()
        self._scheduler: BackgroundScheduler | None = None

    # -- triggers ------------------------------------------------------------------
    def trigger(self, job: Job) -> BaseTrigger:
        if job.cron is not None:
            return CronTrigger.from_crontab(job.cron, timezone=self.tz)
        return IntervalTrigger(minutes=job.every_minutes, timezone=self.tz)

    def next_fire_times(self, now: datetime | None = None) -> dict[str, datetime]:
        """{job id: next fire time after `now` (default: the clock)}; an interval job counts from `now`."""
        now = now or self.clock.now()
        return {job.id: self.trigger(job).get_next_fire_time(None, now) if job.cron is not None
                else now + timedelta(minutes=job.every_minutes) for job in self.jobs.values()}

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        """Run in background threads: a leadership heartbeat (at once, then every third of the lease) and the jobs."""
        scheduler = BackgroundScheduler(
            timezone=self.tz, jobstores={"default": MemoryJobStore()}, executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": self.cfg.scheduler.misfire_grace_seconds})
        scheduler.add_job(self.check_leadership, IntervalTrigger(seconds=self.leadership.lease_seconds / 3, timezone=self.tz),
                          id="leadership", next_run_time=datetime.now(self.tz))
        for job in self.jobs.values():
            scheduler.add_job(self.run_job, self.trigger(job), args=[job.id], id=job.id)
        self._scheduler = scheduler  # before start: the first heartbeat may already want it
        scheduler.start()
        log.info("scheduler started: %s", ", ".join(self.jobs) or "no jobs")

    def stop(self) -> None:
        """Wait for running jobs, then give leadership up so another process takes over at once."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        self.leadership.release()
        self._leading = False

    # -- leadership ----------------------------------------------------------------
    def check_leadership(self) -> bool:
        """Acquire or renew; on becoming leader, catch up missed digests. True when this process leads.

        Once started, the catch-up runs as a job of its own, so a slow digest never delays the heartbeat.
        """
        with self._lead_lock:
            leader = self.leadership.try_acquire()
            became, self._leading = leader and not self._leading, leader
        if became:
            scheduler = self._scheduler
            if scheduler is not None and scheduler.running:
                scheduler.add_job(self.catch_up, id="catch_up", replace_existing=True, next_run_time=datetime.now(self.tz))
            else:
                self.catch_up()
        return leader

    def catch_up(self) -> list[str]:
        """Run each digest whose latest fire time has no DigestRun since; return the job ids run.

        A check that fails (database away) is logged and retried at the next leadership heartbeat.
        """
        ran = []
        now = self.clock.now()
        for job in self.jobs.values():
            if job.digest is None or not self.leadership.is_leader:
                continue
            fire = latest_fire_time(self.trigger(job), now)
            try:
                if fire is None or self._digest_done(job.digest, fire):
                    continue
            except Exception:  # noqa: BLE001 - the database may be away for a moment: retry at the next heartbeat
                log.exception("%s: catch-up check failed", job.id)
                self._leading = False
                continue
            log.info("catching up %s due at %s", job.id, fire.isoformat())
            self._invoke(job, ScheduledClock(fire))
            ran.append(job.id)
        return ran

    def _digest_done(self, kind: str, since: datetime) -> bool:
        with transaction(self.app.engine) as session:
            return session.exec(select(func.count()).select_from(DigestRun)
                                .where(DigestRun.kind == kind, DigestRun.created_at >= since)).one() > 0

    # -- running -------------------------------------------------------------------
    def run_job(self, job_id: str) -> Any:
        """What the scheduler calls: nothing unless leader; the job's result, or None when skipped or failed."""
        job = self.jobs[job_id]
        if not self.check_leadership():
            log.debug("%s: not the leader, skipped", job_id)
            return None
        clock = self.clock
        if job.cron is not None:
            now = self.clock.now()
            clock = ScheduledClock(latest_fire_time(self.trigger(job), now) or now)
        return self._invoke(job, clock)

    def _invoke(self, job: Job, clock: Clock) -> Any:
        function = self._resolve(job)
        if function is None:
            return None
        try:
            result = function(self.app.engine, self.cfg, clock, **job.kwargs)
        except Exception:  # noqa: BLE001 - one failing job must not stop the others
            log.exception("%s failed", job.id)
            return None
        if result:
            log.info("%s: %s", job.id, ", ".join(map(str, result)))
        return result

    def _resolve(self, job: Job) -> JobFunction | None:
        reasons = []
        for target in job.targets:
            if callable(target):
                return target
            module_name, _, name = target.partition(":")
            try:
                return getattr(importlib.import_module(module_name), name)
            except (ImportError, AttributeError) as exc:
                reasons.append(f"{target}: {exc}")
        if job.id not in self._missing:
            self._missing.add(job.id)
            log.warning("%s: no job function available, skipped (%s)", job.id, "; ".join(reasons))
        return None
