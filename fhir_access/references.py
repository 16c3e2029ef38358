"""Where a `medicationReference.reference` points, judged against the FHIR server's base URL.

The CDS service and the SMART app both read the Medications that orders name by reference, and
only from the server their token is for (SMART App Launch 1.7, CDS Hooks C7): an absolute URL is
that server's only when it lies under its base URL, as `BaseUrl.contains` decides for requests.
What each caller does with a reference it cannot read is its own policy, not this module's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

from fhir_access.urls import BaseUrl

_ID = r"[A-Za-z0-9\-.]{1,64}"  # FHIR R4 `id`, also the form of a version id
# The version is matched but not kept: both callers read the current Medication.
_PATH = rf"Medication/(?P<id>{_ID})(?:/_history/{_ID})?"
_RELATIVE = re.compile(_PATH)
_UNDER_BASE = re.compile(rf"/{_PATH}")
_ANYWHERE = re.compile(rf".*/{_PATH}")
_CONTAINED = re.compile(rf"#(?P<id>{_ID})")


class ReferenceKind(Enum):
    CONTAINED = "contained"  # "#id": a Medication inside the referring resource
    SAME_SERVER = "same server"  # relative, or an absolute URL under the base URL
    OTHER_SERVER = "other server"  # an absolute URL elsewhere: never to be read with our token
    MALFORMED = "malformed"  # names no Medication by id (a conditional or logical reference, a typo)


@dataclass(frozen=True)
class MedicationReference:
    kind: ReferenceKind
    id: str | None  # a FHIR id; None for MALFORMED, and for CONTAINED when "#" is not followed by one


_MALFORMED = MedicationReference(ReferenceKind.MALFORMED, None)


def parse_medication_reference(reference: str, base_url: str | None) -> MedicationReference:
    """Classify `reference` against `base_url` and give the Medication id it names, if any.

    `base_url` None means there is no server to compare with: every absolute URL is then another
    server's, as with a base URL that `BaseUrl` refuses (credentials, a query): nothing is judged
    ours by a base the client would not accept.
    """
    if reference.startswith("#"):
        contained = _CONTAINED.fullmatch(reference)
        return MedicationReference(ReferenceKind.CONTAINED, contained["id"] if contained else None)
    if relative := _RELATIVE.fullmatch(reference):
        return MedicationReference(ReferenceKind.SAME_SERVER, relative["id"])
    try:
        parts = urlsplit(reference)
    except ValueError:
        return _MALFORMED
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        return _MALFORMED
    base = _base(base_url)
    if base is not None and base.contains(reference):
        # contains() guarantees the path is the base path or continues it after a "/".
        ours = _UNDER_BASE.fullmatch(parts.path[len(base.path) :])
        return MedicationReference(ReferenceKind.SAME_SERVER, ours["id"]) if ours else _MALFORMED
    theirs = _ANYWHERE.fullmatch(parts.path)
    return MedicationReference(ReferenceKind.OTHER_SERVER, theirs["id"]) if theirs else _MALFORMED


def _base(base_url: str | None) -> BaseUrl | None:
    if base_url is None:
        return None
    try:
        return BaseUrl.parse(base_url)
    except ValueError:
        return None
