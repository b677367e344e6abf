"""Wiring: config → database (migrated, staff synced) → classifier → services."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.clock import Clock
from bot.config import Config
from bot.db import open_database, transaction
from bot.models import Department, Staff
from classifiers.base import Classifier


@dataclass
class App:
    cfg: Config
    engine: Engine
    classifier: Classifier | None
    clock: Clock


def sync_directory(engine: Engine, cfg: Config, attempts: int = 3) -> None:
    """Make the Department and Staff tables match the config (staff who left become inactive).

    Two processes starting at once on a fresh database may both insert the same rows; the
    loser's transaction fails on the unique key and is retried, and then finds the rows.
    """
    for attempt in range(attempts):
        try:
            return _sync_directory_once(engine, cfg)
        except IntegrityError:
            if attempt == attempts - 1:
                raise


def _sync_directory_once(engine: Engine, cfg: Config) -> None:
    with transaction(engine) as session:
        for dept in cfg.departments:
            row = session.get(Department, dept.code) or Department(code=dept.code, name=dept.name)
            row.name = dept.name
            session.add(row)
        session.flush()
        configured = {s.name: (d.code, s) for d in cfg.departments for s in d.staff}
        for staff in session.exec(select(Staff)).all():
            staff.active = staff.name in configured
        for name, (dept_code, member) in configured.items():
            row = session.exec(select(Staff).where(Staff.name == name)).first() or Staff(name=name, department=dept_code)
            row.department, row.full_name, row.active = dept_code, member.full_name, True
            session.add(row)


def build_app(cfg: Config, clock: Clock | None = None, progress=None, with_classifier: bool = True) -> App:
    """Database migrated and staff synced; the classifier loaded (trained first if it never was).

    Staff commands pass `with_classifier=False`: they never classify, so they skip loading the model.
    """
    engine = open_database(cfg.resolved_database_url())
    sync_directory(engine, cfg)
    classifier = None
    if with_classifier:
        from classifiers.loader import build_classifier  # spaCy loads only when needed

        classifier = build_classifier(cfg, progress)
    return App(cfg, engine, classifier, clock or Clock())
