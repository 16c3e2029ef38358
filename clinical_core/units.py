"""Lab units: convert a value to the canonical unit of its test (`record.CANONICAL_UNITS`).

Units are matched after `normalise_unit`: lower case, spaces removed, the micro
signs (µ U+00B5, μ U+03BC) written as `u`. Lower-casing is safe because each
test has its own table: for a cell count `g/l` can only mean giga per litre
(10^9/L), for hemoglobin only grams per litre.

A unit missing from the table is never guessed: `to_canonical` returns None and
the extraction records the result as uninterpretable.

Factors (value in the given unit x factor = value in the canonical unit):
- cells (alc, anc, platelets), canonical cells/mm3 (= cells/uL): per uL or mm3 x1;
  10^3/uL, K/uL, 10^9/L, G/L x1000.
- hemoglobin, canonical g/dL: g/L x0.1; mmol/L (monomer) x1.611.
- cholesterol (total, LDL, HDL), canonical mg/dL: mmol/L x38.67.
- triglycerides, canonical mg/dL: mmol/L x88.57.
- creatinine, canonical mg/dL: umol/L / 88.4.
- ALT, AST, canonical U/L: IU/L x1; ukat/L x60.
- eGFR, canonical mL/min/1.73m2: the UCUM and common printed spellings, x1.
- hCG, canonical mIU/mL: IU/L, mU/mL, U/L x1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

from clinical_core.record import CANONICAL_UNITS


def normalise_unit(unit: str) -> str:
    """The lookup form of a unit: lower case, no spaces, micro sign as `u`."""
    return unit.strip().lower().replace(" ", "").replace("\u00b5", "u").replace("\u03bc", "u")


_PER_UL = (
    "/ul", "/mm3", "/mm^3", "/cumm", "cells/ul", "cells/mm3", "{cells}/ul", "{cells}/mm3", "#/ul", "{#}/ul",
)  # fmt: skip
_THOUSANDS_PER_UL = (
    "10*3/ul", "10^3/ul", "10e3/ul", "x10e3/ul", "x10^3/ul", "x10*3/ul", "10*3/mm3", "10^3/mm3",
    "k/ul", "k/mm3", "thou/ul", "thou/mm3", "10*3{cells}/ul", "10*3cells/ul",
    "10*9/l", "10^9/l", "10e9/l", "x10e9/l", "x10^9/l", "x10*9/l", "g/l", "giga/l",
)  # fmt: skip
_CELLS: dict[str, float] = {**dict.fromkeys(_PER_UL, 1.0), **dict.fromkeys(_THOUSANDS_PER_UL, 1000.0)}

_CHOLESTEROL: dict[str, float] = {"mg/dl": 1.0, "mmol/l": 38.67}
_ENZYME: dict[str, float] = {"u/l": 1.0, "iu/l": 1.0, "[iu]/l": 1.0, "units/l": 1.0, "ukat/l": 60.0}
_EGFR_SPELLINGS = (
    "ml/min/{1.73_m2}", "ml/min/1.73_m2", "ml/min/{1.73m2}", "ml/min/1.73m2", "ml/min/1.73m^2",
    "ml/min/1.73sqm", "ml/min/1.73sq.m", "ml/min/1.73sq.m.", "ml/min/1.73m*2", "ml/min/1.73m²",
    "ml/min/{1.73m^2}",
)  # fmt: skip
_HCG: dict[str, float] = {
    "miu/ml": 1.0, "m[iu]/ml": 1.0, "mu/ml": 1.0, "iu/l": 1.0, "[iu]/l": 1.0, "u/l": 1.0,
}  # fmt: skip

UNIT_FACTORS: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "alc": _CELLS,
        "anc": _CELLS,
        "platelets": _CELLS,
        "hemoglobin": {"g/dl": 1.0, "g/l": 0.1, "mmol/l": 1.611},
        "alt": _ENZYME,
        "ast": _ENZYME,
        "ldl": _CHOLESTEROL,
        "total_cholesterol": _CHOLESTEROL,
        "hdl": _CHOLESTEROL,
        "triglycerides": {"mg/dl": 1.0, "mmol/l": 88.57},
        "egfr": dict.fromkeys(_EGFR_SPELLINGS, 1.0),
        "creatinine": {"mg/dl": 1.0, "umol/l": 1 / 88.4, "micromol/l": 1 / 88.4},
        "hcg_quantitative": _HCG,
    }
)

if set(UNIT_FACTORS) != set(CANONICAL_UNITS):  # pragma: no cover - a contract check at import
    raise RuntimeError("units.UNIT_FACTORS must cover exactly record.CANONICAL_UNITS")


def factor(test: str, unit: str | None) -> float | None:
    """The factor taking `unit` to the canonical unit of `test`, or None if unknown."""
    if not unit:
        return None
    table = UNIT_FACTORS.get(test)
    if table is None:
        return None
    found = table.get(unit)  # the common case: already in lookup form ("mg/dl" is not, "U/L" is not)
    if found is None:
        found = table.get(normalise_unit(unit))
    return found


def to_canonical(test: str, value: float, unit: str | None) -> float | None:
    """`value` in `unit` expressed in `CANONICAL_UNITS[test]` (rounded to 6 decimals), or None.

    None when the test or unit is unknown or the result is not a finite number.
    """
    f = factor(test, unit)
    if f is None:
        return None
    try:
        converted = round(float(value) * f, 6)
    except (OverflowError, ValueError, TypeError):
        return None
    return converted if math.isfinite(converted) else None


__all__ = ["UNIT_FACTORS", "factor", "normalise_unit", "to_canonical"]
