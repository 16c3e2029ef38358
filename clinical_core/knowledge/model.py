"""Pydantic schema of the knowledge file and the code indexes built from it."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import combinations_with_replacement
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    StringConstraints,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from clinical_core.findings import Citation, Coding
from clinical_core.record import CANONICAL_UNITS, METABOLIZER_STATUSES, QUALITATIVE_TESTS

DEFAULT_PATH = Path(__file__).with_name("protocol.yaml")

THRESHOLD_LABS = ("alc", "anc", "hemoglobin", "platelets")
MEDICATION_CLASS = "medication_class."
RECORD_TESTS = frozenset(CANONICAL_UNITS) | frozenset(QUALITATIVE_TESTS)


class KnowledgeError(ValueError):
    """The knowledge file is invalid; the message names the file and the bad key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodeEntry(_Strict):
    system: str  # an alias of `systems:` in the file; resolved to the URI on load
    code: str
    display: str
    verified: bool = False
    sources: tuple[str, ...] = ()
    match: Literal["exact", "prefix"] = "exact"
    meaning: str | None = None
    strength_mg: float | None = None
    # A code that names no gene (a generic genotype or drug-metabolism code): its Observation counts
    # only when it states this `gene.*` value set's gene.
    gene: str | None = None
    note: str | None = None


class NameEntry(_Strict):
    """A `medication_class.*` member by name. Unlike a product's own name, class membership is a
    clinical fact: `verified` says whether the sources confirm this drug is in the class."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    verified: bool
    sources: tuple[str, ...] = ()
    note: str | None = None

    @model_validator(mode="after")
    def _verified_is_cited(self) -> NameEntry:
        if self.verified and not self.sources:
            raise ValueError(f"name {self.name!r} is verified but cites no sources")
        return self


def _name_kind(value: object) -> str:
    return "bare" if isinstance(value, str) else "entry"


# A bare string is the product's own ingredient or brand name (the release rule's fallback for
# unverified codes); a `NameEntry` is a class member with its own verification. Told apart up front,
# so an error in an entry is reported as that, not also as "not a string".
NameItem = Annotated[
    Annotated[str, Tag("bare")] | Annotated[NameEntry, Tag("entry")], Discriminator(_name_kind)
]


class ValueSet(_Strict):
    description: str
    codes: tuple[CodeEntry, ...] = ()
    names: tuple[NameItem, ...] = ()
    exclude_names: tuple[str, ...] = ()

    def system_codes(self) -> list[tuple[str, str]]:
        return [(c.system, c.code) for c in self.codes]

    def name_words(self) -> tuple[str, ...]:
        return tuple(n if isinstance(n, str) else n.name for n in self.names)

    def unverified_names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.names if isinstance(n, NameEntry) and not n.verified)


# --- Cited facts ------------------------------------------------------------------


class Source(_Strict):
    label: str
    url: str | None = None


class Fact(_Strict):
    """Anything the rules use: where it comes from and whether it is confirmed there."""

    sources: tuple[str, ...]
    verified: bool
    note: str | None = None


class TextFact(Fact):
    text: str


class FlagFact(Fact):
    value: bool
    text: str | None = None


class Approval(Fact):
    approved: bool
    date: str | None = None


class AgeFact(Fact):
    value: int


class Dose(Fact):
    dose_mg: float
    doses_per_day: int
    text: str


class Doses(_Strict):
    start: Dose
    near_total_start: Dose | None = None
    escalation: Dose | None = None
    step_down: Dose | None = None


class LabThreshold(Fact):
    """One drug's own numbers for one lab, in `CANONICAL_UNITS`."""

    unit: str
    do_not_start_below: float | None = None
    interrupt_below: float | None = None
    resume_at_or_above: float | None = None
    discontinue_below: float | None = None


class DoseChange(_Strict):
    from_mg: float
    to_mg: float


class RenalBand(Fact):
    """eGFR band [egfr_at_least, egfr_below) in mL/min/1.73m2 and what to do in it."""

    egfr_at_least: float | None = None
    egfr_below: float | None = None
    action: Literal["no_change", "dose_reduction", "not_recommended"]
    reduce: tuple[DoseChange, ...] = ()

    def contains(self, egfr: float) -> bool:
        low_ok = self.egfr_at_least is None or egfr >= self.egfr_at_least
        high_ok = self.egfr_below is None or egfr < self.egfr_below
        return low_ok and high_ok


