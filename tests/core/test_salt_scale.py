"""AA-IGA grade of a SALT score: the knowledge file's bands, on edges the rules agree with, no rounding."""

from __future__ import annotations

import math

import pytest

from clinical_core.knowledge import load_knowledge
from clinical_core.salt_scale import GradeStart, aa_iga_grade, grade_starts

K = load_knowledge()
BANDS = K.salt.aa_iga.bands
P = K.parameters
TARGET = P.response_target_salt.value
SCALE = [tenths / 10 for tenths in range(1001)]  # every SALT the app saves: 0-100 to one decimal


def grade(salt: float) -> int | None:
    return aa_iga_grade(salt, BANDS, TARGET)


@pytest.mark.parametrize(
    ("salt", "expected"),
    [(0, 0), (0.5, 1), (20, 1), (20.5, 2), (49.9, 2), (50, 3), (94.5, 3), (95, 4), (100, 4)],
)
def test_grade_is_read_from_the_salt_as_it_is_not_rounded(salt: float, expected: int) -> None:
    assert grade(salt) == expected


def test_grade_starts_are_derived_from_the_bands_of_the_knowledge_file() -> None:
    assert grade_starts(BANDS, TARGET) == (
        GradeStart(0, 0, inclusive=True),
        GradeStart(1, 0, inclusive=False),
        GradeStart(2, 20, inclusive=False),
        GradeStart(3, 50, inclusive=True),
        GradeStart(4, 95, inclusive=True),
    )


def test_grade_0_is_no_hair_loss_only() -> None:
    assert [s for s in SCALE if grade(s) == 0] == [0]


def test_grades_0_and_1_are_exactly_the_scores_that_meet_the_response_target() -> None:
    assert all((grade(s) or 0) <= 1 if s <= TARGET else (grade(s) or 0) >= 2 for s in SCALE)


def test_grade_3_or_4_is_exactly_what_the_rules_call_severe() -> None:
    severe = P.severity_threshold_salt.value
    assert all(((grade(s) or 0) >= 3) == (s >= severe) for s in SCALE)


def test_grade_4_is_exactly_what_the_rules_call_near_total_loss() -> None:
    near_total = P.near_total_loss_salt.value
    assert all((grade(s) == 4) == (s >= near_total) for s in SCALE)


@pytest.mark.parametrize("salt", [-0.1, 100.1, math.nan])
def test_a_salt_outside_the_bands_has_no_grade(salt: float) -> None:
    assert grade(salt) is None


def test_without_bands_there_is_no_grade() -> None:
    assert aa_iga_grade(50, (), TARGET) is None
