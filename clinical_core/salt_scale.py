"""The AA-IGA grade of a SALT score, on the knowledge file's bands (`salt.aa_iga`, clinical.md §5.2).

The file states the bands as whole-number SALT ranges (0, 1-20, 21-49, 50-94, 95-100), as they are
published, but SALT is a real number. The grade is read from the score as it is, never rounded,
with the edges between bands placed where the rules read SALT: up to the response target a band
ends at its maximum (SALT <= 20 meets the target, as AA-IGA 0-1 does); above it a band starts at
its minimum (SALT >= 50 is severe, SALT >= 95 is near-total loss, "AA-IGA 4"). So 0.5 is grade 1,
20.5 grade 2, 49.9 grade 2, 94.5 grade 3 and 95 grade 4.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol


class Band(Protocol):
    """One AA-IGA band as the knowledge file states it: SALT `salt_min` to `salt_max`, both included."""

    @property
    def grade(self) -> int: ...

    @property
    def salt_min(self) -> float: ...

    @property
    def salt_max(self) -> float: ...


@dataclass(frozen=True)
class GradeStart:
    """Where a grade starts: at `salt` itself when `inclusive`, else just above it."""

    grade: int
    salt: float
    inclusive: bool

    def reached_by(self, salt: float) -> bool:
        return salt >= self.salt if self.inclusive else salt > self.salt


def grade_starts(bands: Sequence[Band], response_target: float) -> tuple[GradeStart, ...]:
    """Where each grade starts on the real SALT scale, lowest grade first (see the module docstring)."""
    ordered = sorted(bands, key=lambda b: b.salt_min)
    if not ordered:
        return ()
    starts = [GradeStart(ordered[0].grade, ordered[0].salt_min, inclusive=True)]
    for below, band in pairwise(ordered):
        if below.salt_max <= response_target:
            starts.append(GradeStart(band.grade, below.salt_max, inclusive=False))
        else:
            starts.append(GradeStart(band.grade, band.salt_min, inclusive=True))
    return tuple(starts)


def aa_iga_grade(salt: float, bands: Sequence[Band], response_target: float) -> int | None:
    """The AA-IGA grade of `salt`; None when it lies outside the bands (or is not a number)."""
    top = max((b.salt_max for b in bands), default=None)
    if top is None or not salt <= top:
        return None
    reached = [start.grade for start in grade_starts(bands, response_target) if start.reached_by(salt)]
    return reached[-1] if reached else None
