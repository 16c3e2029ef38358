"""Shared pieces of the CDS Hooks benchmarks: a typical patient-view request and a tiny load generator.

Not timed tests: the scripts print what they measure and assert nothing.
"""

from __future__ import annotations

import copy
import json
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "synthetic_patients"
TYPICAL = "baricitinib_week12_lipids_due"  # on therapy, labs over months: a typical follow-up visit
KEY_BY_TYPE = {
    "Patient": "patient",
    "Condition": "conditions",
    "MedicationRequest": "medicationRequests",
    "MedicationStatement": "medicationStatements",
    "Immunization": "immunizations",
    "Procedure": "procedures",
}


def _rewrite(value: Any, refs: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _rewrite(v, refs) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, refs) for v in value]
    return refs.get(value, value) if isinstance(value, str) else value


def scenario_resources(name: str = TYPICAL) -> list[dict[str, Any]]:
    """The scenario's resources with ids, references as `Type/id` (as a FHIR server would hold them)."""
    bundle = json.loads((SCENARIOS / f"{name}.json").read_text())
    refs = {
        e["fullUrl"]: f"{e['resource']['resourceType']}/{e['fullUrl'].removeprefix('urn:uuid:')}"
        for e in bundle["entry"]
        if e.get("fullUrl", "").startswith("urn:uuid:")
    }
    out = []
    for entry in bundle["entry"]:
        resource = _rewrite(entry["resource"], refs)
        resource["id"] = refs[entry["fullUrl"]].split("/", 1)[1]
        out.append(resource)
    return out


def padded_labs(observations: list[dict[str, Any]], target: int = 154) -> list[dict[str, Any]]:
    """Older copies of the lab results until there are `target` (performance.md's typical 154)."""
    out = list(observations)
    years = 1
    while len(out) < target and observations:
        for obs in observations:
            if len(out) >= target:
                break
            copy_ = copy.deepcopy(obs)
            copy_["id"] = f"{obs['id'][:50]}-y{years}"
            for name in ("effectiveDateTime", "issued"):
                if isinstance(copy_.get(name), str) and copy_[name][:4].isdigit():
                    copy_[name] = f"{int(copy_[name][:4]) - years:04d}{copy_[name][4:]}"
            out.append(copy_)
        years += 1
    return out


def searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }


def by_key(
    resources: list[dict[str, Any]], salt_codes: set[tuple[str, str]]
) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {k: [] for k in [*KEY_BY_TYPE.values(), "labs", "salt"]}
    for resource in resources:
        kind = resource["resourceType"]
        if kind == "Observation":
            codes = {(c.get("system"), c.get("code")) for c in resource.get("code", {}).get("coding", [])}
            grouped["salt" if codes & salt_codes else "labs"].append(resource)
        elif kind in KEY_BY_TYPE:
            grouped[KEY_BY_TYPE[kind]].append(resource)
    grouped["labs"] = padded_labs(grouped["labs"])
    return grouped


def patient_view_body(
    salt_codes: set[tuple[str, str]], *, with_prefetch: bool = True, fhir_server: str | None = None
):
    grouped = by_key(scenario_resources(), salt_codes)
    patient = grouped["patient"][0]
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/doc-1", "patientId": patient["id"]},
    }
    if with_prefetch:
        body["prefetch"] = {k: searchset(v) for k, v in grouped.items() if k != "patient"} | {
            "patient": patient
        }
    if fhir_server:
        body["fhirServer"] = fhir_server
    return body, grouped


def salt_codes() -> set[tuple[str, str]]:
    from cds_hooks.engine import CoreEngine

    return set(CoreEngine().salt_codes())


def anchor() -> date:
    from clinical_core.anchoring import ANCHOR_DATE

    return ANCHOR_DATE


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def line(self, label: str) -> str:
        return (
            f"{label:<28} {self.throughput:8.1f} req/s  p50 {self.percentile(50):7.1f} ms  "
            f"p95 {self.percentile(95):7.1f} ms  mean {statistics.fmean(self.latencies_ms or [0]):7.1f} ms  "
            f"n={self.requests} errors={self.errors}"
        )


def run_load(send: Callable[[], int], *, threads: int, seconds: float, max_requests: int) -> LoadResult:
    """`threads` closed-loop clients calling `send()` (-> HTTP status) for `seconds` or `max_requests`."""
    lock = threading.Lock()
    latencies: list[float] = []
    counts = {"n": 0, "errors": 0}
    stop_at = time.perf_counter() + seconds

    def worker() -> None:
        while time.perf_counter() < stop_at:
            with lock:
                if counts["n"] >= max_requests:
                    return
                counts["n"] += 1
            started = time.perf_counter()
            try:
                status = send()
            except Exception:
                status = 0
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                if status != 200:
                    counts["errors"] += 1

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return LoadResult(counts["n"], counts["errors"], time.perf_counter() - started, latencies)
