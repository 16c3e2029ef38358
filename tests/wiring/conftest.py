from __future__ import annotations

import os

import pytest


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No AA_JAK_* settings from the developer's environment."""
    for name in list(os.environ):
        if name.upper().startswith("AA_JAK_"):
            monkeypatch.delenv(name)
    return monkeypatch
