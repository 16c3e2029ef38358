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

Code verification (`verified`, `unverified_code` on each result): a result is
verified when at least one coding of its Observation (or component) matched a
verified entry of the value set that classified it. A qualitative result read
from a coded answer (valueCodeableConcept, or an interpretation when there is no
value) also needs that answer to rest on a verified `answer.*` entry, or on the
concept's own `text` giving the same answer; a coding's `display` does not count,
since it only names the unverified code. Answers read from text alone (valueString,
or a concept whose codes are in no value set), from valueBoolean or from a viral
load do not depend on an answer code. Panel codes (lab.cbc_panel, lab.lipid_panel)
classify no result: components are classified by their own codes.
"""

from __future__ import annotations

import math
import re
from datetime import date
from functools import lru_cache

from clinical_core.extract._facts import Facts
from clinical_core.extract._fields import (
    Json,
    code_text,
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
_PRESENCE = frozenset({"positive", "negative", "indeterminate"})

_NEGATIVE_TEXT = re.compile(
    r"\b(?:negative|neg|not detected|non[- ]?reactive|nonreactive|undetected|not pregnant)\b", re.I
)
_INDETERMINATE_TEXT = re.compile(r"\b(?:indeterminate|equivocal|borderline|inconclusive)\b", re.I)
_POSITIVE_TEXT = re.compile(r"\b(?:positive|pos|detected|reactive|pregnant)\b", re.I)
_METABOLIZER_TEXT = re.compile(r"\b(poor|intermediate|normal|rapid|ultra[- ]?rapid)\s+metaboli[sz]er\b", re.I)
_DIPLOTYPE = re.compile(r"(\*\d+)\s*/\s*(\*\d+)")
# Gene symbols a result's text names: a CYP ("CYP2C9 poor metabolizer"), or any symbol written
# before a star allele ("TPMT *1/*3A", "HLA-B*57:01").
# Symbols are upper case, so "Genotype *1/*3" names none.
_GENE_SYMBOL = re.compile(r"(?i:\bCYP\d+[A-Z]+\d*\b)|\b[A-Z][A-Z0-9]{1,9}(?:-[A-Z0-9]{1,3})?(?=\s*\*\s*\d)")
# (result, original text, why it cannot be read, the unverified answer code it rests on)
_Presence = tuple[str | None, str, str | None, str | None]
# (result, original text, why it cannot be read, what a status was inferred from, unverified answer code)
_Cyp2c9 = tuple[str | None, str, str | None, str | None, str | None]


class ObservationReader:
    """Reads one Observation at a time into `facts`; lookups are memoised per build."""

    def __init__(self, knowledge: Knowledge, facts: Facts) -> None:
        self.knowledge = knowledge
        self.facts = facts
        self._memo: dict[tuple[str | None, str | None], _Hits] = {}
        # (system, code) -> (answer.* key, entry verified, code as shown) of each matching entry
        self._answer_memo: dict[tuple[str | None, str | None], tuple[tuple[str, bool, str], ...]] = {}
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
                if test in done or (entry.gene and not self._states_gene(observation, entry.gene, reference)):
                    continue
                before = self._count()
                unverified = None if entry.verified else _unverified(hits, key)
                self._value(observation, test, entry, when, reference, matched, has_components, unverified)
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
                unverified = None if entry.verified else _unverified(component_keys, key)
                label = f"{matched} (component)"
                self._value(component, test, entry, when, reference, label, False, unverified)

    def _states_gene(self, observation: Json, gene: str, reference: str) -> bool:
        """Whether an Observation coded with a gene-agnostic code is about `gene` (a `gene.*` value set).

        The gene is stated by a component's coded value (the Genomics Reporting IG's gene-studied
        component) or named in the result's text ("CYP2C9 *1/*3"). A result about another gene is
        not this test's and is skipped; one that names no gene, or two, cannot be read as this test.
        """
        stated = self._genes_stated(observation, gene)
        if stated == {"this"}:
            return True
        if "this" not in stated and stated:
            return False
        symbols = ", ".join(e.display for e in self.knowledge.value_sets[gene].codes)
        why = (
            "it names another gene as well"
            if stated
            else "the code names no gene, and neither a gene-studied component nor the result names one"
        )
        self.facts.cannot_read(reference, f"Observation gene ({symbols})", why)
        return False

    def _genes_stated(self, observation: Json, gene: str) -> set[str]:
        """ "this" and/or "other": the genes an Observation's components and value texts name."""
        symbols = {e.display.upper() for e in self.knowledge.value_sets[gene].codes}
        hgnc = self.knowledge.systems.get("hgnc")
        stated: set[str] = set()
        for component in objs(observation, "component"):
            value = obj(component, "valueCodeableConcept")
            for system, code, _ in codings(value):
                if any(key == gene for key, _ in self.knowledge.lookup(system, code)):
                    stated.add("this")
                elif system is not None and system == hgnc:
                    stated.add("other")
            label = text(value, "text") if value is not None else None
            if label and label.strip().upper() in symbols:
                stated.add("this")
        value = obj(observation, "valueCodeableConcept")
        texts = [*(concept_texts(value) if value is not None else []), text(observation, "valueString") or ""]
        for found in (m.group(0).upper() for line in texts for m in _GENE_SYMBOL.finditer(line)):
            stated.add("this" if found in symbols else "other")
        return stated

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
        unverified: str | None,
    ) -> None:
        """`unverified`: the test's code when no verified entry of its value set matched."""
        if test in CANONICAL_UNITS:
            self._quantity(holder, test, when, reference, label, optional, unverified)
        elif test in _QUALITATIVE:
            self._qualitative(holder, test, entry, when, reference, label, optional, unverified)
        # panels (lab.cbc_panel, lab.lipid_panel) carry no value of their own

    def _quantity(
        self,
        holder: Json,
        test: str,
        when: date,
        reference: str,
        label: str,
        optional: bool,
        unverified: str | None,
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
                unverified_code=unverified,
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
        unverified: str | None,
    ) -> None:
        what = f"Observation {label} value"
        inferred_from = None
        if test == "cyp2c9_phenotype":
            result, original, why, inferred_from, answer_code = self._cyp2c9(holder, entry)
        else:
            result, original, why, answer_code = self._presence(holder, test)
        if result is None:
            if why is None:
                if optional:
                    return
                why = _why_no_value(holder, "no value or interpretation")
            self.facts.cannot_read(reference, what, why)
            return
        codes = ", ".join(c for c in (unverified, answer_code) if c) or None
        self.facts.qualitative.append(
            QualitativeResult(
                test,
                result,
                when,
                reference,
                original,
                inferred_from=inferred_from,
                unverified_code=codes,
            )
        )

    def _answers(self, concept: object) -> dict[str, str | None]:
        """answer.* key -> None when a verified entry gave it, else the (unverified) code that did."""
        found: dict[str, str | None] = {}
        memo = self._answer_memo
        for system, code, _ in codings(concept):
            hits = memo.get((system, code))
            if hits is None:
                hits = memo[(system, code)] = tuple(
                    (key, entry.verified, code_text(system, code))
                    for key, entry in self.knowledge.lookup(system, code)
                    if key.startswith("answer.")
                )
            for key, verified, shown_code in hits:
                if verified or key not in found:
                    found[key] = None if verified else shown_code
        return found

    def _presence(self, holder: Json, test: str) -> _Presence:
        """positive | negative | indeterminate from the value, else from the interpretation."""
        result, original, why, unverified = self._presence_of_value(holder, test)
        if result is None:
            interpreted = self._interpretation(holder)
            if interpreted is not None:
                return interpreted
        return result, original, why, unverified

    def _presence_of_value(self, holder: Json, test: str) -> _Presence:
        concept = obj(holder, "valueCodeableConcept")
        if concept is not None:
            original = concept_label(concept) or ""
            answers = self._answers(concept)
            keys = {k[len("answer.") :] for k in answers} & _PRESENCE
            if len(keys) == 1:
                result = keys.pop()
                return result, original, None, _answer_code(answers, result, concept)
            if len(keys) > 1:
                return None, original, f"coded answer {original!r} is contradictory", None
            return (*_presence_of_texts(concept_texts(concept), original), None)
        string = text(holder, "valueString")
        if string is not None:
            return (*_presence_of_texts([string], string), None)
        boolean = holder.get("valueBoolean")
        if isinstance(boolean, bool):
            return ("positive" if boolean else "negative"), str(boolean).lower(), None, None
        quantity = obj(holder, "valueQuantity")
        if quantity is not None:
            comparator = text(quantity, "comparator") or ""
            value = number(quantity.get("value"))
            original = f"{comparator}{shown(quantity.get('value'))} {text(quantity, 'unit') or ''}".strip()
            if test == "hbv_dna" and value is not None and value > 0 and not comparator:
                # A quantified viral load means the DNA was detected.
                return "positive", original, None, None
            if test == "hbv_dna" and value is not None and comparator in ("<", "<="):
                # Below the limit of quantification: "not detected" or "detected, not quantifiable"
                # depending on the assay, so neither; it still counts as measured.
                return "indeterminate", original, None, None
            why = f"quantitative result {original!r} has no qualitative interpretation"
            return None, original, why, None
        return None, "", None, None

    def _interpretation(self, holder: Json) -> _Presence | None:
        for concept in objs(holder, "interpretation"):
            answers = self._answers(concept)
            found = {k[len("answer.") :] for k in answers} & _PRESENCE
            if len(found) == 1:
                result = found.pop()
                original = f"interpretation {concept_label(concept)}"
                return result, original, None, _answer_code(answers, result, concept)
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
                    unverified = None if answer.verified else code_text(system, code)
                    return answer.meaning, original, None, None, unverified
        for line in texts:
            match = _METABOLIZER_TEXT.search(line)
            if match:
                status = match.group(1).lower().replace("-", "").replace(" ", "")
                return status, original, None, None, None
        if texts:
            return None, original, f"no metabolizer status in {original!r}", None, None
        return None, original, None, None, None

    def _cyp2c9_genotype(self, texts: list[str], original: str) -> _Cyp2c9:
        """The status the knowledge file's (unverified) diplotype mapping gives, and from what."""
        for line in texts:
            match = _DIPLOTYPE.search(line)
            if match:
                first, second = match.group(1), match.group(2)
                found = self.knowledge.pharmacogenomics.cyp2c9.phenotype(first, second)
                if found is None:
                    why = f"CYP2C9 diplotype {match.group(0)!r} is not mapped to a phenotype"
                    return None, original, why, None, None
                phenotype, score = found
                inferred = f"CYP2C9 {first}/{second}, activity score {score:g}"
                return phenotype, original, None, inferred, None
        if texts:
            return None, original, f"no CYP2C9 diplotype in {original!r}", None, None
        return None, original, None, None, None

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
        answers = self._answers(concept)
        smoker: bool | None = None
        if "answer.smoker" in answers and "answer.non_smoker" not in answers:
            smoker = True
        elif "answer.non_smoker" in answers and "answer.smoker" not in answers:
            smoker = False
        elif not answers:
            smoker = _smoker_of_text(display)
        if smoker is None:
            self.facts.cannot_read(
                reference, f"Observation {matched} value", f"smoking status {display!r} is not recognised"
            )
            return
        # As for results: a coded answer needs a verified entry, or the concept's own text saying the same.
        unverified = answers.get("answer.smoker" if smoker else "answer.non_smoker")
        own_text = text(concept, "text")
        if unverified is not None and own_text is not None and _smoker_of_text(own_text) is smoker:
            unverified = None
        self.facts.smoking.append(
            SmokingStatus(
                current_or_former=smoker,
                when=when,
                reference=reference,
                display=display,
                unverified_code=unverified,
            )
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


def _unverified(hits: _Hits, key: str) -> str | None:
    """None when a coding matched a verified entry of value set `key`, else the codes that matched it."""
    if any(entry.verified for k, entry, _ in hits if k == key):
        return None
    return ", ".join(dict.fromkeys(code_text(entry.system, code) for k, entry, code in hits if k == key))


def _answer_code(answers: dict[str, str | None], result: str, concept: Json) -> str | None:
    """The unverified answer code a result rests on: None when a verified entry gave the result, or
    when the concept's own text says the same (a coding's display only names the code)."""
    code = answers.get(f"answer.{result}")
    if code is None:
        return None
    own_text = text(concept, "text")
    if own_text is not None and _presence_of_texts([own_text], own_text)[0] == result:
        return None
    return code


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
