"""Observations: quantitative labs, qualitative results, CYP2C9, SALT, smoking status.

Statuses: final, amended and corrected are read; entered-in-error, cancelled,
preliminary and registered are left out on purpose; any other status (or none)
is reported as uninterpretable. The date is effectiveDateTime, else
effectivePeriod.start, else effectiveInstant, else issued.

Quantities with a lower bound (">60", ">=90") are read as the bound: every
rule asks whether a value is *below* a threshold, so a lower bound can only
over-report (a false alarm), never hide a low result; ">60" is how many labs
report a normal eGFR. Upper bounds ("<0.5") are reported as uninterpretable:
read as a value they could hide a result below a threshold.

A CYP2C9 genotype without a phenotype is read through the knowledge file's
diplotype mapping (`pharmacogenomics.cyp2c9`, unverified); the result keeps
what it was inferred from so the rules can cite the mapping.
"""

from __future__ import annotations

import math
import re
from datetime import date
from functools import lru_cache

from clinical_core.extract._facts import Facts
from clinical_core.extract._fields import (
    Json,
    codings,
    concept_label,
    concept_texts,
    number,
    obj,
    objs,
    parse_date,
    period_start,
    shown,
    status_of,
    text,
)
from clinical_core.knowledge import CodeEntry, Knowledge
from clinical_core.record import (
    CANONICAL_UNITS,
    QUALITATIVE_TESTS,
    LabResult,
    QualitativeResult,
    SaltScore,
    SmokingStatus,
)
from clinical_core.units import factor

READ_STATUSES = frozenset({"final", "amended", "corrected"})
SKIPPED_STATUSES = frozenset({"entered-in-error", "cancelled", "preliminary", "registered"})

# lab.* value-set suffixes whose test key differs (record.QUALITATIVE_TESTS / CANONICAL_UNITS).
_TEST_OF_SUFFIX = {"cyp2c9": "cyp2c9_phenotype"}
_QUALITATIVE = frozenset(QUALITATIVE_TESTS)
_READ_PREFIXES = ("lab.", "observation.")
_INT_AS_FLOAT = 10**300  # a JSON integer within this bound converts to a finite float
# (value-set key, entry, matched code) of the lab./observation. codings of a concept.
_Hits = tuple[tuple[str, CodeEntry, str], ...]

_NEGATIVE_TEXT = re.compile(
    r"\b(?:negative|neg|not detected|non[- ]?reactive|nonreactive|undetected|not pregnant)\b", re.I
)
_INDETERMINATE_TEXT = re.compile(r"\b(?:indeterminate|equivocal|borderline|inconclusive)\b", re.I)
_POSITIVE_TEXT = re.compile(r"\b(?:positive|pos|detected|reactive|pregnant)\b", re.I)
_METABOLIZER_TEXT = re.compile(r"\b(poor|intermediate|normal|rapid|ultra[- ]?rapid)\s+metaboli[sz]er\b", re.I)
_DIPLOTYPE = re.compile(r"(\*\d+)\s*/\s*(\*\d+)")
# (result, original text, why it cannot be read, what a status was inferred from)
_Cyp2c9 = tuple[str | None, str, str | None, str | None]


