"""CDS Hooks 2.0 response, discovery and feedback objects as pydantic models.

Spec: https://cds-hooks.hl7.org/2.0/ . Every model is serialised with
`to_json()` (exclude_none), and no optional list defaults to `[]`, so a
response never carries `null`, `""`, `[]` or `{}` (checklist A6) except
`"cards": []`, nor inside an action's FHIR resource, which must also be valid
R4 (fhir.resources R4B). Spec invariants are enforced by raising `ValueError` in
validators (never `assert`), so a bad card fails where it is built.
"""

from __future__ import annotations

import re
import uuid as uuid_mod
from enum import StrEnum
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cds_hooks.request import REFERENCE

SUMMARY_MAX = 139  # "<140 characters" (checklist D2)
_ABSOLUTE_URL = re.compile(r"https?://[^\s/]+\S*", re.IGNORECASE)  # with fullmatch: no whitespace


def _non_empty(value: Any, what: str) -> Any:
    if value is None:
        return value
    if isinstance(value, str | list | dict | tuple) and len(value) == 0:
        raise ValueError(f"{what} must not be empty (CDS Hooks: absent optional values are omitted)")
    return value


def _has_empty(value: Any) -> bool:
    """Whether `value` holds a `null`, `""`, `[]` or `{}` anywhere: the check run on every action,
    with loops rather than generators and no path strings, since it is on every card's path."""
    if value is None:
        return True
    kind = type(value)
    if kind is dict:
        if not value:
            return True
        for item in value.values():
            if _has_empty(item):
                return True
    elif kind is list:
        if not value:
            return True
        for item in value:
            if _has_empty(item):
                return True
    elif kind is str:
        return not value
    return False


def _empty_at(value: Any, path: str = "$") -> str | None:
    """Where the first `null`, `""`, `[]` or `{}` is in `value` (A6), or None."""
    if not _has_empty(value):
        return None
    if value is None or (isinstance(value, str | list | dict) and not value):
        return path
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    return next((found for key, item in items if (found := _empty_at(item, f"{path}.{key}"))), None)


