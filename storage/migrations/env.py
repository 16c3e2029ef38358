"""Alembic's environment: the migrations run on a connection that `storage.migrate` hands over.

`storage.migrate` holds the lock and the transaction around them. The `alembic` command
(developers writing a revision) names its database with `-x url=...` instead. In offline mode
(`storage.migrate.sql_script`) the migrations are written out as SQL instead of run.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from storage import schema
from storage.engine import engine_for


def run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=schema.metadata)
    with context.begin_transaction():
        context.run_migrations()


handed_over = context.config.attributes.get("connection")
if context.is_offline_mode():
    # SQL for a database administrator to review and run (`aa-jak db sql`): no connection at all.
    # PostgreSQL only: the embedded SQLite database is upgraded whenever it is opened.
    context.configure(dialect_name="postgresql", target_metadata=schema.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif handed_over is not None:
    run_migrations(handed_over)
else:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("alembic: name the database with -x url=..., e.g. -x url=sqlite:///var/aa-jak.db")
    with engine_for(url) as engine, engine.connect() as connection:
        run_migrations(connection)
