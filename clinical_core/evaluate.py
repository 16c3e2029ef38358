"""`evaluate(record, as_of, knowledge, proposed)`: every rule, one patient, one day.

Pure: the date is an argument and nothing here reads the clock or does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from clinical_core.findings import Assessment, ChecklistItem, Finding
from clinical_core.knowledge import Knowledge, load_knowledge
from clinical_core.record import PatientRecord, ProposedOrder, TherapyEpisode
from clinical_core.rules import (
    agent,
    baseline,
    data,
    eligibility,
    monitoring,
    prior_therapy,
    response,
    safety,
    severity,
)
from clinical_core.rules.common import (
    Context,
    Mode,
    TherapyRun,
    has_alopecia_areata,
    is_running,
)

RULES = (data, severity, prior_therapy, agent, baseline, monitoring, response, safety)


def evaluate(
    record: PatientRecord,
    as_of: date,
    knowledge: Knowledge | None = None,
    proposed: Sequence[ProposedOrder] = (),
) -> Assessment:
    """The assessment of one patient on `as_of`; status not-applicable (no findings) without AA."""
    if not has_alopecia_areata(record):
        return Assessment(as_of=as_of)
    ctx = build_context(record, as_of, knowledge or load_knowledge(), tuple(proposed))
    found: list[Finding] = [f for rule in RULES for f in rule.findings(ctx)]
    status = "on-therapy"
    eligibility_items: tuple[ChecklistItem, ...] = ()
    verdict: list[Finding] = []
    if ctx.initiating:
        elig_status, eligibility_items, verdict = eligibility.assess(ctx)
        status = "on-therapy" if ctx.on_therapy else elig_status
    found += verdict
    ordered = sorted(found, key=lambda f: f.severity.rank)
    return Assessment(
        as_of=as_of,
        findings=tuple(ordered),
        status=status,
        drug=ctx.proposed_jak.drug if ctx.proposed_jak else (ctx.run.drug if ctx.run else None),
        therapy_week=ctx.run.week_on(as_of) if ctx.run else None,
        therapy_start=ctx.run.start if ctx.run else None,
        eligibility=eligibility_items,
        baseline=baseline.checklist(ctx),
        timeline=monitoring.timeline(ctx),
    )


def build_context(
    record: PatientRecord, as_of: date, k: Knowledge, proposed: tuple[ProposedOrder, ...]
) -> Context:
    age = record.demographics.age_on(as_of)
    current = current_episodes(record, as_of)
    run = (
        therapy_run(record, current[-1], k.parameters.therapy_continuity_gap_days.value) if current else None
    )
    proposed_jak = next(
        (o for o in proposed if o.kind == "medication" and o.intent == "start" and o.drug in k.drugs), None
    )
    stopped = {o.drug for o in proposed if o.intent == "stop" and o.drug}
    active = {e.drug for e in current} | (
        {proposed_jak.drug} if proposed_jak and proposed_jak.drug else set()
    )
    mode: Mode
    drugs: tuple[str, ...]
    if proposed_jak is not None and proposed_jak.drug is not None:
        mode, drugs = "proposed", (proposed_jak.drug,)
    elif run is not None:
        mode, drugs = "current", (run.drug,)
    else:
        mode, drugs = "candidates", candidate_agents(k, age)
    return Context(
        record=record,
        as_of=as_of,
        k=k,
        proposed=proposed,
        age=age,
        run=run,
        proposed_jak=proposed_jak,
        drugs=drugs,
        mode=mode,
        other_active_jaks=frozenset(active - stopped),
    )


def candidate_agents(k: Knowledge, age: int | None) -> tuple[str, ...]:
    """The approved agents the patient is old enough for (all of them when age is unknown)."""
    return tuple(
        d
        for d in k.parameters.candidate_agents.value
        if age is None or (m := k.drug(d).min_age) is None or age >= m.value
    )


def current_episodes(record: PatientRecord, as_of: date) -> list[TherapyEpisode]:
    """JAK episodes running on `as_of`, oldest start first."""
    running = [e for e in record.therapies if is_running(e, as_of)]
    return sorted(running, key=lambda e: e.start or date.min)


def therapy_run(record: PatientRecord, episode: TherapyEpisode, gap_days: int) -> TherapyRun:
    """Start of the continuous run on the episode's drug, across dose changes and short gaps."""
    if episode.start is None:
        return TherapyRun(drug=episode.drug, start=None, episode=episode)
    start = episode.start
    earlier = sorted(
        (
            e
            for e in record.therapies
            if e.drug == episode.drug
            and e.start is not None
            and e.start < start
            and e.status != "entered-in-error"
        ),
        key=lambda e: e.start or start,
        reverse=True,
    )
    for previous in earlier:
        assert previous.start is not None
        if previous.end is None or (start - previous.end).days <= gap_days:
            start = min(start, previous.start)
        else:
            break
    return TherapyRun(drug=episode.drug, start=start, episode=episode)
