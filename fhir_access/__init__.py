"""The one FHIR R4 client: timeouts, a deadline per call, paging, parallel searches, and the token
sent only to its own base URL. See `FhirClient`. `parse_medication_reference` tells which
Medication a reference names and whether it is on that base URL."""

from fhir_access.client import CreateResult as CreateResult
from fhir_access.client import FhirClient as FhirClient
from fhir_access.errors import FhirBadResponse as FhirBadResponse
from fhir_access.errors import FhirError as FhirError
from fhir_access.errors import FhirForbidden as FhirForbidden
from fhir_access.errors import FhirNotFound as FhirNotFound
from fhir_access.errors import FhirTimeout as FhirTimeout
from fhir_access.errors import FhirUnauthorized as FhirUnauthorized
from fhir_access.errors import FhirUnavailable as FhirUnavailable
from fhir_access.errors import OffOriginUrl as OffOriginUrl
from fhir_access.ids import FHIR_ID as FHIR_ID
from fhir_access.ids import RESOURCE_TYPE as RESOURCE_TYPE
from fhir_access.references import MedicationReference as MedicationReference
from fhir_access.references import ReferenceKind as ReferenceKind
from fhir_access.references import parse_medication_reference as parse_medication_reference

__all__ = [
    "FHIR_ID",
    "RESOURCE_TYPE",
    "CreateResult",
    "FhirBadResponse",
    "FhirClient",
    "FhirError",
    "FhirForbidden",
    "FhirNotFound",
    "FhirTimeout",
    "FhirUnauthorized",
    "FhirUnavailable",
    "MedicationReference",
    "OffOriginUrl",
    "ReferenceKind",
    "parse_medication_reference",
]
