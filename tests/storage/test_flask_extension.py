"""`init_app` and `get_storage`: the Flask side of storage."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from aa_jak.settings import Settings
from storage import Storage, get_storage, init_app


def _app(database_url: str) -> Flask:
    app = Flask(__name__)
    app.config["SETTINGS"] = Settings(database_url=database_url)
    app.config["SECRET_KEY"] = "flask-test-secret"
    return app


def test_relative_sqlite_path_gets_its_folder_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = _app("sqlite:///var/aa-jak.db")

    init_app(app)

    assert (tmp_path / "var" / "aa-jak.db").is_file()
    app.extensions["storage"].close()


def test_get_storage_returns_the_apps_storage(tmp_path: Path) -> None:
    app = _app(f"sqlite:///{tmp_path / 'aa-jak.db'}")
    created = init_app(app)

    with app.app_context():
        assert get_storage() is created
    created.close()


def test_get_storage_without_init_app_says_what_to_do() -> None:
    with _app("sqlite://").app_context(), pytest.raises(RuntimeError, match="init_app"):
        get_storage()


def test_unsupported_database_is_refused() -> None:
    with pytest.raises(ValueError, match="sqlite"):
        Storage("mysql://db.example.org/aa")