class Renal(_Strict):
    bands: tuple[RenalBand, ...] = ()
    esrd_not_recommended: FlagFact | None = None


class Interaction(Fact):
    drug_class: str  # key of a `medication_class.<key>` value set
    effect: Literal["dose_reduction", "not_recommended", "contraindicated", "monitor"]
    text: str
    reduce: tuple[DoseChange, ...] = ()


class Combination(Fact):
    other_jak: bool
    classes: tuple[str, ...]  # `medication_class.<key>` value sets
    text: str


class Hepatitis(Fact):
    not_recommended_in: tuple[Literal["hepatitis_b", "hepatitis_c"], ...] = ()
    hbv_dna_monitoring: bool = False
    text: str


class Trial(Fact):
    name: str
    text: str


class Drug(_Strict):
    display: str
    brand: str
    value_set: str
    mechanism: str
    off_label: bool
    fda_aa_approval: Approval
    min_age: AgeFact | None = None
    doses: Doses
    thresholds: dict[str, LabThreshold] = {}
    no_threshold_note: TextFact | None = None
    renal: Renal | None = None
    hepatic: FlagFact | None = None
    interactions: tuple[Interaction, ...] = ()
    perpetrator_note: TextFact | None = None
    combination_not_recommended: Combination
    hepatitis: Hepatitis | None = None
    cyp2c9_genotype_required: FlagFact | None = None
    infection: TextFact | None = None
    tb: TextFact | None = None
    pregnancy: TextFact | None = None
    lactation: TextFact | None = None
    live_vaccines: TextFact
    boxed_warning: TextFact
    interruption_note: TextFact | None = None
    trials: tuple[Trial, ...] = ()

    @model_validator(mode="after")
    def _threshold_labs(self) -> Drug:
        for lab in self.thresholds:
            if lab not in THRESHOLD_LABS:
                raise ValueError(
                    f"thresholds.{lab}: unknown lab (expected one of {', '.join(THRESHOLD_LABS)})"
                )
        return self

    def labelled_doses(self) -> frozenset[tuple[float, int]]:
        """(dose_mg, doses_per_day) pairs the label allows, incl. renal and interaction reductions."""
        doses = [
            d
            for d in (
                self.doses.start,
                self.doses.near_total_start,
                self.doses.escalation,
                self.doses.step_down,
            )
            if d is not None
        ]
        pairs = {(d.dose_mg, d.doses_per_day) for d in doses}
        per_day = self.doses.start.doses_per_day
        reductions = [c for band in (self.renal.bands if self.renal else ()) for c in band.reduce]
        reductions += [c for i in self.interactions for c in i.reduce]
        pairs |= {(c.to_mg, per_day) for c in reductions}
        return frozenset(pairs)


# --- Parameters -------------------------------------------------------------------


class _Param(Fact):
    unit: str | None = None
    rationale: str
    policy: bool = False


class IntParam(_Param):
    value: int


class IntListParam(_Param):
    value: tuple[int, ...]


class IntMapParam(_Param):
    value: dict[str, int]


class AgeBand(_Strict):
    min: int
    max: int


class AgeBandParam(_Param):
    value: AgeBand


class ModeParam(_Param):
    value: Literal["advisory", "required", "off"]


class StrListParam(_Param):
    value: tuple[str, ...]


class Parameters(_Strict):
    severity_threshold_salt: IntParam
    near_total_loss_salt: IntParam
    salt_max_age_days: IntParam
    baseline_lookback_days: IntMapParam
    live_vaccine_lookback_days: IntParam
    pregnancy_test_age_band: AgeBandParam
    hcg_positive_miu_ml: IntParam
    salt_review_weeks: IntListParam
    response_target_salt: IntParam
    escalation_review_week: IntParam
    no_benefit_review_week: IntParam
    min_improvement_salt: IntParam
    step_therapy_mode: ModeParam
    candidate_agents: StrListParam
    boxed_warning_age: IntParam
    monitoring_window_days_before: IntParam
    monitoring_window_days_after: IntParam
    periodic_recheck_weeks: IntParam
    hbv_dna_recheck_weeks: IntParam
    therapy_continuity_gap_days: IntParam


# --- Baseline tests, schedules, SALT, education ------------------------------------------


