from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No AA_JAK_* settings from the developer's environment, and none left behind.

    `aa-jak serve` writes settings into os.environ for its gunicorn workers
    (AA_JAK_DEV_MODE, AA_JAK_SECRET_KEY, PROMETHEUS_MULTIPROC_DIR); monkeypatch only
    undoes its own changes, so the environment is put back here.
    """
    for name in list(os.environ):
        if name.upper().startswith("AA_JAK_"):
            monkeypatch.delenv(name)
    before = dict(os.environ)
    yield monkeypatch
    os.environ.clear()
    os.environ.update(before)
