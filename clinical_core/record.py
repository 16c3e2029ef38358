"""The typed facts about one patient that the rules read.

Built from FHIR R4 resources by `clinical_core.extract.build_record`. Every list
is sorted oldest first. Values are in canonical units (see `CANONICAL_UNITS`).
Nothing here depends on the date of evaluation: the rules take `as_of`.

Code verification: a fact the extraction recognised through codes sets `unverified_code` (the
code as shown to users, e.g. "LOINC 26474-7") when none of the codings that classified it matched
an entry marked verified in the knowledge file; its `verified` is then False. The rules carry both
into the finding's evidence, so a finding resting on such a fact is shown unverified. Membership of
an interaction class is verified class by class (`ClassMatched.unverified_classes`), and there a class
member name the knowledge file marks unverified counts as an unverified code, named e.g.
'name "amiodarone" as medication_class.cyp2c9_inhibitor'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

# Canonical unit for each quantitative lab key (the knowledge file's lab value sets
# use the same keys). Cell counts are per mm3 (= per microlitre), the unit the
# labels' thresholds are written in.
CANONICAL_UNITS: dict[str, str] = {
    "alc": "cells/mm3",
    "anc": "cells/mm3",
    "hemoglobin": "g/dL",
    "platelets": "cells/mm3",
    "alt": "U/L",
    "ast": "U/L",
    "ldl": "mg/dL",
    "total_cholesterol": "mg/dL",
    "hdl": "mg/dL",
    "triglycerides": "mg/dL",
    "egfr": "mL/min/1.73m2",
    "creatinine": "mg/dL",
    "hcg_quantitative": "mIU/mL",
}

# Qualitative tests: result is one of QUALITATIVE_RESULTS.
QUALITATIVE_TESTS = (
    "tb_igra",
    "tb_skin_test",
    "hbsag",
    "anti_hbc",
    "anti_hbs",
    "hcv_ab",
    "hbv_dna",
    "pregnancy_test",
    "cyp2c9_phenotype",  # result is a metabolizer status, see METABOLIZER_STATUSES
)
QUALITATIVE_RESULTS = ("positive", "negative", "indeterminate")
METABOLIZER_STATUSES = ("poor", "intermediate", "normal", "rapid", "ultrarapid")


class CodeRecognised:
    """A fact recognised through codes: verified unless it rests only on an unverified code entry."""

    __slots__ = ()
    unverified_code: str | None

    @property
    def verified(self) -> bool:
        return self.unverified_code is None


class ClassMatched:
    """A medication in interaction classes, each class verified on its own (a rule about one class
    must not be marked unverified by another): `unverified_classes` pairs each class that no verified
    code or verified class member name recognised with what it rests on."""

    __slots__ = ()
    unverified_classes: tuple[tuple[str, str], ...]

    def class_unverified(self, drug_class: str) -> str | None:
        """What membership of `drug_class` rests on when unverified (None: verified)."""
        return next((rests_on for c, rests_on in self.unverified_classes if c == drug_class), None)


@dataclass(frozen=True)
class Demographics:
    patient_id: str
    birth_date: date | None = None
    sex: str | None = None  # FHIR administrative gender: male | female | other | unknown
    name: str | None = None
    identifier: str | None = None  # first identifier value (MRN where typed so)

    def age_on(self, day: date) -> int | None:
        if self.birth_date is None:
            return None
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years


@dataclass(frozen=True)
class Diagnosis(CodeRecognised):
    """An alopecia areata condition. `subtype`: patchy | totalis | universalis | ophiasis | unspecified."""

    subtype: str
    code: str
    system: str
    onset: date | None
    recorded: date | None
    active: bool
    reference: str
    unverified_code: str | None = None  # e.g. "SNOMED CT 19754005" (no verified entry gives the subtype)
    codes: tuple[tuple[str, str], ...] = ()  # (system, code) of every coding of the Condition, as sent


@dataclass(frozen=True)
class SaltScore:
    value: float  # 0-100
    when: date
    reference: str
    regions: tuple[tuple[str, float], ...] = ()  # (region, % loss in region)


@dataclass(frozen=True)
class TherapyEpisode(CodeRecognised):
    """A period on one JAK inhibitor at one dose, from one MedicationRequest or MedicationStatement.

    `drug` is a key of the knowledge file's `drugs:`. A dose change is a new
    episode; `end` is None while it continues.
    """

    drug: str
    start: date | None
    end: date | None
    status: str  # FHIR status of the source resource
    reference: str
    dose_mg: float | None = None  # per administration
    doses_per_day: int | None = None
    dose_text: str | None = None
    unverified_code: str | None = None  # e.g. "RxNorm 2591476" (the drug known by no verified code or name)


@dataclass(frozen=True)
class PriorTherapy(CodeRecognised):
    """A conventional AA therapy (knowledge key, e.g. `intralesional_corticosteroid`)."""

    therapy: str
    start: date | None
    end: date | None
    reference: str
    status: str
    unverified_code: str | None = None  # e.g. "RxNorm 10759" (known by no verified code or name)


@dataclass(frozen=True)
class LabResult(CodeRecognised):
    test: str  # a key of CANONICAL_UNITS
    value: float  # in CANONICAL_UNITS[test]
    when: date
    reference: str
    original: str  # value and unit as received, e.g. "0.4 10*3/uL"
    interpretation: str | None = None  # H | L | N ... when the source gave one
    unverified_code: str | None = None  # e.g. "LOINC 26474-7" (no verified code of the test)


@dataclass(frozen=True)
class QualitativeResult(CodeRecognised):
    test: str  # one of QUALITATIVE_TESTS
    result: str  # one of QUALITATIVE_RESULTS, or a metabolizer status for cyp2c9_phenotype
    when: date
    reference: str
    original: str
    # Set when the status was inferred from a genotype by the knowledge file's diplotype mapping
    # (e.g. "CYP2C9 *3/*3, activity score 0"): a rule using the status must cite that mapping.
    inferred_from: str | None = None
    unverified_code: str | None = None  # e.g. "LOINC LA6576-8" (the test code or the coded answer)


@dataclass(frozen=True)
class Vaccination(CodeRecognised):
    cvx: str
    display: str
    when: date
    live: bool
    reference: str
    unverified_code: str | None = None  # e.g. "CVX 03" (`live` from no verified entry)


@dataclass(frozen=True)
class ConditionFact(CodeRecognised):
    """A condition that matters to JAK inhibitor safety.

    `concept` is a key of the knowledge file's condition value sets: pregnancy,
    active_tb, latent_tb, hepatitis_b, hepatitis_c, serious_infection,
    herpes_zoster, malignancy, vte, cardiovascular, severe_hepatic_impairment,
    end_stage_renal_disease.
    """

    concept: str
    onset: date | None
    abatement: date | None
    active: bool
    reference: str
    display: str
    unverified_code: str | None = None  # e.g. "ICD-10-CM B02.9" (no verified code of the concept)


@dataclass(frozen=True)
class OtherMedication(ClassMatched):
    """A non-JAK medication the patient takes, with the interaction classes it belongs to."""

    name: str
    classes: frozenset[str]  # e.g. {"strong_oat3_inhibitor"}, from the knowledge file
    start: date | None
    end: date | None
    status: str
    reference: str
    unverified_classes: tuple[tuple[str, str], ...] = ()  # e.g. (("cyp2c9_inhibitor", "RxNorm 1234"),)


@dataclass(frozen=True)
class SmokingStatus(CodeRecognised):
    current_or_former: bool
    when: date
    reference: str
    display: str
    unverified_code: str | None = None  # e.g. "SNOMED CT 8517006" (the coded answer or the condition code)


@dataclass(frozen=True)
class Uninterpretable:
    """A resource, or part of one, that the extraction could not read. Never dropped silently."""

    reference: str
    what: str  # e.g. "Observation 731-0 value"
    why: str  # e.g. "unit 'cells/hpf' cannot be converted to cells/mm3"


@dataclass(frozen=True)
class ProposedOrder(CodeRecognised, ClassMatched):
    """A draft order from CDS Hooks `draftOrders` (order-select / order-sign) or the app.

    `kind`: medication | vaccine | other. `intent`: start | stop (a draft whose
    status is stopped/cancelled, or a request to discontinue).
    """

    kind: str
    reference: str  # e.g. "MedicationRequest/draft-1"
    intent: str = "start"
    drug: str | None = None  # knowledge drug key for a JAK inhibitor
    dose_mg: float | None = None
    doses_per_day: int | None = None
    medication_name: str | None = None
    interaction_classes: frozenset[str] = frozenset()
    therapy: str | None = None  # knowledge key when it is a conventional AA therapy
    cvx: str | None = None
    live_vaccine: bool = False
    unverified_code: str | None = None  # e.g. "RxNorm 2591476" (the drug, therapy, classes or live flag)
    unverified_classes: tuple[tuple[str, str], ...] = ()  # those of `interaction_classes`


@dataclass(frozen=True)
class PatientRecord:
    demographics: Demographics
    diagnoses: tuple[Diagnosis, ...] = ()
    salt_scores: tuple[SaltScore, ...] = ()
    therapies: tuple[TherapyEpisode, ...] = ()
    prior_therapies: tuple[PriorTherapy, ...] = ()
    labs: tuple[LabResult, ...] = ()
    qualitative: tuple[QualitativeResult, ...] = ()
    vaccinations: tuple[Vaccination, ...] = ()
    conditions: tuple[ConditionFact, ...] = ()
    medications: tuple[OtherMedication, ...] = ()
    smoking: tuple[SmokingStatus, ...] = ()
    uninterpretable: tuple[Uninterpretable, ...] = ()
    _lab_index: dict[str, tuple[LabResult, ...]] = field(default_factory=dict, compare=False, repr=False)

    def lab_series(self, test: str) -> tuple[LabResult, ...]:
        """Results of one quantitative test, oldest first."""
        if not self._lab_index and self.labs:
            index: dict[str, list[LabResult]] = {}
            for lab in self.labs:
                index.setdefault(lab.test, []).append(lab)
            self._lab_index.update({k: tuple(v) for k, v in index.items()})
        return self._lab_index.get(test, ())

    def qualitative_series(self, test: str) -> tuple[QualitativeResult, ...]:
        return tuple(q for q in self.qualitative if q.test == test)
