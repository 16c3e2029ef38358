"""Small builders for PatientRecord objects used by the rule tests (no FHIR, no extraction).

Every date is relative to AS_OF, the frozen evaluation date of the rule tests.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from clinical_core.findings import Assessment
from clinical_core.knowledge import load_knowledge
from clinical_core.record import (
    ConditionFact,
    Demographics,
    Diagnosis,
    LabResult,
    OtherMedication,
    PatientRecord,
    PriorTherapy,
    ProposedOrder,
    QualitativeResult,
    SaltScore,
    SmokingStatus,
    TherapyEpisode,
    Vaccination,
)

AS_OF = date(2026, 1, 15)
KNOWLEDGE = load_knowledge()


def ago(days: int) -> date:
    return AS_OF - timedelta(days=days)


def born(age: int) -> date:
    return date(AS_OF.year - age, 1, 1)


def lab(test: str, value: float, days_ago: int = 10) -> LabResult:
    return LabResult(test, value, ago(days_ago), f"Observation/{test}-{days_ago}", f"{value}")


def qual(test: str, result: str, days_ago: int = 10) -> QualitativeResult:
    return QualitativeResult(test, result, ago(days_ago), f"Observation/{test}-{days_ago}", result)


def salt(value: float, days_ago: int = 10) -> SaltScore:
    return SaltScore(value, ago(days_ago), f"Observation/salt-{days_ago}")


def condition(concept: str, days_ago: int = 30, active: bool = True) -> ConditionFact:
    return ConditionFact(
        concept, ago(days_ago), None, active, f"Condition/{concept}", concept.replace("_", " ")
    )


def medication(name: str, *classes: str) -> OtherMedication:
    return OtherMedication(name, frozenset(classes), ago(60), None, "active", f"MedicationRequest/{name}")


def episode(
    drug: str,
    start_days_ago: int,
    dose_mg: float,
    per_day: int = 1,
    end_days_ago: int | None = None,
    status: str = "active",
    ref: str | None = None,
) -> TherapyEpisode:
    end = ago(end_days_ago) if end_days_ago is not None else None
    return TherapyEpisode(
        drug,
        ago(start_days_ago),
        end,
        status,
        ref or f"MedicationRequest/{drug}-{start_days_ago}",
        dose_mg,
        per_day,
    )


def start_order(drug: str, dose_mg: float, per_day: int = 1) -> ProposedOrder:
    return ProposedOrder("medication", "MedicationRequest/draft-1", "start", drug, dose_mg, per_day, drug)


def stop_order(drug: str) -> ProposedOrder:
    return ProposedOrder("medication", "MedicationRequest/stop-1", "stop", drug)


def live_vaccine_order() -> ProposedOrder:
    return ProposedOrder(
        "vaccine", "ImmunizationRecommendation/draft-v", medication_name="MMR", cvx="03", live_vaccine=True
    )


def vaccination(cvx: str, display: str, days_ago: int, live: bool = True) -> Vaccination:
    return Vaccination(cvx, display, ago(days_ago), live, f"Immunization/{cvx}-{days_ago}")


BASELINE_LABS = (
    lab("alc", 1500),
    lab("anc", 3000),
    lab("hemoglobin", 13.5),
    lab("platelets", 250000),
    lab("alt", 22),
    lab("ast", 25),
    lab("ldl", 110),
    lab("egfr", 95),
)
BASELINE_QUALITATIVE = (
    qual("tb_igra", "negative"),
    qual("hbsag", "negative"),
    qual("anti_hbc", "negative"),
    qual("hcv_ab", "negative"),
    qual("cyp2c9_phenotype", "normal"),
)


def patient(
    age: int | None = 40, sex: str = "male", subtype: str = "patchy", **fields: object
) -> PatientRecord:
    """A patient with AA who meets every baseline criterion unless fields override it."""
    demographics = Demographics("p1", born(age) if age is not None else None, sex)
    base: dict[str, object] = {
        "diagnoses": (
            Diagnosis(
                subtype,
                "L63.9",
                "http://hl7.org/fhir/sid/icd-10-cm",
                ago(400),
                ago(400),
                True,
                "Condition/aa",
            ),
        ),
        "salt_scores": (salt(60),),
        "labs": BASELINE_LABS,
        "qualitative": BASELINE_QUALITATIVE,
        "prior_therapies": (
            PriorTherapy("intralesional_corticosteroid", ago(300), ago(200), "Procedure/ilk", "completed"),
        ),
    }
    base.update(fields)
    return PatientRecord(demographics=demographics, **base)  # type: ignore[arg-type]


def with_lab(record: PatientRecord, test: str, value: float, days_ago: int = 5) -> PatientRecord:
    labs = (*tuple(x for x in record.labs if x.test != test), lab(test, value, days_ago))
    return replace(record, labs=labs, _lab_index={})


def without(record: PatientRecord, *tests: str) -> PatientRecord:
    return replace(
        record,
        labs=tuple(x for x in record.labs if x.test not in tests),
        qualitative=tuple(q for q in record.qualitative if q.test not in tests),
        _lab_index={},
    )


def with_qual(record: PatientRecord, test: str, result: str, days_ago: int = 5) -> PatientRecord:
    rest = tuple(q for q in record.qualitative if q.test != test)
    return replace(record, qualitative=(*rest, qual(test, result, days_ago)))


def smoker() -> SmokingStatus:
    return SmokingStatus(True, ago(100), "Observation/smoking", "Former smoker")


def run(record: PatientRecord, proposed: tuple[ProposedOrder, ...] = (), as_of: date = AS_OF) -> Assessment:
    from clinical_core import evaluate

    return evaluate(record, as_of, KNOWLEDGE, proposed=proposed)