def _check_uuid(value: str | None) -> str | None:
    if value is not None:
        uuid_mod.UUID(value)  # raises ValueError on a malformed uuid
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)

    def to_json(self) -> dict[str, Any]:
        """The wire form: optional members that are unset are omitted."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)

    @model_validator(mode="after")
    def _no_empty_values(self) -> _Model:
        # __dict__ holds exactly the fields (extra="forbid"); reading it avoids the slower
        # model_fields class property on a path run for every card of every response.
        for name, value in self.__dict__.items():
            if value is not None:
                _non_empty(value, f"{type(self).__name__}.{name}")
        return self


class Indicator(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class SelectionBehavior(StrEnum):
    AT_MOST_ONE = "at-most-one"
    ANY = "any"


class ActionType(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class LinkType(StrEnum):
    ABSOLUTE = "absolute"
    SMART = "smart"


class Coding(_Model):
    """A FHIR-like Coding (spec §Coding): `code` and `system` required."""

    system: str
    code: str
    display: str | None = None


class OverrideReasonCoding(Coding):
    """An override reason offered on a card: the service MUST give a display (D6)."""

    display: str


class Source(_Model):
    """Card source (spec §Source, D3): `url` and `icon` must be absolute."""

    label: str
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None

    @field_validator("url", "icon")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is not None and not _ABSOLUTE_URL.fullmatch(value):
            raise ValueError("source url/icon must be an absolute URL")
        return value


class Action(_Model):
    """A suggested change (spec §Action, D5).

    `create` carries a new resource; `update` the whole resource; `delete`
    names the resource by `resourceId` (relative reference). A resource with a
    null or empty value is refused. R4 validity is checked by `require_r4` where a
    resource holds request data; the product's own templates (a ServiceRequest for
    a missing lab) are valid by construction and tested, and full FHIR model
    validation of every action would cost more than rendering (performance.md).
    """

    type: ActionType
    description: str
    resource: dict[str, Any] | None = None
    resourceId: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Action:
        if self.type in (ActionType.CREATE, ActionType.UPDATE, "create", "update"):
            if not self.resource or "resourceType" not in self.resource:
                raise ValueError(f"{self.type} action needs a FHIR resource")
            if path := _empty_at(self.resource):
                raise ValueError(f"{self.type} action resource has a null or empty value at {path}")
        elif not self.resourceId or not REFERENCE.fullmatch(self.resourceId):
            raise ValueError("delete action needs resourceId as a relative reference (Type/id)")
        return self


def require_r4(resource: dict[str, Any]) -> None:
    """Raise ValueError (pydantic's ValidationError is one) unless `resource` is a valid R4 resource."""
    get_fhir_model_class(str(resource.get("resourceType"))).model_validate(resource)


class Suggestion(_Model):
    """spec §Suggestion (D4)."""

    label: str
    uuid: str | None = None
    isRecommended: bool | None = None
    actions: tuple[Action, ...] | None = None

    @field_validator("uuid")
    @classmethod
    def _uuid(cls, value: str | None) -> str | None:
        return _check_uuid(value)


class Link(_Model):
    """spec §Link (D7): `appContext` only on `smart` links."""

    label: str
    url: str
    type: LinkType
    appContext: str | None = None
    autolaunchable: bool | None = None

    @model_validator(mode="after")
    def _smart_only(self) -> Link:
        if not _ABSOLUTE_URL.fullmatch(self.url):
            raise ValueError("link url must be absolute")
        if self.appContext is not None and self.type not in (LinkType.SMART, "smart"):
            raise ValueError("appContext is only allowed on smart links")
        return self


class Card(_Model):
    """spec §Card Attributes (D2-D7, 3.0 invariants cds-resp-1 and cds-resp-6)."""

    uuid: str | None = None
    summary: str = Field(max_length=SUMMARY_MAX)
    detail: str | None = None
    indicator: Indicator
    source: Source
    suggestions: tuple[Suggestion, ...] | None = None
    selectionBehavior: SelectionBehavior | None = None
    overrideReasons: tuple[OverrideReasonCoding, ...] | None = None
    links: tuple[Link, ...] | None = None

    @field_validator("uuid")
    @classmethod
    def _uuid(cls, value: str | None) -> str | None:
        return _check_uuid(value)

    @model_validator(mode="after")
    def _suggestions_need_selection_behavior(self) -> Card:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("a card with suggestions needs selectionBehavior (D4)")
        if self.selectionBehavior is not None and not self.suggestions:
            raise ValueError("selectionBehavior without suggestions")
        exclusive = self.selectionBehavior in (SelectionBehavior.AT_MOST_ONE, "at-most-one")
        if exclusive and self.suggestions and sum(1 for s in self.suggestions if s.isRecommended) > 1:
            raise ValueError("at most one recommended suggestion under at-most-one (cds-resp-1)")
        if self.suggestions:
            ids = [s.uuid for s in self.suggestions if s.uuid]
            if len(ids) != len(set(ids)):
                raise ValueError("suggestion uuids must be unique within a card")
        return self


class CdsResponse(_Model):
    """spec §CDS Service Response (D1). `cards` may be empty: the one allowed empty value."""

    cards: tuple[Card, ...] = ()
    systemActions: tuple[Action, ...] | None = None

    @model_validator(mode="after")
    def _no_empty_values(self) -> CdsResponse:  # `cards: []` is allowed
        _non_empty(self.systemActions, "CdsResponse.systemActions")
        return self

    def to_json(self) -> dict[str, Any]:
        out = self.model_dump(mode="json", exclude_none=True, by_alias=True)
        out["cards"] = out.get("cards", [])
        return out


class ServiceDescription(_Model):
    """One entry of the discovery response (spec §Discovery, A2)."""

    hook: str
    title: str | None = None
    description: str
    id: str
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None


class DiscoveryResponse(_Model):
    """spec §Discovery response: `services` may be empty (A3)."""

    services: tuple[ServiceDescription, ...] = ()

    @model_validator(mode="after")
    def _no_empty_values(self) -> DiscoveryResponse:
        return self

    def to_json(self) -> dict[str, Any]:
        out = self.model_dump(mode="json", exclude_none=True, by_alias=True)
        out["services"] = out.get("services", [])
        return out