class ObservationReader:
    """Reads one Observation at a time into `facts`; lookups are memoised per build."""

    def __init__(self, knowledge: Knowledge, facts: Facts) -> None:
        self.knowledge = knowledge
        self.facts = facts
        self._memo: dict[tuple[str | None, str | None], _Hits] = {}
        self._answer_memo: dict[tuple[str | None, str | None], tuple[str, ...]] = {}
        self._factors: dict[tuple[str, str | None, str | None], float | None] = {}

    def _hits(self, concept: object) -> _Hits:
        """(value-set key, entry, code) of the lab./observation. codings of a concept.

        Hot path (once per Observation): reads the codings inline rather than through
        `codings()`, with the same normalisation (non-string system/code -> None, code stripped).
        """
        if not isinstance(concept, dict):
            return ()
        coding_list = concept.get("coding")
        if not isinstance(coding_list, list):
            return ()
        memo = self._memo
        found: _Hits = ()
        for coding in coding_list:
            if not isinstance(coding, dict):
                continue
            system = coding.get("system")
            code = coding.get("code")
            key = (
                system if isinstance(system, str) else None,
                code.strip() if isinstance(code, str) else None,
            )
            hits = memo.get(key)
            if hits is None:
                matched = key[1] or ""
                hits = tuple(
                    (k, e, matched) for k, e in self.knowledge.lookup(*key) if k.startswith(_READ_PREFIXES)
                )
                memo[key] = hits
            if hits:
                found = found + hits if found else hits
        return found

    def read(self, observation: Json, reference: str) -> None:
        code = observation.get("code")
        hits = self._hits(code)
        component_hits = (
            [(c, self._hits(c.get("code"))) for c in objs(observation, "component")]
            if observation.get("component")
            else []
        )
        has_components = any(h for _, h in component_hits) if component_hits else False
        if not hits and not has_components:
            return  # not an observation the rules read
        status = observation.get("status")
        if status.__class__ is not str or status not in READ_STATUSES:  # the common case skips status_of
            status = status_of(observation)
            if status not in READ_STATUSES:
                if status not in SKIPPED_STATUSES:
                    self.facts.cannot_read(
                        reference,
                        f"Observation {_code_label(hits, code)} status",
                        f"status {status or '(none)'!r} is not read",
                    )
                return
        when = (
            parse_date(observation.get("effectiveDateTime"))
            or period_start(observation, "effectivePeriod")
            or parse_date(observation.get("effectiveInstant"))
            or parse_date(observation.get("issued"))
        )
        if when is None:
            self.facts.cannot_read(
                reference, f"Observation {_code_label(hits, code)} date", "no effective date or issued date"
            )
            return
        done: set[str] = set()
        for key, entry, matched in hits:
            if key == "observation.salt":
                if entry.meaning == "total" and "salt" not in done:
                    done.add("salt")
                    self._salt(observation, component_hits, when, reference)
            elif key == "observation.smoking_status":
                if "smoking" not in done:
                    done.add("smoking")
                    self._smoking(observation, when, reference, matched)
            else:
                test = _test_of(key)
                if test in done:
                    continue
                before = self._count()
                self._value(observation, test, entry, when, reference, matched, optional=has_components)
                if self._count() != before:
                    done.add(test)  # else a component may carry this test (an IGRA panel)
        for component, component_keys in component_hits:
            for key, entry, matched in component_keys:
                if not key.startswith("lab."):
                    continue
                test = _test_of(key)
                if test in done:
                    continue
                done.add(test)
                self._value(component, test, entry, when, reference, f"{matched} (component)", optional=False)

    def _count(self) -> int:
        facts = self.facts
        return len(facts.labs) + len(facts.qualitative) + len(facts.uninterpretable)

    # --- values -------------------------------------------------------------------

    def _value(
        self,
        holder: Json,
        test: str,
        entry: CodeEntry,
        when: date,
        reference: str,
        label: str,
        optional: bool,
    ) -> None:
        if test in CANONICAL_UNITS:
            self._quantity(holder, test, when, reference, label, optional)
        elif test in _QUALITATIVE:
            self._qualitative(holder, test, entry, when, reference, label, optional)
        # panels (lab.cbc_panel, lab.lipid_panel) carry no value of their own

    def _quantity(
        self, holder: Json, test: str, when: date, reference: str, label: str, optional: bool
    ) -> None:
        quantity = obj(holder, "valueQuantity")
        what = f"Observation {label} value"
        if quantity is None:
            if not optional:
                self.facts.cannot_read(reference, what, _why_no_value(holder, "no valueQuantity"))
            return
        raw = quantity.get("value")
        # Hot path: the common shapes inline (same results as number() and text()).
        if raw.__class__ is float:
            value = raw if math.isfinite(raw) else None
        elif raw.__class__ is int and -_INT_AS_FLOAT < raw < _INT_AS_FLOAT:
            value = float(raw)
        else:
            value = number(raw)
        ucum = quantity.get("code")
        if not (isinstance(ucum, str) and ucum.strip()):
            ucum = None
        unit = quantity.get("unit")
        if not (isinstance(unit, str) and unit.strip()):
            unit = None
        shown_unit = unit or ucum or ""
        original = f"{shown(raw)} {shown_unit}".strip()
        if value is None:
            self.facts.cannot_read(reference, what, f"value {shown(raw)!r} is not a finite number")
            return
        comparator = text(quantity, "comparator") if "comparator" in quantity else None
        if comparator in ("<", "<="):
            self.facts.cannot_read(reference, what, f"'{comparator}{original}' is an upper bound")
            return
        if comparator in (">", ">="):
            original = f"{comparator}{original}"
        elif comparator:
            self.facts.cannot_read(reference, what, f"comparator {comparator!r} is not a FHIR comparator")
            return
        if value < 0:
            self.facts.cannot_read(reference, what, f"negative value {original!r}")
            return
        factor_key = (test, ucum, unit)
        if factor_key in self._factors:
            f = self._factors[factor_key]
        else:
            f = self._factors[factor_key] = factor(test, ucum) or factor(test, unit)
        if f is None:
            why = (
                f"unit {shown_unit!r} cannot be converted to {CANONICAL_UNITS[test]}"
                if shown_unit
                else "no unit"
            )
            self.facts.cannot_read(reference, what, why)
            return
        converted = round(value * f, 6)
        if not math.isfinite(converted):
            self.facts.cannot_read(reference, what, f"value {original!r} is out of range")
            return
        interpretation = None
        for concept in objs(holder, "interpretation") if "interpretation" in holder else ():
            for _, code, _ in codings(concept):
                if code:
                    interpretation = code
                    break
            if interpretation:
                break
        self.facts.labs.append(
            LabResult(
                test=test,
                value=converted,
                when=when,
                reference=reference,
                original=original,
                interpretation=interpretation,
            )
        )

    def _qualitative(
        self,
        holder: Json,
        test: str,
        entry: CodeEntry,
        when: date,
        reference: str,
        label: str,
        optional: bool,
    ) -> None:
        what = f"Observation {label} value"
        inferred_from = None
        if test == "cyp2c9_phenotype":
            result, original, why, inferred_from = self._cyp2c9(holder, entry)
        else:
            result, original, why = self._presence(holder, test)
        if result is None:
            if why is None:
                if optional:
                    return
                why = _why_no_value(holder, "no value or interpretation")
            self.facts.cannot_read(reference, what, why)
            return
        self.facts.qualitative.append(
            QualitativeResult(test, result, when, reference, original, inferred_from=inferred_from)
        )

    def _answer_keys(self, concept: object) -> set[str]:
        keys: set[str] = set()
        memo = self._answer_memo
        for system, code, _ in codings(concept):
            found = memo.get((system, code))
            if found is None:
                found = memo[(system, code)] = tuple(
                    key for key, _entry in self.knowledge.lookup(system, code) if key.startswith("answer.")
                )
            keys.update(found)
        return keys

    def _presence(self, holder: Json, test: str) -> tuple[str | None, str, str | None]:
        """positive | negative | indeterminate from the value, else from the interpretation."""
        result, original, why = self._presence_of_value(holder, test)
        if result is None:
            interpreted = self._interpretation(holder)
            if interpreted is not None:
                return interpreted
        return result, original, why

    def _presence_of_value(self, holder: Json, test: str) -> tuple[str | None, str, str | None]:
        concept = obj(holder, "valueCodeableConcept")
        if concept is not None:
            original = concept_label(concept) or ""
            keys = {k[len("answer.") :] for k in self._answer_keys(concept)} & {
                "positive",
                "negative",
                "indeterminate",
            }
            if len(keys) == 1:
                return keys.pop(), original, None
            if len(keys) > 1:
                return None, original, f"coded answer {original!r} is contradictory"
            return _presence_of_texts(concept_texts(concept), original)
        string = text(holder, "valueString")
        if string is not None:
            return _presence_of_texts([string], string)
        boolean = holder.get("valueBoolean")
        if isinstance(boolean, bool):
            return ("positive" if boolean else "negative"), str(boolean).lower(), None
        quantity = obj(holder, "valueQuantity")
        if quantity is not None:
            comparator = text(quantity, "comparator") or ""
            value = number(quantity.get("value"))
            original = f"{comparator}{shown(quantity.get('value'))} {text(quantity, 'unit') or ''}".strip()
            if test == "hbv_dna" and value is not None and value > 0 and not comparator:
                # A quantified viral load means the DNA was detected; a bound ("<10") is not read.
                return "positive", original, None
            return None, original, f"quantitative result {original!r} has no qualitative interpretation"
        return None, "", None

    def _interpretation(self, holder: Json) -> tuple[str | None, str, str | None] | None:
        for concept in objs(holder, "interpretation"):
            keys = {k[len("answer.") :] for k in self._answer_keys(concept)}
            result = keys & {"positive", "negative", "indeterminate"}
            if len(result) == 1:
                return result.pop(), f"interpretation {concept_label(concept)}", None
        return None

    def _cyp2c9(self, holder: Json, entry: CodeEntry) -> _Cyp2c9:
        concept = obj(holder, "valueCodeableConcept")
        texts = concept_texts(concept) if concept is not None else []
        string = text(holder, "valueString")
        if string:
            texts.append(string)
        original = (concept_label(concept) if concept is not None else None) or string or ""
        if entry.meaning == "genotype":
            return self._cyp2c9_genotype(texts, original)
        for system, code, _ in codings(concept):
            for key, answer in self.knowledge.lookup(system, code):
                if key == "answer.metabolizer" and answer.meaning:
                    return answer.meaning, original, None, None
        for line in texts:
            match = _METABOLIZER_TEXT.search(line)
            if match:
                status = match.group(1).lower().replace("-", "").replace(" ", "")
                return status, original, None, None
        if texts:
            return None, original, f"no metabolizer status in {original!r}", None
        return None, original, None, None

    def _cyp2c9_genotype(self, texts: list[str], original: str) -> _Cyp2c9:
        """The status the knowledge file's (unverified) diplotype mapping gives, and from what."""
        for line in texts:
            match = _DIPLOTYPE.search(line)
            if match:
                first, second = match.group(1), match.group(2)
                found = self.knowledge.pharmacogenomics.cyp2c9.phenotype(first, second)
                if found is None:
                    why = f"CYP2C9 diplotype {match.group(0)!r} is not mapped to a phenotype"
                    return None, original, why, None
                phenotype, score = found
                return phenotype, original, None, f"CYP2C9 {first}/{second}, activity score {score:g}"
        if texts:
            return None, original, f"no CYP2C9 diplotype in {original!r}", None
        return None, original, None, None

    # --- SALT and smoking -------------------------------------------------------------

    def _salt(
        self,
        observation: Json,
        component_hits: list[tuple[Json, _Hits]],
        when: date,
        reference: str,
    ) -> None:
        quantity = obj(observation, "valueQuantity")
        value = number(quantity.get("value")) if quantity else None
        span = self.knowledge.salt.range
        if value is None or not span.min <= value <= span.max or (quantity and text(quantity, "comparator")):
            given = shown(quantity.get("value")) if quantity else "none"
            self.facts.cannot_read(
                reference, "SALT score value", f"value {given} is not a score from {span.min} to {span.max}"
            )
            return
        regions: list[tuple[str, float]] = []
        for component, keys in component_hits:
            for key, entry, _ in keys:
                if key != "observation.salt" or entry.meaning in (None, "total", "iga"):
                    continue
                region_value = number((obj(component, "valueQuantity") or {}).get("value"))
                if region_value is None or not 0 <= region_value <= 100:
                    self.facts.cannot_read(
                        reference,
                        f"SALT {entry.meaning} region",
                        "region value is not a percentage from 0 to 100",
                    )
                else:
                    regions.append((entry.meaning, region_value))
                break
        self.facts.salt_scores.append(
            SaltScore(value=value, when=when, reference=reference, regions=tuple(regions))
        )

    def _smoking(self, observation: Json, when: date, reference: str, matched: str) -> None:
        concept = obj(observation, "valueCodeableConcept")
        display = concept_label(concept) or text(observation, "valueString") or ""
        keys = self._answer_keys(concept)
        smoker: bool | None = None
        if "answer.smoker" in keys and "answer.non_smoker" not in keys:
            smoker = True
        elif "answer.non_smoker" in keys and "answer.smoker" not in keys:
            smoker = False
        elif not keys:
            smoker = _smoker_of_text(display)
        if smoker is None:
            self.facts.cannot_read(
                reference, f"Observation {matched} value", f"smoking status {display!r} is not recognised"
            )
            return
        self.facts.smoking.append(
            SmokingStatus(current_or_former=smoker, when=when, reference=reference, display=display)
        )


