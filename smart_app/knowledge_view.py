"""Read-only accessors over the knowledge file for what the app displays.

The app holds no clinical data: SALT codes and weights, AA-IGA bands, the
response target and drug thresholds all come from the knowledge file. Where the
file does not (yet) provide a fact, the accessor returns None and the page says
so, instead of the app guessing a value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from clinical_core.salt_scale import aa_iga_grade, grade_starts

SALT_VALUE_SET = "observation.salt"
REGIONS = ("vertex", "posterior", "right", "left")  # `meaning` of the region codes in the value set


def _get(obj: Any, *path: str) -> Any:
    for name in path:
        if obj is None:
            return None
        obj = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    return obj


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str


@dataclass(frozen=True)
class IgaBand:
    """One AA-IGA band of the knowledge file: SALT `salt_min` to `salt_max` (whole numbers, both included)."""

    grade: int
    label: str
    salt_min: float
    salt_max: float


@dataclass(frozen=True)
class SaltModel:
    """What the calculator needs: codes, region weights (fractions), AA-IGA bands and the response target."""

    total: Code
    regions: tuple[tuple[str, Code, float], ...]  # (meaning, code, weight as a fraction)
    iga_code: Code | None
    iga_bands: tuple[IgaBand, ...]
    response_target: float  # where the AA-IGA band edges switch side (clinical_core.salt_scale)
    unit: dict[str, str]

    def score(self, losses: dict[str, float]) -> float:
        total = sum(losses[m] * w for m, _, w in self.regions)
        return round_half_up(total * 10) / 10

    def iga(self, salt: float) -> tuple[int, str] | None:
        """The AA-IGA grade and label of a SALT score, as the clinical core grades it (no rounding)."""
        grade = aa_iga_grade(salt, self.iga_bands, self.response_target)
        labels = {b.grade: b.label for b in self.iga_bands}
        return None if grade is None else (grade, labels[grade])

    def as_json(self) -> dict[str, Any]:
        """For the preview (static/salt.js): the weights, and where each grade starts, from the core."""
        labels = {b.grade: b.label for b in self.iga_bands}
        starts = grade_starts(self.iga_bands, self.response_target)
        return {
            "weights": {m: w for m, _, w in self.regions},
            "salt_max": max(b.salt_max for b in self.iga_bands) if self.iga_bands else None,
            "grades": [
                {"grade": s.grade, "label": labels[s.grade], "from": s.salt, "inclusive": s.inclusive}
                for s in starts
            ],
        }


def round_half_up(value: float) -> int:
    """`value` to the nearest whole number, halves up: JavaScript's Math.round, not Python's round().

    Must agree with the preview in static/salt.js, which rounds the same numbers with Math.round:
    otherwise the SALT saved differs from the one shown (Python rounds 0.5 to 0, JS to 1).
    `value - floor` is exact for these magnitudes, so halves are recognised without `+ 0.5` error.
    """
    whole = math.floor(value)
    return whole + 1 if value - whole >= 0.5 else whole


def _codes(knowledge: Any, key: str) -> list[Any]:
    value_sets = _get(knowledge, "value_sets") or {}
    vs = value_sets.get(key) if isinstance(value_sets, dict) else None
    return list(_get(vs, "codes") or ())


def _code(entry: Any) -> Code:
    return Code(str(_get(entry, "system")), str(_get(entry, "code")), str(_get(entry, "display") or ""))


def salt_codes(knowledge: Any) -> dict[str, Code]:
    """`meaning` -> code for the SALT value set (total, vertex, posterior, right, left, iga)."""
    return {
        str(_get(e, "meaning")): _code(e) for e in _codes(knowledge, SALT_VALUE_SET) if _get(e, "meaning")
    }


def salt_model(knowledge: Any) -> SaltModel | None:
    """None unless the knowledge file has the SALT codes, region weights and AA-IGA bands (`salt:`),
    and the response target that places the AA-IGA band edges."""
    section = _get(knowledge, "salt")
    by_code = {c.code: c for c in salt_codes(knowledge).values()}
    total = salt_codes(knowledge).get("total")
    items = _get(section, "regions", "items") or ()
    regions = []
    for item in items:
        code = by_code.get(str(_get(item, "code")))
        if code is None:
            return None
        regions.append((str(_get(item, "key")), code, float(_get(item, "weight")) / 100))
    if total is None or sorted(m for m, _, _ in regions) != sorted(REGIONS):
        return None
    regions.sort(key=lambda r: REGIONS.index(r[0]))
    bands = tuple(
        IgaBand(
            int(_get(b, "grade")),
            str(_get(b, "label")),
            float(_get(b, "salt_min")),
            float(_get(b, "salt_max")),
        )
        for b in _get(section, "aa_iga", "bands") or ()
    )
    target = response_target(knowledge)
    if target is None:
        return None
    unit = str(_get(section, "unit") or "%")
    return SaltModel(
        total=total,
        regions=tuple(regions),
        iga_code=by_code.get(str(_get(section, "aa_iga", "code"))),
        iga_bands=bands,
        response_target=target,
        unit={"unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    )


def parameter(knowledge: Any, name: str) -> Any:
    return _get(knowledge, "parameters", name)


def response_target(knowledge: Any) -> float | None:
    param = parameter(knowledge, "response_target_salt")
    value = _get(param, "value") if not isinstance(param, int | float) else param
    return float(value) if isinstance(value, int | float) else None


def lab_codes(knowledge: Any) -> list[tuple[str, str]]:
    """Every observation code the rules read (`knowledge.lab_codes()`, else lab./observation. sets)."""
    fn = getattr(knowledge, "lab_codes", None)
    if callable(fn):
        return [(str(s), str(c)) for s, c in fn()]
    out: list[tuple[str, str]] = []
    value_sets = _get(knowledge, "value_sets") or {}
    for key in value_sets:
        if key.startswith(("lab.", "observation.")):
            for e in _codes(knowledge, key):
                if _get(e, "match") in (None, "exact"):
                    out.append((str(_get(e, "system")), str(_get(e, "code"))))
    return list(dict.fromkeys(out))


def drug_label(knowledge: Any, drug: str | None) -> str | None:
    if not drug:
        return None
    return drug_display(knowledge, drug)


def drug_display(knowledge: Any, drug: str) -> str:
    """The drug's display name from the knowledge file, else its key."""
    return str(_get(knowledge, "drugs", drug, "display") or drug)


