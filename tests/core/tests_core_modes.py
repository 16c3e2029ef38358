"""A knowledge object with another step-therapy mode (pydantic model_copy, no file)."""

from __future__ import annotations

from rules_builders import KNOWLEDGE

from clinical_core.knowledge import Knowledge


def knowledge_with_mode(mode: str) -> Knowledge:
    raw = KNOWLEDGE.model_dump()
    raw["parameters"]["step_therapy_mode"]["value"] = mode
    raw["systems"] = {}  # codes are already resolved URIs
    for value_set in raw["value_sets"].values():
        for code in value_set["codes"]:
            raw["systems"].setdefault(code["system"], code["system"])
    return Knowledge.model_validate(raw)
