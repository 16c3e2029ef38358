"""How fast is the clinical core on a patient with a long history, next to plain `json.loads`?

    .venv/bin/python benchmarks/core_assess.py            # 1x..10x, best of 7 runs each
    .venv/bin/python benchmarks/core_assess.py --repeat 3 --scales 1 2 5

The patient (generated here, deterministically, with the codes the scenarios use):
5 years on baricitinib for alopecia areata, a lab draw every 30 days (CBC with
differential, ALT/AST, lipid panel, eGFR and creatinine: 12 Observations), a SALT
score every 12 weeks, hepatitis/TB screening, a few vaccines and medications.
At 1x that is over 700 Observations; scale k draws k times as often over the same
5 years. The payload is a FHIR searchset Bundle, as a FHIR server returns it.

Columns: json.loads of the payload; build_record on the parsed resources;
evaluate at the anchor date; total = the three together (bytes -> findings);
ratio = total / json.loads. Goal: ratio <= 10 and time growing linearly with the
number of observations. Measured side by side in one process; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clinical_core import build_record, load_knowledge
from clinical_core.anchoring import ANCHOR_DATE

try:  # the rules are written by another engineer; measure what exists
    from clinical_core import evaluate
except ImportError:  # pragma: no cover
    evaluate = None

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
YEARS = 5
DRAW_EVERY_DAYS = 30
LABS = (  # LOINC, display, value, unit
    ("731-0", "Lymphocytes [#/volume] in Blood by Automated count", 1.6, "10*3/uL"),
    ("751-8", "Neutrophils [#/volume] in Blood by Automated count", 3.8, "10*3/uL"),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", 13.5, "g/dL"),
    ("777-3", "Platelets [#/volume] in Blood by Automated count", 240, "10*3/uL"),
    ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", 24, "U/L"),
    ("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", 22, "U/L"),
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", 190, "mg/dL"),
    ("13457-7", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation", 112, "mg/dL"),
    ("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", 52, "mg/dL"),
    ("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", 130, "mg/dL"),
    (
        "98979-8",
        "Glomerular filtration rate/1.73 sq M.predicted by Creatinine-based formula (CKD-EPI 2021)",
        95,
        "mL/min/{1.73_m2}",
    ),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", 0.9, "mg/dL"),
)


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def history(scale: int) -> dict[str, Any]:
    """A searchset Bundle: 5 years of history with lab draws `scale` times as often as monthly."""
    patient = "Patient/bench"
    subject = {"reference": patient}
    start = ANCHOR_DATE - timedelta(days=YEARS * 365)
    resources: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": "bench",
            "gender": "female",
            "birthDate": "1984-06-02",
            "identifier": [{"system": "urn:aa-jak:synthetic-patient", "value": "benchmark"}],
        },
        {
            "resourceType": "Condition",
            "id": "aa",
            "subject": subject,
            "clinicalStatus": _concept(
                "http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"
            ),
            "code": _concept("http://snomed.info/sct", "68225006", "Alopecia areata (disorder)"),
            "onsetDateTime": (start - timedelta(days=400)).isoformat(),
        },
        {
            "resourceType": "MedicationStatement",
            "id": "ilk",
            "status": "completed",
            "subject": subject,
            "medicationCodeableConcept": _concept(
                "http://www.nlm.nih.gov/research/umls/rxnorm", "10761", "triamcinolone acetonide"
            ),
            "effectivePeriod": {
                "start": (start - timedelta(days=300)).isoformat(),
                "end": (start - timedelta(days=30)).isoformat(),
            },
        },
        {
            "resourceType": "MedicationRequest",
            "id": "bari",
            "status": "active",
            "intent": "order",
            "subject": subject,
            "medicationCodeableConcept": _concept(
                "http://www.nlm.nih.gov/research/umls/rxnorm", "2047241", "baricitinib 2 MG Oral Tablet"
            ),
            "authoredOn": start.isoformat(),
            "dosageInstruction": [
                {
                    "timing": {
                        "repeat": {
                            "boundsPeriod": {"start": start.isoformat()},
                            "frequency": 1,
                            "period": 1,
                            "periodUnit": "d",
                        }
                    },
                    "doseAndRate": [
                        {"doseQuantity": {"value": 2, "unit": "mg", "system": UCUM, "code": "mg"}}
                    ],
                }
            ],
        },
        {
            "resourceType": "Immunization",
            "id": "rzv",
            "status": "completed",
            "patient": subject,
            "vaccineCode": _concept("http://hl7.org/fhir/sid/cvx", "187", "zoster vaccine recombinant"),
            "occurrenceDateTime": (start - timedelta(days=60)).isoformat(),
        },
    ]
    for key, (code, display, result) in enumerate(
        [
            (
                "71773-6",
                "M. tuberculosis stimulated gamma interferon [Presence/Interpretation] in Blood",
                "negative",
            ),
            ("5196-1", "Hepatitis B virus surface Ag [Presence] in Serum by Immunoassay", "negative"),
            ("16933-4", "Hepatitis B virus core Ab [Presence] in Serum", "negative"),
            ("13955-0", "Hepatitis C virus Ab [Presence] in Serum", "negative"),
        ]
    ):
        resources.append(
            {
                "resourceType": "Observation",
                "id": f"screen-{key}",
                "status": "final",
                "subject": subject,
                "code": _concept(LOINC, code, display),
                "effectiveDateTime": (start - timedelta(days=14)).isoformat(),
                "valueCodeableConcept": _concept("http://snomed.info/sct", "260385009", "Negative")
                if result == "negative"
                else _concept("http://snomed.info/sct", "10828004", "Positive"),
            }
        )
    draw = 0
    day = start - timedelta(days=14)
    step = timedelta(days=DRAW_EVERY_DAYS / scale)
    moment = 0.0
    while day <= ANCHOR_DATE:
        for code, display, value, unit in LABS:
            resources.append(
                {
                    "resourceType": "Observation",
                    "id": f"lab-{draw}-{code}",
                    "status": "final",
                    "subject": subject,
                    "category": [
                        _concept(
                            "http://terminology.hl7.org/CodeSystem/observation-category",
                            "laboratory",
                            "Laboratory",
                        )
                    ],
                    "code": _concept(LOINC, code, display),
                    "effectiveDateTime": f"{day.isoformat()}T08:{draw % 60:02d}:00Z",
                    "valueQuantity": {
                        "value": round(value * (1 + ((draw * 7) % 11 - 5) / 100), 3),
                        "unit": unit,
                        "system": UCUM,
                        "code": unit,
                    },
                }
            )
        draw += 1
        moment += step.total_seconds()
        day = start - timedelta(days=14) + timedelta(seconds=moment)
    salt_day = start - timedelta(days=7)
    salt = 80.0
    n = 0
    while salt_day <= ANCHOR_DATE:
        resources.append(
            {
                "resourceType": "Observation",
                "id": f"salt-{n}",
                "status": "final",
                "subject": subject,
                "code": _concept("urn:aa-jak:fhir:CodeSystem:aa-severity", "SALT", "SALT score"),
                "effectiveDateTime": salt_day.isoformat(),
                "valueQuantity": {"value": salt, "unit": "%", "system": UCUM, "code": "%"},
            }
        )
        salt = max(8.0, salt - 6)
        salt_day += timedelta(weeks=12)
        n += 1
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {
                "fullUrl": f"http://fhir.example/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }


def best_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="clinical core vs json.loads on a long patient history")
    parser.add_argument("--repeat", type=int, default=7, help="runs per measurement; the best is kept")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 2, 5, 10])
    args = parser.parse_args(argv)

    knowledge = load_knowledge()
    rows = []
    for scale in args.scales:
        payload = json.dumps(history(scale))
        bundle = json.loads(payload)
        resources = [e["resource"] for e in bundle["entry"]]
        n_obs = sum(1 for r in resources if r["resourceType"] == "Observation")
        build_record(resources)  # warm caches (knowledge indexes, regexes)
        record = build_record(resources)
        loads_ms = best_ms(lambda p=payload: json.loads(p), args.repeat)
        build_ms = best_ms(lambda r=resources: build_record(r), args.repeat)
        if evaluate is not None:
            evaluate(record, ANCHOR_DATE, knowledge, proposed=())
            eval_ms = best_ms(lambda r=record: evaluate(r, ANCHOR_DATE, knowledge, proposed=()), args.repeat)
        else:
            eval_ms = float("nan")
        total = loads_ms + build_ms + (0.0 if math.isnan(eval_ms) else eval_ms)
        rows.append((scale, n_obs, len(payload) / 1024, loads_ms, build_ms, eval_ms, total, total / loads_ms))

    print(f"clinical core on a {YEARS}-year history (best of {args.repeat}); ratio = total / json.loads")
    if evaluate is None:
        print("note: clinical_core.evaluate is not available yet; evaluate ms is n/a and not in the total")
    header = (
        f"{'scale':>5} {'n obs':>6} {'KB':>7} {'json.loads ms':>13} {'build_record ms':>15} "
        f"{'evaluate ms':>11} {'total ms':>9} {'ratio':>6} {'us/obs':>7}"
    )
    print(header)
    print("-" * len(header))
    for scale, n_obs, kb, loads_ms, build_ms, eval_ms, total, ratio in rows:
        print(
            f"{scale:>4}x {n_obs:>6} {kb:>7.0f} {loads_ms:>13.2f} {build_ms:>15.2f} {eval_ms:>11.2f} "
            f"{total:>9.2f} {ratio:>6.1f} {1000 * total / n_obs:>7.1f}"
        )
    if len(rows) > 1:
        per_obs = [1000 * r[6] / r[1] for r in rows]
        spread = max(per_obs) / min(per_obs)
        print(
            f"growth: time per observation varies {spread:.2f}x from {rows[0][0]}x to {rows[-1][0]}x "
            f"(1.0 = perfectly linear); median {statistics.median(per_obs):.1f} us/obs"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