class BaselineTest(Fact):
    label: str
    require: tuple[str, ...] = ()  # every one of these record tests
    any_of: tuple[str, ...] = ()  # at least one of these
    order: tuple[str, ...]  # value sets whose first verified code is ordered

    @property
    def tests(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.require + self.any_of))


class ScheduleItem(Fact):
    key: str
    label: str
    tests: tuple[str, ...]
    order: tuple[str, ...]
    week: int | None = None
    periodic_from_week: int | None = None
    policy: bool = False

    @model_validator(mode="after")
    def _one_timing(self) -> ScheduleItem:
        if (self.week is None) == (self.periodic_from_week is None):
            raise ValueError(f"schedule item {self.key}: give exactly one of week, periodic_from_week")
        return self


class SaltRegion(_Strict):
    key: str
    label: str
    weight: int
    code: str


class SaltRegions(Fact):
    items: tuple[SaltRegion, ...]


class IgaBand(_Strict):
    grade: int
    label: str
    salt_min: int
    salt_max: int


class AaIga(Fact):
    code: str
    bands: tuple[IgaBand, ...]


class SaltRange(_Strict):
    min: int
    max: int


class Salt(_Strict):
    value_set: str
    unit: str
    range: SaltRange
    regions: SaltRegions
    aa_iga: AaIga

    @model_validator(mode="after")
    def _weights_sum_to_100(self) -> Salt:
        total = sum(r.weight for r in self.regions.items)
        if total != 100:
            raise ValueError(f"salt.regions: weights sum to {total}, not 100")
        return self


class EducationItem(Fact):
    key: str | None = None
    title: str
    text: str


class Education(_Strict):
    durability: EducationItem
    conventional_comparison: tuple[EducationItem, ...]
    guidance: tuple[EducationItem, ...] = ()


# --- Pharmacogenomics ---------------------------------------------------------------------

# The extraction reads a genotype's alleles in this form ("*3"), so other keys could never match.
StarAllele = Annotated[str, StringConstraints(pattern=r"^\*\d+$")]


class ActivityBand(_Strict):
    """Activity scores from `score_min` to `score_max` (both included) mean this metabolizer status."""

    phenotype: str
    score_min: float
    score_max: float

    @field_validator("phenotype")
    @classmethod
    def _known_status(cls, value: str) -> str:
        if value not in METABOLIZER_STATUSES:
            raise ValueError(
                f"unknown metabolizer status {value!r} (expected one of {', '.join(METABOLIZER_STATUSES)})"
            )
        return value


