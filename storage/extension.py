"""Storage as a Flask extension: created once per app, reached through `get_storage()`."""

from __future__ import annotations

from flask import Flask, current_app

from storage.store import Storage

EXTENSION_KEY = "storage"


def init_app(app: Flask) -> Storage:
    """Open the database named by `app.config["SETTINGS"].database_url` (see `Storage` for its schema)."""
    settings = app.config["SETTINGS"]
    storage = Storage(settings.database_url, secret_key=app.config.get("SECRET_KEY"))
    app.extensions[EXTENSION_KEY] = storage
    return storage


def get_storage() -> Storage:
    """The current app's `Storage`; needs an app context."""
    storage = current_app.extensions.get(EXTENSION_KEY)
    if not isinstance(storage, Storage):
        raise RuntimeError("storage is not set up on this app: call storage.init_app(app) in the app factory")
    return storage
