"""The schema's Alembic migrations (`storage/migrations/`), run from code: no alembic.ini needed.

`upgrade` is the only writer of the schema. It runs in one transaction under a lock, so replicas
starting together take turns (the second finds the work done) and a failed migration leaves the
database as it was: a PostgreSQL advisory lock, or SQLite's write lock taken at `BEGIN IMMEDIATE`.
"""

from __future__ import annotations

import functools
import io
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from storage import schema

logger = logging.getLogger(__name__)

SCRIPT_LOCATION = "storage:migrations"
# The schema `Storage` created with `metadata.create_all` before there were migrations.
FIRST_REVISION = "0001"
# The PostgreSQL advisory lock key. The table-creating code from before migrations locked the
# same key, so old and new replicas starting together also take turns.
MIGRATION_LOCK = 0x4A414B
# Alembic keeps the running migration in module globals (`alembic.context`, `alembic.op`), so
# within one process migrations take turns even on different databases.
_IN_PROCESS = threading.Lock()


class SchemaError(RuntimeError):
    """The database's schema is not the one this version of aa-jak works with."""


@dataclass(frozen=True)
class SchemaStatus:
    revision: str | None  # None: an empty database, or tables from before migrations
    head: str
    known: bool  # False: a revision from another (newer?) version of aa-jak

    @property
    def up_to_date(self) -> bool:
        return self.revision == self.head

    def __str__(self) -> str:
        if self.up_to_date:
            return f"{self.head} (head)"
        if not self.known:
            return f"{self.revision} (unknown to this version of aa-jak, whose head is {self.head})"
        return f"{self.revision or 'none'} (head is {self.head})"


def upgrade(engine: sa.Engine) -> SchemaStatus:
    """Bring the schema to the newest revision; the status it had before.

    A database whose tables were created before migrations existed is adopted: stamped at the
    first revision, upgraded, and refused (rolled back) unless it then matches the models.
    """
    with _IN_PROCESS, engine.connect() as connection, _migration_lock(connection):
        current = _status(connection)
        if current.up_to_date:
            return current
        if not current.known:
            raise SchemaError(f"cannot upgrade the database schema at revision {current}")
        config = _config(connection)
        adopting = current.revision is None and _has_model_tables(connection)
        if adopting:
            logger.info("storage: adopting tables created before migrations (revision %s)", FIRST_REVISION)
            _key_card_issued_per_finding(connection)
            command.stamp(config, FIRST_REVISION)
        logger.info("storage: upgrading the database schema from %s", current)
        command.upgrade(config, "head")
        if adopting and (differences := _schema_differences(connection)):
            raise SchemaError(
                "the database has tables from before migrations that differ from the models, "
                f"so it was left unchanged: {differences}"
            )
    return current


def sql_script(since: str | None = None) -> str:
    """The PostgreSQL SQL that upgrades a database from revision `since` (None: an empty one) to head,
    without connecting to any: for a database administrator who reviews and runs schema changes.

    Unlike `upgrade`, it takes no lock and adopts nothing: run it on an empty database or one at
    `since`, and on nothing that `aa-jak` may be upgrading at the same time.
    """
    if since is not None and since not in {script.revision for script in _scripts().walk_revisions()}:
        raise SchemaError(f"unknown revision {since!r}; this version's head is {head()}")
    buffer = io.StringIO()
    config = _config()
    config.output_buffer = buffer
    with _IN_PROCESS:
        command.upgrade(config, f"{since}:head" if since else "head", sql=True)
    return buffer.getvalue()


def status(engine: sa.Engine) -> SchemaStatus:
    with engine.connect() as connection:
        return _status(connection)


def require_up_to_date(engine: sa.Engine) -> None:
    """Raise `SchemaError` unless the schema is at this version's head revision."""
    current = status(engine)
    if not current.up_to_date:
        raise SchemaError(
            f"the database schema is at revision {current}: run `aa-jak db upgrade` "
            "(`aa-jak serve` does it at start)"
        )


def _schema_differences(connection: Connection) -> list[Any]:
    """How the database's tables differ from the models, primary keys included (autogenerate skips them)."""
    # Only the models' tables: a PostgreSQL schema may hold other applications' tables too.
    context = MigrationContext.configure(
        connection,
        opts={"include_name": lambda name, kind, _: kind != "table" or name in schema.metadata.tables},
    )
    differences: list[Any] = compare_metadata(context, schema.metadata)
    if differences:
        return differences
    inspector = sa.inspect(connection)
    for table in schema.metadata.sorted_tables:
        keyed_by = inspector.get_pk_constraint(table.name)["constrained_columns"]
        if keyed_by != table.primary_key.columns.keys():
            differences.append(("primary key", table.name, keyed_by))
    return differences


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The newest revision: the schema this version of aa-jak works with."""
    newest = _scripts().get_current_head()
    if newest is None:
        raise SchemaError(f"no migrations in {SCRIPT_LOCATION}")
    return newest


def _status(connection: Connection) -> SchemaStatus:
    revision = MigrationContext.configure(connection).get_current_revision()
    known = revision is None or revision in {script.revision for script in _scripts().walk_revisions()}
    return SchemaStatus(revision=revision, head=head(), known=known)


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection  # env.py runs the migrations on it
    return config


@contextmanager
def _migration_lock(connection: Connection) -> Iterator[None]:
    """One transaction, held by one migrator at a time across processes and replicas."""
    if connection.dialect.name != "postgresql":
        with connection.begin():
            # The pysqlite driver would start the transaction only at the first row written,
            # after the checks and DDL: take the write lock first, and make the DDL transactional.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield
        return
    # A session lock, not a transaction one: it outlasts a migration that commits part way
    # (Alembic's autocommit blocks, e.g. for CREATE INDEX CONCURRENTLY).
    connection.execute(sa.select(sa.func.pg_advisory_lock(MIGRATION_LOCK)))
    connection.commit()
    try:
        with connection.begin():
            yield
    finally:
        if not connection.invalidated:  # a dropped connection released the lock with its session
            connection.execute(sa.select(sa.func.pg_advisory_unlock(MIGRATION_LOCK)))
            connection.commit()


def _has_model_tables(connection: Connection) -> bool:
    inspector = sa.inspect(connection)
    return any(inspector.has_table(name) for name in schema.metadata.tables)


def _key_card_issued_per_finding(connection: Connection) -> None:
    """Re-key a `card_issued` from before grouped cards, keyed by (service, card), which kept one
    finding per card: the rows are kept, the primary key becomes (service, card, finding)."""
    inspector = sa.inspect(connection)
    if not inspector.has_table("card_issued"):
        return
    primary_key = inspector.get_pk_constraint("card_issued")
    if "finding_id" in primary_key["constrained_columns"]:
        return
    logger.info("storage: keying card_issued by (service, card, finding)")
    # SQLite's primary key has no name; batch mode needs one to drop it, so the convention gives it one.
    name = primary_key["name"] or "pk_card_issued"
    operations = Operations(MigrationContext.configure(connection))
    with operations.batch_alter_table("card_issued", naming_convention={"pk": "pk_%(table_name)s"}) as batch:
        batch.drop_constraint(name, type_="primary")
        batch.create_primary_key(name, ["service_id", "card_uuid", "finding_id"])