class DiplotypeMapping(Fact):
    """Star-allele diplotype -> metabolizer status, by activity score (the sum of the two allele values).

    An allele missing from `allele_activity` is not mapped: its genotype is reported as
    uninterpretable, never guessed.
    """

    allele_activity: dict[StarAllele, Annotated[float, Field(ge=0, le=2)]]
    phenotype_bands: tuple[ActivityBand, ...]

    _by_diplotype: dict[tuple[str, str], tuple[str, float]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _bands_ordered_and_covering(self) -> DiplotypeMapping:
        problems: list[str] = []
        bands = self.phenotype_bands
        for index, band in enumerate(bands):
            where = f"phenotype_bands.{index}"
            if band.score_min > band.score_max:
                problems.append(
                    f"{where}: score_min {band.score_min:g} is above score_max {band.score_max:g}"
                )
            if index and band.score_min <= bands[index - 1].score_max:
                problems.append(
                    f"{where}: starts at {band.score_min:g}, not after the band before it "
                    f"ends ({bands[index - 1].score_max:g}); bands go up in order without overlapping"
                )
        # Contiguous means no score a pair of mapped alleles can add up to falls between the bands.
        for (first, first_value), (second, second_value) in combinations_with_replacement(
            self.allele_activity.items(), 2
        ):
            score = round(first_value + second_value, 6)  # 0.1 + 0.2 must land where 0.3 does
            found = next((b for b in bands if b.score_min <= score <= b.score_max), None)
            if found is None:
                problems.append(f"phenotype_bands: activity score {score:g} ({first}/{second}) is in no band")
            else:
                self._by_diplotype[(first, second)] = self._by_diplotype[(second, first)] = (
                    found.phenotype,
                    score,
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def phenotype(self, first: str, second: str) -> tuple[str, float] | None:
        """(metabolizer status, activity score) of a diplotype; None when an allele is not mapped."""
        return self._by_diplotype.get((first, second))


class Pharmacogenomics(_Strict):
    cyp2c9: DiplotypeMapping


# --- The file -----------------------------------------------------------------------


class Knowledge(_Strict):
    version: str
    title: str
    reviewed_against: str
    systems: dict[str, str]
    value_sets: dict[str, ValueSet]
    sources: dict[str, Source]
    parameters: Parameters
    baseline_tests: dict[str, BaselineTest]
    drugs: dict[str, Drug]
    schedules: dict[str, tuple[ScheduleItem, ...]]
    salt: Salt
    education: Education
    pharmacogenomics: Pharmacogenomics

    _exact: dict[tuple[str, str], tuple[tuple[str, CodeEntry], ...]] = PrivateAttr(default_factory=dict)
    _prefix: dict[str, tuple[tuple[str, str, CodeEntry], ...]] = PrivateAttr(default_factory=dict)
    _name_patterns: dict[str, re.Pattern[str]] = PrivateAttr(default_factory=dict)
    # value set key -> (class member name, verified) by lower-cased name; classes with an unverified member
    _class_members: dict[str, dict[str, tuple[str, bool]]] = PrivateAttr(default_factory=dict)
    _exclude_patterns: dict[str, re.Pattern[str]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _resolve_system_aliases(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        systems = data.get("systems") or {}
        for key, value_set in (data.get("value_sets") or {}).items():
            for entry in (value_set or {}).get("codes") or []:
                alias = entry.get("system")
                if alias not in systems:
                    raise ValueError(f"value_sets.{key}: unknown system alias {alias!r}")
                entry["system"] = systems[alias]
        return data

    @model_validator(mode="after")
    def _check_references(self) -> Knowledge:
        problems: list[str] = []
        for path, ids in _source_refs(self):
            problems += [f"{path}: unknown source id {sid!r}" for sid in ids if sid not in self.sources]
        for key, drug in self.drugs.items():
            if drug.value_set not in self.value_sets:
                problems.append(f"drugs.{key}.value_set: unknown value set {drug.value_set!r}")
            classes = [i.drug_class for i in drug.interactions] + list(
                drug.combination_not_recommended.classes
            )
            problems += [
                f"drugs.{key}: unknown medication class {c!r} (no value set {MEDICATION_CLASS}{c})"
                for c in classes
                if f"{MEDICATION_CLASS}{c}" not in self.value_sets
            ]
        problems += _name_problems(self.value_sets)
        problems += [
            f"value_sets.{key}.codes: {entry.code}: unknown gene value set {entry.gene!r}"
            for key, value_set in self.value_sets.items()
            for entry in value_set.codes
            if entry.gene is not None
            and not (entry.gene.startswith("gene.") and entry.gene in self.value_sets)
        ]
        for name in self.parameters.candidate_agents.value:
            if name not in self.drugs:
                problems.append(f"parameters.candidate_agents: unknown drug {name!r}")
        problems += _review_week_problems(self.parameters)
        lookback = self.parameters.baseline_lookback_days.value
        for key, test in self.baseline_tests.items():
            if key not in lookback:
                problems.append(f"parameters.baseline_lookback_days: no window for baseline test {key!r}")
            problems += _test_problems(f"baseline_tests.{key}", test.tests, test.order, self.value_sets)
        for drug_key, items in self.schedules.items():
            if drug_key not in self.drugs:
                problems.append(f"schedules.{drug_key}: unknown drug")
            for item in items:
                path = f"schedules.{drug_key}.{item.key}"
                problems += _test_problems(path, item.tests, item.order, self.value_sets)
        if self.salt.value_set not in self.value_sets:
            problems.append(f"salt.value_set: unknown value set {self.salt.value_set!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def model_post_init(self, __context: object) -> None:
        exact: dict[tuple[str, str], list[tuple[str, CodeEntry]]] = {}
        prefix: dict[str, list[tuple[str, str, CodeEntry]]] = {}
        for key, value_set in self.value_sets.items():
            for entry in value_set.codes:
                if entry.match == "exact":
                    exact.setdefault((entry.system, entry.code), []).append((key, entry))
                else:
                    prefix.setdefault(entry.system, []).append((entry.code, key, entry))
            if value_set.names:
                self._name_patterns[key] = _words_pattern(value_set.name_words())
            if value_set.unverified_names():
                self._class_members[key] = {
                    n.name.lower(): (n.name, n.verified) for n in value_set.names if isinstance(n, NameEntry)
                }
            if value_set.exclude_names:
                self._exclude_patterns[key] = _words_pattern(value_set.exclude_names)
        self._exact = {k: tuple(v) for k, v in exact.items()}
        self._prefix = {k: tuple(v) for k, v in prefix.items()}

    def lookup(self, system: str | None, code: str | None) -> tuple[tuple[str, CodeEntry], ...]:
        """Every (value set key, entry) a coding belongs to; prefix entries match ICD-10 ranges."""
        if not system or not code:
            return ()
        # A hot path: one slot read, not two pydantic private-attribute lookups (__getattr__).
        private = self.__pydantic_private__
        assert private is not None  # set by pydantic before model_post_init
        exact: dict[tuple[str, str], tuple[tuple[str, CodeEntry], ...]] = private["_exact"]
        found = exact.get((system, code), ())
        prefixes: tuple[tuple[str, str, CodeEntry], ...] | None = private["_prefix"].get(system)
        if prefixes:
            found = found + tuple((key, entry) for start, key, entry in prefixes if code.startswith(start))
        return found

    def lookup_name(self, text: str | None, key_prefix: str) -> tuple[str, ...]:
        """Value set keys (starting with key_prefix) whose `names` occur as words in text."""
        if not text:
            return ()
        excludes = self._exclude_patterns  # bound once: private attributes go through __getattr__
        return tuple(
            key
            for key, pattern in self._name_patterns.items()
            if key.startswith(key_prefix)
            and pattern.search(text)
            and not (key in excludes and excludes[key].search(text))
        )

    def unverified_members(self, key: str, text: str) -> tuple[str, ...]:
        """The unverified class member names of `key` that text names, each once, when it names no
        verified one (empty: a verified name, or no name of `key`, occurs in text)."""
        members = self._class_members.get(key)
        if not members:
            return ()
        found = [_member(members, m.group(0)) for m in self._name_patterns[key].finditer(text)]
        if any(verified for _, verified in found):
            return ()
        return tuple(dict.fromkeys(name for name, _ in found))

    def excluded_by_name(self, key: str, text: str | None) -> bool:
        pattern = self._exclude_patterns.get(key)
        return bool(text and pattern and pattern.search(text))

    def codes_of(self, key: str) -> tuple[CodeEntry, ...]:
        return self.value_sets[key].codes

    # --- Accessors for the rules and the front ends ---------------------------------

    def lab_codes(self) -> list[tuple[str, str]]:
        """Every (system, code) of an Observation the rules read (labs, SALT, smoking), for prefetch."""
        codes: dict[tuple[str, str], None] = {}
        for key, value_set in self.value_sets.items():
            if key.startswith(("lab.", "observation.")):
                codes.update(dict.fromkeys(value_set.system_codes()))
        return list(codes)

    def source(self, source_id: str) -> Source:
        try:
            return self.sources[source_id]
        except KeyError:
            raise KnowledgeError(f"unknown source id {source_id!r}") from None

    def drug(self, key: str) -> Drug:
        try:
            return self.drugs[key]
        except KeyError:
            raise KnowledgeError(f"unknown drug {key!r}") from None

    def parameter(self, name: str) -> _Param:
        value = getattr(self.parameters, name, None)
        if not isinstance(value, _Param):
            raise KnowledgeError(f"unknown parameter {name!r}")
        return value

    def citations(self, ids: Iterable[str]) -> tuple[Citation, ...]:
        """Citations for source ids, in order, without duplicates."""
        return tuple(
            Citation(id=sid, label=self.source(sid).label, url=self.source(sid).url)
            for sid in dict.fromkeys(ids)
        )

    def order_coding(self, value_set_key: str) -> Coding:
        """The code to order for a value set: its first verified code (else its first code)."""
        codes = self.codes_of(value_set_key)
        entry = next((c for c in codes if c.verified), codes[0] if codes else None)
        if entry is None:
            raise KnowledgeError(f"value set {value_set_key!r} has no codes to order")
        return Coding(system=entry.system, code=entry.code, display=entry.display)

    def schedule(self, drug_key: str) -> tuple[ScheduleItem, ...]:
        return self.schedules.get(drug_key, ())


def _test_problems(
    path: str, tests: tuple[str, ...], order: tuple[str, ...], value_sets: dict[str, ValueSet]
) -> list[str]:
    problems = [f"{path}: unknown test {t!r}" for t in tests if t not in RECORD_TESTS]
    problems += [f"{path}.order: unknown value set {o!r}" for o in order if o not in value_sets]
    return problems


def _member(members: dict[str, tuple[str, bool]], word: str) -> tuple[str, bool]:
    """The class member (name, verified) that `word`, a match of the class's name pattern, is.

    Only a member found verified counts as verified: the pattern folds case as `re.IGNORECASE` does,
    which `str.lower` does not always undo ("AZATHİOPRİNE"), and such a word is looked for name by
    name; one still not found stays unverified, named as the text has it.
    """
    if (member := members.get(word.lower())) is not None:
        return member
    same = (member for member in members.values() if re.fullmatch(re.escape(member[0]), word, re.I))
    return next(same, (word, False))


def _name_problems(value_sets: dict[str, ValueSet]) -> list[str]:
    """Each class member name carries its own verification; other value sets list bare product names.
    A name listed twice in one value set would leave its verification ambiguous."""
    problems: list[str] = []
    for key, value_set in value_sets.items():
        in_class = key.startswith(MEDICATION_CLASS)
        for index, entry in enumerate(value_set.names):
            where = f"value_sets.{key}.names[{index}]"
            if in_class and isinstance(entry, str):
                problems.append(
                    f"{where}: class member {entry!r} needs its own verification "
                    f"({{name: {entry}, verified: true|false, sources: [...]}})"
                )
            elif not in_class and isinstance(entry, NameEntry):
                problems.append(
                    f"{where}: only {MEDICATION_CLASS}* value sets verify names; list {entry.name!r} bare"
                )
        counts = Counter(w.lower() for w in value_set.name_words())
        problems += [
            f"value_sets.{key}.names: {w!r} is listed more than once" for w, n in counts.items() if n > 1
        ]
    return problems


def _review_week_problems(parameters: Parameters) -> list[str]:
    """A rule that reads the SALT of a review week needs that week among `salt_review_weeks`:
    `response.salt.due` asks for a SALT only at those weeks, so at any other week the rule would
    wait, silently, for a score nobody asks for."""
    review = parameters.salt_review_weeks.value
    read = {
        "escalation_review_week": parameters.escalation_review_week.value,
        "no_benefit_review_week": parameters.no_benefit_review_week.value,
    }
    return [
        f"parameters.{name}: week {week} is not among parameters.salt_review_weeks ({list(review)})"
        for name, week in read.items()
        if week not in review
    ]


def _source_refs(node: object, path: str = "") -> Iterator[tuple[str, tuple[str, ...]]]:
    """(path, source ids) for every `sources` field anywhere below node."""
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            value = getattr(node, name)
            if name == "sources" and isinstance(value, tuple) and not isinstance(node, Knowledge):
                yield f"{path}.sources".lstrip("."), value
            elif name != "sources":
                yield from _source_refs(value, f"{path}.{name}")
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _source_refs(value, f"{path}.{key}")
    elif isinstance(node, tuple | list):
        for index, value in enumerate(node):
            yield from _source_refs(value, f"{path}[{index}]")


def _words_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])", re.IGNORECASE)


def _error_path(error: dict[str, object]) -> str:
    loc = error.get("loc", ())
    return ".".join(str(part) for part in loc) if isinstance(loc, tuple) else str(loc)


def parse_knowledge(path: Path) -> Knowledge:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeError(f"{path}: cannot read knowledge file: {exc}") from exc
    try:
        return Knowledge.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{_error_path(dict(e))}: {e['msg']}" for e in exc.errors())
        raise KnowledgeError(f"{path}: invalid knowledge file: {problems}") from exc


@functools.cache
def _cached_default() -> Knowledge:
    return parse_knowledge(DEFAULT_PATH)


def load_knowledge(path: Path | None = None) -> Knowledge:
    """The validated knowledge file; the bundled one is parsed once per process."""
    return _cached_default() if path is None else parse_knowledge(path)


__all__ = [
    "CodeEntry",
    "Drug",
    "Knowledge",
    "KnowledgeError",
    "NameEntry",
    "ScheduleItem",
    "ValueSet",
    "load_knowledge",
]
