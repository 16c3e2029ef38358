"""FHIR R4 resources -> `PatientRecord`, and draft orders -> `ProposedOrder`s.

The hot path reads plain dicts and checks the type of every field it uses; no
FHIR model validation (shared/reference/performance.md). Anything relevant
that cannot be read becomes an `Uninterpretable` entry, never a silent drop and
never an exception. Irrelevant resources (codes in no value set) are ignored.

Conventions
- Input: any resources in any order; Bundles (also nested, up to 4 levels) are
  unwrapped. Resources of the same type and id are read once (the one with the
  latest `meta.lastUpdated`, else the first). Only Patient, Condition,
  MedicationRequest, MedicationStatement, Medication, Observation, Procedure and
  Immunization are read. A resource whose subject is another Patient than the
  Patient resource given is reported, not read.
- Dates: the calendar date as written (no time-zone shift). Partial dates take
  the first day of their period ("1980" -> 1980-01-01, "1980-05" -> 1980-05-01),
  for birth dates and all other dates alike.
- References: "Type/id"; a contained resource is referred to by its container.
- Order: every tuple oldest first; unknown dates sort first; ties by reference.
- Conditions: verificationStatus entered-in-error or refuted are left out
  (unconfirmed, provisional and differential are read). Active = clinicalStatus
  active, recurrence or relapse; absent clinicalStatus = active unless an
  abatement is given; an unknown status code = active.
- MedicationRequest: status active, on-hold, completed, stopped are read; draft,
  cancelled, entered-in-error, unknown are left out; intent proposal, plan and
  option and `doNotPerform: true` are left out. Start: the dosage timing
  boundsPeriod.start, else dispenseRequest.validityPeriod.start, else authoredOn.
  End: boundsPeriod.end, else (stopped or completed only) validityPeriod.end,
  else None - `status` then tells a stopped episode from a continuing one.
- MedicationStatement: active, completed, stopped, on-hold are read; intended
  (not taken yet), not-taken, unknown and entered-in-error are left out. Start:
  effectivePeriod.start or effectiveDateTime; end: effectivePeriod.end.
- Procedure (conventional therapies only): completed, in-progress, stopped are
  read; a completed procedure without a period ends the day it was performed.
- Immunization: completed only; without a CVX code it is uninterpretable (live
  or not is unknown).
- Observations: see `_observations`.
- Dose: see `_medications.dose_of`. An episode whose dose or frequency cannot be
  read keeps `dose_mg` / `doses_per_day` None and gets an Uninterpretable entry.
- Other medications are kept only when they belong to an interaction class; a
  conventional therapy gives a PriorTherapy (and also an OtherMedication when it
  is in a class too, e.g. cyclosporine).
"""

from __future__ import annotations

from clinical_core.extract._build import build_record as build_record
from clinical_core.extract._build import medication_key as medication_key
from clinical_core.extract._fields import code_text as code_text
from clinical_core.extract._orders import proposed_orders as proposed_orders