def candidate_agents(knowledge: Any) -> list[str]:
    """The agents eligibility is judged against before a drug is chosen (`parameters.candidate_agents`)."""
    return list(_get(knowledge, "parameters", "candidate_agents", "value") or [])


def drug_thresholds(knowledge: Any, drug: str | None, test: str) -> list[tuple[str, float]]:
    """(label, value in canonical units) lines for one lab and one drug (`drugs.<drug>.thresholds.<test>`).

    Equal values are merged into one line ("do not start below / interrupt below").
    """
    entry = _get(knowledge, "drugs", drug, "thresholds", test) if drug else None
    if entry is None:
        return []
    fields = entry.model_dump() if hasattr(entry, "model_dump") else dict(entry)
    by_value: dict[float, list[str]] = {}
    for name, value in fields.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            by_value.setdefault(float(value), []).append(name.replace("_", " "))
    return [(" / ".join(names), value) for value, names in by_value.items()]


@dataclass(frozen=True)
class EducationItem:
    title: str
    text: str
    citations: tuple[tuple[str, str | None], ...]  # (label, url)
    verified: bool = True


def _citations(knowledge: Any, ids: Any) -> tuple[tuple[str, str | None], ...]:
    return tuple(dict.fromkeys(citation_label(knowledge, str(i)) for i in ids or ()))


def _item(knowledge: Any, item: Any, title: str | None = None, text: str | None = None) -> EducationItem:
    return EducationItem(
        title=title or str(_get(item, "title") or _get(item, "name") or ""),
        text=text if text is not None else str(_get(item, "text") or ""),
        citations=_citations(knowledge, _get(item, "sources")),
        verified=_get(item, "verified") is not False,
    )


def education(knowledge: Any) -> dict[str, Any] | None:
    """Therapy-options panel: JAK inhibitors with their trials, conventional therapies, guidance, caveat."""
    edu = _get(knowledge, "education")
    if edu is None:
        return None
    drugs = _get(knowledge, "drugs") or {}
    jak = []
    for key in drugs:
        drug = drugs[key]
        trials = _get(drug, "trials") or ()
        approval = _get(drug, "fda_aa_approval")
        status = (
            "off-label for alopecia areata" if _get(drug, "off_label") else "FDA-approved for alopecia areata"
        )
        name = f"{_get(drug, 'display') or key} ({_get(drug, 'brand') or ''})"
        title = f"{name}, {_get(drug, 'mechanism') or ''}: {status}"
        text = " ".join(f"{_get(t, 'name')}: {_get(t, 'text')}" for t in trials)
        ids = [i for t in trials for i in (_get(t, "sources") or ())] + list(_get(approval, "sources") or ())
        verified = all(_get(t, "verified") is not False for t in trials)
        jak.append(EducationItem(title, text, _citations(knowledge, ids), verified))
    durability = _get(edu, "durability")
    return {
        "durability": _item(knowledge, durability) if durability is not None else None,
        "jak": jak,
        "conventional": [_item(knowledge, i) for i in _get(edu, "conventional_comparison") or ()],
        "guidance": [_item(knowledge, i) for i in _get(edu, "guidance") or ()],
    }


def citation_label(knowledge: Any, source_id: str) -> tuple[str, str | None]:
    src = _get(knowledge, "sources", source_id)
    if src is None:
        return source_id, None
    return str(_get(src, "label") or _get(src, "title") or source_id), _get(src, "url")
