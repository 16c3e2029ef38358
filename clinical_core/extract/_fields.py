"""Safe reads of FHIR JSON: every helper accepts anything and returns a typed value or None.

The hot path reads plain dicts (no model validation, see performance.md), so the
type of every field is checked where it is read. A field of the wrong type is
treated like an absent one; the callers decide whether absence is reportable.
"""

from __future__ import annotations

import math
import re
from datetime import date
from functools import lru_cache
from typing import Any

Json = dict[str, Any]

LOINC = "http://loinc.org"
CVX = "http://hl7.org/fhir/sid/cvx"
UCUM = "http://unitsofmeasure.org"

# How a code is named to users when a fact rests on an unverified one ("LOINC 26474-7").
_SYSTEM_NAMES = {
    LOINC: "LOINC",
    CVX: "CVX",
    "http://snomed.info/sct": "SNOMED CT",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RxNorm",
    "http://hl7.org/fhir/sid/ndc": "NDC",
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation": "HL7 interpretation",
}

# FHIR date / dateTime: YYYY, YYYY-MM, YYYY-MM-DD, optionally followed by a time.
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:$|T)")
_PATIENT_REF = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]*)?$")


def obj(container: object, key: str) -> Json | None:
    """`container[key]` if it is a JSON object."""
    if isinstance(container, dict):
        value = container.get(key)
        if isinstance(value, dict):
            return value
    return None


def items(container: object, key: str) -> list[Any]:
    """`container[key]` if it is a JSON array, else an empty list."""
    if isinstance(container, dict):
        value = container.get(key)
        if isinstance(value, list):
            return value
    return []


def objs(container: object, key: str) -> list[Json]:
    """The JSON objects in the array `container[key]` (other members skipped)."""
    return [v for v in items(container, key) if isinstance(v, dict)]


def text(container: object, key: str) -> str | None:
    """`container[key]` if it is a non-blank string."""
    if isinstance(container, dict):
        value = container.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def number(value: object) -> float | None:
    """A finite JSON number (not a boolean) as float, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        result = float(value)
    except OverflowError:
        return None
    return result if math.isfinite(result) else None


@lru_cache(maxsize=8192)
def _parse_date(value: str) -> date | None:
    match = _DATE.match(value)
    if match is None:
        return None
    year, month, day = match.groups()
    try:
        return date(int(year), int(month) if month else 1, int(day) if day else 1)
    except ValueError:
        return None


def parse_date(value: object) -> date | None:
    """The calendar date of a FHIR date or dateTime, as written (no time-zone shift).

    Partial dates take the first day of their period: "1980" is 1980-01-01 and
    "1980-05" is 1980-05-01. Anything else (wrong type, invalid day) is None.
    """
    if not isinstance(value, str) or len(value) < 4:
        return None
    return _parse_date(value)


def period_start(container: object, key: str) -> date | None:
    period = obj(container, key)
    return parse_date(period.get("start")) if period else None


def period_end(container: object, key: str) -> date | None:
    period = obj(container, key)
    return parse_date(period.get("end")) if period else None


def codings(concept: object) -> list[tuple[str | None, str | None, str | None]]:
    """(system, code, display) of each coding of a CodeableConcept; wrong types become None."""
    found: list[tuple[str | None, str | None, str | None]] = []
    for coding in objs(concept, "coding"):
        system = coding.get("system")
        code = coding.get("code")
        display = coding.get("display")
        found.append(
            (
                system if isinstance(system, str) else None,
                code.strip() if isinstance(code, str) else None,
                display if isinstance(display, str) else None,
            )
        )
    return found


def concept_texts(concept: object) -> list[str]:
    """CodeableConcept.text and every coding.display, for name matching."""
    found = []
    label = text(concept, "text")
    if label:
        found.append(label)
    found.extend(d for _, _, d in codings(concept) if d and d.strip())
    return found


def concept_label(concept: object) -> str | None:
    """A human label: the text, else the first display, else the first code."""
    label = text(concept, "text")
    if label:
        return label
    for _, _code, display in codings(concept):
        if display and display.strip():
            return display
    for _, code, _ in codings(concept):
        if code:
            return code
    return None


def code_text(system: str | None, code: str | None) -> str:
    """A code as named to users: "LOINC 26474-7" (an unknown system by its URI)."""
    name = _SYSTEM_NAMES.get(system or "", system or "")
    return f"{name} {code or ''}".strip()


def code_in(concept: object, codes: frozenset[str]) -> bool:
    return any(code in codes for _, code, _ in codings(concept) if code)


def shown(value: object) -> str:
    """A short printable form of a JSON value for messages (never raises, even for huge integers)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value) if -(10**30) < value < 10**30 else "(a very large integer)"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return value if len(value) <= 60 else value[:57] + "..."
    if value is None:
        return "null"
    kind = "object" if isinstance(value, dict) else "array" if isinstance(value, list) else "value"
    return f"(a JSON {kind})"


def status_of(resource: object) -> str | None:
    """The status code if it is a string."""
    return text(resource, "status")


def reference_of(resource: Json) -> str:
    """The reference "Type/id"; a resource without a usable id is "Type/(no id)"."""
    resource_type = resource.get("resourceType")
    rtype = resource_type if isinstance(resource_type, str) else "Resource"
    rid = resource.get("id")
    return f"{rtype}/{rid}" if isinstance(rid, str) and rid else f"{rtype}/(no id)"


def patient_id_of_reference(value: object) -> str | None:
    """The id in a "Patient/id" reference (relative or absolute), else None."""
    if isinstance(value, dict):
        reference = value.get("reference")
        if isinstance(reference, str) and reference.strip():  # as text(value, "reference")
            return _patient_id_in(reference)
    return None


@lru_cache(maxsize=1024)  # every resource of a request usually names the same patient
def _patient_id_in(reference: str) -> str | None:
    match = _PATIENT_REF.search(reference)
    return match.group(1) if match else None
