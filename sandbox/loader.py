"""Load the synthetic patients into a FHIR server, their dates re-anchored to a chosen day.

Each patient is a transaction Bundle in `synthetic_patients/<name>.json` written relative
to an anchor date; `clinical_core.anchoring.reanchor` shifts every date so the anchor
lands on the day asked for (the house rule: files on disk are never rewritten). The
sidecar `<name>.expected.json` files are test expectations, not bundles, and are skipped.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import requests

logger = logging.getLogger("sandbox.loader")

PATIENTS_DIR = Path(__file__).resolve().parent.parent / "synthetic_patients"
FHIR_JSON = "application/fhir+json"


class LoadError(RuntimeError):
    """A bundle could not be read or the FHIR server rejected it (the message names the file)."""


@dataclass(frozen=True)
class LoadedBundle:
    name: str
    patient_ids: list[str]
    entries: int


def bundle_paths(directory: Path = PATIENTS_DIR) -> list[Path]:
    """The patient bundles in `directory`, sorted, without the `.expected.json` sidecars."""
    return sorted(p for p in Path(directory).glob("*.json") if not p.name.endswith(".expected.json"))


def read_bundle(path: Path) -> dict[str, Any]:
    """:raise LoadError: not JSON, or not a transaction Bundle."""
    try:
        bundle = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise LoadError(f"{path}: cannot read a JSON bundle: {exc}") from exc
    if (
        not isinstance(bundle, dict)
        or bundle.get("resourceType") != "Bundle"
        or bundle.get("type")
        not in (
            "transaction",
            "batch",
        )
    ):
        raise LoadError(f"{path}: not a transaction Bundle")
    return bundle


def anchored(bundle: dict[str, Any], as_of: date | None) -> dict[str, Any]:
    """The bundle with its dates moved so its anchor is `as_of` (unchanged when `as_of` is None)."""
    if as_of is None:
        return bundle
    from clinical_core.anchoring import reanchor

    return reanchor(bundle, as_of)


def post_bundle(fhir_base: str, bundle: dict[str, Any], *, timeout_s: float = 30.0) -> dict[str, Any]:
    """POST a transaction to the server base; returns the transaction-response Bundle.

    :raise LoadError: the server answered with an error (its OperationOutcome is in the message).
    """
    response = requests.post(
        fhir_base.rstrip("/"),
        data=json.dumps(bundle),
        headers={"Content-Type": FHIR_JSON, "Accept": FHIR_JSON},
        timeout=timeout_s,
    )
    if response.status_code >= 400:
        raise LoadError(f"{fhir_base} answered {response.status_code}: {response.text[:2000]}")
    result: dict[str, Any] = response.json()
    return result


def _patient_ids(result: dict[str, Any]) -> list[str]:
    ids = []
    for entry in result.get("entry", []):
        location = (entry.get("response") or {}).get("location", "")
        parts = location.split("/")
        if "Patient" in parts and parts.index("Patient") + 1 < len(parts):
            ids.append(parts[parts.index("Patient") + 1])
    return ids


def load_patients(
    fhir_base: str, *, as_of: date | None, paths: list[Path] | None = None
) -> list[LoadedBundle]:
    """Load every bundle (default: all synthetic patients) into `fhir_base`.

    :raise LoadError: on the first bundle that cannot be read or is rejected.
    """
    loaded = []
    for path in paths if paths is not None else bundle_paths():
        bundle = anchored(read_bundle(path), as_of)
        try:
            result = post_bundle(fhir_base, bundle)
        except LoadError as exc:
            raise LoadError(f"{path.name}: {exc}") from exc
        item = LoadedBundle(
            name=path.stem, patient_ids=_patient_ids(result), entries=len(bundle.get("entry", []))
        )
        logger.info("loaded bundle", extra={"bundle": item.name, "entries": item.entries})
        loaded.append(item)
    return loaded
