"""What a medication is (JAK inhibitor, conventional AA therapy, interaction class, vaccine) and its dose.

Recognition: every coding of the medication concept (medicationCodeableConcept,
or the referenced / contained Medication's `code`) is looked up in the
knowledge value sets; the ingredient and brand `names` of each value set are
matched in CodeableConcept.text and coding.display as well (the release rule of
clinical.md: unverified codes fall back to names). A value set's
`exclude_names` (e.g. "cream", "topical", "Opzelura" for oral ruxolitinib)
cancel both code and name matches when they occur in the medication text, its
form or the dosage route. A `medication.*_topical` value set (Opzelura) is never
a JAK inhibitor episode.

Code verification: a value set recognised only through code entries marked
unverified is reported by `MedicationConcept.unverified_code`, and the facts
built from it are unverified. A match on a product's own `names` counts as
verified: they are the release rule's own fallback for unverified codes (the
ingredient and brand name identify the product whatever its code). A
`medication_class.*` name says more than what the product is - that it belongs
to the class - so it counts only as verified as the knowledge file marks it: a
class recognised only by unverified member names is reported like an
unverified code, as 'name "amiodarone" as medication_class.cyp2c9_inhibitor'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from clinical_core.extract._fields import (
    CVX,
    Json,
    code_text,
    codings,
    concept_label,
    concept_texts,
    items,
    number,
    obj,
    objs,
    shown,
    text,
)
from clinical_core.knowledge import Knowledge

_JAK = "medication."
_THERAPY = "therapy."
_CLASS = "medication_class."
_TOPICAL_SUFFIX = "_topical"


@dataclass(frozen=True)
class MedicationConcept:
    """The product of one medication concept, as far as the rules care."""

    name: str | None
    drug: str | None = None  # JAK inhibitor drug key (suffix of medication.*)
    ambiguous_drugs: tuple[str, ...] = ()  # more than one JAK inhibitor matched: none is chosen
    topical_jak: bool = False
    strength_mg: float | None = None  # per tablet/capsule, from the SCD/SBD entry or the product name
    therapies: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()
    cvx: str | None = None
    cvx_display: str | None = None
    live_vaccine: bool = False
    texts: tuple[str, ...] = field(default=(), repr=False)
    # (value-set key, code) for value sets recognised only by code entries marked unverified
    unverified_codes: tuple[tuple[str, str], ...] = ()

    def unverified_code(self, *keys: str) -> str | None:
        """The unverified codes these value sets rest on (None: a verified code or a name for each)."""
        return ", ".join(dict.fromkeys(code for key, code in self.unverified_codes if key in keys)) or None

    def unverified_classes(self) -> tuple[tuple[str, str], ...]:
        """(class, the unverified codes or names it rests on) for each class not recognised as verified."""
        rests_on = ((c, self.unverified_code(_CLASS + c)) for c in sorted(self.classes))
        return tuple((c, codes) for c, codes in rests_on if codes)

    @property
    def relevant(self) -> bool:
        return bool(
            self.drug
            or self.ambiguous_drugs
            or self.topical_jak
            or self.therapies
            or self.classes
            or self.cvx
        )


_STRENGTH_IN_NAME = re.compile(r"(\d+(?:\.\d+)?)\s*mg\b(?!\s*/)", re.IGNORECASE)


def classify(
    concepts: list[Json | None], knowledge: Knowledge, extra_texts: tuple[str, ...] = ()
) -> MedicationConcept:
    """Classify a medication from its CodeableConcepts (a request's and its Medication's)."""
    code_drugs: dict[str, set[float | None]] = {}
    therapies: set[str] = set()
    classes: set[str] = set()
    cvx: str | None = None
    cvx_display: str | None = None
    live = False
    texts: list[str] = []
    name: str | None = None
    verified_keys: set[str] = set()  # value sets a verified code or a verified name recognised
    unverified: list[tuple[str, str]] = []
    for concept in concepts:
        if concept is None:
            continue
        texts.extend(concept_texts(concept))
        name = name or concept_label(concept)
        for system, code, display in codings(concept):
            if system == CVX and code:
                code = normalise_cvx(code)
                cvx = cvx or code
                cvx_display = cvx_display or display
            for key, entry in knowledge.lookup(system, code):
                if entry.verified:
                    verified_keys.add(key)
                else:
                    shown_code = code_text(system, code)
                    # In a class the code may well be right and its membership the unverified part.
                    unverified.append(
                        (key, f"{shown_code} as {key}" if key.startswith(_CLASS) else shown_code)
                    )
                if key.startswith(_JAK):
                    code_drugs.setdefault(key[len(_JAK) :], set()).add(entry.strength_mg)
                elif key.startswith(_THERAPY):
                    therapies.add(key[len(_THERAPY) :])
                elif key.startswith(_CLASS):
                    classes.add(key[len(_CLASS) :])
                elif key == "vaccine.live":
                    live = True
    all_texts = tuple(texts) + extra_texts
    name_drugs: set[str] = set()
    for label in texts:
        for key in knowledge.lookup_name(label, ""):
            if members := knowledge.unverified_members(key, label):
                unverified += [(key, f'name "{member}" as {key}') for member in members]
            else:
                verified_keys.add(key)
            if key.startswith(_JAK):
                name_drugs.add(key[len(_JAK) :])
            elif key.startswith(_THERAPY):
                therapies.add(key[len(_THERAPY) :])
            elif key.startswith(_CLASS):
                classes.add(key[len(_CLASS) :])
    # exclude_names veto code matches too (an ingredient code with "cream" in the text).
    for vetoed in [d for d in code_drugs if any(knowledge.excluded_by_name(_JAK + d, t) for t in all_texts)]:
        del code_drugs[vetoed]
    name_drugs = {
        d for d in name_drugs if not any(knowledge.excluded_by_name(_JAK + d, t) for t in extra_texts)
    }
    therapies = {
        t for t in therapies if not any(knowledge.excluded_by_name(_THERAPY + t, x) for x in all_texts)
    }

    topical = any(d.endswith(_TOPICAL_SUFFIX) for d in (*code_drugs, *name_drugs))
    drug: str | None = None
    ambiguous: tuple[str, ...] = ()
    strength: float | None = None
    if not topical:
        candidates = set(code_drugs) or name_drugs
        if len(candidates) == 1:
            drug = next(iter(candidates))
            strengths = {s for s in code_drugs.get(drug, set()) if s is not None}
            if len(strengths) == 1:
                strength = next(iter(strengths))
            elif not strengths:
                strength = _strength_from_names(texts)
        elif len(candidates) > 1:
            ambiguous = tuple(sorted(candidates))
    return MedicationConcept(
        name=name,
        drug=drug,
        ambiguous_drugs=ambiguous,
        topical_jak=topical,
        strength_mg=strength,
        therapies=frozenset(therapies),
        classes=frozenset(classes),
        cvx=cvx,
        cvx_display=cvx_display,
        live_vaccine=live,
        texts=all_texts,
        unverified_codes=tuple(u for u in unverified if u[0] not in verified_keys),
    )


def normalise_cvx(code: str) -> str:
    """CVX codes are at least two digits ("3" is written "03")."""
    return code.zfill(2) if code.isdigit() and len(code) == 1 else code


def live_cvx(cvx: str, knowledge: Knowledge) -> tuple[bool, str | None]:
    """(live, the code when only unverified entries call it live) for a normalised CVX code."""
    entries = [e for key, e in knowledge.lookup(CVX, cvx) if key == "vaccine.live"]
    verified = not entries or any(e.verified for e in entries)
    return bool(entries), None if verified else code_text(CVX, cvx)


def _strength_from_names(texts: list[str]) -> float | None:
    """The strength in names like "baricitinib 2 MG Oral Tablet" (2.0), if all names agree on one."""
    found = {float(m.group(1)) for t in texts for m in _STRENGTH_IN_NAME.finditer(t)}
    return found.pop() if len(found) == 1 else None


# --- dose ---------------------------------------------------------------------

_MASS_UNITS: dict[str, float] = {
    "mg": 1.0, "milligram": 1.0, "milligrams": 1.0,
    "g": 1000.0, "gram": 1000.0, "grams": 1000.0,
    "ug": 0.001, "mcg": 0.001, "microgram": 0.001, "micrograms": 0.001,
}  # fmt: skip
_UNIT_UNITS = frozenset(
    {
        "tablet", "tablets", "tab", "tabs", "{tablet}", "{tablets}", "{tab}", "{tbl}", "tbl",
        "capsule", "capsules", "cap", "caps", "{capsule}", "{capsules}", "{cap}",
        "1", "{unit}", "unit", "each", "{each}", "ea",
    }
)  # fmt: skip
_WORD_NUMBERS = {"one": 1.0, "two": 2.0, "three": 3.0, "four": 4.0, "half": 0.5, "a": 1.0}
_MG_IN_TEXT = re.compile(r"(\d+(?:\.\d+)?)\s*(?:mg|milligrams?)\b(?!\s*/)", re.IGNORECASE)
_UNITS_IN_TEXT = re.compile(
    r"\b(\d+(?:\.\d+)?|one|two|three|four|half|a)\s*(?:tablets?|tabs?|capsules?|caps?)\b", re.IGNORECASE
)


@dataclass(frozen=True)
class Dose:
    mg: float | None
    per_day: int | None
    text: str | None
    problem: str | None = None  # why the dose or frequency could not be read


def dose_of(dosages: list[Json], concept: MedicationConcept) -> Dose:
    """Dose per administration (mg) and administrations per day from the first Dosage."""
    if not dosages:
        return Dose(None, None, None, "no dosage instruction")
    dosage = dosages[0]
    dose_text = text(dosage, "text")
    texts = [t for t in (dose_text, text(dosage, "patientInstruction")) if t]
    mg, mg_problem = _dose_mg(dosage, concept, texts)
    per_day, frequency_problem = _per_day(dosage, texts)
    problems = [p for p in (mg_problem, frequency_problem) if p]
    return Dose(mg, per_day, dose_text, "; ".join(problems) or None)


def _dose_mg(dosage: Json, concept: MedicationConcept, texts: list[str]) -> tuple[float | None, str | None]:
    for dose_and_rate in objs(dosage, "doseAndRate"):
        quantity = obj(dose_and_rate, "doseQuantity")
        if quantity is None:
            continue
        value = number(quantity.get("value"))
        unit = text(quantity, "code") or text(quantity, "unit")
        shown_dose = f"{shown(quantity.get('value'))} {unit or '(no unit)'}"
        if value is None or value <= 0:
            return None, f"dose quantity {shown_dose} is not a positive number"
        key = (unit or "").strip().lower()
        if key in _MASS_UNITS:
            return round(value * _MASS_UNITS[key], 6), None
        if key in _UNIT_UNITS or key.strip("{}") in _UNIT_UNITS:
            if concept.strength_mg is None:
                return None, f"dose {shown_dose} but the product strength is unknown"
            return round(value * concept.strength_mg, 6), None
        return None, f"dose unit {unit!r} is not a mass or a tablet count"
    candidates: set[float] = set()
    for line in texts:
        candidates.update(float(m.group(1)) for m in _MG_IN_TEXT.finditer(line))
        if concept.strength_mg is not None:
            for m in _UNITS_IN_TEXT.finditer(line):
                count = _WORD_NUMBERS.get(m.group(1).lower()) or float(m.group(1))
                candidates.add(round(count * concept.strength_mg, 6))
    if len(candidates) == 1:
        return candidates.pop(), None
    if len(candidates) > 1:
        return (
            None,
            f"dosage text gives conflicting doses ({', '.join(f'{c:g} mg' for c in sorted(candidates))})",
        )
    return None, "no dose quantity and no dose in the dosage text"


_PER_DAY_OF_UNIT = {"h": 24.0, "d": 1.0, "wk": 1 / 7, "min": 1440.0, "s": 86400.0, "mo": 1 / 30, "a": 1 / 365}
_TIMING_CODES = {
    "QD": 1, "AM": 1, "PM": 1, "BID": 2, "TID": 3, "QID": 4,
    "Q4H": 6, "Q6H": 4, "Q8H": 3, "Q12H": 2, "Q24H": 1,
}  # fmt: skip
_NOT_DAILY_CODES = frozenset({"QOD", "WK", "MO"})
_FREQUENCY_TEXT: tuple[tuple[re.Pattern[str], int | None], ...] = (
    (
        re.compile(r"\b(?:every other day|alternate days|q\.?o\.?d\b|weekly|once a week|every week)", re.I),
        None,
    ),
    (re.compile(r"\b(?:four times (?:a|per|each) day|q\.?i\.?d\b|every 6 hours|q6h)", re.I), 4),
    (re.compile(r"\b(?:three times (?:a|per|each) day|thrice daily|t\.?i\.?d\b|every 8 hours|q8h)", re.I), 3),
    (
        re.compile(
            r"\b(?:twice (?:a |per |each )?day|twice daily|two times (?:a|per|each) day|b\.?i\.?d\b"
            r"|every 12 hours|q12h)",
            re.I,
        ),
        2,
    ),
    (
        re.compile(
            r"\b(?:once (?:a |per |each )?day|once daily|one time (?:a|per|each) day|q\.?d\b|daily"
            r"|every day|every 24 hours|q24h|every morning|every evening|nightly|at bedtime)",
            re.I,
        ),
        1,
    ),
)


def _per_day(dosage: Json, texts: list[str]) -> tuple[int | None, str | None]:
    timing = obj(dosage, "timing")
    repeat = obj(timing, "repeat")
    if repeat is not None:
        period = number(repeat.get("period"))
        unit = text(repeat, "periodUnit")
        raw_frequency = repeat.get("frequency")
        frequency = number(raw_frequency) if raw_frequency is not None else 1.0
        if period is not None and unit is not None and frequency is not None:
            per_unit = _PER_DAY_OF_UNIT.get(unit)
            if per_unit is None or period <= 0 or frequency <= 0:
                return None, f"timing {frequency:g} per {period:g} {unit!r} cannot be read"
            per_day = frequency * per_unit / period
            if per_day >= 1 and abs(per_day - round(per_day)) < 1e-6:
                return round(per_day), None
            return None, f"timing {frequency:g} per {period:g} {unit} is not a whole number of doses a day"
        when = [w for w in items(repeat, "when") if isinstance(w, str)]
        times = [t for t in items(repeat, "timeOfDay") if isinstance(t, str)]
        if when or times:
            return len(when) or len(times), None
    timing_code = obj(timing, "code")
    for _, code, _ in codings(timing_code):
        if code is None:
            continue
        if code.upper() in _NOT_DAILY_CODES:
            return None, f"timing code {code} is not a daily schedule"
        if code.upper() in _TIMING_CODES:
            return _TIMING_CODES[code.upper()], None
    code_text = text(timing_code, "text")
    for line in ([code_text] if code_text else []) + texts:
        for pattern, per_day_of_text in _FREQUENCY_TEXT:
            if pattern.search(line):
                if per_day_of_text is None:
                    return None, f"schedule {line!r} is not a daily schedule"
                return per_day_of_text, None
    return None, "no frequency in the timing or the dosage text"


# --- dates and route ------------------------------------------------------------


def route_texts(dosages: list[Json]) -> tuple[str, ...]:
    """Route and method texts of the dosages (for the exclude_names veto: "Topical route")."""
    found: list[str] = []
    for dosage in dosages:
        for key in ("route", "method", "site"):
            found.extend(concept_texts(obj(dosage, key)))
    return tuple(found)


def medication_label(concept: MedicationConcept, fallback: str) -> str:
    return concept.name or fallback
