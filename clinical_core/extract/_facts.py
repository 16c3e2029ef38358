"""The mutable collector the extraction fills before freezing it into a PatientRecord."""

from __future__ import annotations

from dataclasses import dataclass, field

from clinical_core.record import (
    ConditionFact,
    Diagnosis,
    LabResult,
    OtherMedication,
    PriorTherapy,
    QualitativeResult,
    SaltScore,
    SmokingStatus,
    TherapyEpisode,
    Uninterpretable,
    Vaccination,
)


@dataclass
class Facts:
    diagnoses: list[Diagnosis] = field(default_factory=list)
    salt_scores: list[SaltScore] = field(default_factory=list)
    therapies: list[TherapyEpisode] = field(default_factory=list)
    prior_therapies: list[PriorTherapy] = field(default_factory=list)
    labs: list[LabResult] = field(default_factory=list)
    qualitative: list[QualitativeResult] = field(default_factory=list)
    vaccinations: list[Vaccination] = field(default_factory=list)
    conditions: list[ConditionFact] = field(default_factory=list)
    medications: list[OtherMedication] = field(default_factory=list)
    smoking: list[SmokingStatus] = field(default_factory=list)
    uninterpretable: list[Uninterpretable] = field(default_factory=list)

    def cannot_read(self, reference: str, what: str, why: str) -> None:
        self.uninterpretable.append(Uninterpretable(reference=reference, what=what, why=why))
