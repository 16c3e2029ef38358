# ruff: noqa: E501 - scenario descriptions are prose; long lines read better than split strings
"""Write the synthetic scenario patients, their expected findings and docs/scenarios.md.

    .venv/bin/python synthetic_patients/make_scenarios.py          # (re)write every file
    .venv/bin/python synthetic_patients/make_scenarios.py --check  # exit 1 if a file is stale

Each scenario is one FHIR R4 transaction Bundle (`<name>.json`) written against
`clinical_core.anchoring.ANCHOR_DATE` (the frozen "today", 2026-01-15), and one
sidecar (`<name>.expected.json`) with the finding ids the rules must and must not
produce on that day (ids from clinical_core/findings.md), the Assessment status, the drug,
and the fullUrls of the draft orders to pass as proposed orders.

The expectations are clinical statements taken from docs/reference/clinical.md,
written here by hand next to the data they describe. They are never regenerated
from the engine's output: a scenario that fails is a rule bug or a wrong
expectation, to be settled against the reference, not by editing the sidecar.
Thresholds come in pairs (just below / at the boundary), named by the boundary.

Codes are the knowledge file's (clinical_core/knowledge/protocol.yaml).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DOCS = ROOT / "docs" / "scenarios.md"
CATALOGUE = ROOT / "clinical_core" / "findings.md"

ANCHOR = date(2026, 1, 15)  # == clinical_core.anchoring.ANCHOR_DATE (a test checks they agree)
PATIENT_ID_SYSTEM = "urn:aa-jak:synthetic-patient"

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
UCUM = "http://unitsofmeasure.org"
AA_SEVERITY = "urn:aa-jak:fhir:CodeSystem:aa-severity"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
COND_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
COND_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
COND_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
LOCAL_LAB = "urn:oid:2.16.840.1.113883.3.9999.1"  # a hospital's own lab code system

Resource = dict[str, Any]


def day(days_ago: int) -> str:
    """The ISO date `days_ago` days before the anchor (negative: after it)."""
    return (ANCHOR - timedelta(days=days_ago)).isoformat()


def instant(days_ago: int, hhmm: str = "09:30") -> str:
    return f"{day(days_ago)}T{hhmm}:00Z"


def years_ago(years: int, extra_days: int = 0) -> str:
    """A birth date making the patient exactly `years` old on the anchor (+`extra_days` older)."""
    born = ANCHOR.replace(year=ANCHOR.year - years) - timedelta(days=extra_days)
    return born.isoformat()


def coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


def concept(*codings: dict[str, str], text: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"coding": list(codings)}
    if text:
        result["text"] = text
    return result


# ----------------------------------------------------------------------------------------------
# Building blocks (one function per kind of resource)
# ----------------------------------------------------------------------------------------------

LAB_CODES: dict[str, tuple[str, str, str, str]] = {
    # key: (LOINC, display, default UCUM unit code, human unit)
    "alc": ("731-0", "Lymphocytes [#/volume] in Blood by Automated count", "10*3/uL", "10*3/uL"),
    "anc": ("751-8", "Neutrophils [#/volume] in Blood by Automated count", "10*3/uL", "10*3/uL"),
    "hemoglobin": ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", "g/dL"),
    "platelets": ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", "10*3/uL"),
    "alt": (
        "1742-6",
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        "U/L",
    ),
    "ast": (
        "1920-8",
        "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        "U/L",
    ),
    "total_cholesterol": ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL"),
    "ldl": (
        "13457-7",
        "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation",
        "mg/dL",
        "mg/dL",
    ),
    "hdl": ("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL"),
    "triglycerides": ("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL"),
    "egfr": (
        "98979-8",
        "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood "
        "by Creatinine-based formula (CKD-EPI 2021)",
        "mL/min/{1.73_m2}",
        "mL/min/1.73m2",
    ),
    "creatinine": ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL"),
}

QUAL_CODES: dict[str, tuple[str, str]] = {
    "tb_igra": ("71773-6", "M. tuberculosis stimulated gamma interferon [Presence/Interpretation] in Blood"),
    "hbsag": ("5196-1", "Hepatitis B virus surface Ag [Presence] in Serum by Immunoassay"),
    "anti_hbc": ("16933-4", "Hepatitis B virus core Ab [Presence] in Serum"),
    "anti_hbs": ("22322-2", "Hepatitis B virus surface Ab [Presence] in Serum"),
    "hcv_ab": ("13955-0", "Hepatitis C virus Ab [Presence] in Serum"),
    "hbv_dna": (
        "29615-2",
        "Hepatitis B virus DNA [#/volume] (viral load) in Serum or Plasma by NAA with probe detection",
    ),
    "pregnancy_test": ("2106-3", "Choriogonadotropin (pregnancy test) [Presence] in Urine"),
}

ANSWERS: dict[str, dict[str, str]] = {
    "positive": coding(SNOMED, "10828004", "Positive"),
    "negative": coding(SNOMED, "260385009", "Negative"),
    "indeterminate": coding(SNOMED, "82334004", "Indeterminate"),
}

METABOLIZER: dict[str, dict[str, str]] = {
    "poor": coding(LOINC, "LA9657-3", "Poor metabolizer"),
    "intermediate": coding(LOINC, "LA10317-8", "Intermediate metabolizer"),
    "normal": coding(LOINC, "LA25391-6", "Normal metabolizer"),
}

# Drug products: (RxNorm SCD, display, strength mg)
DRUGS: dict[str, tuple[str, str]] = {
    "baricitinib 1": ("2205472", "baricitinib 1 MG Oral Tablet"),
    "baricitinib 2": ("2047241", "baricitinib 2 MG Oral Tablet"),
    "baricitinib 4": ("2588561", "baricitinib 4 MG Oral Tablet"),
    "ritlecitinib 50": ("2641601", "ritlecitinib 50 MG Oral Capsule"),
    "deuruxolitinib 8": ("2716563", "deuruxolitinib 8 MG Oral Tablet"),
    "tofacitinib 5": ("1357541", "tofacitinib 5 MG Oral Tablet"),
    "ruxolitinib cream": ("2570752", "ruxolitinib 15 MG/ML Topical Cream"),
    "probenecid": ("8698", "probenecid"),
    "fluconazole": ("4450", "fluconazole"),
    "rifampin": ("9384", "rifampin"),
    "cyclosporine": ("3008", "cyclosporine"),
    "methotrexate": ("6851", "methotrexate"),
    "prednisone": ("8640", "prednisone"),
    "triamcinolone acetonide": ("10761", "triamcinolone acetonide"),
    "lisinopril": ("29046", "lisinopril"),
}

VACCINES: dict[str, tuple[str, str]] = {
    "MMR": ("03", "measles, mumps and rubella virus vaccine"),
    "varicella": ("21", "varicella virus vaccine"),
    "zoster recombinant": ("187", "zoster vaccine recombinant"),
    "yellow fever": ("37", "yellow fever vaccine live"),
}


@dataclass
class Scenario:
    """One synthetic patient: its resources, which of them are draft orders, what must be found."""

    name: str
    description: str
    shows: str  # one line for docs/scenarios.md
    status: str
    must: list[str] = field(default_factory=list)
    must_not: list[str] = field(default_factory=list)
    drug: str | None = None
    entries: list[Resource] = field(default_factory=list)
    drafts: list[str] = field(default_factory=list)  # fullUrls of draft orders
    _counter: int = 0

    # -- identity ---------------------------------------------------------------------------
    def _uuid(self) -> str:
        self._counter += 1
        return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"aa-jak/{self.name}/{self._counter}"))

    @property
    def patient_ref(self) -> dict[str, str]:
        return {"reference": self.entries[0]["fullUrl"]}

    def add(self, resource: Resource, *, draft: bool = False) -> str:
        full_url = self._uuid()
        self.entries.append(
            {
                "fullUrl": full_url,
                "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]},
            }
        )
        if draft:
            self.drafts.append(full_url)
        return full_url

    # -- patient ----------------------------------------------------------------------------
    def patient(self, gender: str, birth_date: str | None, given: str, family: str = "Synthetic") -> Scenario:
        resource: Resource = {
            "resourceType": "Patient",
            "identifier": [{"system": PATIENT_ID_SYSTEM, "value": self.name}],
            "name": [{"use": "official", "family": family, "given": [given]}],
            "gender": gender,
        }
        if birth_date is not None:
            resource["birthDate"] = birth_date
        self.add(resource)
        return self

    # -- conditions -------------------------------------------------------------------------
    def condition(
        self,
        code: dict[str, Any],
        onset_days_ago: int,
        *,
        active: bool = True,
        abated_days_ago: int | None = None,
        category: str = "problem-list-item",
    ) -> str:
        resource: Resource = {
            "resourceType": "Condition",
            "clinicalStatus": concept(
                coding(COND_CLINICAL, "active" if active else "resolved", "Active" if active else "Resolved")
            ),
            "verificationStatus": concept(coding(COND_VERIFICATION, "confirmed", "Confirmed")),
            "category": [
                concept(
                    coding(
                        COND_CATEGORY,
                        category,
                        "Problem List Item" if category == "problem-list-item" else "Encounter Diagnosis",
                    )
                )
            ],
            "code": code,
            "subject": self.patient_ref,
            "onsetDateTime": day(onset_days_ago),
            "recordedDate": day(onset_days_ago),
        }
        if abated_days_ago is not None:
            resource["abatementDateTime"] = day(abated_days_ago)
        return self.add(resource)

    def alopecia_areata(self, subtype: str = "unspecified", onset_days_ago: int = 3 * 365) -> str:
        codes = {
            "unspecified": concept(
                coding(SNOMED, "68225006", "Alopecia areata (disorder)"),
                coding(ICD10, "L63.9", "Alopecia areata, unspecified"),
                text="Alopecia areata",
            ),
            "patchy": concept(coding(ICD10, "L63.8", "Other alopecia areata"), text="Patchy alopecia areata"),
            "totalis": concept(
                coding(SNOMED, "19754005", "Alopecia totalis"),
                coding(ICD10, "L63.0", "Alopecia (capitis) totalis"),
                text="Alopecia totalis",
            ),
            "universalis": concept(
                coding(SNOMED, "86166000", "Alopecia universalis"),
                coding(ICD10, "L63.1", "Alopecia universalis"),
                text="Alopecia universalis",
            ),
        }
        return self.condition(codes[subtype], onset_days_ago, category="encounter-diagnosis")

    # -- observations -----------------------------------------------------------------------
    def _observation(
        self, category: str, code: dict[str, Any], days_ago: int, status: str = "final"
    ) -> Resource:
        return {
            "resourceType": "Observation",
            "status": status,
            "category": [concept(coding(OBS_CATEGORY, category, category.replace("-", " ").title()))],
            "code": code,
            "subject": self.patient_ref,
            "effectiveDateTime": instant(days_ago, "08:15"),
            "issued": instant(days_ago, "14:40"),
        }

    def salt(
        self, value: float, days_ago: int, regions: tuple[float, float, float, float] | None = None
    ) -> str:
        """A SALT score with its four regions (% loss in vertex, posterior, right, left).

        Without `regions` every region has the total's % loss, so the weighted sum
        (0.40, 0.24, 0.18, 0.18) equals the total.
        """
        vertex, posterior, right, left = regions if regions is not None else (value,) * 4
        weighted = 0.40 * vertex + 0.24 * posterior + 0.18 * right + 0.18 * left
        if abs(weighted - value) > 0.05:
            raise ValueError(f"{self.name}: SALT regions give {weighted}, not {value}")
        resource = self._observation(
            "exam",
            concept(coding(AA_SEVERITY, "SALT", "Severity of Alopecia Tool (SALT) score"), text="SALT score"),
            days_ago,
        )
        resource["valueQuantity"] = {"value": value, "unit": "%", "system": UCUM, "code": "%"}
        resource["component"] = [
            {
                "code": concept(coding(AA_SEVERITY, f"SALT-{region}", f"SALT {label} region hair loss")),
                "valueQuantity": {"value": loss, "unit": "%", "system": UCUM, "code": "%"},
            }
            for region, label, loss in (
                ("vertex", "vertex", vertex),
                ("posterior", "posterior", posterior),
                ("right", "right side", right),
                ("left", "left side", left),
            )
        ]
        return self.add(resource)

    def lab(
        self,
        key: str,
        value: float,
        days_ago: int,
        *,
        unit: str | None = None,
        status: str = "final",
        code: dict[str, Any] | None = None,
    ) -> str:
        loinc, display, default_unit, _ = LAB_CODES.get(key, ("", "", "", ""))
        ucum = unit or default_unit
        resource = self._observation(
            "laboratory", code or concept(coding(LOINC, loinc, display)), days_ago, status
        )
        resource["valueQuantity"] = {"value": value, "unit": ucum, "system": UCUM, "code": ucum}
        return self.add(resource)

    def qualitative(self, key: str, result: str, days_ago: int, *, status: str = "final") -> str:
        loinc, display = QUAL_CODES[key]
        resource = self._observation("laboratory", concept(coding(LOINC, loinc, display)), days_ago, status)
        resource["valueCodeableConcept"] = concept(ANSWERS[result], text=result.title())
        return self.add(resource)

    def cyp2c9(self, status: str, days_ago: int = 60) -> str:
        resource = self._observation(
            "laboratory",
            concept(
                coding(
                    LOINC,
                    "79716-7",
                    "CYP2C9 gene product metabolic activity interpretation in Blood or Tissue Qualitative by CPIC",
                )
            ),
            days_ago,
        )
        resource["valueCodeableConcept"] = concept(METABOLIZER[status])
        return self.add(resource)

    def smoking(self, status: str, days_ago: int = 30) -> str:
        answers = {
            "current": coding(SNOMED, "449868002", "Smokes tobacco daily"),
            "former": coding(SNOMED, "8517006", "Ex-smoker"),
            "never": coding(SNOMED, "266919005", "Never smoked tobacco"),
        }
        resource = self._observation(
            "social-history", concept(coding(LOINC, "72166-2", "Tobacco smoking status")), days_ago
        )
        resource["valueCodeableConcept"] = concept(answers[status])
        return self.add(resource)

    def baseline(
        self,
        days_ago: int = 10,
        *,
        skip: tuple[str, ...] = (),
        pregnancy_test: bool | None = None,
        **overrides: float,
    ) -> Scenario:
        """A complete pre-treatment work-up, all normal unless overridden (canonical units).

        `skip` leaves tests out; `pregnancy_test` defaults to True for women aged 12-50.
        """
        values: dict[str, float] = {
            "alc": 1.8,
            "anc": 3.9,
            "hemoglobin": 13.6,
            "platelets": 245,
            "alt": 22,
            "ast": 24,
            "total_cholesterol": 182,
            "ldl": 104,
            "hdl": 55,
            "triglycerides": 115,
            "egfr": 98,
            "creatinine": 0.84,
        }
        for key, value in overrides.items():
            if key not in values:
                raise ValueError(f"{self.name}: unknown baseline lab {key}")
            values[key] = value
        for key, value in values.items():
            if key not in skip:
                self.lab(key, value, days_ago)
        for key, result in (
            ("tb_igra", "negative"),
            ("hbsag", "negative"),
            ("anti_hbc", "negative"),
            ("hcv_ab", "negative"),
        ):
            if key not in skip:
                self.qualitative(key, result, days_ago)
        if pregnancy_test is None:
            pregnancy_test = self._female_of_childbearing_age()
        if pregnancy_test and "pregnancy_test" not in skip:
            self.qualitative("pregnancy_test", "negative", days_ago)
        return self

    def _female_of_childbearing_age(self) -> bool:
        patient = self.entries[0]["resource"]
        if patient.get("gender") != "female" or "birthDate" not in patient:
            return False
        age = (ANCHOR - date.fromisoformat(patient["birthDate"])).days // 365
        return 12 <= age <= 50  # parameters.pregnancy_test_age_band

    # -- medications --------------------------------------------------------------------------
    def _medication_concept(self, product: str) -> dict[str, Any]:
        code, display = DRUGS[product]
        return concept(coding(RXNORM, code, display), text=display)

    def _dosage(
        self, dose_mg: float, per_day: int, start: str, end: str | None = None, text: str = ""
    ) -> dict[str, Any]:
        bounds: dict[str, str] = {"start": start}
        if end is not None:
            bounds["end"] = end
        words = {1: "once daily", 2: "twice daily"}
        return {
            "text": text or f"{dose_mg:g} mg by mouth {words.get(per_day, f'{per_day} times daily')}",
            "timing": {
                "repeat": {"boundsPeriod": bounds, "frequency": per_day, "period": 1, "periodUnit": "d"}
            },
            "route": concept(coding(SNOMED, "26643006", "Oral route")),
            "doseAndRate": [{"doseQuantity": {"value": dose_mg, "unit": "mg", "system": UCUM, "code": "mg"}}],
        }

    def medication_request(
        self,
        product: str,
        dose_mg: float,
        per_day: int,
        start_days_ago: int,
        *,
        status: str = "active",
        end_days_ago: int | None = None,
        draft: bool = False,
        contained: bool = False,
        reason: str | None = None,
    ) -> str:
        start = day(start_days_ago)
        end = day(end_days_ago) if end_days_ago is not None else None
        resource: Resource = {
            "resourceType": "MedicationRequest",
            "status": "draft" if draft and status == "active" else status,
            "intent": "order",
            "subject": self.patient_ref,
            "authoredOn": start,
            "dosageInstruction": [self._dosage(dose_mg, per_day, start, end)],
            "dispenseRequest": {"validityPeriod": {"start": start, **({"end": end} if end else {})}},
        }
        if contained:
            resource["contained"] = [
                {"resourceType": "Medication", "id": "med1", "code": self._medication_concept(product)}
            ]
            resource["medicationReference"] = {"reference": "#med1"}
        else:
            resource["medicationCodeableConcept"] = self._medication_concept(product)
        if reason:
            resource["statusReason"] = {"text": reason}
        # keys in a stable, readable order
        ordered = {k: resource[k] for k in ("resourceType", "contained") if k in resource}
        ordered.update({k: v for k, v in resource.items() if k not in ordered})
        return self.add(ordered, draft=draft)

    def medication_statement(
        self, product: str, start_days_ago: int, end_days_ago: int | None, *, text: str = ""
    ) -> str:
        period: dict[str, str] = {"start": day(start_days_ago)}
        if end_days_ago is not None:
            period["end"] = day(end_days_ago)
        resource: Resource = {
            "resourceType": "MedicationStatement",
            "status": "completed" if end_days_ago is not None else "active",
            "medicationCodeableConcept": self._medication_concept(product),
            "subject": self.patient_ref,
            "effectivePeriod": period,
            "dateAsserted": day(end_days_ago if end_days_ago is not None else start_days_ago),
        }
        if text:
            resource["dosage"] = [{"text": text}]
        return self.add(resource)

    def immunization(self, vaccine: str, days_ago: int, *, draft: bool = False) -> str:
        code, display = VACCINES[vaccine]
        resource: Resource = {
            "resourceType": "Immunization",
            "status": "completed",
            "vaccineCode": concept(coding(CVX, code, display), text=display),
            "patient": self.patient_ref,
            "occurrenceDateTime": day(days_ago),
            "recorded": day(days_ago),
            "primarySource": True,
        }
        return self.add(resource, draft=draft)

    def vaccine_order(self, vaccine: str) -> str:
        """A draft MedicationRequest for a vaccine, coded with CVX (how many EHRs order vaccines)."""
        code, display = VACCINES[vaccine]
        resource: Resource = {
            "resourceType": "MedicationRequest",
            "status": "draft",
            "intent": "order",
            "medicationCodeableConcept": concept(coding(CVX, code, display), text=display),
            "subject": self.patient_ref,
            "authoredOn": day(0),
            "dosageInstruction": [{"text": "0.5 mL subcutaneous, once"}],
        }
        return self.add(resource, draft=True)

    # -- output -------------------------------------------------------------------------------
    def bundle(self) -> Resource:
        return {
            "resourceType": "Bundle",
            "id": self.name.replace("_", "-"),
            "meta": {
                "tag": [
                    {"system": "urn:aa-jak:synthetic", "code": "synthetic", "display": "Synthetic test data"}
                ]
            },
            "type": "transaction",
            "timestamp": f"{ANCHOR.isoformat()}T08:00:00Z",
            "entry": self.entries,
        }

    def expected(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "description": self.description,
            "must": sorted(set(self.must)),
            "must_not": sorted(set(self.must_not)),
            "status": self.status,
        }
        if self.drug:
            result["drug"] = self.drug
        if self.drafts:
            result["draft_orders"] = list(self.drafts)
        return result


# ----------------------------------------------------------------------------------------------
# Shared expectation groups
# ----------------------------------------------------------------------------------------------

BASELINE_MISSING = [
    "baseline.cbc.missing",
    "baseline.liver_enzymes.missing",
    "baseline.lipids.missing",
    "baseline.renal_function.missing",
    "baseline.tb_screening.missing",
    "baseline.hepatitis_b.missing",
    "baseline.hepatitis_c.missing",
]
BASELINE_HARD_STOPS = [
    "baseline.alc.below_start",
    "baseline.anc.below_start",
    "baseline.hemoglobin.below_start",
    "baseline.platelets.below_start",
    "baseline.tb.positive",
    "baseline.hepatitis_b.positive",
    "baseline.hepatitis_c.positive",
    "baseline.pregnancy.positive",
    "baseline.infection.active",
]
ELIGIBILITY = ["eligibility.eligible", "eligibility.not_eligible", "eligibility.undetermined"]
ON_THERAPY_ONLY = [
    "monitoring.alc.interrupt",
    "monitoring.anc.interrupt",
    "monitoring.hemoglobin.interrupt",
    "monitoring.platelets.discontinue",
    "safety.live_vaccine.during_therapy",
    "safety.pregnancy.during_therapy",
    "safety.infection.during_therapy",
    "response.stop.relapse_warning",
]
CLEAN_START = (
    BASELINE_MISSING
    + BASELINE_HARD_STOPS
    + [
        "baseline.pregnancy_test.missing",
        "baseline.tb.indeterminate",
        "baseline.live_vaccine.recent",
        "data.uninterpretable",
        "severity.salt.missing",
        "severity.salt.stale",
        "severity.below_threshold",
        "agent.age.below_minimum",
        "agent.age.unknown",
        "agent.combination.not_recommended",
        "agent.renal.not_recommended",
        "agent.renal.dose_reduction",
        "agent.hepatic.not_recommended",
        "agent.hepatitis.not_recommended",
        "eligibility.not_eligible",
        "eligibility.undetermined",
    ]
)


def not_(*ids: str, but: tuple[str, ...] = ()) -> list[str]:
    return [i for i in ids if i not in but]


def eligible_adult(
    s: Scenario, *, salt: float = 64, gender: str = "female", age: int = 34, given: str = "Ava"
) -> Scenario:
    """An adult with severe AA, a recent SALT, one prior therapy and a complete normal work-up."""
    s.patient(gender, years_ago(age, 40), given)
    s.alopecia_areata("unspecified")
    s.salt(salt, 7)
    s.medication_statement("triamcinolone acetonide", 500, 380, text="intralesional 5 mg/mL every 6 weeks")
    s.smoking("never")
    return s


# ----------------------------------------------------------------------------------------------
# The scenarios
# ----------------------------------------------------------------------------------------------

SCENARIOS: list[Callable[[], Scenario]] = []


def scenario(fn: Callable[[], Scenario]) -> Callable[[], Scenario]:
    SCENARIOS.append(fn)
    return fn


# --- Eligibility and baseline -------------------------------------------------------------------


@scenario
def baseline_complete_eligible() -> Scenario:
    s = Scenario(
        "baseline_complete_eligible",
        "34-year-old woman, severe AA (SALT 61 from regions), intralesional steroid before, complete normal "
        "work-up 10 days ago incl. negative pregnancy test and CYP2C9 normal metabolizer; no order. Eligible.",
        "complete work-up, eligible for every approved agent",
        "eligible",
        must=["severity.severe", "prior_therapy.documented", "eligibility.eligible"],
        must_not=[
            *CLEAN_START,
            "prior_therapy.none_documented",
            "safety.boxed_warning.risk_factors",
            "severity.near_total_loss",
            "agent.off_label",
            "agent.cyp2c9.missing",
            "agent.cyp2c9.poor_metabolizer",
            *ON_THERAPY_ONLY,
        ],
    )
    s.patient("female", years_ago(34, 40), "Ava")
    s.alopecia_areata("unspecified")
    s.salt(61, 7, regions=(100, 50, 25, 25))
    s.medication_statement("triamcinolone acetonide", 500, 380, text="intralesional 5 mg/mL every 6 weeks")
    s.smoking("never")
    s.baseline()
    s.cyp2c9("normal")
    return s


@scenario
def prior_therapy_none_documented() -> Scenario:
    s = Scenario(
        "prior_therapy_none_documented",
        "Same work-up as baseline_complete_eligible but no conventional therapy on record: the payer-style "
        "step-therapy note appears (advisory; not a label condition, clinical.md 4 and 7.6).",
        "no prior conventional therapy on record",
        "eligible",
        must=["prior_therapy.none_documented", "eligibility.eligible", "severity.severe"],
        must_not=["prior_therapy.documented", *CLEAN_START],
    )
    s.patient("male", years_ago(41, 100), "Noah")
    s.alopecia_areata("unspecified")
    s.salt(72, 5)
    s.smoking("never")
    s.baseline()
    s.cyp2c9("normal")
    return s


@scenario
def missing_data_no_labs() -> Scenario:
    s = Scenario(
        "missing_data_no_labs",
        "29-year-old woman with severe AA (SALT 70) and no laboratory results at all: every baseline test is "
        "missing, eligibility cannot be decided.",
        "no labs at all: every baseline item missing",
        "undetermined",
        must=[
            *BASELINE_MISSING,
            "baseline.pregnancy_test.missing",
            "eligibility.undetermined",
            "severity.severe",
            "baseline.vaccines.update",
        ],
        must_not=[
            *BASELINE_HARD_STOPS,
            "eligibility.eligible",
            "eligibility.not_eligible",
            "data.uninterpretable",
            "severity.salt.missing",
            *ON_THERAPY_ONLY,
        ],
    )
    s.patient("female", years_ago(29, 200), "Mia")
    s.alopecia_areata("unspecified")
    s.salt(70, 3)
    return s


@scenario
def salt_missing() -> Scenario:
    s = Scenario(
        "salt_missing",
        "AA (patchy, ICD-10-CM L63.8) with a complete work-up but no SALT score ever recorded: severity cannot be "
        "judged, record SALT.",
        "AA without any SALT score",
        "undetermined",
        must=["severity.salt.missing", "eligibility.undetermined"],
        must_not=[
            "severity.severe",
            "severity.below_threshold",
            "severity.near_total_loss",
            "eligibility.eligible",
            *BASELINE_MISSING,
        ],
    )
    s.patient("male", years_ago(37, 12), "Liam")
    s.alopecia_areata("patchy")
    s.medication_statement("prednisone", 700, 640, text="40 mg daily tapered over 8 weeks")
    s.baseline()
    return s


@scenario
def salt_stale() -> Scenario:
    s = Scenario(
        "salt_stale",
        "Severe AA, not on therapy, last SALT (68) 14 months ago: older than parameters.salt_max_age_days (90), so it "
        "is re-recorded before deciding on initiation; severity is shown but eligibility waits.",
        "latest SALT over a year old: re-record before deciding",
        "undetermined",
        must=["severity.salt.stale", "severity.severe", "eligibility.undetermined"],
        must_not=["severity.salt.missing", "severity.below_threshold", "eligibility.eligible"],
    )
    s.patient("female", years_ago(45, 300), "Zoe")
    s.alopecia_areata("unspecified", 6 * 365)
    s.salt(68, 425)
    s.medication_statement("triamcinolone acetonide", 900, 500)
    s.baseline()
    s.cyp2c9("normal")
    return s


@scenario
def salt_40_not_severe() -> Scenario:
    s = Scenario(
        "salt_40_not_severe",
        "Patchy AA with SALT 40: below the labels' 'severe' (SALT >= 50, clinical.md 5.1 and 7.2); the old '> 40% "
        "= moderate-to-severe' rule is wrong. Not eligible for an FDA-labelled JAK inhibitor.",
        "SALT 40: not severe",
        "not-eligible",
        must=["severity.below_threshold", "eligibility.not_eligible"],
        must_not=[
            "severity.severe",
            "severity.near_total_loss",
            "eligibility.eligible",
            "severity.salt.missing",
        ],
    )
    s.patient("female", years_ago(27, 90), "Isla")
    s.alopecia_areata("patchy")
    s.salt(40, 6)
    s.medication_statement("triamcinolone acetonide", 400, 200)
    s.baseline()
    s.cyp2c9("normal")
    return s


@scenario
def salt_49_below_threshold() -> Scenario:
    s = Scenario(
        "salt_49_below_threshold",
        "SALT 49, one point below the severe threshold (pair: salt_50_severe_at_threshold).",
        "SALT 49: just below severe",
        "not-eligible",
        must=["severity.below_threshold", "eligibility.not_eligible"],
        must_not=["severity.severe", "eligibility.eligible"],
    )
    eligible_adult(s, salt=49, gender="male", given="Owen")
    s.baseline()
    s.cyp2c9("normal")
    return s


@scenario
def salt_50_severe_at_threshold() -> Scenario:
    s = Scenario(
        "salt_50_severe_at_threshold",
        "SALT exactly 50: severe (SALT >= 50), eligible (pair: salt_49_below_threshold).",
        "SALT 50: severe at the threshold",
        "eligible",
        must=["severity.severe", "eligibility.eligible"],
        must_not=["severity.below_threshold", "severity.near_total_loss", "eligibility.not_eligible"],
    )
    eligible_adult(s, salt=50, gender="male", given="Ezra")
    s.baseline()
    s.cyp2c9("normal")
    return s


@scenario
def universalis_without_salt() -> Scenario:
    s = Scenario(
        "universalis_without_salt",
        "Alopecia universalis (SNOMED 86166000 / L63.1) documented, no SALT recorded: AU counts as severe and "
        "near-total loss (clinical.md 1.1, 1.2 'incl. AT/AU'); a SALT score is still requested.",
        "alopecia universalis, no SALT: severe by diagnosis",
        "eligible",
        must=["severity.severe", "severity.near_total_loss", "severity.salt.missing", "eligibility.eligible"],
        must_not=["severity.below_threshold", "eligibility.not_eligible"],
    )
    s.patient("male", years_ago(33, 150), "Ethan")
    s.alopecia_areata("universalis", 4 * 365)
    s.medication_statement("methotrexate", 800, 500, text="15 mg weekly")
    s.baseline()
    s.cyp2c9("normal")
    return s


@scenario
def adolescent_14y_no_order() -> Scenario:
    s = Scenario(
        "adolescent_14y_no_order",
        "14-year-old boy with severe AA (SALT 80) and a complete work-up: ritlecitinib (>= 12 y) is a candidate, "
        "baricitinib and deuruxolitinib (adults) are not; eligible for ritlecitinib.",
        "adolescent 14 y: eligible via ritlecitinib only",
        "eligible",
        must=["eligibility.eligible", "severity.severe"],
        must_not=[
            "agent.age.below_minimum",
            "eligibility.not_eligible",
            "agent.cyp2c9.missing",
            "safety.boxed_warning.risk_factors",
        ],
    )
    s.patient("male", years_ago(14, 60), "Leo")
    s.alopecia_areata("unspecified", 2 * 365)
    s.salt(80, 4)
    s.medication_statement("triamcinolone acetonide", 400, 300)
    s.baseline()
    return s


@scenario
def adolescent_14y_baricitinib_proposed() -> Scenario:
    s = Scenario(
        "adolescent_14y_baricitinib_proposed",
        "The same 14-year-old with a draft baricitinib 2 mg order: baricitinib is approved for adults only "
        "(clinical.md 1.1). Hard stop.",
        "adolescent 14 y + baricitinib order: below minimum age",
        "not-eligible",
        must=["agent.age.below_minimum", "eligibility.not_eligible"],
        must_not=["eligibility.eligible", "agent.off_label"],
        drug="baricitinib",
    )
    s.patient("male", years_ago(14, 60), "Leo")
    s.alopecia_areata("unspecified", 2 * 365)
    s.salt(80, 4)
    s.medication_statement("triamcinolone acetonide", 400, 300)
    s.baseline()
    s.medication_request("baricitinib 2", 2, 1, 0, draft=True)
    return s


@scenario
def adolescent_14y_ritlecitinib_proposed() -> Scenario:
    s = Scenario(
        "adolescent_14y_ritlecitinib_proposed",
        "The same 14-year-old with a draft ritlecitinib 50 mg once daily order: labelled from 12 years at the "
        "labelled dose (clinical.md 1.2).",
        "adolescent 14 y + ritlecitinib 50 mg: allowed",
        "eligible",
        must=["eligibility.eligible"],
        must_not=[
            "agent.age.below_minimum",
            "agent.dose.not_labelled",
            "agent.off_label",
            *BASELINE_MISSING,
            "eligibility.not_eligible",
        ],
        drug="ritlecitinib",
    )
    s.patient("male", years_ago(14, 60), "Leo")
    s.alopecia_areata("unspecified", 2 * 365)
    s.salt(80, 4)
    s.medication_statement("triamcinolone acetonide", 400, 300)
    s.baseline()
    s.medication_request("ritlecitinib 50", 50, 1, 0, draft=True)
    return s


@scenario
def ritlecitinib_age_11_below_minimum() -> Scenario:
    s = Scenario(
        "ritlecitinib_age_11_below_minimum",
        "Girl whose 12th birthday is tomorrow (11 y 364 d) with a draft ritlecitinib order: below the minimum "
        "age of 12 (pair: ritlecitinib_age_12_at_minimum).",
        "ritlecitinib at 11 y 364 d: below minimum age",
        "not-eligible",
        must=["agent.age.below_minimum", "eligibility.not_eligible"],
        must_not=["eligibility.eligible"],
        drug="ritlecitinib",
    )
    s.patient("female", (ANCHOR.replace(year=ANCHOR.year - 12) + timedelta(days=1)).isoformat(), "Ella")
    s.alopecia_areata("totalis", 365)
    s.salt(100, 4)
    s.baseline(pregnancy_test=False)
    s.medication_request("ritlecitinib 50", 50, 1, 0, draft=True)
    return s


@scenario
def ritlecitinib_age_12_at_minimum() -> Scenario:
    s = Scenario(
        "ritlecitinib_age_12_at_minimum",
        "Girl who turns 12 today with a draft ritlecitinib order: old enough (pair: ritlecitinib_age_11_below_minimum).",
        "ritlecitinib on the 12th birthday: allowed",
        "eligible",
        must=["eligibility.eligible"],
        # Her near-total loss supports no higher ritlecitinib start, and baricitinib is for adults.
        must_not=["agent.age.below_minimum", "eligibility.not_eligible", "severity.near_total_loss"],
        drug="ritlecitinib",
    )
    s.patient("female", years_ago(12), "Ruby")
    s.alopecia_areata("totalis", 365)
    s.salt(100, 4)
    s.medication_statement("prednisone", 300, 250)
    s.baseline(pregnancy_test=True)
    s.medication_request("ritlecitinib 50", 50, 1, 0, draft=True)
    return s


@scenario
def age_unknown() -> Scenario:
    s = Scenario(
        "age_unknown",
        "Patient without a birth date: the minimum-age check cannot be done.",
        "no birth date",
        "undetermined",
        must=["agent.age.unknown", "eligibility.undetermined"],
        must_not=["agent.age.below_minimum", "eligibility.eligible"],
    )
    s.patient("male", None, "Sam")
    s.alopecia_areata("unspecified")
    s.salt(66, 8)
    s.medication_statement("triamcinolone acetonide", 400, 300)
    s.baseline()
    s.cyp2c9("normal")
    return s


# --- Baseline thresholds (paired) ---------------------------------------------------------------


def _threshold_case(
    name: str,
    description: str,
    shows: str,
    status: str,
    drug_product: str | None,
    *,
    must: list[str],
    must_not: list[str],
    drug: str | None = None,
    gender: str = "male",
    **labs: float,
) -> Scenario:
    s = Scenario(name, description, shows, status, must=must, must_not=must_not, drug=drug)
    eligible_adult(s, gender=gender, given="Kai", age=38)
    s.baseline(**labs)
    s.cyp2c9("normal")
    if drug_product:
        dose, per_day = {
            "baricitinib 2": (2, 1),
            "ritlecitinib 50": (50, 1),
            "deuruxolitinib 8": (8, 2),
            "tofacitinib 5": (5, 2),
            "baricitinib 4": (4, 1),
        }[drug_product]
        s.medication_request(drug_product, dose, per_day, 0, draft=True)
    return s


@scenario
def alc_450_below_start() -> Scenario:
    return _threshold_case(
        "alc_450_below_start",
        "ALC 450 cells/mm3 before a proposed baricitinib start: below 500, do not start (clinical.md 1.1).",
        "ALC 450 + baricitinib: do not start",
        "not-eligible",
        "baricitinib 2",
        must=["baseline.alc.below_start", "eligibility.not_eligible"],
        must_not=["eligibility.eligible"],
        drug="baricitinib",
        alc=0.45,
    )


@scenario
def alc_500_at_start_threshold() -> Scenario:
    return _threshold_case(
        "alc_500_at_start_threshold",
        "ALC exactly 500 cells/mm3 before baricitinib: not below 500, may start (pair: alc_450_below_start).",
        "ALC 500 + baricitinib: may start",
        "eligible",
        "baricitinib 2",
        must=["eligibility.eligible"],
        must_not=["baseline.alc.below_start", "eligibility.not_eligible"],
        drug="baricitinib",
        alc=0.5,
    )


@scenario
def anc_900_below_start() -> Scenario:
    return _threshold_case(
        "anc_900_below_start",
        "ANC 900 cells/mm3 before deuruxolitinib: below 1000, do not start (clinical.md 1.3).",
        "ANC 900 + deuruxolitinib: do not start",
        "not-eligible",
        "deuruxolitinib 8",
        must=["baseline.anc.below_start"],
        must_not=["eligibility.eligible", "agent.cyp2c9.missing"],
        drug="deuruxolitinib",
        anc=0.9,
    )


@scenario
def anc_1000_at_start_threshold() -> Scenario:
    return _threshold_case(
        "anc_1000_at_start_threshold",
        "ANC exactly 1000 before deuruxolitinib (CYP2C9 normal): may start.",
        "ANC 1000 + deuruxolitinib: may start",
        "eligible",
        "deuruxolitinib 8",
        must=["eligibility.eligible"],
        must_not=[
            "baseline.anc.below_start",
            "agent.cyp2c9.missing",
            "agent.cyp2c9.poor_metabolizer",
            "agent.interaction.cyp2c9_inhibitor",
        ],
        drug="deuruxolitinib",
        anc=1.0,
    )


@scenario
def hb_8_5_tofacitinib_below_start() -> Scenario:
    return _threshold_case(
        "hb_8_5_tofacitinib_below_start",
        "Hb 8.5 g/dL before off-label tofacitinib: below tofacitinib's own "
        "threshold of 9 g/dL (clinical.md 2, 7.8). Off-label.",
        "Hb 8.5 + tofacitinib: below 9 g/dL",
        "not-eligible",
        "tofacitinib 5",
        must=["baseline.hemoglobin.below_start", "agent.off_label"],
        must_not=["eligibility.eligible"],
        drug="tofacitinib",
        hemoglobin=8.5,
    )


@scenario
def hb_8_5_baricitinib_ok() -> Scenario:
    return _threshold_case(
        "hb_8_5_baricitinib_ok",
        "The same Hb 8.5 g/dL before baricitinib: not below baricitinib's 8 g/dL "
        "(pair: hb_8_5_tofacitinib_below_start).",
        "Hb 8.5 + baricitinib: may start",
        "eligible",
        "baricitinib 2",
        must=["eligibility.eligible"],
        must_not=["baseline.hemoglobin.below_start", "agent.off_label"],
        drug="baricitinib",
        hemoglobin=8.5,
    )


@scenario
def platelets_90k_ritlecitinib_below_start() -> Scenario:
    return _threshold_case(
        "platelets_90k_ritlecitinib_below_start",
        "Platelets 90,000/mm3 before ritlecitinib: below 100,000, do not start (clinical.md 1.2).",
        "platelets 90k + ritlecitinib: do not start",
        "not-eligible",
        "ritlecitinib 50",
        must=["baseline.platelets.below_start", "eligibility.not_eligible"],
        must_not=["eligibility.eligible"],
        drug="ritlecitinib",
        platelets=90,
    )


@scenario
def platelets_90k_baricitinib_no_threshold() -> Scenario:
    return _threshold_case(
        "platelets_90k_baricitinib_no_threshold",
        "The same platelets 90,000/mm3 before baricitinib: the "
        "baricitinib AA label has no platelet start threshold (clinical.md 1.1).",
        "platelets 90k + baricitinib: no platelet rule",
        "eligible",
        "baricitinib 2",
        must=["eligibility.eligible"],
        must_not=["baseline.platelets.below_start"],
        drug="baricitinib",
        platelets=90,
    )


# --- Units and data quality ---------------------------------------------------------------------


@scenario
def odd_units_si() -> Scenario:
    s = Scenario(
        "odd_units_si",
        "Complete work-up reported in SI units: cell counts in 10*9/L, Hb in g/L, lipids in mmol/L, creatinine in "
        "umol/L. All convert; nothing is uninterpretable and nothing is below a threshold.",
        "SI units (10^9/L, g/L, mmol/L, umol/L) all convert",
        "eligible",
        must=["eligibility.eligible"],
        must_not=[*CLEAN_START],
    )
    eligible_adult(s, given="Lena", age=39)
    s.lab("alc", 1.6, 9, unit="10*9/L")
    s.lab("anc", 4.1, 9, unit="10*9/L")
    s.lab("platelets", 260, 9, unit="10*9/L")
    s.lab("hemoglobin", 128, 9, unit="g/L")
    s.lab("alt", 19, 9)
    s.lab("ast", 21, 9)
    s.lab("total_cholesterol", 4.9, 9, unit="mmol/L")
    s.lab("ldl", 2.9, 9, unit="mmol/L")
    s.lab("hdl", 1.4, 9, unit="mmol/L")
    s.lab("triglycerides", 1.2, 9, unit="mmol/L")
    s.lab("creatinine", 72, 9, unit="umol/L")
    s.lab("egfr", 95, 9)
    for key in ("tb_igra", "hbsag", "anti_hbc", "hcv_ab", "pregnancy_test"):
        s.qualitative(key, "negative", 9)
    s.cyp2c9("normal")
    return s


@scenario
def odd_units_low_counts() -> Scenario:
    s = Scenario(
        "odd_units_low_counts",
        "ALC 0.4 x10^9/L (= 400/mm3) and Hb 75 g/L (= 7.5 g/dL) before baricitinib: both below the start "
        "thresholds once converted.",
        "ALC 0.4 x10^9/L and Hb 75 g/L: below start after conversion",
        "not-eligible",
        must=["baseline.alc.below_start", "baseline.hemoglobin.below_start", "eligibility.not_eligible"],
        must_not=["data.uninterpretable", "eligibility.eligible", "baseline.cbc.missing"],
        drug="baricitinib",
    )
    eligible_adult(s, gender="male", given="Finn", age=50)
    s.baseline(skip=("alc", "hemoglobin"))
    s.lab("alc", 0.4, 10, unit="10*9/L")
    s.lab("hemoglobin", 75, 10, unit="g/L")
    s.medication_request("baricitinib 2", 2, 1, 0, draft=True)
    return s


@scenario
def unreadable_unit() -> Scenario:
    s = Scenario(
        "unreadable_unit",
        "The only ALC is reported as '1.2 cells/hpf', a unit that cannot be converted to cells/mm3: the result is "
        "listed as uninterpretable, never guessed, and the ALC counts as missing.",
        "ALC in an unconvertible unit: data.uninterpretable",
        "undetermined",
        must=["data.uninterpretable", "eligibility.undetermined"],
        must_not=["eligibility.eligible", "baseline.alc.below_start"],
    )
    eligible_adult(s, gender="male", given="Hugo", age=44)
    s.baseline(skip=("alc",))
    s.lab("alc", 1.2, 10, unit="cells/hpf")
    s.cyp2c9("normal")
    return s


@scenario
def unknown_code_lab() -> Scenario:
    s = Scenario(
        "unknown_code_lab",
        "Complete work-up plus labs the rules do not use: glucose (LOINC 2345-7) and a hospital-local code. "
        "Unknown codes are ignored, not reported as uninterpretable, and do not stand in for a known test.",
        "labs with unknown codes are ignored",
        "eligible",
        must=["eligibility.eligible"],
        must_not=["data.uninterpretable", *BASELINE_MISSING, "eligibility.undetermined"],
    )
    eligible_adult(s, given="Nora", age=36)
    s.baseline()
    s.cyp2c9("normal")
    s.lab(
        "glucose",
        92,
        10,
        unit="mg/dL",
        code=concept(coding(LOINC, "2345-7", "Glucose [Mass/volume] in Serum or Plasma")),
    )
    s.lab(
        "local",
        0.2,
        10,
        unit="10*3/uL",
        code=concept(
            coding(LOCAL_LAB, "LYMPH-ATYP", "Atypical lymphocytes, absolute"), text="Atypical lymphs"
        ),
    )
    return s


@scenario
def entered_in_error_lab() -> Scenario:
    s = Scenario(
        "entered_in_error_lab",
        "Normal work-up 10 days ago; a later ALC of 300 was marked entered-in-error (wrong patient). It must be "
        "ignored: no hard stop.",
        "entered-in-error ALC 300 is ignored",
        "eligible",
        must=["eligibility.eligible"],
        must_not=["baseline.alc.below_start", "eligibility.not_eligible", "data.uninterpretable"],
        drug="baricitinib",
    )
    eligible_adult(s, given="Iris", age=31)
    s.baseline()
    s.cyp2c9("normal")
    s.lab("alc", 0.3, 2, status="entered-in-error")
    s.medication_request("baricitinib 2", 2, 1, 0, draft=True)
    return s


@scenario
def preliminary_lab() -> Scenario:
    s = Scenario(
        "preliminary_lab",
        "Work-up 10 days ago complete except the hepatitis C antibody; a preliminary (unverified) HCV Ab result "
        "'negative' arrived yesterday. A preliminary result does not complete the work-up: HCV screening stays "
        "missing until the final result.",
        "preliminary HCV Ab does not complete the work-up",
        "undetermined",
        must=["baseline.hepatitis_c.missing", "eligibility.undetermined"],
        must_not=["baseline.hepatitis_c.positive", "eligibility.eligible", "baseline.cbc.missing"],
    )
    eligible_adult(s, gender="male", given="Omar", age=47)
    s.baseline(skip=("hcv_ab",))
    s.cyp2c9("normal")
    s.qualitative("hcv_ab", "negative", 1, status="preliminary")
    return s


# --- Agent: renal, interactions, PGx, dose -------------------------------------------------------


@scenario
def egfr_45_baricitinib_dose_reduction() -> Scenario:
    return _threshold_case(
        "egfr_45_baricitinib_dose_reduction",
        "eGFR 45 with a proposed baricitinib 2 mg: the 30 to < 60 band "
        "needs a dose reduction, 2 mg -> 1 mg (clinical.md 1.1; band values unverified).",
        "eGFR 45 + baricitinib: reduce dose",
        "eligible",
        "baricitinib 2",
        must=["agent.renal.dose_reduction"],
        must_not=["agent.renal.not_recommended", "eligibility.not_eligible"],
        drug="baricitinib",
        egfr=45,
        creatinine=1.55,
    )


@scenario
def egfr_60_baricitinib_no_change() -> Scenario:
    return _threshold_case(
        "egfr_60_baricitinib_no_change",
        "eGFR exactly 60 with baricitinib: no change (pair: egfr_45 ...).",
        "eGFR 60 + baricitinib: no renal change",
        "eligible",
        "baricitinib 2",
        must=["eligibility.eligible"],
        must_not=["agent.renal.dose_reduction", "agent.renal.not_recommended"],
        drug="baricitinib",
        egfr=60,
        creatinine=1.2,
    )


@scenario
def egfr_29_baricitinib_not_recommended() -> Scenario:
    return _threshold_case(
        "egfr_29_baricitinib_not_recommended",
        "eGFR 29 with baricitinib: below 30, not recommended.",
        "eGFR 29 + baricitinib: not recommended",
        "not-eligible",
        "baricitinib 2",
        must=["agent.renal.not_recommended", "eligibility.not_eligible"],
        must_not=["eligibility.eligible"],
        drug="baricitinib",
        egfr=29,
        creatinine=2.3,
    )


@scenario
def egfr_25_ritlecitinib_no_renal_rule() -> Scenario:
    return _threshold_case(
        "egfr_25_ritlecitinib_no_renal_rule",
        "eGFR 25 (not ESRD) with ritlecitinib: no renal adjustment in the label (clinical.md 1.2).",
        "eGFR 25 + ritlecitinib: no renal rule",
        "eligible",
        "ritlecitinib 50",
        must=["eligibility.eligible"],
        must_not=["agent.renal.dose_reduction", "agent.renal.not_recommended"],
        drug="ritlecitinib",
        egfr=25,
        creatinine=2.6,
    )


@scenario
def esrd_ritlecitinib() -> Scenario:
    s = _threshold_case(
        "esrd_ritlecitinib",
        "End-stage renal disease on dialysis (N18.6) with ritlecitinib: not studied in ESRD, "
        "not recommended (EU SmPC, clinical.md 1.2).",
        "ESRD + ritlecitinib: not recommended",
        "not-eligible",
        "ritlecitinib 50",
        must=["agent.renal.not_recommended"],
        must_not=["eligibility.eligible"],
        drug="ritlecitinib",
        egfr=9,
        creatinine=6.1,
    )
    s.condition(concept(coding(ICD10, "N18.6", "End stage renal disease")), 3 * 365)
    return s


@scenario
def probenecid_baricitinib() -> Scenario:
    s = _threshold_case(
        "probenecid_baricitinib",
        "On probenecid (strong OAT3 inhibitor) with a proposed baricitinib 2 mg: dose "
        "reduction required (clinical.md 1.1).",
        "probenecid + baricitinib: reduce dose",
        "eligible",
        "baricitinib 2",
        must=["agent.interaction.oat3_inhibitor"],
        must_not=["agent.combination.not_recommended", "agent.renal.dose_reduction"],
        drug="baricitinib",
    )
    s.medication_request("probenecid", 500, 2, 200)
    return s


@scenario
def baricitinib_start_2mg_clean() -> Scenario:
    return _threshold_case(
        "baricitinib_start_2mg_clean",
        "A clean proposed baricitinib 2 mg start: complete normal work-up, no "
        "interacting drugs, normal renal function.",
        "baricitinib 2 mg start, nothing to say but eligible",
        "eligible",
        "baricitinib 2",
        must=["eligibility.eligible"],
        must_not=[
            *CLEAN_START,
            "agent.interaction.oat3_inhibitor",
            "agent.dose.baricitinib_start",
            "agent.dose.not_labelled",
            "agent.off_label",
            "baseline.hepatitis_b.monitor_dna",
            *ON_THERAPY_ONLY,
        ],
        drug="baricitinib",
    )


@scenario
def baricitinib_4mg_start_without_near_total_loss() -> Scenario:
    return _threshold_case(
        "baricitinib_4mg_start_without_near_total_loss",
        "Proposed baricitinib 4 mg start with SALT 64: the label "
        "starts at 2 mg; 4 mg only for near-complete/complete scalp loss (clinical.md 1.1).",
        "baricitinib 4 mg start at SALT 64: start at 2 mg",
        "eligible",
        "baricitinib 4",
        must=["agent.dose.baricitinib_start"],
        must_not=["severity.near_total_loss"],
        drug="baricitinib",
    )


@scenario
def baricitinib_4mg_start_universalis() -> Scenario:
    s = Scenario(
        "baricitinib_4mg_start_universalis",
        "Alopecia universalis with SALT 100 and a proposed baricitinib 4 mg start: consider starting at 4 mg is "
        "labelled for complete scalp loss (clinical.md 1.1).",
        "baricitinib 4 mg start with AU, SALT 100: supported",
        "eligible",
        must=["severity.near_total_loss", "severity.severe", "eligibility.eligible"],
        must_not=["agent.dose.baricitinib_start", "agent.dose.not_labelled"],
        drug="baricitinib",
    )
    s.patient("female", years_ago(42, 11), "Maya")
    s.alopecia_areata("universalis", 5 * 365)
    s.salt(100, 5)
    s.medication_statement("cyclosporine", 900, 700, text="3 mg/kg/day")
    s.baseline()
    s.medication_request("baricitinib 4", 4, 1, 0, draft=True)
    return s


@scenario
def ritlecitinib_100mg_not_labelled() -> Scenario:
    s = _threshold_case(
        "ritlecitinib_100mg_not_labelled",
        "Proposed ritlecitinib 100 mg once daily: the label dose is 50 mg once "
        "daily, no escalation (clinical.md 1.2).",
        "ritlecitinib 100 mg: not the labelled dose",
        "eligible",
        None,
        must=["agent.dose.not_labelled"],
        must_not=["agent.age.below_minimum"],
        drug="ritlecitinib",
    )
    s.medication_request("ritlecitinib 50", 100, 1, 0, draft=True)
    return s


@scenario
def cyp2c9_poor_metabolizer_deuruxolitinib() -> Scenario:
    s = Scenario(
        "cyp2c9_poor_metabolizer_deuruxolitinib",
        "CYP2C9 poor metabolizer (79716-7 = LA9657-3) with a proposed deuruxolitinib 8 mg twice daily: do not "
        "use in poor metabolizers (clinical.md 1.3). Hard stop.",
        "CYP2C9 poor metabolizer + deuruxolitinib: hard stop",
        "not-eligible",
        must=["agent.cyp2c9.poor_metabolizer", "eligibility.not_eligible"],
        must_not=["agent.cyp2c9.missing", "eligibility.eligible"],
        drug="deuruxolitinib",
    )
    eligible_adult(s, gender="male", given="Ravi", age=35)
    s.baseline()
    s.cyp2c9("poor")
    s.medication_request("deuruxolitinib 8", 8, 2, 0, draft=True)
    return s


@scenario
def cyp2c9_unknown_deuruxolitinib() -> Scenario:
    s = Scenario(
        "cyp2c9_unknown_deuruxolitinib",
        "No CYP2C9 result with a proposed deuruxolitinib: genotype before starting (clinical.md 1.3).",
        "CYP2C9 unknown + deuruxolitinib: order the test",
        "undetermined",
        must=["agent.cyp2c9.missing", "eligibility.undetermined"],
        must_not=["agent.cyp2c9.poor_metabolizer", "eligibility.eligible"],
        drug="deuruxolitinib",
    )
    eligible_adult(s, gender="female", given="Sara", age=30)
    s.baseline()
    s.medication_request("deuruxolitinib 8", 8, 2, 0, draft=True)
    return s


@scenario
def fluconazole_deuruxolitinib() -> Scenario:
    s = _threshold_case(
        "fluconazole_deuruxolitinib",
        "On fluconazole (CYP2C9 inhibitor) with a proposed deuruxolitinib: "
        "contraindicated (unverified, clinical.md 1.3).",
        "fluconazole + deuruxolitinib: hard stop",
        "not-eligible",
        "deuruxolitinib 8",
        must=["agent.interaction.cyp2c9_inhibitor"],
        must_not=["eligibility.eligible"],
        drug="deuruxolitinib",
    )
    s.medication_request("fluconazole", 150, 1, 20)
    return s


@scenario
def rifampin_ritlecitinib() -> Scenario:
    s = _threshold_case(
        "rifampin_ritlecitinib",
        "On rifampin (strong CYP3A inducer) with a proposed ritlecitinib: "
        "co-administration not recommended (clinical.md 1.2): like every label 'not recommended', a failing "
        "criterion for this drug.",
        "rifampin + ritlecitinib: CYP3A inducer, not recommended",
        "not-eligible",
        "ritlecitinib 50",
        must=["agent.interaction.cyp3a_inducer", "eligibility.not_eligible"],
        must_not=["agent.interaction.oat3_inhibitor", "eligibility.eligible"],
        drug="ritlecitinib",
    )
    s.medication_request("rifampin", 600, 1, 30)
    return s


@scenario
def cyclosporine_with_ritlecitinib() -> Scenario:
    s = _threshold_case(
        "cyclosporine_with_ritlecitinib",
        "Still on cyclosporine with a proposed ritlecitinib: combination with "
        "cyclosporine or potent immunosuppressants not recommended (clinical.md 7.12). Hard stop.",
        "cyclosporine + ritlecitinib: combination not recommended",
        "not-eligible",
        "ritlecitinib 50",
        must=["agent.combination.not_recommended", "eligibility.not_eligible"],
        must_not=["eligibility.eligible"],
        drug="ritlecitinib",
    )
    s.medication_request("cyclosporine", 150, 2, 120)
    return s


@scenario
def tofacitinib_off_label() -> Scenario:
    s = _threshold_case(
        "tofacitinib_off_label",
        "Proposed tofacitinib 5 mg twice daily: no FDA AA indication, off-label "
        "(clinical.md 2); normal work-up (Hb 13.6 is above tofacitinib's 9 g/dL).",
        "tofacitinib: off-label",
        "eligible",
        "tofacitinib 5",
        must=["agent.off_label"],
        must_not=[
            "agent.interaction.cyp3a_inhibitor",
            "baseline.hemoglobin.below_start",
            "agent.age.below_minimum",
        ],
        drug="tofacitinib",
    )
    return s


@scenario
def clarithromycin_tofacitinib() -> Scenario:
    s = _threshold_case(
        "clarithromycin_tofacitinib",
        "On clarithromycin (strong CYP3A4 inhibitor) with proposed off-label "
        "tofacitinib: dose adjustment (clinical.md 2).",
        "clarithromycin + tofacitinib: CYP3A4 inhibitor",
        "eligible",
        "tofacitinib 5",
        must=["agent.interaction.cyp3a_inhibitor", "agent.off_label"],
        must_not=["agent.interaction.cyp3a_inducer"],
        drug="tofacitinib",
    )
    s.add(
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": concept(text="Clarithromycin 500 mg tablet"),
            "subject": s.patient_ref,
            "authoredOn": day(3),
            "dosageInstruction": [{"text": "500 mg twice daily for 10 days"}],
        }
    )
    return s


@scenario
def topical_ruxolitinib_not_systemic() -> Scenario:
    s = Scenario(
        "topical_ruxolitinib_not_systemic",
        "Uses ruxolitinib cream (Opzelura) for vitiligo: topical ruxolitinib is not systemic JAK therapy and not "
        "an AA treatment (clinical.md 7.5); the patient is not on a JAK inhibitor.",
        "Opzelura cream: not a JAK inhibitor episode",
        "eligible",
        must=["eligibility.eligible"],
        must_not=["agent.off_label", "agent.combination.not_recommended", *ON_THERAPY_ONLY],
    )
    eligible_adult(s, given="Lila", age=28)
    s.baseline()
    s.cyp2c9("normal")
    s.add(
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": concept(
                coding(RXNORM, *DRUGS["ruxolitinib cream"]), text="Opzelura (ruxolitinib) 1.5% cream"
            ),
            "subject": s.patient_ref,
            "authoredOn": day(90),
            "reasonCode": [concept(coding(ICD10, "L80", "Vitiligo"))],
            "dosageInstruction": [
                {
                    "text": "Apply a thin layer to affected skin twice daily",
                    "route": concept(coding(SNOMED, "6064005", "Topical route")),
                    "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                }
            ],
        }
    )
    return s


@scenario
def hepatic_failure_deuruxolitinib() -> Scenario:
    s = _threshold_case(
        "hepatic_failure_deuruxolitinib",
        "Hepatic failure (K72.10, Child-Pugh C) with a proposed deuruxolitinib: "
        "not recommended (clinical.md 1.3).",
        "Child-Pugh C + deuruxolitinib: not recommended",
        "not-eligible",
        "deuruxolitinib 8",
        must=["agent.hepatic.not_recommended"],
        must_not=["eligibility.eligible"],
        drug="deuruxolitinib",
        alt=88,
        ast=120,
    )
    s.condition(concept(coding(ICD10, "K72.10", "Chronic hepatic failure without coma")), 400)
    return s


# --- Infection, hepatitis, pregnancy, vaccines --------------------------------------------------


@scenario
def igra_positive() -> Scenario:
    return _igra("igra_positive", "positive")


def _igra(name: str, result: str) -> Scenario:
    positive = result == "positive"
    s = Scenario(
        name,
        (
            "Positive IGRA (71773-6) 10 days ago: treat latent TB before any JAK inhibitor (clinical.md 1.1, 1.2). "
            "Hard stop."
            if positive
            else "Indeterminate IGRA 10 days ago: repeat the test; TB screening is not complete."
        ),
        "positive IGRA: treat latent TB first" if positive else "indeterminate IGRA: repeat",
        "not-eligible" if positive else "undetermined",
        must=["baseline.tb.positive", "eligibility.not_eligible"]
        if positive
        else ["baseline.tb.indeterminate", "eligibility.undetermined"],
        must_not=[
            "baseline.tb_screening.missing",
            "eligibility.eligible",
            "baseline.tb.indeterminate" if positive else "baseline.tb.positive",
        ],
    )
    eligible_adult(s, gender="male", given="Tomas", age=52)
    s.baseline(skip=("tb_igra",))
    s.cyp2c9("normal")
    s.qualitative("tb_igra", result, 10)
    return s


@scenario
def igra_indeterminate() -> Scenario:
    return _igra("igra_indeterminate", "indeterminate")


@scenario
def hbsag_positive() -> Scenario:
    s = Scenario(
        "hbsag_positive",
        "HBsAg positive: hepatitis B; no JAK inhibitor until managed (ritlecitinib not recommended in hepatitis B). "
        "Hard stop.",
        "HBsAg positive",
        "not-eligible",
        must=["baseline.hepatitis_b.positive", "eligibility.not_eligible"],
        must_not=["baseline.hepatitis_b.missing", "eligibility.eligible", "baseline.hepatitis_b.monitor_dna"],
    )
    eligible_adult(s, gender="male", given="Minh", age=46)
    s.baseline(skip=("hbsag", "anti_hbc"))
    s.cyp2c9("normal")
    s.qualitative("hbsag", "positive", 10)
    s.qualitative("anti_hbc", "positive", 10)
    return s


@scenario
def anti_hbc_positive_hbsag_negative_baricitinib() -> Scenario:
    s = Scenario(
        "anti_hbc_positive_hbsag_negative_baricitinib",
        "Anti-HBc positive, HBsAg negative, anti-HBs positive with a proposed baricitinib: resolved infection, "
        "monitor HBV DNA (clinical.md 1.1 HBV). Not a hard stop.",
        "anti-HBc+ / HBsAg- + baricitinib: monitor HBV DNA",
        "eligible",
        must=["baseline.hepatitis_b.monitor_dna", "eligibility.eligible"],
        must_not=[
            "baseline.hepatitis_b.positive",
            "baseline.hepatitis_b.missing",
            "eligibility.not_eligible",
        ],
        drug="baricitinib",
    )
    eligible_adult(s, gender="female", given="Hana", age=55)
    s.baseline(skip=("anti_hbc",), pregnancy_test=False)
    s.cyp2c9("normal")
    s.qualitative("anti_hbc", "positive", 10)
    s.qualitative("anti_hbs", "positive", 10)
    s.medication_request("baricitinib 2", 2, 1, 0, draft=True)
    return s


@scenario
def hepatitis_c_ritlecitinib() -> Scenario:
    s = Scenario(
        "hepatitis_c_ritlecitinib",
        "Chronic hepatitis C (B18.2, HCV Ab positive) with a proposed ritlecitinib: initiation not recommended in "
        "hepatitis B or C (clinical.md 1.2, 7.9). Hard stop. One card: the label rule replaces the generic "
        "baseline.hepatitis_c.positive (pair: hepatitis_c_baricitinib_hold).",
        "hepatitis C + ritlecitinib: not recommended",
        "not-eligible",
        must=["agent.hepatitis.not_recommended", "eligibility.not_eligible"],
        must_not=["baseline.hepatitis_c.missing", "baseline.hepatitis_c.positive", "eligibility.eligible"],
        drug="ritlecitinib",
    )
    eligible_adult(s, gender="male", given="Jon", age=58)
    s.baseline(skip=("hcv_ab",))
    s.qualitative("hcv_ab", "positive", 10)
    s.condition(concept(coding(ICD10, "B18.2", "Chronic viral hepatitis C")), 2 * 365)
    s.medication_request("ritlecitinib 50", 50, 1, 0, draft=True)
    return s


@scenario
def hepatitis_c_baricitinib_hold() -> Scenario:
    s = Scenario(
        "hepatitis_c_baricitinib_hold",
        "Positive HCV antibody with a proposed baricitinib: the baricitinib label only asks for screening; holding "
        "initiation and referring is project policy (baseline.hepatitis_c.positive), not the ritlecitinib label "
        "rule (pair: hepatitis_c_ritlecitinib).",
        "HCV Ab positive + baricitinib: hold and refer",
        "not-eligible",
        must=["baseline.hepatitis_c.positive", "eligibility.not_eligible"],
        must_not=["agent.hepatitis.not_recommended", "baseline.hepatitis_c.missing", "eligibility.eligible"],
        drug="baricitinib",
    )
    eligible_adult(s, gender="female", given="Rosa", age=49)
    s.baseline(skip=("hcv_ab",), pregnancy_test=True)
    s.qualitative("hcv_ab", "positive", 10)
    s.medication_request("baricitinib 2", 2, 1, 0, draft=True)
    return s


@scenario
def pregnancy_positive() -> Scenario:
    s = Scenario(
        "pregnancy_positive",
        "Positive urine pregnancy test (2106-3) 3 days ago, not on therapy: do not start a JAK inhibitor (animal "
        "fetal harm; practice rather than a label-mandated test, clinical.md 7.11). Hard stop.",
        "positive pregnancy test before start",
        "not-eligible",
        must=["baseline.pregnancy.positive", "eligibility.not_eligible"],
        must_not=[
            "baseline.pregnancy_test.missing",
            "eligibility.eligible",
            "safety.pregnancy.during_therapy",
        ],
    )
    eligible_adult(s, gender="female", given="Emma", age=31)
    s.baseline(pregnancy_test=False)
    s.cyp2c9("normal")
    s.qualitative("pregnancy_test", "positive", 3)
    return s


@scenario
def active_zoster_before_start() -> Scenario:
    s = _threshold_case(
        "active_zoster_before_start",
        "Active herpes zoster (B02.9) since 5 days with a proposed baricitinib: "
        "do not start until resolved (clinical.md 1.1). Hard stop.",
        "active zoster before start",
        "not-eligible",
        "baricitinib 2",
        must=["baseline.infection.active", "eligibility.not_eligible"],
        must_not=["eligibility.eligible", "safety.infection.during_therapy"],
        drug="baricitinib",
    )
    s.condition(
        concept(coding(ICD10, "B02.9", "Zoster without complications")), 5, category="encounter-diagnosis"
    )
    return s


@scenario
def recent_live_vaccine_mmr_2_weeks() -> Scenario:
    s = Scenario(
        "recent_live_vaccine_mmr_2_weeks",
        "MMR (CVX 03, live) given 14 days ago, not yet on a JAK inhibitor: live vaccines are not recommended "
        "shortly before treatment (clinical.md 1.2, 7.10).",
        "MMR 2 weeks ago, before start",
        "eligible",
        must=["baseline.live_vaccine.recent"],
        must_not=["safety.live_vaccine.during_therapy", "eligibility.not_eligible"],
    )
    eligible_adult(s, gender="female", given="Alma", age=26)
    s.baseline()
    s.cyp2c9("normal")
    s.immunization("MMR", 14)
    return s


@scenario
def recombinant_zoster_2_weeks() -> Scenario:
    s = Scenario(
        "recombinant_zoster_2_weeks",
        "Recombinant zoster vaccine (CVX 187, not live) 14 days ago: never blocks (pair: "
        "recent_live_vaccine_mmr_2_weeks).",
        "Shingrix 2 weeks ago: not live",
        "eligible",
        must=["eligibility.eligible"],
        must_not=["baseline.live_vaccine.recent", "safety.live_vaccine.during_therapy"],
    )
    eligible_adult(s, gender="male", given="Paul", age=52)
    s.baseline()
    s.cyp2c9("normal")
    s.immunization("zoster recombinant", 14)
    return s


# --- On therapy ---------------------------------------------------------------------------------


def on_therapy(
    s: Scenario,
    product: str,
    dose: float,
    per_day: int,
    weeks: int,
    *,
    pre_salt: float = 80,
    gender: str = "male",
    age: int = 40,
    given: str = "Adam",
    extra_days: int = 2,
    contained: bool = False,
) -> int:
    """A patient on `product` for `weeks` weeks (+`extra_days`), with a pre-treatment SALT and work-up."""
    start = weeks * 7 + extra_days
    s.patient(gender, years_ago(age, 77), given)
    s.alopecia_areata("unspecified", 4 * 365)
    s.medication_statement("triamcinolone acetonide", start + 600, start + 300)
    s.smoking("never")
    s.salt(pre_salt, start + 10)
    s.baseline(start + 14, pregnancy_test=gender == "female" and age <= 55)
    s.medication_request(product, dose, per_day, start, contained=contained)
    return start


@scenario
def baricitinib_2mg_week13_salt60_escalate() -> Scenario:
    s = Scenario(
        "baricitinib_2mg_week13_salt60_escalate",
        "On baricitinib 2 mg for 13 weeks; SALT 80 -> 60, above the SALT <= 20 target: consider 4 mg "
        "(response inadequate; the label has no fixed week, the protocol reviews from its escalation week).",
        "baricitinib 2 mg, week 13, SALT 60: consider 4 mg",
        "on-therapy",
        must=["response.baricitinib.consider_4mg"],
        must_not=[
            "response.target_met",
            "response.baricitinib.consider_2mg",
            "response.baricitinib.above_target_dose_limited",
            "response.salt.due",
            *ELIGIBILITY,
            "monitoring.alc.interrupt",
        ],
        drug="baricitinib",
    )
    on_therapy(s, "baricitinib 2", 2, 1, 13, pre_salt=80)
    s.lab("alc", 1.5, 60)
    s.lab("ldl", 118, 5)
    s.salt(60, 3)
    return s


def anti_hbc_positive_on_baricitinib(s: Scenario, given: str) -> None:
    """A woman on baricitinib 2 mg for 20 weeks whose work-up found anti-HBc positive, HBsAg and HBV DNA negative."""
    start = on_therapy(s, "baricitinib 2", 2, 1, 20, gender="female", age=58, given=given)
    s.qualitative("anti_hbc", "positive", start + 13)  # after the work-up's negative one
    s.qualitative("hbv_dna", "negative", start + 14)


@scenario
def baricitinib_anti_hbc_hbv_dna_detected() -> Scenario:
    s = Scenario(
        "baricitinib_anti_hbc_hbv_dna_detected",
        "On baricitinib 2 mg for 20 weeks; anti-HBc positive, HBsAg negative before the start; HBV DNA now "
        "detected: consult a hepatologist (clinical.md 1.1 HBV) (pair: baricitinib_anti_hbc_hbv_dna_due).",
        "baricitinib, anti-HBc+, HBV DNA detected: hepatologist",
        "on-therapy",
        must=["monitoring.hbv_dna.detected"],
        must_not=["monitoring.hbv_dna.due", *ELIGIBILITY],
        drug="baricitinib",
    )
    anti_hbc_positive_on_baricitinib(s, "Mai")
    s.lab("hbv_dna", 250, 5, unit="[IU]/mL", code=concept(coding(LOINC, *QUAL_CODES["hbv_dna"])))
    return s


@scenario
def baricitinib_anti_hbc_hbv_dna_due() -> Scenario:
    s = Scenario(
        "baricitinib_anti_hbc_hbv_dna_due",
        "On baricitinib 2 mg for 20 weeks; anti-HBc positive, HBsAg negative; HBV DNA last undetected before the "
        "start, over 12 weeks ago: HBV DNA due (interval policy) (pair: baricitinib_anti_hbc_hbv_dna_detected).",
        "baricitinib, anti-HBc+, HBV DNA due",
        "on-therapy",
        must=["monitoring.hbv_dna.due"],
        must_not=["monitoring.hbv_dna.detected", *ELIGIBILITY],
        drug="baricitinib",
    )
    anti_hbc_positive_on_baricitinib(s, "Lan")
    return s


@scenario
def baricitinib_2mg_week13_salt60_egfr45_dose_limited() -> Scenario:
    s = Scenario(
        "baricitinib_2mg_week13_salt60_egfr45_dose_limited",
        "On baricitinib 2 mg for 13 weeks, SALT 60 above target, but eGFR 45: the renal band rules out 4 mg, "
        "so the review says 4 mg is not an option instead of suggesting it "
        "(pair: baricitinib_2mg_week13_salt60_escalate).",
        "baricitinib 2 mg, week 13, SALT 60, eGFR 45: 4 mg not an option",
        "on-therapy",
        must=["response.baricitinib.above_target_dose_limited", "agent.renal.dose_reduction"],
        must_not=["response.baricitinib.consider_4mg", "response.salt.due", *ELIGIBILITY],
        drug="baricitinib",
    )
    on_therapy(s, "baricitinib 2", 2, 1, 13, pre_salt=80)
    s.lab("alc", 1.5, 60)
    s.lab("ldl", 118, 5)
    s.lab("egfr", 45, 5)
    s.salt(60, 3)
    return s


@scenario
def baricitinib_2mg_week13_salt20_target_met() -> Scenario:
    s = Scenario(
        "baricitinib_2mg_week13_salt20_target_met",
        "On baricitinib 2 mg for 13 weeks with SALT 20: the response target (SALT <= 20) is met, no escalation "
        "(pair: baricitinib_2mg_week13_salt60_escalate).",
        "baricitinib 2 mg, week 13, SALT 20: target met",
        "on-therapy",
        must=["response.target_met"],
        must_not=["response.baricitinib.consider_4mg", "response.baricitinib.consider_2mg", *ELIGIBILITY],
        drug="baricitinib",
    )
    on_therapy(s, "baricitinib 2", 2, 1, 13, pre_salt=75, given="Ben")
    s.salt(20, 3)
    return s


@scenario
def baricitinib_4mg_responder_salt10() -> Scenario:
    s = Scenario(
        "baricitinib_4mg_responder_salt10",
        "Baricitinib 2 mg for 16 weeks, then 4 mg for 24 weeks; SALT now 10: adequate response on 4 mg, step down "
        "to 2 mg (clinical.md 1.1).",
        "responder on baricitinib 4 mg (SALT 10): consider 2 mg",
        "on-therapy",
        must=["response.baricitinib.consider_2mg", "response.target_met"],
        must_not=[
            "response.baricitinib.consider_4mg",
            "response.no_benefit.review",
            *ELIGIBILITY,
            "baseline.vaccines.update",
        ],
        drug="baricitinib",
    )
    start = on_therapy(
        s, "baricitinib 2", 2, 1, 40, pre_salt=90, given="Cara", gender="female", age=36, extra_days=0
    )
    # the 2 mg order ended at week 16 when 4 mg started
    s.entries[-1]["resource"]["status"] = "completed"
    s.entries[-1]["resource"]["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"]["end"] = day(
        start - 16 * 7
    )
    s.medication_request("baricitinib 4", 4, 1, start - 16 * 7)
    s.salt(55, start - 16 * 7 + 1)
    s.salt(10, 4)
    for key, value in (("alc", 1.4), ("anc", 3.1), ("hemoglobin", 13.1), ("platelets", 230), ("ldl", 121)):
        s.lab(key, value, 30)
    return s


@scenario
def stop_baricitinib_order() -> Scenario:
    s = Scenario(
        "stop_baricitinib_order",
        "On baricitinib 4 mg for 40 weeks, SALT 5; a draft order stops baricitinib: warn that relapse after "
        "stopping is common (consider stepping down to 2 mg instead).",
        "draft order stopping baricitinib: relapse warning",
        "on-therapy",
        must=["response.stop.relapse_warning"],
        must_not=[*ELIGIBILITY, "safety.live_vaccine.during_therapy"],
        drug="baricitinib",
    )
    start = on_therapy(s, "baricitinib 4", 4, 1, 40, pre_salt=95, given="Dan")
    s.salt(5, 6)
    s.lab("alc", 1.6, 20)
    s.medication_request(
        "baricitinib 4", 4, 1, start, status="stopped", draft=True, reason="Patient request: hair regrown"
    )
    s.entries[-1]["resource"]["authoredOn"] = day(0)
    return s


@scenario
def medication_reference_contained() -> Scenario:
    s = Scenario(
        "medication_reference_contained",
        "On baricitinib 2 mg for 20 weeks, recorded as MedicationRequest.medicationReference '#med1' to a "
        "contained Medication (RxNorm 2047241); SALT 15: the episode is found and the target is met.",
        "medicationReference to a contained Medication",
        "on-therapy",
        must=["response.target_met"],
        must_not=[*ELIGIBILITY, "data.uninterpretable", "response.baricitinib.consider_4mg"],
        drug="baricitinib",
    )
    on_therapy(s, "baricitinib 2", 2, 1, 20, pre_salt=70, given="Eli", contained=True)
    s.salt(15, 5)
    for key, value in (("alc", 1.5), ("ldl", 110)):
        s.lab(key, value, 40)
    return s


@scenario
def ritlecitinib_platelets_45k_discontinue() -> Scenario:
    s = Scenario(
        "ritlecitinib_platelets_45k_discontinue",
        "On ritlecitinib for 16 weeks, platelets 45,000/mm3 two days ago: below 50,000, discontinue "
        "(clinical.md 1.2).",
        "ritlecitinib + platelets 45k: discontinue",
        "on-therapy",
        must=["monitoring.platelets.discontinue"],
        must_not=[*ELIGIBILITY, "baseline.platelets.below_start"],
        drug="ritlecitinib",
    )
    on_therapy(s, "ritlecitinib 50", 50, 1, 16, given="Gus")
    s.lab("alc", 1.2, 2)
    s.lab("platelets", 45, 2)
    s.salt(45, 2)
    return s


@scenario
def ritlecitinib_platelets_49k_discontinue() -> Scenario:
    s = Scenario(
        "ritlecitinib_platelets_49k_discontinue",
        "Platelets 49,000/mm3 on ritlecitinib: just below 50,000, discontinue (pair: "
        "ritlecitinib_platelets_50k_continue).",
        "ritlecitinib + platelets 49k: discontinue",
        "on-therapy",
        must=["monitoring.platelets.discontinue"],
        must_not=[*ELIGIBILITY],
        drug="ritlecitinib",
    )
    on_therapy(s, "ritlecitinib 50", 50, 1, 16, given="Hal")
    s.lab("alc", 1.2, 2)
    s.lab("platelets", 49, 2)
    s.salt(45, 2)
    return s


@scenario
def ritlecitinib_platelets_50k_continue() -> Scenario:
    s = Scenario(
        "ritlecitinib_platelets_50k_continue",
        "Platelets exactly 50,000/mm3 on ritlecitinib: not below 50,000, continue; the start threshold (100k) "
        "does not apply on therapy.",
        "ritlecitinib + platelets 50k: continue",
        "on-therapy",
        must=[],
        must_not=["monitoring.platelets.discontinue", "baseline.platelets.below_start", *ELIGIBILITY],
        drug="ritlecitinib",
    )
    on_therapy(s, "ritlecitinib 50", 50, 1, 16, given="Ian")
    s.lab("alc", 1.2, 2)
    s.lab("platelets", 50, 2)
    s.salt(45, 2)
    return s


@scenario
def baricitinib_alc_400_interrupt() -> Scenario:
    s = Scenario(
        "baricitinib_alc_400_interrupt",
        "On baricitinib 2 mg for 20 weeks, ALC 400/mm3 three days ago: interrupt until ALC >= 500 "
        "(clinical.md 1.1).",
        "baricitinib + ALC 400: interrupt",
        "on-therapy",
        must=["monitoring.alc.interrupt"],
        must_not=["baseline.alc.below_start", "monitoring.anc.interrupt", *ELIGIBILITY],
        drug="baricitinib",
    )
    on_therapy(s, "baricitinib 2", 2, 1, 20, given="Jay")
    for key, value in (("alc", 0.4), ("anc", 2.9), ("hemoglobin", 13.0), ("platelets", 210)):
        s.lab(key, value, 3)
    s.lab("ldl", 115, 60)
    s.salt(50, 3)
    return s


@scenario
def baricitinib_alc_500_continue() -> Scenario:
    s = Scenario(
        "baricitinib_alc_500_continue",
        "ALC exactly 500/mm3 on baricitinib: not below 500, continue (pair: baricitinib_alc_400_interrupt).",
        "baricitinib + ALC 500: continue",
        "on-therapy",
        must=[],
        must_not=["monitoring.alc.interrupt", *ELIGIBILITY],
        drug="baricitinib",
    )
    on_therapy(s, "baricitinib 2", 2, 1, 20, given="Kim")
    for key, value in (("alc", 0.5), ("anc", 2.9), ("hemoglobin", 13.0), ("platelets", 210)):
        s.lab(key, value, 3)
    s.lab("ldl", 115, 60)
    s.salt(50, 3)
    return s


@scenario
def deuruxolitinib_anc_and_hb_interrupt() -> Scenario:
    s = Scenario(
        "deuruxolitinib_anc_and_hb_interrupt",
        "On deuruxolitinib for 10 weeks, ANC 800/mm3 and Hb 7.6 g/dL: interrupt until ANC >= 1000 and Hb >= 8 "
        "(clinical.md 1.3).",
        "deuruxolitinib + ANC 800, Hb 7.6: interrupt",
        "on-therapy",
        must=["monitoring.anc.interrupt", "monitoring.hemoglobin.interrupt"],
        must_not=["monitoring.alc.interrupt", *ELIGIBILITY],
        drug="deuruxolitinib",
    )
    on_therapy(s, "deuruxolitinib 8", 8, 2, 10, given="Lou")
    s.cyp2c9("normal", 120)
    for key, value in (("alc", 1.3), ("anc", 0.8), ("hemoglobin", 7.6), ("platelets", 190)):
        s.lab(key, value, 2)
    s.salt(70, 2)
    return s


@scenario
def ritlecitinib_week4_labs_overdue() -> Scenario:
    s = Scenario(
        "ritlecitinib_week4_labs_overdue",
        "On ritlecitinib for 8 weeks with only the pre-treatment ALC and platelets: the week-4 ALC + platelet "
        "check (clinical.md 1.2) is overdue.",
        "ritlecitinib week 8, week-4 labs never done: overdue",
        "on-therapy",
        must=["monitoring.alc_platelets_week4.overdue"],
        must_not=["monitoring.alc_platelets_week4.due", *ELIGIBILITY],
        drug="ritlecitinib",
    )
    on_therapy(s, "ritlecitinib 50", 50, 1, 8, given="Max", extra_days=3)
    return s


@scenario
def baricitinib_order_without_start_date() -> Scenario:
    s = Scenario(
        "baricitinib_order_without_start_date",
        "An active baricitinib order with no authoredOn, bounds or validity period (as some EHR exports "
        "send): the patient is on therapy, so no eligibility verdict, but the schedule cannot be placed.",
        "active baricitinib order, no start date: ask for it",
        "on-therapy",
        must=["monitoring.start_unknown"],
        must_not=[*ELIGIBILITY, "monitoring.lipids_week12.due", "response.salt.due"],
        drug="baricitinib",
    )
    s.patient("female", years_ago(52, 40), "Uma")
    s.alopecia_areata("universalis", 5 * 365)
    s.salt(100, 200)
    s.add(
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": s._medication_concept("baricitinib 2"),
            "subject": s.patient_ref,
            "dosageInstruction": [{"text": "2 mg by mouth once daily"}],
        }
    )
    return s


@scenario
def baricitinib_week12_lipids_due() -> Scenario:
    s = Scenario(
        "baricitinib_week12_lipids_due",
        "On baricitinib 2 mg for 12 weeks with baseline lipids only: the lipid panel about 12 weeks after "
        "initiation (clinical.md 1.1) is due now.",
        "baricitinib week 12: lipids due",
        "on-therapy",
        must=["monitoring.lipids_week12.due"],
        must_not=["monitoring.lipids_week12.overdue", "monitoring.start_unknown", *ELIGIBILITY],
        drug="baricitinib",
    )
    on_therapy(s, "baricitinib 2", 2, 1, 12, given="Ned", extra_days=1)
    s.lab("alc", 1.4, 50)
    s.salt(62, 6)
    return s


@scenario
def ritlecitinib_salt_review_due() -> Scenario:
    s = Scenario(
        "ritlecitinib_salt_review_due",
        "On ritlecitinib for 26 weeks with no SALT since the pre-treatment score: a SALT review week has passed, "
        "record SALT.",
        "ritlecitinib week 26, no SALT since start: record SALT",
        "on-therapy",
        must=["response.salt.due"],
        must_not=["response.target_met", *ELIGIBILITY],
        drug="ritlecitinib",
    )
    on_therapy(s, "ritlecitinib 50", 50, 1, 26, given="Oli")
    s.lab("alc", 1.3, 150)
    s.lab("platelets", 220, 150)
    return s


@scenario
def ritlecitinib_week40_no_benefit() -> Scenario:
    s = Scenario(
        "ritlecitinib_week40_no_benefit",
        "On ritlecitinib for 40 weeks, SALT 85 -> 80: no meaningful improvement past week 36; consider stopping "
        "(EU SmPC, clinical.md 1.2).",
        "ritlecitinib week 40, SALT 85 -> 80: review benefit",
        "on-therapy",
        must=["response.no_benefit.review"],
        must_not=["response.target_met", *ELIGIBILITY],
        drug="ritlecitinib",
    )
    on_therapy(s, "ritlecitinib 50", 50, 1, 40, pre_salt=85, given="Pia", gender="female", age=44)
    s.lab("alc", 1.3, 200)
    s.lab("platelets", 220, 200)
    s.salt(82, 100)
    s.salt(80, 5)
    return s


@scenario
def ritlecitinib_week40_improving() -> Scenario:
    s = Scenario(
        "ritlecitinib_week40_improving",
        "On ritlecitinib for 40 weeks, SALT 85 -> 30: improving though above target; no 'no benefit' review "
        "(pair: ritlecitinib_week40_no_benefit).",
        "ritlecitinib week 40, SALT 85 -> 30: keep going",
        "on-therapy",
        must=[],
        must_not=["response.no_benefit.review", "response.target_met", *ELIGIBILITY],
        drug="ritlecitinib",
    )
    on_therapy(s, "ritlecitinib 50", 50, 1, 40, pre_salt=85, given="Quinn", gender="female", age=44)
    s.lab("alc", 1.3, 200)
    s.lab("platelets", 220, 200)
    s.salt(55, 100)
    s.salt(30, 5)
    return s


@scenario
def live_vaccine_ordered_on_therapy() -> Scenario:
    s = Scenario(
        "live_vaccine_ordered_on_therapy",
        "On ritlecitinib for 20 weeks; a draft order for varicella vaccine (CVX 21, live) coded on a "
        "MedicationRequest: avoid live vaccines during therapy (clinical.md 1.2, 7.10). Hard stop on the order.",
        "live vaccine (CVX on a MedicationRequest) ordered during therapy",
        "on-therapy",
        must=["safety.live_vaccine.during_therapy"],
        must_not=["baseline.live_vaccine.recent", *ELIGIBILITY],
        drug="ritlecitinib",
    )
    on_therapy(s, "ritlecitinib 50", 50, 1, 20, given="Rae", gender="female", age=33)
    s.lab("alc", 1.2, 60)
    s.lab("platelets", 210, 60)
    s.salt(35, 10)
    s.vaccine_order("varicella")
    return s


@scenario
def live_vaccine_immunization_draft_on_therapy() -> Scenario:
    s = Scenario(
        "live_vaccine_immunization_draft_on_therapy",
        "On baricitinib for 20 weeks; a draft Immunization for yellow fever vaccine (CVX 37, live) before travel: "
        "avoid live vaccines during therapy.",
        "live vaccine (draft Immunization) during therapy",
        "on-therapy",
        must=["safety.live_vaccine.during_therapy"],
        must_not=[*ELIGIBILITY],
        drug="baricitinib",
    )
    on_therapy(s, "baricitinib 2", 2, 1, 20, given="Sol")
    s.lab("alc", 1.5, 60)
    s.lab("ldl", 110, 60)
    s.salt(30, 10)
    s.immunization("yellow fever", 0, draft=True)
    return s


@scenario
def live_vaccine_given_on_therapy() -> Scenario:
    s = Scenario(
        "live_vaccine_given_on_therapy",
        "On baricitinib for 30 weeks; MMR (live) was given 2 weeks ago, during therapy: flag it.",
        "MMR given 2 weeks ago during baricitinib",
        "on-therapy",
        must=["safety.live_vaccine.during_therapy"],
        must_not=[*ELIGIBILITY],
        drug="baricitinib",
    )
    on_therapy(s, "baricitinib 2", 2, 1, 30, given="Tia", gender="female", age=38)
    s.lab("alc", 1.5, 60)
    s.lab("ldl", 110, 100)
    s.salt(30, 10)
    s.immunization("MMR", 14)
    return s


@scenario
def recombinant_zoster_ordered_on_therapy() -> Scenario:
    s = Scenario(
        "recombinant_zoster_ordered_on_therapy",
        "On baricitinib for 20 weeks; a draft order for recombinant zoster vaccine (CVX 187, not live): the "
        "zoster option during therapy, never blocked (pair: live_vaccine_ordered_on_therapy).",
        "recombinant zoster ordered during therapy: fine",
        "on-therapy",
        must=[],
        must_not=["safety.live_vaccine.during_therapy", *ELIGIBILITY],
        drug="baricitinib",
    )
    on_therapy(s, "baricitinib 2", 2, 1, 20, given="Uma", gender="female", age=61)
    s.lab("alc", 1.5, 60)
    s.lab("ldl", 110, 60)
    s.salt(30, 10)
    s.vaccine_order("zoster recombinant")
    return s


@scenario
def pregnancy_on_therapy() -> Scenario:
    s = Scenario(
        "pregnancy_on_therapy",
        "On ritlecitinib for 20 weeks, positive pregnancy test 2 days ago: pregnancy during therapy.",
        "positive pregnancy test on ritlecitinib",
        "on-therapy",
        must=["safety.pregnancy.during_therapy"],
        must_not=[*ELIGIBILITY, "baseline.pregnancy.positive"],
        drug="ritlecitinib",
    )
    on_therapy(s, "ritlecitinib 50", 50, 1, 20, given="Val", gender="female", age=29)
    s.lab("alc", 1.2, 60)
    s.lab("platelets", 210, 60)
    s.salt(40, 10)
    s.qualitative("pregnancy_test", "positive", 2)
    return s


@scenario
def zoster_on_therapy() -> Scenario:
    s = Scenario(
        "zoster_on_therapy",
        "On baricitinib for 20 weeks, herpes zoster diagnosed 3 days ago: interrupt until the episode resolves "
        "(clinical.md 1.1).",
        "herpes zoster on baricitinib: interrupt",
        "on-therapy",
        must=["safety.infection.during_therapy"],
        must_not=[*ELIGIBILITY, "baseline.infection.active"],
        drug="baricitinib",
    )
    on_therapy(s, "baricitinib 2", 2, 1, 20, given="Wes", age=59)
    s.lab("alc", 1.5, 60)
    s.lab("ldl", 110, 60)
    s.salt(30, 10)
    s.condition(
        concept(coding(ICD10, "B02.9", "Zoster without complications")), 3, category="encounter-diagnosis"
    )
    return s


# --- Safety and not applicable ------------------------------------------------------------------


@scenario
def boxed_warning_age68_smoker() -> Scenario:
    s = Scenario(
        "boxed_warning_age68_smoker",
        "68-year-old current smoker with severe AA and a complete work-up: the JAK boxed warning risk factors "
        "(age >= 65, smoking) apply (clinical.md 1.1, 4 EMA advice).",
        "age 68 + current smoker: boxed-warning risk factors",
        "eligible",
        must=["safety.boxed_warning.risk_factors", "eligibility.eligible"],
        must_not=["eligibility.not_eligible"],
    )
    s.patient("male", years_ago(68, 123), "Walter")
    s.alopecia_areata("unspecified", 10 * 365)
    s.salt(58, 9)
    s.medication_statement("triamcinolone acetonide", 1200, 900)
    s.smoking("current")
    s.baseline()
    s.cyp2c9("normal")
    return s


@scenario
def boxed_warning_age_65_today() -> Scenario:
    s = Scenario(
        "boxed_warning_age_65_today",
        "Never-smoker who turns 65 today: age >= 65 is a boxed-warning risk factor (pair: "
        "baseline_complete_eligible, 34, never smoker).",
        "65th birthday today: boxed-warning risk factor",
        "eligible",
        must=["safety.boxed_warning.risk_factors"],
        must_not=["eligibility.not_eligible"],
    )
    s.patient("female", years_ago(65), "Gwen")
    s.alopecia_areata("unspecified", 10 * 365)
    s.salt(58, 9)
    s.medication_statement("triamcinolone acetonide", 1200, 900)
    s.smoking("never")
    s.baseline()
    s.cyp2c9("normal")
    return s


@scenario
def no_alopecia_areata() -> Scenario:
    s = Scenario(
        "no_alopecia_areata",
        "Androgenetic alopecia (L64.9, not AA) and hypertension on lisinopril, with routine labs: not applicable, "
        "no findings at all.",
        "no AA diagnosis (androgenetic alopecia): no findings",
        "not-applicable",
        must=[],
        must_not=[],  # filled with every catalogue id below
    )
    s.patient("male", years_ago(52, 30), "Victor")
    s.condition(concept(coding(ICD10, "L64.9", "Androgenic alopecia, unspecified")), 5 * 365)
    s.condition(concept(coding(ICD10, "I10", "Essential (primary) hypertension")), 3 * 365)
    s.medication_request("lisinopril", 10, 1, 700)
    s.lab("alc", 1.9, 40)
    s.lab("hemoglobin", 14.8, 40)
    s.lab("egfr", 88, 40)
    s.smoking("former")
    return s


# ----------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------


def catalogue_ids() -> list[str]:
    """Every concrete finding id in clinical_core/findings.md (the `monitoring.<item>.*` pattern rows excluded)."""
    text = CATALOGUE.read_text(encoding="utf-8")
    return sorted({m for m in re.findall(r"^\| `([a-z0-9_.]+)` \|", text, flags=re.MULTILINE)})


def build_all() -> list[Scenario]:
    scenarios = [fn() for fn in SCENARIOS]
    names = [s.name for s in scenarios]
    if len(names) != len(set(names)):
        raise ValueError("duplicate scenario names")
    known = set(catalogue_ids())
    for s in scenarios:
        if s.name == "no_alopecia_areata":
            s.must_not = sorted(known)
        overlap = set(s.must) & set(s.must_not)
        if overlap:
            raise ValueError(f"{s.name}: both must and must_not: {sorted(overlap)}")
        for finding_id in [*s.must, *s.must_not]:
            if finding_id not in known and not re.fullmatch(
                r"monitoring\.[a-z0-9_]+\.(due|overdue)", finding_id
            ):
                raise ValueError(f"{s.name}: {finding_id} is not in clinical_core/findings.md")
    return scenarios


def render_docs(scenarios: list[Scenario]) -> str:
    lines = [
        "# Synthetic scenario patients",
        "",
        "Generated by `synthetic_patients/make_scenarios.py` (do not edit by hand; rerun it and review the diff).",
        "",
        "Each scenario is a FHIR R4 transaction Bundle `synthetic_patients/<name>.json` written against the anchor",
        "date 2026-01-15 (`clinical_core.anchoring.ANCHOR_DATE`), with `<name>.expected.json` listing the finding ids",
        "(clinical_core/findings.md) that must and must not appear on that day, the assessment status and the drug. The",
        "patient carries the identifier `urn:aa-jak:synthetic-patient|<name>`. `tests/core/test_scenarios.py` runs",
        "them all; the sandbox loads them re-anchored to any day (`reanchor`).",
        "",
        f"{len(scenarios)} scenarios.",
        "",
        "| Scenario | What it shows | Status | Drug | Key finding ids (must) |",
        "|---|---|---|---|---|",
    ]
    for s in scenarios:
        must = ", ".join(f"`{i}`" for i in sorted(set(s.must))) or "none (see must_not)"
        drafts = " (draft order)" if s.drafts else ""
        lines.append(f"| `{s.name}` | {s.shows}{drafts} | {s.status} | {s.drug or ''} | {must} |")
    lines.append("")
    return "\n".join(lines)


def outputs(scenarios: list[Scenario]) -> dict[Path, str]:
    files: dict[Path, str] = {}
    for s in scenarios:
        files[HERE / f"{s.name}.json"] = json.dumps(s.bundle(), indent=2) + "\n"
        files[HERE / f"{s.name}.expected.json"] = json.dumps(s.expected(), indent=2) + "\n"
    files[DOCS] = render_docs(scenarios)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if any generated file is missing or stale"
    )
    args = parser.parse_args(argv)
    files = outputs(build_all())
    stale_bundles = sorted(p for p in HERE.glob("*.json") if p not in files)
    if args.check:
        problems = [
            str(p) for p, text in files.items() if not p.exists() or p.read_text(encoding="utf-8") != text
        ]
        problems += [f"{p} (not generated)" for p in stale_bundles]
        for problem in problems:
            print(f"stale: {problem}", file=sys.stderr)
        return 1 if problems else 0
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    for path in stale_bundles:
        path.unlink()
    print(f"wrote {len(files) - 1} scenario files and {DOCS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
