import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from bot.db import make_engine, migrate, open_database
from bench.harness import drop_pg_database, fresh_pg_database
from tests.pg import DATABASES


@pytest.fixture(params=DATABASES)
def empty_url(request, tmp_path, pg_template):
    """The URL of an empty database (never migrated), on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    if pg_template is None:
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    url = fresh_pg_database()
    yield url
    drop_pg_database(url)


def revision(engine):
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_migrations_build_exactly_the_models(empty_url):
    engine = open_database(empty_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert diff == []


def test_migrating_twice_is_harmless(empty_url):
    engine = open_database(empty_url)
    migrate(engine)
    assert revision(engine) == "0004"
    engine.dispose()


def test_processes_starting_at_once_on_an_empty_database_migrate_one_after_the_other(empty_url):
    # Without the migration lock the second "CREATE TABLE" fails: "table channelcursor already exists".
    engines = [make_engine(empty_url) for _ in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(engines))

    def start_up(engine):
        start.wait()
        try:
            migrate(engine)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=start_up, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert {revision(engine) for engine in engines} == {"0004"}
    for engine in engines:
        engine.dispose()
