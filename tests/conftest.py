"""Fixtures shared by every test layer.

- `fhir_base_url` (session): a real sekmet-fhir 0.1.1 on a free 127.0.0.1 port with a temporary
  data dir, holding every synthetic patient bundle re-anchored to `ANCHOR_DATE` (the tests'
  frozen day). Integration tests that cannot get one are skipped with the reason.
- `loaded_patients` (session): what was loaded, `{bundle name: [Patient ids]}`.
- `app_factory`: `make(**overrides) -> Flask`, the product app with a temporary SQLite
  database, dev mode, a test secret key and no `AA_JAK_*` variables from the environment.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

# Import the working tree, whatever the current directory: the editable install's finder may
# still list a package as a namespace package if it was installed before its __init__.py existed.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

try:
    from clinical_core.anchoring import ANCHOR_DATE as _ANCHOR
except ImportError:  # the patients engineer defines the anchor; until then load the files as written
    _ANCHOR = None

ANCHOR_DATE: date | None = _ANCHOR


@pytest.fixture(scope="session")
def sekmet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A running sekmet-fhir with the synthetic patients loaded (see module docstring)."""
    from sandbox.fhir_server import FhirServerError, SekmetServer, free_port
    from sandbox.loader import LoadError, load_patients

    server = SekmetServer(free_port(), tmp_path_factory.mktemp("sekmet"))
    try:
        server.start()
    except FhirServerError as exc:
        pytest.skip(f"sekmet-fhir could not start: {exc}")
    try:
        try:
            server.loaded = load_patients(server.base_url, as_of=ANCHOR_DATE)
        except LoadError as exc:
            pytest.fail(f"a synthetic patient bundle could not be loaded into sekmet-fhir: {exc}")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def fhir_base_url(sekmet_server: Any) -> str:
    """Base URL (`http://127.0.0.1:<port>/fhir`) of the shared sekmet-fhir server."""
    return str(sekmet_server.base_url)


@pytest.fixture(scope="session")
def loaded_patients(sekmet_server: Any) -> dict[str, list[str]]:
    """`{bundle file stem: [server-assigned Patient ids]}` for the shared server."""
    return {item.name: item.patient_ids for item in sekmet_server.loaded}


@pytest.fixture
def app_factory(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """`make(**settings_overrides)` builds `create_app(Settings(...))` with dev-friendly defaults.

    Defaults: dev mode, a fixed secret key, a fresh SQLite file in tmp_path,
    public_base_url http://localhost. The environment cannot leak in: every AA_JAK_*
    variable (except AA_JAK_TEST_*) is removed for the test.
    """
    for name in list(os.environ):
        if name.upper().startswith("AA_JAK_") and not name.upper().startswith("AA_JAK_TEST_"):
            monkeypatch.delenv(name)

    def make(**overrides: Any) -> Any:
        from aa_jak.app import create_app
        from aa_jak.settings import Settings

        values: dict[str, Any] = {
            "dev_mode": True,
            "secret_key": "test-secret-key-not-for-production",
            "database_url": f"sqlite:///{tmp_path / 'aa-jak.db'}",
            "public_base_url": "http://localhost",
        }
        values.update(overrides)
        return create_app(Settings(**values))

    return make
