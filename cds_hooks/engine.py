"""The seam between the service and the clinical core.

The service never decides anything clinical: it hands FHIR resources to the
core and renders the `Assessment` it returns. `CoreEngine` is the production
implementation; tests may swap in an object with the same three methods
(`app.extensions["cds_hooks"].engine = ...`).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol

from clinical_core.findings import Assessment
from clinical_core.record import ProposedOrder

SALT_VALUE_SETS = ("observation.salt", "lab.salt")
OBSERVATION_VALUE_SET_PREFIXES = ("lab.", "observation.")


class Engine(Protocol):
    def observation_codes(self) -> list[tuple[str, str]]:
        """(system, code) of every Observation the rules read, SALT excluded."""

    def salt_codes(self) -> list[tuple[str, str]]:
        """(system, code) of the SALT score Observations."""

    def assess(
        self, resources: list[dict[str, Any]], drafts: list[dict[str, Any]], as_of: date
    ) -> tuple[Assessment, tuple[ProposedOrder, ...]]:
        """Build the record, read the draft orders, evaluate the rules."""


def _codes_of(value_set: Any) -> list[tuple[str, str]]:
    return [(c.system, c.code) for c in getattr(value_set, "codes", ())]


class CoreEngine:
    """Calls `clinical_core`; the knowledge file is loaded once (a broken file stops start-up)."""

    def __init__(self) -> None:
        from clinical_core import build_record, evaluate, load_knowledge, proposed_orders

        self._build_record = build_record
        self._evaluate = evaluate
        self._proposed_orders = proposed_orders
        self.knowledge = load_knowledge()

    def salt_codes(self) -> list[tuple[str, str]]:
        value_sets = getattr(self.knowledge, "value_sets", {})
        return [c for key in SALT_VALUE_SETS if key in value_sets for c in _codes_of(value_sets[key])]

    def observation_codes(self) -> list[tuple[str, str]]:
        salt = set(self.salt_codes())
        if hasattr(self.knowledge, "lab_codes"):
            codes = [(str(s), str(c)) for s, c in self.knowledge.lab_codes()]
        else:
            codes = [
                c
                for key, value_set in getattr(self.knowledge, "value_sets", {}).items()
                if key.startswith(OBSERVATION_VALUE_SET_PREFIXES)
                for c in _codes_of(value_set)
            ]
        return list(dict.fromkeys(c for c in codes if c not in salt))

    def assess(
        self, resources: list[dict[str, Any]], drafts: list[dict[str, Any]], as_of: date
    ) -> tuple[Assessment, tuple[ProposedOrder, ...]]:
        record = self._build_record(resources)
        if drafts:
            # Medications referenced by the drafts may be prefetched or fetched, not only contained.
            medications = [r for r in resources if r.get("resourceType") == "Medication"]
            orders = tuple(self._proposed_orders(drafts + medications, self.knowledge))
        else:
            orders = ()
        assessment = self._evaluate(record, as_of, self.knowledge, proposed=orders)
        return assessment, orders


def build_default_engine() -> Engine:
    """The engine `init_app` installs. Tests replace this function or the engine."""
    return CoreEngine()
