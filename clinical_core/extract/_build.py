"""FHIR R4 resources -> PatientRecord. See the package docstring for the conventions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from operator import attrgetter
from typing import Any

from clinical_core.extract._facts import Facts
from clinical_core.extract._fields import (
    CVX,
    Json,
    code_text,
    codings,
    concept_label,
    concept_texts,
    items,
    obj,
    objs,
    parse_date,
    patient_id_of_reference,
    period_end,
    period_start,
    reference_of,
    status_of,
    text,
)
from clinical_core.extract._medications import (
    MedicationConcept,
    classify,
    dose_of,
    live_cvx,
    normalise_cvx,
    route_texts,
)
from clinical_core.extract._observations import ObservationReader
from clinical_core.knowledge import CodeEntry, Knowledge, load_knowledge
from clinical_core.record import (
    ConditionFact,
    Demographics,
    Diagnosis,
    OtherMedication,
    PatientRecord,
    PriorTherapy,
    SmokingStatus,
    TherapyEpisode,
    Vaccination,
)

# --- statuses (see the package docstring) ------------------------------------------------
REQUEST_READ = frozenset({"active", "on-hold", "completed", "stopped"})
REQUEST_SKIPPED = frozenset({"draft", "cancelled", "entered-in-error", "unknown"})
REQUEST_INTENT_SKIPPED = frozenset({"proposal", "plan", "option"})
STATEMENT_READ = frozenset({"active", "completed", "stopped", "on-hold"})
STATEMENT_SKIPPED = frozenset({"entered-in-error", "not-taken", "intended", "unknown"})
PROCEDURE_READ = frozenset({"completed", "in-progress", "stopped"})
PROCEDURE_SKIPPED = frozenset({"entered-in-error", "not-done", "preparation", "on-hold", "unknown"})
IMMUNIZATION_READ = frozenset({"completed"})
IMMUNIZATION_SKIPPED = frozenset({"entered-in-error", "not-done"})
CONDITION_ACTIVE = frozenset({"active", "recurrence", "relapse"})
CONDITION_INACTIVE = frozenset({"inactive", "remission", "resolved"})
CONDITION_SKIPPED_VERIFICATION = frozenset({"entered-in-error", "refuted"})

_READ_TYPES = frozenset(
    {
        "Patient",
        "Condition",
        "MedicationRequest",
        "MedicationStatement",
        "Observation",
        "Procedure",
        "Immunization",
    }
)
_MEDICATION_REF = re.compile(r"(?:^|/)Medication/([^/]+)(?:/_history/[^/]*)?$")
_MAX_BUNDLE_DEPTH = 4


class Resources:
    """The input, flattened (Bundles unwrapped), de-duplicated, with Medications indexed."""

    def __init__(self, resources: Iterable[object]) -> None:
        self.ordered: list[Json] = []
        self._by_key: dict[tuple[str, str], int] = {}
        self.medications: dict[str, Json] = {}
        self._full_urls: dict[int, str] = {}
        self._add_all(resources, 0)

    def _add_all(self, resources: Iterable[object], depth: int) -> None:
        for resource in resources:
            self._add(resource, None, depth)

    def _add(self, resource: object, full_url: str | None, depth: int) -> None:
        if not isinstance(resource, dict):
            return
        rtype = resource.get("resourceType")
        if rtype == "Bundle":
            if depth < _MAX_BUNDLE_DEPTH:
                for entry in objs(resource, "entry"):
                    self._add(entry.get("resource"), text(entry, "fullUrl"), depth + 1)
            return
        if not isinstance(rtype, str):
            return
        rid = resource.get("id")
        if rtype == "Medication":
            if isinstance(rid, str) and rid:
                self.medications.setdefault(f"Medication/{rid}", resource)
            if full_url:
                self.medications.setdefault(full_url, resource)
            return
        if rtype not in _READ_TYPES:
            return
        if full_url:
            self._full_urls[id(resource)] = full_url
        key = (rtype, rid) if isinstance(rid, str) and rid else ("", full_url) if full_url else None
        if key is not None:
            seen = self._by_key.get(key)
            if seen is not None:
                if _last_updated(resource) > _last_updated(self.ordered[seen]):
                    self.ordered[seen] = resource  # a newer version of the same resource
                return
            self._by_key[key] = len(self.ordered)
        self.ordered.append(resource)

    def reference(self, resource: Json) -> str:
        """The reference "Type/id"; for a Bundle entry without an id, its fullUrl ("urn:uuid:...")."""
        rid = resource.get("id")
        if not (isinstance(rid, str) and rid):
            full_url = self._full_urls.get(id(resource))
            if full_url:
                return full_url
        return reference_of(resource)

    def medication(self, reference: str, container: Json) -> Json | None:
        """The Medication a reference points to: contained ("#id"), by id, or by Bundle fullUrl."""
        if reference.startswith("#"):
            for contained in objs(container, "contained"):
                if contained.get("resourceType") == "Medication" and contained.get("id") == reference[1:]:
                    return contained
            return None
        found = self.medications.get(reference)
        if found is not None:
            return found
        key = medication_key(reference)
        return self.medications.get(key) if key else None


def medication_key(reference: str) -> str | None:
    """The "Medication/id" a literal reference names as the record resolves it: any base, any
    version. Front ends use it to tell whether a Medication they hold already resolves a reference."""
    match = _MEDICATION_REF.search(reference)
    return f"Medication/{match.group(1)}" if match else None


def _last_updated(resource: Json) -> str:
    return text(obj(resource, "meta"), "lastUpdated") or ""


def medication_concepts(
    resource: Json, resources: Resources
) -> tuple[list[Json | None], tuple[str, ...], str | None]:
    """(concepts, form texts, problem) of a request's or statement's medication[x]."""
    concept = obj(resource, "medicationCodeableConcept")
    if concept is not None:
        return [concept], (), None
    reference = obj(resource, "medicationReference")
    if reference is None:
        return [], (), "no medicationCodeableConcept or medicationReference"
    target = text(reference, "reference")
    display = text(reference, "display")
    medication = resources.medication(target, resource) if target else None
    if medication is None:
        if display:
            return [{"text": display}], (), None
        return [], (), f"medicationReference {target or '(empty)'!r} is not in the data"
    form = tuple(concept_texts(obj(medication, "form")))
    return [obj(medication, "code")], form, None


class RecordBuilder:
    def __init__(self, knowledge: Knowledge, resources: Resources) -> None:
        self.knowledge = knowledge
        self.resources = resources
        self.facts = Facts()
        self.observations = ObservationReader(knowledge, self.facts)

    def build(self) -> PatientRecord:
        patients = [r for r in self.resources.ordered if r.get("resourceType") == "Patient"]
        demographics = self._demographics(patients)
        handlers = {
            "Condition": self._condition,
            "MedicationRequest": self._medication_request,
            "MedicationStatement": self._medication_statement,
            "Observation": self.observations.read,
            "Procedure": self._procedure,
            "Immunization": self._immunization,
        }
        for resource in self.resources.ordered:
            rtype = resource["resourceType"]
            handler = handlers.get(rtype)
            if handler is None:
                continue
            rid = resource.get("id")  # the common case of Resources.reference inline
            reference = (
                f"{rtype}/{rid}" if isinstance(rid, str) and rid else self.resources.reference(resource)
            )
            subject = (
                resource.get("patient")
                if resource["resourceType"] == "Immunization"
                else resource.get("subject")
            )
            other = patient_id_of_reference(subject)
            if other is not None and demographics.patient_id and other != demographics.patient_id:
                self.facts.cannot_read(
                    reference, reference, f"belongs to Patient/{other}, not Patient/{demographics.patient_id}"
                )
                continue
            try:
                handler(resource, reference)
            except Exception as exc:  # reported, never silent: see the package docstring
                self.facts.cannot_read(reference, reference, f"extraction error ({type(exc).__name__})")
        return _freeze(demographics, self.facts)

    # --- Patient ------------------------------------------------------------------------

    def _demographics(self, patients: list[Json]) -> Demographics:
        if not patients:
            for resource in self.resources.ordered:
                found = patient_id_of_reference(resource.get("subject") or resource.get("patient"))
                if found:
                    return Demographics(patient_id=found)
            return Demographics(patient_id="")
        patient = patients[0]
        for other in patients[1:]:
            self.facts.cannot_read(
                self.resources.reference(other),
                "Patient",
                f"more than one Patient; only {self.resources.reference(patient)} is read",
            )
        rid = patient.get("id")
        gender = text(patient, "gender")
        return Demographics(
            patient_id=rid if isinstance(rid, str) else "",
            birth_date=parse_date(patient.get("birthDate")),
            sex=gender,
            name=_name(patient),
            identifier=_identifier(patient),
        )

    def _read_status(
        self, resource: Json, reference: str, read: frozenset[str], skipped: frozenset[str]
    ) -> str | None:
        """The status if the rules read it, else None; a status neither read nor skipped is reported."""
        status = status_of(resource)
        if status in skipped:
            return None
        if status is None or status not in read:
            self.facts.cannot_read(
                reference, f"{resource['resourceType']} status", f"status {status or '(none)'!r} is not read"
            )
            return None
        return status

    # --- Conditions -----------------------------------------------------------------------

    def _condition(self, condition: Json, reference: str) -> None:
        code = obj(condition, "code")
        hits: list[tuple[str, CodeEntry, str | None, str]] = []
        for system, value, _ in codings(code):
            for key, entry in self.knowledge.lookup(system, value):
                if key.startswith("condition."):
                    hits.append((key, entry, system, value or ""))
        if not hits:
            return
        verification = {c for _, c, _ in codings(obj(condition, "verificationStatus")) if c}
        if verification & CONDITION_SKIPPED_VERIFICATION:
            return
        active = _condition_active(condition)
        onset = parse_date(condition.get("onsetDateTime")) or period_start(condition, "onsetPeriod")
        recorded = parse_date(condition.get("recordedDate"))
        abatement = parse_date(condition.get("abatementDateTime")) or period_start(
            condition, "abatementPeriod"
        )
        display = concept_label(code) or ""
        aa = [h for h in hits if h[0] == "condition.alopecia_areata"]
        if aa:
            specific = [h for h in aa if h[1].meaning not in (None, "unspecified")] or aa
            _, entry, system, value = specific[0]
            # The subtype is verified when a verified entry gives that same subtype.
            unverified = _unverified([h for h in aa if h[1].meaning == entry.meaning])
            self.facts.diagnoses.append(
                Diagnosis(
                    subtype=entry.meaning or "unspecified",
                    code=value,
                    system=system or "",
                    onset=onset,
                    recorded=recorded,
                    active=active,
                    reference=reference,
                    unverified_code=unverified,
                    codes=tuple((s, c) for s, c, _ in codings(code) if s and c),
                )
            )
        concepts = sorted({h[0][len("condition.") :] for h in hits} - {"alopecia_areata"})
        for concept in concepts:
            unverified = _unverified([h for h in hits if h[0] == f"condition.{concept}"])
            if concept == "smoker":
                when = onset or recorded
                if when is None:
                    self.facts.cannot_read(reference, "Condition smoking date", "no onset or recorded date")
                else:
                    self.facts.smoking.append(
                        SmokingStatus(
                            current_or_former=True,
                            when=when,
                            reference=reference,
                            display=display,
                            unverified_code=unverified,
                        )
                    )
                continue
            self.facts.conditions.append(
                ConditionFact(
                    concept=concept,
                    onset=onset or recorded,
                    abatement=abatement,
                    active=active,
                    reference=reference,
                    display=display,
                    unverified_code=unverified,
                )
            )

    # --- Medications ------------------------------------------------------------------

    def _concept(self, resource: Json, reference: str, dosages: list[Json]) -> MedicationConcept | None:
        concepts, forms, problem = medication_concepts(resource, self.resources)
        if problem is not None:
            status = status_of(resource)
            if status not in REQUEST_SKIPPED and status not in STATEMENT_SKIPPED:
                self.facts.cannot_read(reference, f"{resource['resourceType']} medication", problem)
            return None
        concept = classify(concepts, self.knowledge, forms + route_texts(dosages))
        return concept if concept.relevant else None

    def _medication_request(self, request: Json, reference: str) -> None:
        dosages = objs(request, "dosageInstruction")
        concept = self._concept(request, reference, dosages)
        if concept is None:
            return
        status = self._read_status(request, reference, REQUEST_READ, REQUEST_SKIPPED)
        if status is None:
            return
        if text(request, "intent") in REQUEST_INTENT_SKIPPED or request.get("doNotPerform") is True:
            return
        bounds = [obj(obj(d, "timing"), "repeat") for d in dosages]
        start = (
            next((d for b in bounds if (d := period_start(b, "boundsPeriod"))), None)
            or period_start(obj(request, "dispenseRequest"), "validityPeriod")
            or parse_date(request.get("authoredOn"))
        )
        end = next((d for b in bounds if (d := period_end(b, "boundsPeriod"))), None)
        if end is None and status in ("stopped", "completed"):
            end = period_end(obj(request, "dispenseRequest"), "validityPeriod")
        self._medication(concept, status, start, end, dosages, reference, "MedicationRequest")

    def _medication_statement(self, statement: Json, reference: str) -> None:
        dosages = objs(statement, "dosage")
        concept = self._concept(statement, reference, dosages)
        if concept is None:
            return
        status = self._read_status(statement, reference, STATEMENT_READ, STATEMENT_SKIPPED)
        if status is None:
            return
        start = period_start(statement, "effectivePeriod") or parse_date(statement.get("effectiveDateTime"))
        end = period_end(statement, "effectivePeriod")
        self._medication(concept, status, start, end, dosages, reference, "MedicationStatement")

    def _medication(
        self,
        concept: MedicationConcept,
        status: str,
        start: date | None,
        end: date | None,
        dosages: list[Json],
        reference: str,
        rtype: str,
    ) -> None:
        if concept.ambiguous_drugs:
            self.facts.cannot_read(
                reference,
                f"{rtype} medication",
                f"{concept.name!r} matches several JAK inhibitors ({', '.join(concept.ambiguous_drugs)})",
            )
        if concept.drug is not None:
            drug_code = concept.unverified_code(f"medication.{concept.drug}")
            dose = dose_of(dosages, concept)
            if dose.problem is not None:
                self.facts.cannot_read(reference, f"{rtype} {concept.drug} dose", dose.problem)
            self.facts.therapies.append(
                TherapyEpisode(
                    drug=concept.drug,
                    start=start,
                    end=end,
                    status=status,
                    reference=reference,
                    dose_mg=dose.mg,
                    doses_per_day=dose.per_day,
                    dose_text=dose.text,
                    unverified_code=drug_code,
                )
            )
        for therapy in sorted(concept.therapies):
            code = concept.unverified_code(f"therapy.{therapy}")
            self.facts.prior_therapies.append(PriorTherapy(therapy, start, end, reference, status, code))
        if concept.classes and concept.drug is None and not concept.ambiguous_drugs:
            self.facts.medications.append(
                OtherMedication(
                    name=concept.name or rtype,
                    classes=concept.classes,
                    start=start,
                    end=end,
                    status=status,
                    reference=reference,
                    unverified_classes=concept.unverified_classes(),
                )
            )

    # --- Procedures and immunizations -----------------------------------------------------

    def _procedure(self, procedure: Json, reference: str) -> None:
        code = obj(procedure, "code")
        therapies: dict[str, list[str]] = {}  # therapy -> the unverified codes that recognised it
        verified: set[str] = set()  # therapies a verified code or a name recognised
        for system, value, _ in codings(code):
            for k, entry in self.knowledge.lookup(system, value):
                if k.startswith("therapy."):
                    therapy = k[len("therapy.") :]
                    unverified_codes = therapies.setdefault(therapy, [])
                    if entry.verified:
                        verified.add(therapy)
                    else:
                        unverified_codes.append(code_text(system, value))
        for label in concept_texts(code):
            for k in self.knowledge.lookup_name(label, "therapy."):
                therapies.setdefault(k[len("therapy.") :], [])
                verified.add(k[len("therapy.") :])
        if not therapies:
            return
        status = self._read_status(procedure, reference, PROCEDURE_READ, PROCEDURE_SKIPPED)
        if status is None:
            return
        start = parse_date(procedure.get("performedDateTime")) or period_start(procedure, "performedPeriod")
        end = period_end(procedure, "performedPeriod")
        if end is None and status == "completed":
            end = start
        for therapy in sorted(therapies):
            unverified = None if therapy in verified else ", ".join(dict.fromkeys(therapies[therapy]))
            self.facts.prior_therapies.append(
                PriorTherapy(therapy, start, end, reference, status, unverified)
            )

    def _immunization(self, immunization: Json, reference: str) -> None:
        if self._read_status(immunization, reference, IMMUNIZATION_READ, IMMUNIZATION_SKIPPED) is None:
            return
        vaccine = obj(immunization, "vaccineCode")
        cvx = next(((normalise_cvx(c), d) for s, c, d in codings(vaccine) if s == CVX and c), None)
        if cvx is None:
            label = concept_label(vaccine) or "(no code)"
            self.facts.cannot_read(
                reference, "Immunization vaccine", f"{label!r} has no CVX code: live or not unknown"
            )
            return
        when = parse_date(immunization.get("occurrenceDateTime")) or parse_date(
            immunization.get("occurrenceString")
        )
        if when is None:
            self.facts.cannot_read(reference, "Immunization date", "no occurrenceDateTime")
            return
        live, unverified = live_cvx(cvx[0], self.knowledge)
        self.facts.vaccinations.append(
            Vaccination(
                cvx=cvx[0],
                display=cvx[1] or concept_label(vaccine) or cvx[0],
                when=when,
                live=live,
                reference=reference,
                unverified_code=unverified,
            )
        )


def _unverified(hits: list[tuple[str, CodeEntry, str | None, str]]) -> str | None:
    """None when one of the codings that classified a fact matched a verified entry, else those codes."""
    if not hits or any(entry.verified for _, entry, _, _ in hits):
        return None
    return ", ".join(dict.fromkeys(code_text(system, value) for _, _, system, value in hits))


def _condition_active(condition: Json) -> bool:
    """clinicalStatus active/recurrence/relapse; absent -> active unless an abatement is given.

    An unrecognised clinicalStatus code counts as active (the safer reading for a safety condition).
    """
    codes = {c for _, c, _ in codings(obj(condition, "clinicalStatus")) if c}
    if codes & CONDITION_ACTIVE:
        return True
    if codes & CONDITION_INACTIVE:
        return False
    if codes:
        return True
    return not any(key.startswith("abatement") and condition[key] not in (None, "", {}) for key in condition)


def _name(patient: Json) -> str | None:
    names = objs(patient, "name")
    chosen = next((n for n in names if n.get("use") == "official"), None)
    chosen = chosen or next((n for n in names if n.get("use") == "usual"), None)
    chosen = chosen or (names[0] if names else None)
    if chosen is None:
        return None
    parts = [g.strip() for g in items(chosen, "given") if isinstance(g, str) and g.strip()]
    family = text(chosen, "family")
    if family:
        parts.append(family.strip())
    return " ".join(parts) or text(chosen, "text")


def _identifier(patient: Json) -> str | None:
    identifiers = [i for i in objs(patient, "identifier") if text(i, "value")]
    for identifier in identifiers:
        if any(c == "MR" for _, c, _ in codings(obj(identifier, "type"))):
            return text(identifier, "value")
    return text(identifiers[0], "value") if identifiers else None


def _day(value: date | None) -> date:
    return value or date.min


def _freeze(demographics: Demographics, facts: Facts) -> PatientRecord:
    """Sort every list oldest first (unknown dates first), ties by reference, and freeze."""
    return PatientRecord(
        demographics=demographics,
        diagnoses=tuple(sorted(facts.diagnoses, key=lambda d: (_day(d.onset or d.recorded), d.reference))),
        salt_scores=tuple(sorted(facts.salt_scores, key=lambda s: (s.when, s.reference))),
        therapies=tuple(sorted(facts.therapies, key=lambda t: (_day(t.start), t.reference, t.drug))),
        prior_therapies=tuple(
            sorted(facts.prior_therapies, key=lambda t: (_day(t.start), t.reference, t.therapy))
        ),
        labs=tuple(sorted(facts.labs, key=attrgetter("when", "test", "reference"))),
        qualitative=tuple(sorted(facts.qualitative, key=attrgetter("when", "test", "reference"))),
        vaccinations=tuple(sorted(facts.vaccinations, key=lambda v: (v.when, v.reference))),
        conditions=tuple(sorted(facts.conditions, key=lambda c: (_day(c.onset), c.reference, c.concept))),
        medications=tuple(sorted(facts.medications, key=lambda m: (_day(m.start), m.reference))),
        smoking=tuple(sorted(facts.smoking, key=lambda s: (s.when, s.reference))),
        uninterpretable=tuple(sorted(facts.uninterpretable, key=lambda u: (u.reference, u.what, u.why))),
    )


def build_record(resources: Iterable[dict[str, Any]], knowledge: Knowledge | None = None) -> PatientRecord:
    """The PatientRecord of the FHIR R4 resources given (any order; Bundles are unwrapped).

    `knowledge` defaults to the bundled knowledge file (`load_knowledge()`).
    Never raises on odd data: what cannot be read is listed in `uninterpretable`.
    """
    chosen = knowledge if knowledge is not None else load_knowledge()
    return RecordBuilder(chosen, Resources(resources)).build()
