"""Storage tests run on SQLite and, when `AA_JAK_TEST_POSTGRES_URL` names a reachable server, PostgreSQL.

Each PostgreSQL test gets a schema of its own (via `search_path`), dropped afterwards, so
parallel and repeated runs never see each other's rows or tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from storage import Storage, migrate
from storage.engine import engine_for

POSTGRES_URL_VARIABLE = "AA_JAK_TEST_POSTGRES_URL"
SECRET_KEY = "storage-tests-secret-key"


@pytest.fixture
def now() -> datetime:
    return datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[sa.Engine]:
    """An engine on the server named by the variable; checked once, so an absent server costs one timeout."""
    base_url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not base_url:
        pytest.skip(f"{POSTGRES_URL_VARIABLE} is not set")
    admin = sa.create_engine(base_url, connect_args={"connect_timeout": 3})
    try:
        with admin.connect():
            pass
    except OperationalError as error:
        admin.dispose()
        pytest.skip(f"PostgreSQL named by {POSTGRES_URL_VARIABLE} is unreachable ({type(error).__name__})")
    yield admin
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no tables."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'aa-jak.db'}"
    url: str = request.getfixturevalue("empty_postgres_url")
    return url


@pytest.fixture
def empty_postgres_url(postgres_admin: sa.Engine) -> Iterator[str]:
    """A PostgreSQL schema of this test's own, first on the URL's `search_path`."""
    schema_name = f"aa_jak_test_{uuid.uuid4().hex[:16]}"
    with postgres_admin.begin() as connection:
        connection.execute(sa.schema.CreateSchema(schema_name))
    url = postgres_admin.url.update_query_dict({"options": f"-csearch_path={schema_name}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with postgres_admin.begin() as connection:
            connection.execute(sa.schema.DropSchema(schema_name, cascade=True))


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """A database upgraded to the newest schema revision, as `aa-jak serve` leaves it."""
    with engine_for(empty_database_url) as engine:
        migrate.upgrade(engine)
    return empty_database_url


@pytest.fixture
def storage(database_url: str) -> Iterator[Storage]:
    store = Storage(database_url, secret_key=SECRET_KEY)
    yield store
    store.close()


@pytest.fixture
def raw_database(database_url: str) -> Iterator[sa.Engine]:
    """A second connection to the same database, to look at rows as stored."""
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()
