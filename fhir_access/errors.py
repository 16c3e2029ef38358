"""The errors a FHIR call can end in, one class per thing a caller may want to handle.

Messages name the interaction, the resource type and the HTTP status only: query values
(patient ids) are PHI and the token is a credential, so neither ever appears in them.

    FhirError
     +-- FhirUnavailable   5xx, 429, connection refused or reset
     +-- FhirTimeout       a request or the call's overall deadline ran out
     +-- FhirUnauthorized  401 (token missing, expired or revoked)
     +-- FhirForbidden     403 (scopes do not cover the request)
     +-- FhirNotFound      404 / 410
     +-- FhirBadResponse   not JSON, not the expected resource, or an OperationOutcome instead of data
     +-- OffOriginUrl      a server-supplied URL outside the base URL; never requested
"""

from __future__ import annotations

from typing import Any


class FhirError(Exception):
    """Base class. Other 4xx answers (400, 409, 412, 422 ...) are raised as this class itself."""

    def __init__(
        self,
        message: str,
        *,
        resource_type: str | None = None,
        status: int | None = None,
        operation_outcome: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.resource_type = resource_type
        self.status = status
        # Kept for the caller to inspect; deliberately not part of str(self): diagnostics may echo PHI.
        self.operation_outcome = operation_outcome
        # The failing query's name in `FhirClient.search_many`.
        self.key = key


class FhirUnavailable(FhirError):
    pass


class FhirTimeout(FhirError):
    pass


class FhirUnauthorized(FhirError):
    pass


class FhirForbidden(FhirError):
    pass


class FhirNotFound(FhirError):
    pass


class FhirBadResponse(FhirError):
    pass


class OffOriginUrl(FhirError):
    pass