_NEVER_SMOKED = re.compile(r"\bnever\b|\bnon[- ]?smoker\b", re.I)
_SMOKER = re.compile(r"\b(?:former|ex-?smoker|current|every day|some days?|smoker|smokes)\b", re.I)


def _smoker_of_text(display: str) -> bool | None:
    if not display or re.search(r"\bunknown\b", display, re.I):
        return None
    if _NEVER_SMOKED.search(display):
        return False
    return True if _SMOKER.search(display) else None


def _presence_of_texts(texts: list[str], original: str) -> tuple[str | None, str, str | None]:
    found: set[str] = set()
    for line in texts:
        rest = line
        if _NEGATIVE_TEXT.search(line):
            found.add("negative")
            rest = _NEGATIVE_TEXT.sub(" ", line)
        if _INDETERMINATE_TEXT.search(rest):
            found.add("indeterminate")
        if _POSITIVE_TEXT.search(rest):
            found.add("positive")
    if len(found) == 1:
        return found.pop(), original, None
    if found:
        return None, original, f"result {original!r} is contradictory"
    if texts:
        return None, original, f"result {original!r} is not recognised as positive, negative or indeterminate"
    return None, original, "the coded result has no recognised code and no text"


@lru_cache(maxsize=256)  # keys come from the knowledge file: a bounded set
def _test_of(key: str) -> str:
    suffix = key.split(".", 1)[1]
    return _TEST_OF_SUFFIX.get(suffix, suffix)


def _code_label(hits: _Hits, concept: object) -> str:
    if hits:
        return hits[0][2]
    return concept_label(concept) or "(no code)"


def _why_no_value(holder: Json, default: str) -> str:
    reason = obj(holder, "dataAbsentReason")
    if reason is not None:
        return f"no value (data absent: {concept_label(reason) or 'no reason given'})"
    present = [k for k in holder if k.startswith("value")]
    if present:
        return f"value given as {present[0]}, which is not read for this test"
    return default
