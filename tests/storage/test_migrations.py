"""Schema migrations (`storage.migrate`, `storage/migrations/`): what they build, adopt and refuse."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from storage import Storage, migrate, schema
from storage.engine import engine_for, open_engine
from storage.migrate import SchemaError

MODEL_TABLES = set(schema.metadata.tables)


def _compare_with_the_models(engine: sa.Engine) -> list[object]:
    with engine.connect() as connection:
        differences: list[object] = compare_metadata(MigrationContext.configure(connection), schema.metadata)
    return differences


def _revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _models_but(replaced: sa.Table) -> sa.MetaData:
    """The models as `metadata.create_all` made them before migrations, with one table different."""
    old = replaced.metadata
    for table in schema.metadata.sorted_tables:
        if table.name != replaced.name:
            table.to_metadata(old)
    return old


def _card_issued_keyed_per_card() -> sa.Table:
    """`card_issued` from before grouped cards: one finding per (service, card)."""
    return sa.Table(
        "card_issued",
        sa.MetaData(),
        sa.Column("service_id", sa.String(255), primary_key=True),
        sa.Column("card_uuid", sa.String(255), primary_key=True),
        sa.Column("hook_instance", sa.String(255), nullable=False),
        sa.Column("finding_id", sa.String(255), nullable=False, index=True),
        sa.Column("issued_at", sa.DateTime, nullable=False),
    )


def test_upgrading_an_empty_database_gives_exactly_the_models(empty_database_url: str) -> None:
    with engine_for(empty_database_url) as engine:
        migrate.upgrade(engine)

        assert _compare_with_the_models(engine) == []
        inspector = sa.inspect(engine)  # primary keys, which autogenerate does not compare
        assert {name: inspector.get_pk_constraint(name)["constrained_columns"] for name in MODEL_TABLES} == {
            table.name: table.primary_key.columns.keys() for table in schema.metadata.sorted_tables
        }


def test_an_upgraded_database_is_at_the_head_revision(empty_database_url: str) -> None:
    with engine_for(empty_database_url) as engine:
        before = migrate.upgrade(engine)

        assert (before.revision, before.up_to_date) == (None, False)
        assert migrate.status(engine).up_to_date
        assert _revision(engine) == migrate.head()


def test_downgrading_to_base_and_upgrading_again_gives_the_models(database_url: str) -> None:
    with engine_for(database_url) as engine:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", migrate.SCRIPT_LOCATION)
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        assert set(sa.inspect(engine).get_table_names()) & MODEL_TABLES == set()

        migrate.upgrade(engine)

        assert _compare_with_the_models(engine) == []


def test_a_database_created_before_migrations_is_adopted_keeping_its_rows(
    empty_database_url: str, now: datetime
) -> None:
    row = {"key_hash": "a" * 64, "expires_at": now}
    with engine_for(empty_database_url) as engine:
        with engine.begin() as connection:
            schema.metadata.create_all(connection)  # what Storage did before migrations
            connection.execute(schema.jti_seen.insert().values(row))

        migrate.upgrade(engine)

        assert _revision(engine) == migrate.head()
        assert _compare_with_the_models(engine) == []
        with engine.connect() as connection:
            assert [r._asdict() for r in connection.execute(schema.jti_seen.select())] == [row]


def test_adopting_a_card_table_keyed_per_card_keys_it_per_finding_keeping_its_rows(
    empty_database_url: str, now: datetime
) -> None:
    old_cards = _card_issued_keyed_per_card()
    with engine_for(empty_database_url) as engine:
        _models_but(old_cards).create_all(engine)
        with engine.begin() as connection:
            connection.execute(
                old_cards.insert(),
                {
                    "service_id": "s",
                    "card_uuid": "c1",
                    "hook_instance": "h",
                    "finding_id": "a",
                    "issued_at": now.replace(tzinfo=None),
                },
            )

        migrate.upgrade(engine)

        primary_key = sa.inspect(engine).get_pk_constraint("card_issued")["constrained_columns"]
        assert primary_key == ["service_id", "card_uuid", "finding_id"]
        with engine.connect() as connection:  # the old row itself, read before anything writes again
            kept = connection.execute(
                sa.select(schema.card_issued.c.card_uuid, schema.card_issued.c.finding_id)
            )
            assert [tuple(r) for r in kept] == [("c1", "a")]
    store = Storage(empty_database_url)
    try:
        store.record_cards("s", "h", [("c1", "a"), ("c1", "b")], now)  # a grouped card now fits
        assert [(s.finding_id, s.cards_issued) for s in store.feedback_report()] == [("a", 1), ("b", 1)]
    finally:
        store.close()


def test_a_database_from_before_migrations_that_differs_from_the_models_is_refused_unchanged(
    empty_database_url: str,
) -> None:
    audit_without_findings = sa.Table(
        "audit",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("time", sa.DateTime, nullable=False),
    )
    with engine_for(empty_database_url) as engine:
        _models_but(audit_without_findings).create_all(engine)

        with pytest.raises(SchemaError, match="differ from the models"):
            migrate.upgrade(engine)

        inspector = sa.inspect(engine)
        assert set(inspector.get_table_names()) == MODEL_TABLES  # no alembic_version either
        assert [column["name"] for column in inspector.get_columns("audit")] == ["id", "time"]


def test_a_database_at_a_revision_unknown_to_this_version_is_not_touched(database_url: str) -> None:
    with engine_for(database_url) as engine:
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = 'from-a-newer-aa-jak'"))

        with pytest.raises(SchemaError, match="unknown to this version"):
            migrate.upgrade(engine)

        assert _revision(engine) == "from-a-newer-aa-jak"


def _upgrade_as_a_replica(url: str, together: Any, outcomes: Any) -> None:
    """In a process of its own, as a replica: connect, wait for the other, upgrade."""
    try:
        with engine_for(url) as engine:
            engine.connect().close()
            together.wait(timeout=60)
            outcomes.put(migrate.upgrade(engine).up_to_date)
    except Exception as error:
        outcomes.put(repr(error))


@pytest.mark.postgres
def test_of_two_replicas_upgrading_together_one_does_the_work_and_the_other_finds_it_done(
    empty_postgres_url: str,
) -> None:
    processes = multiprocessing.get_context("spawn")  # a fresh interpreter each, like a replica
    together, outcomes = processes.Barrier(2), processes.Queue()
    replicas = [
        processes.Process(target=_upgrade_as_a_replica, args=(empty_postgres_url, together, outcomes))
        for _ in range(2)
    ]
    for replica in replicas:
        replica.start()
    try:
        up_to_date_before = sorted([outcomes.get(timeout=120) for _ in replicas], key=str)
    finally:
        for replica in replicas:
            replica.join(timeout=30)

    assert up_to_date_before == [False, True]


@pytest.mark.postgres
def test_an_upgrade_waits_while_another_replica_holds_the_migration_lock(
    empty_postgres_url: str, postgres_admin: sa.Engine
) -> None:
    engine = open_engine(empty_postgres_url)
    with postgres_admin.connect() as other_replica:
        other_replica.execute(sa.select(sa.func.pg_advisory_lock(migrate.MIGRATION_LOCK)))
        upgrading = threading.Thread(target=migrate.upgrade, args=(engine,))
        upgrading.start()
        upgrading.join(timeout=0.5)
        try:
            assert upgrading.is_alive()
            assert _revision(engine) is None
        finally:
            other_replica.execute(sa.select(sa.func.pg_advisory_unlock(migrate.MIGRATION_LOCK)))
            upgrading.join(timeout=10)
    try:
        assert migrate.status(engine).up_to_date
    finally:
        engine.dispose()


def test_storage_brings_an_embedded_sqlite_database_to_the_head_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'aa-jak.db'}"

    Storage(url).close()

    with engine_for(url) as engine:
        assert migrate.status(engine).up_to_date


@pytest.mark.postgres
def test_storage_refuses_a_postgresql_database_not_upgraded_and_says_what_to_run(
    empty_postgres_url: str,
) -> None:
    with pytest.raises(SchemaError, match="aa-jak db upgrade"):
        Storage(empty_postgres_url)

    with engine_for(empty_postgres_url) as engine:
        assert set(sa.inspect(engine).get_table_names()) == set()


@pytest.mark.postgres
def test_sql_script_run_by_a_dba_on_an_empty_postgres_database_leaves_it_at_head(
    empty_postgres_url: str,
) -> None:
    script = migrate.sql_script()
    with engine_for(empty_postgres_url) as engine:
        raw = engine.raw_connection()
        try:
            raw.driver_connection.autocommit = True  # the script has its own BEGIN and COMMIT
            with raw.driver_connection.cursor() as cursor:
                cursor.execute(script)
        finally:
            raw.close()
        assert migrate.status(engine).up_to_date
        assert _compare_with_the_models(engine) == []


def test_sql_script_from_head_changes_nothing() -> None:
    script = migrate.sql_script(migrate.head())
    assert "CREATE" not in script and "ALTER" not in script


def test_sql_script_from_an_unknown_revision_is_refused() -> None:
    with pytest.raises(SchemaError, match="unknown revision '9999'"):
        migrate.sql_script("9999")
