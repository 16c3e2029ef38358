"""Per-app state of the CDS Hooks service, built once by `init_app` (no import-time objects)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aa_jak.settings import Settings
from cds_hooks.auth import Authenticator
from cds_hooks.data import FhirSource
from cds_hooks.engine import Engine
from cds_hooks.registry import Registry


def new_uuid() -> str:
    return str(uuid.uuid4())


def default_client_factory(settings: Settings) -> Callable[[FhirSource], Any]:
    """One FHIR client per request: the token is transient (C7) and bound to `fhirServer`."""

    def make(source: FhirSource) -> Any:
        from fhir_access import FhirClient

        return FhirClient(
            source.base_url,
            source.token,
            timeout_s=settings.fhir_request_timeout_s,
            deadline_s=settings.fhir_deadline_s,
            max_workers=settings.fhir_max_workers,
        )

    return make


def default_storage() -> Any:
    from storage import get_storage

    return get_storage()


@dataclass
class CdsHooksState:
    settings: Settings
    registry: Registry
    engine: Engine
    authenticator: Authenticator
    openapi: dict[str, Any]
    client_factory: Callable[[FhirSource], Any]
    new_uuid: Callable[[], str] = field(default=new_uuid)
    storage: Callable[[], Any] = field(default=default_storage)
