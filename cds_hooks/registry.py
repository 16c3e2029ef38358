"""The one registry behind discovery and routing (style point 7).

`GET /cds-services` lists `Registry.services`; `POST /cds-services/{id}` looks
the id up here and then checks the body's `hook` (A4). Prefetch templates use
only legal tokens (C1) and the recommended query subset (C2): instance read,
type search with reference and token parameters, `_sort`. `_include` is not in
the subset, so Medications referenced by MedicationRequests are fetched by the
service itself (see `data.resolve_medications`). No dates appear in templates:
the core applies look-back windows against `as_of` (C2, no relative dates in 2.0).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from cds_hooks.models import ServiceDescription

Hook = Literal["patient-view", "order-select", "order-sign"]

# Context fields that may be prefetch tokens, per hook (Hook Library STU1; C1).
TOKEN_FIELDS: dict[str, frozenset[str]] = {
    "patient-view": frozenset({"userId", "patientId", "encounterId"}),
    "order-select": frozenset({"userId", "patientId", "encounterId"}),
    "order-sign": frozenset({"userId", "patientId", "encounterId"}),
}
USER_TOKENS = frozenset(
    {"userPractitionerId", "userPractitionerRoleId", "userPatientId", "userRelatedPersonId"}
)
_TOKEN = re.compile(r"\{\{\s*([^}]*?)\s*\}\}")

# Prefetch key -> the FHIR resource type its template returns.
PREFETCH_TYPES: dict[str, str] = {
    "patient": "Patient",
    "conditions": "Condition",
    "medicationRequests": "MedicationRequest",
    "medicationStatements": "MedicationStatement",
    "immunizations": "Immunization",
    "procedures": "Procedure",
    "labs": "Observation",
    "salt": "Observation",
}


def prefetch_templates(
    observation_codes: list[tuple[str, str]], salt_codes: list[tuple[str, str]]
) -> dict[str, str]:
    """The templates every service advertises; lab codes come from the knowledge file."""
    patient = "{{context.patientId}}"
    templates = {
        "patient": f"Patient/{patient}",
        "conditions": f"Condition?patient={patient}",
        "medicationRequests": f"MedicationRequest?patient={patient}",
        "medicationStatements": f"MedicationStatement?patient={patient}",
        "immunizations": f"Immunization?patient={patient}",
        "procedures": f"Procedure?patient={patient}",
    }
    if observation_codes:
        codes = ",".join(f"{system}|{code}" for system, code in observation_codes)
        templates["labs"] = f"Observation?patient={patient}&code={codes}&_sort=-date"
    if salt_codes:
        codes = ",".join(f"{system}|{code}" for system, code in salt_codes)
        templates["salt"] = f"Observation?patient={patient}&code={codes}&_sort=-date"
    for key, template in templates.items():
        check_template(key, template, "patient-view")
    return templates


def check_template(key: str, template: str, hook: str) -> None:
    """Fail at load time on a token a client could not fill (C1) or a query outside the subset (C2)."""
    for token in _TOKEN.findall(template):
        name = token.removeprefix("context.")
        if token.startswith("context.") and name in TOKEN_FIELDS[hook]:
            continue
        if token in USER_TOKENS:
            continue
        raise ValueError(f"prefetch {key}: {{{{{token}}}}} is not a prefetch token for {hook}")
    path, _, query = template.partition("?")
    if "/" in path and query:
        raise ValueError(f"prefetch {key}: a read takes no parameters")
    for param in filter(None, query.split("&")):
        name = param.split("=", 1)[0]
        if name.startswith("_") and name not in ("_count", "_sort", "_id"):
            raise ValueError(f"prefetch {key}: {name} is outside the CDS Hooks query subset")
        if ":" in name and not name.endswith(":in"):
            raise ValueError(f"prefetch {key}: modifier on {name} is outside the query subset")


@dataclass(frozen=True)
class Service:
    """One CDS service: public discovery fields plus private routing data."""

    id: str
    hook: Hook
    title: str
    description: str
    prefetch: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    usage_requirements: str | None = None

    def describe(self) -> ServiceDescription:
        return ServiceDescription(
            hook=self.hook,
            title=self.title,
            description=self.description,
            id=self.id,
            prefetch=dict(self.prefetch) or None,
            usageRequirements=self.usage_requirements,
        )


_USAGE = (
    "Send a signed client JWT (ES384 or RS384) from an allow-listed issuer; send fhirServer "
    "(https, allow-listed for the issuer) with fhirAuthorization, or fill every prefetch key."
)


class Registry:
    """Services by id. Built once per app from the knowledge file's lab codes."""

    def __init__(self, services: list[Service]) -> None:
        ids = [s.id for s in services]
        if len(ids) != len(set(ids)):
            raise ValueError("duplicate service id in the CDS registry")
        self._by_id = {s.id: s for s in services}

    @property
    def services(self) -> tuple[Service, ...]:
        return tuple(self._by_id.values())

    def get(self, service_id: str) -> Service | None:
        return self._by_id.get(service_id)


def default_registry(observation_codes: list[tuple[str, str]], salt_codes: list[tuple[str, str]]) -> Registry:
    prefetch = MappingProxyType(prefetch_templates(observation_codes, salt_codes))
    return Registry(
        [
            Service(
                id="aa-jak-patient-view",
                hook="patient-view",
                title="JAK inhibitors for alopecia areata: patient summary",
                description=(
                    "For patients with alopecia areata: eligibility for a JAK inhibitor when not on one; "
                    "on therapy, monitoring due or overdue, response review, dose and safety alerts."
                ),
                prefetch=prefetch,
                usage_requirements=_USAGE,
            ),
            Service(
                id="aa-jak-order-select",
                hook="order-select",
                title="JAK inhibitors for alopecia areata: order checks",
                description=(
                    "When a JAK inhibitor, a live vaccine or an interacting drug is selected: eligibility, "
                    "agent and dose checks, missing baseline tests, interactions."
                ),
                prefetch=prefetch,
                usage_requirements=_USAGE,
            ),
            Service(
                id="aa-jak-order-sign",
                hook="order-sign",
                title="JAK inhibitors for alopecia areata: signing checks",
                description=(
                    "Before signing a JAK inhibitor, live vaccine or interacting drug order: hard stops with "
                    "suggestions to remove or change the draft order, missing baseline tests, interactions."
                ),
                prefetch=prefetch,
                usage_requirements=_USAGE,
            ),
        ]
    )
