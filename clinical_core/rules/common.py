"""Shared pieces of the rules: the evaluation context, record look-ups and the finding builder.

Everything here is pure: the date of evaluation is `Context.as_of`, never the clock.
Thresholds, windows, weeks and codes come from the knowledge file only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Literal

from clinical_core.findings import Action, ActionKind, Category, Evidence, Finding, Severity
from clinical_core.knowledge.model import Drug, Fact, Knowledge, Source
from clinical_core.record import (
    CANONICAL_UNITS,
    ConditionFact,
    Diagnosis,
    LabResult,
    PatientRecord,
    ProposedOrder,
    QualitativeResult,
    SaltScore,
    TherapyEpisode,
    Vaccination,
)

Mode = Literal["proposed", "current", "candidates"]

ACTIVE_ORDER_STATUSES = frozenset({"active", "on-hold"})
ACTIVE_MEDICATION_STATUSES = frozenset({"active", "on-hold", "intended", "unknown"})
# Before the unverified codes (and interaction class member names) a finding's evidence rests on.
RECOGNISED_UNVERIFIED = "Recognised by a code or name not yet verified"


def is_running(episode: TherapyEpisode, as_of: date) -> bool:
    """The episode's order is active on `as_of`; one without a start date still means the patient is on it."""
    return (
        episode.status in ACTIVE_ORDER_STATUSES
        and (episode.start is None or episode.start <= as_of)
        and (episode.end is None or episode.end >= as_of)
    )


LAB_LABELS = {
    "alc": "ALC",
    "anc": "ANC",
    "hemoglobin": "Hemoglobin",
    "platelets": "Platelets",
    "alt": "ALT",
    "ast": "AST",
    "ldl": "LDL cholesterol",
    "total_cholesterol": "Total cholesterol",
    "hdl": "HDL cholesterol",
    "triglycerides": "Triglycerides",
    "egfr": "eGFR",
    "creatinine": "Creatinine",
    "hcg_quantitative": "hCG",
    "tb_igra": "TB IGRA",
    "tb_skin_test": "Tuberculin skin test",
    "hbsag": "HBsAg",
    "anti_hbc": "Anti-HBc",
    "anti_hbs": "Anti-HBs",
    "hcv_ab": "HCV antibody",
    "hbv_dna": "HBV DNA",
    "pregnancy_test": "Pregnancy test",
    "cyp2c9_phenotype": "CYP2C9 metabolizer status",
}


