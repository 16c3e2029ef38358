"""`aa-jak db upgrade` and `aa-jak db current` on the database the settings name (in-process)."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from aa_jak import cli
from storage import migrate
from storage.engine import engine_for


@pytest.fixture
def configured_database(empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The empty database, named by AA_JAK_DATABASE_URL; no other setting from the environment."""
    for name in list(os.environ):
        if name.startswith("AA_JAK_") and not name.startswith("AA_JAK_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AA_JAK_DATABASE_URL", empty_database_url)
    return empty_database_url


def test_db_upgrade_brings_the_database_to_head_and_says_so(
    configured_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["db", "upgrade"]) == 0

    output = capsys.readouterr()
    assert f"revision: {migrate.head()} (head)" in output.out
    assert f"upgraded from revision none to {migrate.head()}" in output.err
    with engine_for(configured_database) as engine:
        assert migrate.status(engine).up_to_date


def test_db_current_after_an_upgrade_shows_head_and_exits_0(
    configured_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.main(["db", "upgrade"])
    capsys.readouterr()

    assert cli.main(["db", "current"]) == 0
    assert f"revision: {migrate.head()} (head)" in capsys.readouterr().out


def test_db_current_on_an_empty_database_shows_no_revision_exits_1_and_changes_nothing(
    configured_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["db", "current"]) == 1

    assert f"revision: none (head is {migrate.head()})" in capsys.readouterr().out
    with engine_for(configured_database) as engine:
        assert sa.inspect(engine).get_table_names() == []


def test_db_upgrade_of_a_database_from_a_newer_version_fails_with_the_reason(
    configured_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.main(["db", "upgrade"])
    with engine_for(configured_database) as engine, engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = 'from-a-newer-aa-jak'"))
    capsys.readouterr()

    assert cli.main(["db", "upgrade"]) == 1
    assert "from-a-newer-aa-jak (unknown to this version of aa-jak" in capsys.readouterr().err


def test_db_sql_prints_the_upgrade_without_opening_a_database(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AA_JAK_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert cli.main(["db", "sql"]) == 0
    script = capsys.readouterr().out
    assert "CREATE TABLE audit" in script
    assert f"INSERT INTO alembic_version (version_num) VALUES ('{migrate.head()}')" in script  # noqa: S608


def test_db_sql_from_an_unknown_revision_says_so_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["db", "sql", "--from", "9999"]) == 2
    assert "unknown revision '9999'" in capsys.readouterr().err
