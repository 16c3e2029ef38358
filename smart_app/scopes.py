"""Scopes: the minimal request (SMART v2 syntax, v1 fallback) and what the granted set allows.

scopes-and-launch-context.html: v2 permissions are letters from `cruds`;
v1 `read` = v2 `rs`, v1 `write` = v2 `cud` (broader than the `c` we need),
`*` = everything. Features are gated on the GRANTED scopes (SC#wildcard-scopes).
"""

from __future__ import annotations

from dataclasses import dataclass

# What the app needs, in SMART v2 syntax (smart-app-launch.md §1.12).
DEFAULT_V2_SCOPES = (
    "launch openid fhirUser "
    "patient/Patient.r patient/Condition.rs patient/MedicationRequest.rs "
    "patient/MedicationStatement.rs patient/Medication.r patient/Observation.rs "
    "patient/Immunization.rs patient/Procedure.rs patient/Observation.c"
)

REFRESH_SCOPES = ("online_access", "offline_access")
_V1_TO_V2 = {"read": "rs", "write": "cud", "*": "cruds"}


def _parse(scope: str) -> tuple[str, str, str, bool] | None:
    """`patient/Observation.rs?category=x` -> ("patient", "Observation", "rs", restricted)."""
    if "/" not in scope or "." not in scope:
        return None
    context, rest = scope.split("/", 1)
    if context not in ("patient", "user", "system"):
        return None
    restricted = "?" in rest
    rest = rest.split("?", 1)[0]
    resource, _, perm = rest.rpartition(".")
    if not resource:
        return None
    letters = _V1_TO_V2.get(perm)
    if letters is None:
        if not perm or any(ch not in "cruds" for ch in perm):
            return None
        letters = perm
    return context, resource, letters, restricted


def to_v1(scope: str) -> str:
    """One v2 scope in v1 syntax: `.r`/`.rs`/`.s` -> `.read`, anything with c/u/d -> `.write`."""
    parsed = _parse(scope)
    if parsed is None:
        return scope
    context, resource, letters, _ = parsed
    if set(letters) & set("cud"):
        return f"{context}/{resource}.write"
    return f"{context}/{resource}.read"


def requested_scopes(configured: str | None, capabilities: list[str], *, standalone: bool) -> list[str]:
    """The scope list for the authorize request.

    v2 syntax unless the server does not advertise `permission-v2`, then v1
    (duplicates removed, order kept). Standalone launches ask for
    `launch/patient` instead of `launch` (SC#standalone-apps).

    Refresh (SC#scopes-for-requesting-a-refresh-token): an EHR launch asks for
    `online_access` exactly when the server advertises `permission-online`, and
    never for `offline_access` (the app's sessions end with the user's). A
    standalone launch never asks for `online_access` (an EHR-launch scope).
    """
    scopes = (configured or DEFAULT_V2_SCOPES).split()
    if "permission-v2" not in capabilities:
        scopes = [to_v1(s) for s in scopes]
    scopes = [s for s in scopes if s not in REFRESH_SCOPES or (standalone and s == "offline_access")]
    if standalone:
        scopes = ["launch/patient" if s == "launch" else s for s in scopes]
    else:
        scopes = ["launch" if s == "launch/patient" else s for s in scopes]
        if "permission-online" in capabilities:
            scopes.append("online_access")
    out: list[str] = []
    for s in scopes:
        if s not in out:
            out.append(s)
    return out


@dataclass(frozen=True)
class ScopeSet:
    """The granted scopes, asked questions like "may I create Observations for this patient?"."""

    scopes: tuple[str, ...]

    @classmethod
    def from_string(cls, text: str | None) -> ScopeSet:
        return cls(tuple((text or "").split()))

    def allows(self, resource: str, op: str) -> bool:
        """`op` is one v2 letter: c r u d s. user/ and system/ scopes count too (patient ⊂ user)."""
        for s in self.scopes:
            parsed = _parse(s)
            if parsed is None:
                continue
            _, res, letters, _ = parsed
            if res in (resource, "*") and op in letters:
                return True
        return False

    def restricted(self, resource: str) -> bool:
        """True when the only grants for `resource` carry a query restriction (e.g. `?category=`)."""
        grants = [p for p in (_parse(s) for s in self.scopes) if p and p[1] in (resource, "*")]
        return bool(grants) and all(p[3] for p in grants)

    def missing_from(self, requested: list[str]) -> list[str]:
        """Requested resource permissions that the granted set does not cover."""
        missing = []
        for s in requested:
            parsed = _parse(s)
            if parsed is None:
                if s not in self.scopes and s in ("launch", "launch/patient", "openid", "fhirUser"):
                    continue  # context/identity scopes: absence shows up elsewhere
                continue
            _, resource, letters, _ = parsed
            if any(not self.allows(resource, op) for op in letters) or self.restricted(resource):
                missing.append(s)
        return missing

    @property
    def identity(self) -> bool:
        return "openid" in self.scopes and "fhirUser" in self.scopes

    def can_write_observation(self) -> bool:
        return self.allows("Observation", "c")
