"""What the rules say about a patient: findings and the actions they suggest.

A `Finding` is neutral: the CDS Hooks service renders it as a card, the SMART
app as a row on a page. Neither front end adds clinical meaning to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class Severity(StrEnum):
    """Maps one-to-one onto the CDS Hooks card `indicator`."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return {"critical": 0, "warning": 1, "info": 2}[self.value]


class Category(StrEnum):
    """The algorithm step a finding belongs to (clinical.md, original brief steps 1-7)."""

    SEVERITY = "severity"
    PRIOR_THERAPY = "prior-therapy"
    AGENT = "agent"
    BASELINE = "baseline"
    MONITORING = "monitoring"
    RESPONSE = "response"
    SAFETY = "safety"
    DATA = "data"
    EDUCATION = "education"


@dataclass(frozen=True)
class Citation:
    """A source from the knowledge file (`sources:`), e.g. S1 or S8a."""

    id: str
    label: str
    url: str | None = None


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    display: str


@dataclass(frozen=True)
class Evidence:
    """One fact the rule used: what it is, its value, when, and which resource said so.

    `verified` is False when the record recognised the fact only through a code marked
    unverified in the knowledge file (`unverified_code` names it when known, e.g. "LOINC 26474-7");
    a finding or checklist line resting on such evidence is unverified too.
    """

    label: str
    value: str | None = None
    when: date | None = None
    reference: str | None = None  # relative FHIR reference, e.g. "Observation/abc"
    verified: bool = True
    unverified_code: str | None = None


class ActionKind(StrEnum):
    ORDER_TEST = "order-test"  # order a lab or other test, coded (LOINC)
    CHANGE_DOSE = "change-dose"  # change a (draft or active) order to another dose
    STOP_ORDER = "stop-order"  # remove a draft order / discontinue
    RECORD_SALT = "record-salt"  # record a SALT score (opens the calculator)


@dataclass(frozen=True)
class Action:
    """Something the clinician can do about a finding.

    Front ends turn it into their own form: a CDS suggestion carrying a FHIR
    resource, or a button in the app.
    """

    kind: ActionKind
    label: str
    code: Coding | None = None  # ORDER_TEST: the test to order
    drug: str | None = None  # CHANGE_DOSE / STOP_ORDER: drug key from the knowledge file
    dose_mg: float | None = None  # CHANGE_DOSE: the new dose per administration
    doses_per_day: int | None = None  # CHANGE_DOSE: the new frequency
    target: str | None = None  # the order it acts on, e.g. "MedicationRequest/draft-1"


@dataclass(frozen=True)
class Finding:
    """One statement about the patient, with the evidence and sources behind it.

    `id` is stable across releases (`baseline.tb_screening.missing`): feedback
    statistics and tests key on it. `summary` is under 140 characters.
    `verified` is False when any fact behind the finding is marked unverified in
    the knowledge file, or any of its evidence was recognised only through a code
    marked unverified there; front ends then say "verify against current
    prescribing information".
    """

    id: str
    category: Category
    severity: Severity
    summary: str
    detail: str  # GitHub-flavoured markdown
    evidence: tuple[Evidence, ...] = ()
    citations: tuple[Citation, ...] = ()
    missing: tuple[str, ...] = ()  # data that would change or complete this finding
    actions: tuple[Action, ...] = ()
    verified: bool = True
    drug: str | None = None  # the drug the finding is about, if any
    hard_stop: bool = False  # at order-sign: the order should not be signed as is

    def __post_init__(self) -> None:
        if len(self.summary) >= 140:
            raise ValueError(f"finding {self.id}: summary must be under 140 characters")


@dataclass(frozen=True)
class ChecklistItem:
    """One line of the eligibility or baseline checklist the app shows.

    `status`: met | not-met | missing | out-of-window | unknown.
    `verified` is True only when every fact the line rests on is verified in the knowledge
    file, its evidence included (not a result recognised only by an unverified code); it is
    keyword-only with no default, so every builder has to say which it is.
    Front ends mark an unverified line "verify against current prescribing information".
    """

    key: str  # e.g. "severity", "alc", "tb_screening"
    label: str
    status: str
    value: str | None = None  # e.g. "ALC 1,200 cells/mm3"
    when: date | None = None
    threshold: str | None = None  # e.g. "do not start below 500 cells/mm3 (baricitinib)"
    reference: str | None = None
    finding_id: str | None = None  # the finding that explains a not-met / missing line
    verified: bool = field(kw_only=True)


@dataclass(frozen=True)
class TimelineEntry:
    """One scheduled monitoring test on therapy. `status`: done | due | overdue | upcoming.

    A done entry rests on the latest result of each of the item's tests in its window: `done_on` and
    `reference` are those of the latest of them. `unverified_code` names the code(s), comma-joined, of
    those results recognised only through a code marked unverified in the knowledge file (e.g.
    "LOINC 26474-7"); the entry stays done, and front ends mark it "verify code".
    """

    key: str  # schedule item key from the knowledge file, e.g. "cbc_week4"
    label: str
    week: int  # weeks after the therapy start
    due: date
    status: str
    done_on: date | None = None
    reference: str | None = None  # the latest result that made it done, e.g. "Observation/abc"
    unverified_code: str | None = None


@dataclass(frozen=True)
class Assessment:
    """Everything the rules concluded for one patient on one day."""

    as_of: date
    findings: tuple[Finding, ...] = field(default=())
    status: str = "not-applicable"  # see STATUSES
    drug: str | None = None  # the JAK inhibitor on therapy or proposed
    therapy_week: int | None = None  # completed weeks on the current JAK inhibitor
    therapy_start: date | None = None
    eligibility: tuple[ChecklistItem, ...] = ()
    baseline: tuple[ChecklistItem, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()

    def by_id(self, finding_id: str) -> Finding | None:
        return next((f for f in self.findings if f.id == finding_id), None)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(f.id for f in self.findings)


STATUSES = (
    "not-applicable",  # no alopecia areata diagnosis
    "not-eligible",  # AA, not on a JAK inhibitor, a criterion fails
    "eligible",  # AA, not on a JAK inhibitor, all criteria met
    "undetermined",  # AA, not on a JAK inhibitor, data missing to decide
    "on-therapy",  # on a JAK inhibitor
)
