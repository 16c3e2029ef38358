"""Unit conversion to the canonical units of record.CANONICAL_UNITS."""

from __future__ import annotations

import pytest

from clinical_core.record import CANONICAL_UNITS
from clinical_core.units import UNIT_FACTORS, normalise_unit, to_canonical

CONVERSIONS = [
    # test, value, unit as received, expected value in the canonical unit
    ("alc", 0.4, "10*3/uL", 400.0),
    ("alc", 0.4, "10^3/uL", 400.0),
    ("alc", 0.4, "10*3/mm3", 400.0),
    ("alc", 0.4, "K/uL", 400.0),
    ("alc", 0.4, "x10E3/uL", 400.0),
    ("alc", 0.4, "10*9/L", 400.0),
    ("alc", 0.4, "10^9/L", 400.0),
    ("alc", 0.4, "G/L", 400.0),
    ("alc", 400, "/uL", 400.0),
    ("alc", 400, "/mm3", 400.0),
    ("alc", 400, "cells/uL", 400.0),
    ("alc", 400, "{cells}/uL", 400.0),
    ("alc", 400, "cells/µL", 400.0),
    ("anc", 1.1, "10*3/uL", 1100.0),
    ("platelets", 49, "10*3/uL", 49000.0),
    ("platelets", 150, "10^9/L", 150000.0),
    ("hemoglobin", 13.5, "g/dL", 13.5),
    ("hemoglobin", 135, "g/L", 13.5),
    ("hemoglobin", 8.0, "mmol/L", 12.888),
    ("ldl", 100, "mg/dL", 100.0),
    ("ldl", 2.59, "mmol/L", 100.1553),
    ("hdl", 1.0, "mmol/L", 38.67),
    ("total_cholesterol", 5.0, "mmol/L", 193.35),
    ("triglycerides", 1.7, "mmol/L", 150.569),
    ("triglycerides", 150, "mg/dL", 150.0),
    ("creatinine", 88.4, "umol/L", 1.0),
    ("creatinine", 88.4, "µmol/L", 1.0),
    ("creatinine", 0.9, "mg/dL", 0.9),
    ("alt", 35, "U/L", 35.0),
    ("ast", 35, "IU/L", 35.0),
    ("alt", 0.5, "ukat/L", 30.0),
    ("alt", 0.5, "µkat/L", 30.0),
    ("egfr", 95, "mL/min/{1.73_m2}", 95.0),
    ("egfr", 95, "mL/min/1.73m2", 95.0),
    ("egfr", 95, "mL/min/1.73 m2", 95.0),
    ("hcg_quantitative", 3, "mIU/mL", 3.0),
    ("hcg_quantitative", 3, "IU/L", 3.0),
    ("hcg_quantitative", 3, "U/L", 3.0),
    ("hcg_quantitative", 3, "m[IU]/mL", 3.0),
]


@pytest.mark.parametrize(("test", "value", "unit", "expected"), CONVERSIONS)
def test_unit_is_converted_to_the_canonical_unit(test: str, value: float, unit: str, expected: float) -> None:
    assert to_canonical(test, value, unit) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("test", "unit"),
    [
        ("alc", "cells/hpf"),
        ("alc", "%"),
        ("platelets", "g/dL"),
        ("hemoglobin", "mg/dL"),
        ("ldl", "g/L"),
        ("creatinine", "mmol/L"),
        ("egfr", "mL/min"),
        ("hcg_quantitative", "ng/mL"),
        ("alc", ""),
    ],
)
def test_unknown_unit_is_not_converted(test: str, unit: str) -> None:
    assert to_canonical(test, 1.0, unit) is None


def test_unknown_test_is_not_converted() -> None:
    assert to_canonical("vitamin_d", 30, "ng/mL") is None


def test_every_canonical_test_has_a_unit_table_that_accepts_its_own_canonical_unit() -> None:
    assert set(UNIT_FACTORS) == set(CANONICAL_UNITS)
    for test, unit in CANONICAL_UNITS.items():
        assert to_canonical(test, 1.0, unit) == 1.0, test


def test_normalised_unit_is_lower_case_without_spaces_and_micro_sign() -> None:
    assert normalise_unit(" µmol / L ") == "umol/l"
    assert normalise_unit("μkat/L") == "ukat/l"


def test_conversion_of_an_overflowing_value_gives_none() -> None:
    assert to_canonical("platelets", 1e308, "10*9/L") is None


def test_conversion_at_a_threshold_has_no_floating_point_residue() -> None:
    assert to_canonical("alc", 0.5, "10*3/uL") == 500.0
    assert to_canonical("anc", 1.1, "10*3/uL") == 1100.0
