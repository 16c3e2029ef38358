"""`aa-jak serve` upgrades the database schema once, before gunicorn starts its workers."""

from __future__ import annotations

import sqlalchemy as sa

from aa_jak import cli
from storage import migrate
from storage.engine import engine_for


class FakeServer:
    """Stands in for gunicorn: records the schema's status when it would start the workers."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.status_at_start: migrate.SchemaStatus | None = None

    def run(self) -> None:
        with engine_for(self.database_url) as engine:
            self.status_at_start = migrate.status(engine)


def _configure(clean_env, tmp_path) -> str:
    """A SQLite database and a secret key; the metrics folder set here so that it is unset afterwards."""
    database_url = f"sqlite:///{tmp_path / 'aa-jak.db'}"
    clean_env.setenv("AA_JAK_DATABASE_URL", database_url)
    clean_env.setenv("AA_JAK_SECRET_KEY", "serve-schema-test-secret")
    clean_env.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    return database_url


def test_serve_upgrades_the_database_before_the_workers_start(clean_env, tmp_path, capsys):
    database_url = _configure(clean_env, tmp_path)
    server = FakeServer(database_url)
    clean_env.setattr(cli, "build_server", lambda *args, **kwargs: server)

    assert cli.main(["serve"]) == 0

    assert server.status_at_start is not None and server.status_at_start.up_to_date
    assert f"database schema upgraded from revision none to {migrate.head()}" in capsys.readouterr().err


def test_serve_does_not_start_when_the_database_cannot_be_upgraded(clean_env, tmp_path, capsys):
    database_url = _configure(clean_env, tmp_path)
    with engine_for(database_url) as engine:
        migrate.upgrade(engine)
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = 'from-a-newer-aa-jak'"))
    started = []
    clean_env.setattr(cli, "build_server", lambda *args, **kwargs: started.append(args))

    assert cli.main(["serve"]) == 1

    assert started == []
    assert "unknown to this version of aa-jak" in capsys.readouterr().err
