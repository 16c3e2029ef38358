"""`open_engine`: the one way to connect, shared by `Storage` and the schema migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_MS = 5000


def open_engine(url: str) -> sa.Engine:
    """An engine for a `sqlite://` or `postgresql+psycopg://` URL; a SQLite file's folder is created."""
    parsed = make_url(url)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError("database URL must be sqlite:// or postgresql+psycopg://")
    if parsed.get_backend_name() == "postgresql":
        # The server may drop idle connections (restarts, failover, proxies): ping before use.
        return sa.create_engine(parsed, pool_pre_ping=True)
    if parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # A SQLite connection cannot go stale, so no ping before each use (one query saved per call).
    engine = sa.create_engine(parsed)
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


@contextmanager
def engine_for(url: str) -> Iterator[sa.Engine]:
    """`open_engine`, disposed of afterwards: for a command that connects once."""
    engine = open_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """Per SQLite connection: write-ahead log, fsync at checkpoints only, wait for a locked database.

    WAL lets readers run beside the one writer (several gunicorn workers share the file), and
    with `synchronous=NORMAL` a commit appends to the log without an fsync: a commit can be lost
    on power failure (never corrupt the database), which is acceptable for cards, feedback and
    audit rows, and it removes two fsyncs from every CDS call. `busy_timeout` makes a writer
    wait for another's lock instead of failing at once.
    """
    cursor = dbapi_connection.cursor()
    try:
        # First, so that switching a new file to WAL waits for another connection's lock (mostly:
        # two connections switching the same new file at once can still deadlock, and one fails).
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")  # a no-op ("memory") for in-memory databases
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()
