"""Fixtures for the CDS Hooks service tests (helpers live in cds_support.py).

- `FakeEngine`: hands back a hand-built `Assessment`, so rendering and the HTTP
  contract are tested without the clinical core (scenario tests use the real one).
- `MemoryStorage`: the storage API the service calls, recorded in memory. If the
  real `storage` package is not there yet, a module with the documented API is
  installed so `create_app` can run (the real one is used as soon as it lands).
- `keys`: an ES384 and an RS384 key pair generated per session, with a JWKS file.
- `make_app(**settings)`, `client`, `jwt_for(...)`, `hook_body(...)`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from cds_support import FHIR, ISS, PUBLIC, FakeEngine, Keys, MemoryStorage, _public_jwk
from cryptography.hazmat.primitives.asymmetric import ec, rsa


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    es = ec.generate_private_key(ec.SECP384R1())
    rs = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks = {"keys": [_public_jwk(es, "es-1", "ES384"), _public_jwk(rs, "rs-1", "RS384")]}
    path = tmp_path_factory.mktemp("jwks") / "client-jwks.json"
    path.write_text(json.dumps(jwks))
    return Keys(es, rs, jwks, path)


@pytest.fixture
def jwt_for(keys: Keys) -> Callable[..., str]:
    """jwt_for(aud_path, alg="ES384", **claim/header overrides) -> a signed client JWT."""

    def make(
        path: str,
        *,
        alg: str = "ES384",
        kid: str | None = None,
        headers: dict[str, Any] | None = None,
        key: Any = None,
        drop: tuple[str, ...] = (),
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": ISS,
            "aud": PUBLIC + path,
            "exp": now + 300,
            "iat": now,
            "jti": str(uuid.uuid4()),
        }
        payload.update(claims)
        for name in drop:
            payload.pop(name, None)
        header = {"typ": "JWT", "kid": kid or ("es-1" if alg == "ES384" else "rs-1")}
        header.update(headers or {})
        signing_key = key or (keys.es384 if alg.startswith("ES") else keys.rs384)
        return jwt.encode(payload, signing_key, algorithm=alg, headers=header)

    return make


# ---------------------------------------------------------------- app


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def memory_storage() -> MemoryStorage:
    return MemoryStorage()


@pytest.fixture
def make_app(
    app_factory: Callable[..., Any],
    keys: Keys,
    engine: FakeEngine,
    memory_storage: MemoryStorage,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Any]:
    """make_app(**settings) -> app with the fake engine and memory storage; secure by default."""
    import cds_hooks.engine

    monkeypatch.setattr(cds_hooks.engine, "build_default_engine", lambda: engine)

    def make(**overrides: Any) -> Any:
        values: dict[str, Any] = {
            "dev_mode": False,
            "public_base_url": PUBLIC,
            "frozen_today": "2026-11-01",
            "cds_trusted_issuers": [
                {"iss": ISS, "jwks_file": str(keys.jwks_file), "fhir_servers": [FHIR]},
            ],
            "cds_cors_origins": ["https://sandbox.cds-hooks.org"],
        }
        values.update(overrides)
        return _on_memory_storage(app_factory(**values), memory_storage)

    return make


def _on_memory_storage(app: Any, memory_storage: MemoryStorage) -> Any:
    state = app.extensions["cds_hooks"]
    state.storage = lambda: memory_storage
    # Deterministic uuids: whole responses compare equal between runs.
    counter = iter(range(1, 1_000_000))
    state.new_uuid = lambda: str(uuid.UUID(int=next(counter)))
    return app


@pytest.fixture
def app(make_app: Callable[..., Any]) -> Any:
    return make_app()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def call(client: Any, jwt_for: Callable[..., str]) -> Callable[..., Any]:
    """call(path, body=None, method="POST", token=True/str, **kw) with a valid JWT by default."""

    def do(path: str, body: Any = None, method: str = "POST", token: Any = True, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}))
        if token is True:
            headers["Authorization"] = f"Bearer {jwt_for(path)}"
        elif isinstance(token, str):
            headers["Authorization"] = f"Bearer {token}"
        if body is not None and "data" not in kwargs:
            kwargs["data"] = json.dumps(body)
            kwargs.setdefault("content_type", "application/json")
        response = client.open(path, method=method, headers=headers, **kwargs)
        response.close()  # as a WSGI server does after sending: runs the deferred storage writes
        return response

    return do


@pytest.fixture
def fhir_mock() -> Iterator[Any]:
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def make_real_app(app_factory: Callable[..., Any], memory_storage: MemoryStorage) -> Callable[..., Any]:
    """make_real_app(**settings): the clinical core's engine, dev mode, today frozen at the anchor."""
    from clinical_core.anchoring import ANCHOR_DATE

    def make(**overrides: Any) -> Any:
        values: dict[str, Any] = {
            "dev_mode": True,
            "public_base_url": PUBLIC,
            "frozen_today": ANCHOR_DATE.isoformat(),
        }
        values.update(overrides)
        return _on_memory_storage(app_factory(**values), memory_storage)

    return make
