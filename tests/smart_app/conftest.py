"""Fixtures for the SMART app tests (test doubles in smart_fakes.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import responses
from flask import Flask
from smart_fakes import ISS, FakeEhr, Launcher, fake_build_record, fake_evaluate, make_app, make_settings

_KEYS: list[Any] = []


@pytest.fixture(autouse=True)
def _shared_ephemeral_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """One ephemeral key set for all test apps: RSA generation dominates the run time otherwise."""
    from smart_app.keys import ClientKeys

    if not _KEYS:
        _KEYS.append(ClientKeys.ephemeral())
    monkeypatch.setattr(ClientKeys, "ephemeral", classmethod(lambda cls: _KEYS[0]))


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """Every HTTP call must be registered; anything else fails with ConnectionError."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def stub_core(monkeypatch: pytest.MonkeyPatch) -> None:
    import smart_app.data as data

    monkeypatch.setattr(data, "build_record", fake_build_record)
    monkeypatch.setattr(data, "evaluate", fake_evaluate)


@pytest.fixture
def app(tmp_path: Any, stub_core: None) -> Flask:
    return make_app(make_settings(tmp_path))


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()


@pytest.fixture
def ehr(rsps: responses.RequestsMock) -> FakeEhr:
    return FakeEhr(rsps, ISS)


@pytest.fixture
def launcher(client: Any, ehr: FakeEhr) -> Launcher:
    return Launcher(client, ehr)