@dataclass(frozen=True)
class TherapyRun:
    """The continuous run on the current JAK inhibitor, across dose changes."""

    drug: str
    start: date | None  # None: the orders give no start date, so week-based rules cannot run
    episode: TherapyEpisode  # the current episode (current dose)

    @property
    def dose_mg(self) -> float | None:
        return self.episode.dose_mg

    def week_on(self, day: date) -> int | None:
        return None if self.start is None else max(0, (day - self.start).days // 7)


@dataclass(frozen=True)
class Context:
    record: PatientRecord
    as_of: date
    k: Knowledge
    proposed: tuple[ProposedOrder, ...]
    age: int | None
    run: TherapyRun | None
    proposed_jak: ProposedOrder | None
    drugs: tuple[str, ...]  # the chosen drug, or the candidate agents
    mode: Mode
    other_active_jaks: frozenset[str] = field(default_factory=frozenset)
    # Memos of labs() / qualitative() by test: the record and as_of never change within a Context.
    _labs: dict[str, tuple[LabResult, ...]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )
    _qualitative: dict[str, tuple[QualitativeResult, ...]] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    @property
    def on_therapy(self) -> bool:
        return self.run is not None

    @property
    def dated_run(self) -> TherapyRun | None:
        """The current run when its start is known: what schedules and review weeks need."""
        return self.run if self.run is not None and self.run.start is not None else None

    @property
    def initiating(self) -> bool:
        """Before a start: not on a JAK inhibitor, or a proposed switch to another one."""
        if self.run is None:
            return True
        return self.proposed_jak is not None and self.proposed_jak.drug != self.run.drug

    @property
    def baseline_reference_date(self) -> date:
        """Baseline windows end here: today before a start, the start date once on therapy."""
        if self.initiating or self.run is None or self.run.start is None:
            return self.as_of
        return self.run.start

    def drug(self, key: str) -> Drug:
        return self.k.drug(key)

    def hard_stop(self, drugs: Iterable[str | None]) -> bool:
        """A hard stop applies to a proposed JAK order about one of these drugs."""
        return self.proposed_jak is not None and self.proposed_jak.drug in set(drugs)


# --- Record look-ups (never past as_of) ---------------------------------------------------------


def labs(ctx: Context, test: str) -> tuple[LabResult, ...]:
    found = ctx._labs.get(test)
    if found is None:
        as_of = ctx.as_of
        found = ctx._labs[test] = tuple(r for r in ctx.record.lab_series(test) if r.when <= as_of)
    return found


def latest_lab(
    ctx: Context, test: str, since: date | None = None, until: date | None = None
) -> LabResult | None:
    end = until or ctx.as_of
    series = [r for r in labs(ctx, test) if r.when <= end and (since is None or r.when >= since)]
    return max(series, key=lambda r: r.when) if series else None


def qualitative(ctx: Context, test: str) -> tuple[QualitativeResult, ...]:
    found = ctx._qualitative.get(test)
    if found is None:
        as_of = ctx.as_of
        found = ctx._qualitative[test] = tuple(
            q for q in ctx.record.qualitative_series(test) if q.when <= as_of
        )
    return found


def latest_qualitative(
    ctx: Context, test: str, since: date | None = None, until: date | None = None
) -> QualitativeResult | None:
    end = until or ctx.as_of
    series = [q for q in qualitative(ctx, test) if q.when <= end and (since is None or q.when >= since)]
    return max(series, key=lambda q: q.when) if series else None


def latest_result(
    ctx: Context, test: str, since: date | None = None, until: date | None = None
) -> LabResult | QualitativeResult | None:
    """The latest result of `test` in the window: a quantitative one first, else a qualitative one.

    The result itself, not just its date: whoever counts it also owes its reference and code verification.
    """
    lab = latest_lab(ctx, test, since, until) if test in CANONICAL_UNITS else None
    return lab if lab is not None else latest_qualitative(ctx, test, since, until)


def salt_scores(ctx: Context) -> tuple[SaltScore, ...]:
    return tuple(s for s in sorted(ctx.record.salt_scores, key=lambda s: s.when) if s.when <= ctx.as_of)


def latest_salt(ctx: Context, after: date | None = None, until: date | None = None) -> SaltScore | None:
    scores = [
        s
        for s in salt_scores(ctx)
        if (after is None or s.when > after) and (until is None or s.when <= until)
    ]
    return scores[-1] if scores else None


def active_conditions(ctx: Context, concept: str) -> tuple[ConditionFact, ...]:
    return tuple(
        c
        for c in ctx.record.conditions
        if c.concept == concept
        and c.active
        and (c.onset is None or c.onset <= ctx.as_of)
        and (c.abatement is None or c.abatement > ctx.as_of)
    )


def any_conditions(ctx: Context, concept: str) -> tuple[ConditionFact, ...]:
    """Current or past conditions (history counts, e.g. for boxed-warning risk factors)."""
    return tuple(
        c for c in ctx.record.conditions if c.concept == concept and (c.onset is None or c.onset <= ctx.as_of)
    )


def has_alopecia_areata(record: PatientRecord) -> bool:
    return bool(record.diagnoses)


def totalis_or_universalis(ctx: Context) -> tuple[Diagnosis, ...]:
    """The alopecia totalis/universalis diagnoses that make the disease severe (and near-total).

    An active one counts. A resolved or in-remission one counts only on (or switching from) a JAK
    inhibitor and when dated on or before that run's start: it is the severity before treatment,
    which regrowth on treatment does not undo. Without therapy (or with no known start), a resolved
    AT/AU (regrowth) does not make the current disease severe.
    """
    start = ctx.run.start if ctx.run is not None else None
    return tuple(
        d
        for d in ctx.record.diagnoses
        if d.subtype in ("totalis", "universalis") and _at_au_counts(d, ctx.as_of, start)
    )


def has_totalis_or_universalis(ctx: Context) -> bool:
    return bool(totalis_or_universalis(ctx))


def _at_au_counts(diagnosis: Diagnosis, as_of: date, therapy_start: date | None) -> bool:
    # Without an onset, the recorded date is the first day the record knew of the disease.
    when = diagnosis.onset or diagnosis.recorded
    if when is not None and when > as_of:
        return False
    if diagnosis.active:
        return True
    return therapy_start is not None and when is not None and when <= therapy_start


# Medications of an interaction class by name -> what the name's membership rests on when no verified
# code or verified class member name made it (the `unverified_code` of its evidence); None: verified.
Members = dict[str, str | None]


def current_medication_classes(ctx: Context) -> dict[str, Members]:
    """Interaction class -> the active medications (and proposed starts) in it."""
    found: dict[str, Members] = {}
    for med in ctx.record.medications:
        current = med.status in ACTIVE_MEDICATION_STATUSES and (med.start is None or med.start <= ctx.as_of)
        if current and (med.end is None or med.end >= ctx.as_of):
            for cls in med.classes:
                _add_member(found.setdefault(cls, {}), med.name, med.class_unverified(cls))
    for order in ctx.proposed:
        if order.intent == "start" and order.kind == "medication":
            name = order.medication_name or order.reference
            for cls in order.interaction_classes:
                _add_member(found.setdefault(cls, {}), name, order.class_unverified(cls))
    return found


def merged_members(*members: Members) -> Members:
    """The medications of several classes, one entry per name."""
    merged: Members = {}
    for name, rests_on in (item for m in members for item in m.items()):
        _add_member(merged, name, rests_on)
    return merged


def _add_member(members: Members, name: str, rests_on: str | None) -> None:
    # A name is verified when any of its sources is, as one verified code keeps a fact verified.
    if name not in members or rests_on is None:
        members[name] = rests_on


# --- Formatting ----------------------------------------------------------------------------------


def number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def lab_value(test: str, value: float) -> str:
    return f"{number(value)} {CANONICAL_UNITS.get(test, '')}".strip()


# The evidence helpers carry each record fact's code verification (`verified`, `unverified_code`):
# `make` and `Check.verified` clear the flag of whatever rests on an unverified one.


def lab_evidence(result: LabResult) -> Evidence:
    return Evidence(
        label=LAB_LABELS.get(result.test, result.test),
        value=lab_value(result.test, result.value),
        when=result.when,
        reference=result.reference,
        verified=result.verified,
        unverified_code=result.unverified_code,
    )


def qualitative_evidence(result: QualitativeResult, value: str | None = None) -> Evidence:
    """A qualitative result; `value` replaces the result as shown (a metabolizer status with its basis)."""
    return Evidence(
        label=LAB_LABELS.get(result.test, result.test),
        value=result.result if value is None else value,
        when=result.when,
        reference=result.reference,
        verified=result.verified,
        unverified_code=result.unverified_code,
    )


def salt_evidence(score: SaltScore, label: str = "SALT") -> Evidence:
    return Evidence(label=label, value=number(score.value), when=score.when, reference=score.reference)


def condition_evidence(condition: ConditionFact) -> Evidence:
    return Evidence(
        label=condition.display,
        value=condition.concept.replace("_", " "),
        when=condition.onset,
        reference=condition.reference,
        verified=condition.verified,
        unverified_code=condition.unverified_code,
    )


def vaccination_evidence(vaccination: Vaccination) -> Evidence:
    return Evidence(
        "Live vaccine",
        f"{vaccination.display} (CVX {vaccination.cvx})",
        vaccination.when,
        vaccination.reference,
        verified=vaccination.verified,
        unverified_code=vaccination.unverified_code,
    )


def diagnosis_evidence(diagnosis: Diagnosis) -> Evidence:
    return Evidence(
        "Diagnosis",
        diagnosis.subtype,
        diagnosis.onset or diagnosis.recorded,
        diagnosis.reference,
        verified=diagnosis.verified,
        unverified_code=diagnosis.unverified_code,
    )


def medication_evidence(label: str, members: Members) -> list[Evidence]:
    """One item per medication of `current_medication_classes`, unverified when its class membership is."""
    return [
        Evidence(label, name, verified=rests_on is None, unverified_code=rests_on)
        for name, rests_on in members.items()
    ]


def unverified_drug_evidence(ctx: Context, drug: str) -> Evidence | None:
    """The order that makes `drug` a proposed or current JAK inhibitor, when the record knows the drug
    only through a code not yet verified (every such order was recognised only by one); else None."""
    sources = [
        ("Proposed order", o.reference, o.verified, o.unverified_code)
        for o in ctx.proposed
        if o.kind == "medication" and o.drug == drug
    ]
    sources += [
        ("Current order", e.reference, e.verified, e.unverified_code)
        for e in ctx.record.therapies
        if e.drug == drug and is_running(e, ctx.as_of)
    ]
    if not sources or any(ok for _, _, ok, _ in sources):
        return None
    label, reference, _, code = sources[0]
    return Evidence(label, ctx.drug(drug).display, None, reference, verified=False, unverified_code=code)


# Patient data (displays, free text, identifiers, units) is quoted into markdown details: escaped, it
# renders as the literal text it is. Newlines go first, so the text cannot open a block of its own
# except at its start. Anywhere in a line these make markup: emphasis and strikethrough, code spans,
# links and images ("!", "(" and ")" are inert once the brackets are escaped), raw HTML and autolinks,
# GFM table cells, and the escape character itself. "&" is left alone: an entity reference makes no
# markup, and the CDS service already escapes it (escaping it here too would show "&amp;" in cards).
_LINE_BREAKS = re.compile(r"\s*[\r\n]\s*")
_INLINE_MARKUP = re.compile(r"[\\`*_\[\]<|~]")
# At the start: heading, block quote, bullet or ordered list item, thematic break ("*" is escaped above).
_BLOCK_START = re.compile(r"[#>+-]|\d{1,9}[.)](?=\s|$)")
_BACKTICKS = re.compile(r"`+")


def md_text(text: str) -> str:
    """Patient-derived text as markdown that renders literally, on one line.

    `make` applies it to evidence and missing items; a rule that quotes patient data in its own
    markdown `lines` applies it to that data.
    """
    flat = _INLINE_MARKUP.sub(r"\\\g<0>", _LINE_BREAKS.sub(" ", text).strip())
    start = _BLOCK_START.match(flat)
    if start is None:
        return flat
    marker_end = start.end() - 1
    return f"{flat[:marker_end]}\\{flat[marker_end:]}"


def md_code(text: str) -> str:
    """A code span holding `text` literally: no run of backticks inside can close it (CommonMark 6.1)."""
    flat = _LINE_BREAKS.sub(" ", text).strip()
    fence = "`" * (max(map(len, _BACKTICKS.findall(flat)), default=0) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def drug_names(ctx: Context, keys: Iterable[str]) -> str:
    return ", ".join(ctx.drug(k).display.lower() if k else "" for k in keys)


# --- Actions -------------------------------------------------------------------------------------


def order_tests(ctx: Context, value_sets: Iterable[str]) -> tuple[Action, ...]:
    actions = []
    for key in value_sets:
        coding = ctx.k.order_coding(key)
        actions.append(Action(kind=ActionKind.ORDER_TEST, label=f"Order {coding.display}", code=coding))
    return tuple(actions)


def record_salt() -> Action:
    return Action(kind=ActionKind.RECORD_SALT, label="Record a SALT score")


def change_dose(drug: str, display: str, dose_mg: float, doses_per_day: int, target: str | None) -> Action:
    frequency = "once daily" if doses_per_day == 1 else f"{doses_per_day} times daily"
    return Action(
        kind=ActionKind.CHANGE_DOSE,
        label=f"Change to {display.lower()} {number(dose_mg)} mg {frequency}",
        drug=drug,
        dose_mg=dose_mg,
        doses_per_day=doses_per_day,
        target=target,
    )


def stop_order(label: str, drug: str | None, target: str | None) -> Action:
    return Action(kind=ActionKind.STOP_ORDER, label=label, drug=drug, target=target)


# --- The finding builder ---------------------------------------------------------------------------


def make(
    ctx: Context,
    finding_id: str,
    category: Category,
    severity: Severity,
    summary: str,
    *,
    lines: Sequence[str] = (),
    evidence: Iterable[Evidence] = (),
    facts: Iterable[Fact | None] = (),
    sources: Iterable[str] = (),
    missing: Iterable[str] = (),
    actions: Iterable[Action] = (),
    drug: str | None = None,
    hard_stop: bool = False,
    verified: bool = True,
) -> Finding:
    """A finding whose detail lists the evidence and sources; unverified facts clear `verified`.

    `lines` are the rule's own markdown; evidence and missing items are patient data, escaped here.
    Evidence recognised only through an unverified code clears `verified` too, and its line names the
    code; so does the order behind `drug` when the record knows that drug only through such a code.
    """
    used = [f for f in facts if f is not None]
    source_ids = tuple(dict.fromkeys([*(s for f in used for s in f.sources), *sources]))
    evidence = tuple(evidence)
    if drug is not None:
        evidence = _with_drug_code(ctx, drug, evidence)
    all_verified = verified and all(f.verified for f in used) and all(e.verified for e in evidence)
    missing = tuple(dict.fromkeys(missing))
    parts = [line for line in lines if line]
    if evidence:
        parts.append("**Evidence**\n" + "\n".join(f"- {_evidence_line(e)}" for e in evidence))
    if missing:
        parts.append("**Missing**\n" + "\n".join(f"- {md_text(m)}" for m in missing))
    notes = [f.note for f in used if f.note]
    if notes:
        parts.append("**Notes**\n" + "\n".join(f"- {n}" for n in dict.fromkeys(notes)))
    if source_ids:
        parts.append("**Sources:** " + "; ".join(_source_link(ctx.k.source(sid), sid) for sid in source_ids))
    if not all_verified:
        parts.append("_Uses facts marked unverified: verify against current prescribing information._")
    return Finding(
        id=finding_id,
        category=category,
        severity=severity,
        summary=summary,
        detail="\n\n".join(parts),
        evidence=evidence,
        citations=ctx.k.citations(source_ids),
        missing=missing,
        actions=tuple(actions),
        verified=all_verified,
        drug=drug,
        hard_stop=hard_stop,
    )


def _with_drug_code(ctx: Context, drug: str, evidence: tuple[Evidence, ...]) -> tuple[Evidence, ...]:
    """The evidence, with the order behind `drug` marked (or added) when its code is not verified."""
    order = unverified_drug_evidence(ctx, drug)
    if order is None:
        return evidence
    if all(e.reference != order.reference for e in evidence):
        return (*evidence, order)
    code = order.unverified_code
    return tuple(
        replace(e, verified=False, unverified_code=code) if e.reference == order.reference else e
        for e in evidence
    )


def _evidence_line(e: Evidence) -> str:
    text = md_text(e.label) if e.value is None else f"{md_text(e.label)}: {md_text(e.value)}"
    extras = [e.when.isoformat() if e.when else None, md_code(e.reference) if e.reference else None]
    extra = ", ".join(x for x in extras if x)
    line = f"{text} ({extra})" if extra else text
    if e.verified:
        return line
    code = f": {md_text(e.unverified_code)}" if e.unverified_code else ""
    return f"{line}. {RECOGNISED_UNVERIFIED}{code}"


def days(n: int) -> timedelta:
    return timedelta(days=n)


def weeks(n: int) -> timedelta:
    return timedelta(weeks=n)


def _source_link(source: Source, source_id: str) -> str:
    text = f"{source_id}: {source.label}"
    return f"[{text}]({source.url})" if source.url else text
