"""Step 5: monitoring on therapy, from the drug's own schedule (clinical.md 7.7).

Baricitinib: CBC and ALT/AST baseline then routine, lipids about 12 weeks [S4] (the brief's
week-4 CBC/LFT is a policy item); ritlecitinib: ALC + platelets at week 4 [S8a];
tofacitinib/abrocitinib: CBC and lipids about 4 weeks [S17a, S18a, V-weak];
deuruxolitinib: no cited schedule, JAK-class policy schedule (unverified).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from clinical_core.findings import Category, Evidence, Finding, Severity, TimelineEntry
from clinical_core.knowledge.model import ScheduleItem
from clinical_core.record import LabResult, QualitativeResult
from clinical_core.rules.common import (
    LAB_LABELS,
    Context,
    TherapyRun,
    days,
    drug_names,
    lab_evidence,
    lab_value,
    latest_lab,
    latest_qualitative,
    latest_result,
    make,
    md_code,
    order_tests,
    qualitative_evidence,
    stop_order,
    weeks,
)
from clinical_core.rules.criteria import hepatitis_b_status


@dataclass(frozen=True)
class Occurrence:
    item: ScheduleItem
    week: int
    due: date
    window_start: date
    window_end: date
    done_until: date  # results up to here count for this occurrence
    status: str  # done | due | overdue | upcoming
    done_by: tuple[LabResult | QualitativeResult, ...]  # the latest result of each test; () unless done
    current: bool  # the occurrence that findings speak about

    @property
    def last_result(self) -> LabResult | QualitativeResult | None:
        """The latest of `done_by` (on a tie, the first in the item's test order): when it was done."""
        return max(self.done_by, key=lambda r: r.when, default=None)

    @property
    def unverified_code(self) -> str | None:
        """The codes of the results in `done_by` recognised only by an unverified code, comma-joined."""
        return ", ".join(dict.fromkeys(r.unverified_code for r in self.done_by if r.unverified_code)) or None


def _occurrences(ctx: Context, run: TherapyRun, item: ScheduleItem) -> list[Occurrence]:
    begin = run.start
    if begin is None:
        return []
    p = ctx.k.parameters
    before, after = p.monitoring_window_days_before.value, p.monitoring_window_days_after.value
    if item.week is not None:
        week_list = [item.week]
    else:
        assert item.periodic_from_week is not None
        every = p.periodic_recheck_weeks.value
        week_list = [item.periodic_from_week]
        while begin + weeks(week_list[-1]) - days(before) <= ctx.as_of:
            week_list.append(week_list[-1] + every)
    out = []
    for index, week in enumerate(week_list):
        due = begin + weeks(week)
        later = week_list[index + 1] if index + 1 < len(week_list) else None
        until = min(ctx.as_of, begin + weeks(later) - days(before) - days(1)) if later else ctx.as_of
        start = max(due - days(before), begin + days(1))
        results = [latest_result(ctx, t, since=start, until=until) for t in item.tests]
        done_by = tuple(r for r in results if r is not None) if all(results) else ()
        if done_by:
            status = "done"
        elif ctx.as_of < due - days(before):
            status = "upcoming"
        elif ctx.as_of <= due + days(after):
            status = "due"
        else:
            status = "overdue"
        out.append(
            Occurrence(
                item, week, due, due - days(before), due + days(after), until, status, done_by, current=False
            )
        )
    started = [o for o in out if o.window_start <= ctx.as_of]
    if started:
        last = started[-1]
        out[out.index(last)] = Occurrence(**{**last.__dict__, "current": True})
    return out


def schedule(ctx: Context) -> list[Occurrence]:
    run = ctx.dated_run
    if run is None:
        return []
    return [o for item in ctx.k.schedule(run.drug) for o in _occurrences(ctx, run, item)]


def timeline(ctx: Context) -> tuple[TimelineEntry, ...]:
    """Every scheduled test relative to the therapy start: done / due / overdue / upcoming.

    A done entry names its latest result and, when a result that made it done was recognised only by
    an unverified code, that code: it stays done (the result exists) but the code needs checking.
    """
    entries = [_entry(o) for o in schedule(ctx)]
    return tuple(sorted(entries, key=lambda e: (e.due, e.key)))


def _entry(o: Occurrence) -> TimelineEntry:
    last = o.last_result
    return TimelineEntry(
        key=o.item.key,
        label=o.item.label,
        week=o.week,
        due=o.due,
        status=o.status,
        done_on=last.when if last else None,
        reference=last.reference if last else None,
        unverified_code=o.unverified_code,
    )


def due_and_overdue(ctx: Context) -> list[Finding]:
    """`monitoring.<item>.due` / `monitoring.<item>.overdue`.

    **When** on therapy, a scheduled test of the drug's schedule is within its window and not done
    (due), or past the window and not done (overdue). A fixed item stops being reported once a
    periodic re-check interval has passed beyond its window (the periodic item takes over).
    **Then** info / warning; action: order the test.
    """
    run = ctx.dated_run
    if run is None or run.start is None:
        return []
    recheck = ctx.k.parameters.periodic_recheck_weeks.value
    out = []
    for o in schedule(ctx):
        if not o.current or o.status not in ("due", "overdue"):
            continue
        if o.item.week is not None and o.status == "overdue" and ctx.as_of > o.window_end + weeks(recheck):
            continue
        overdue = o.status == "overdue"
        policy = " (protocol policy)" if o.item.policy else ""
        out.append(
            make(
                ctx,
                f"monitoring.{o.item.key}.{o.status}",
                Category.MONITORING,
                Severity.WARNING if overdue else Severity.INFO,
                f"{o.item.label}{policy}: {'overdue since' if overdue else 'due'} {o.due.isoformat()}"[:139],
                lines=(
                    f"Scheduled week {o.week} after the start on {run.start.isoformat()}; "
                    f"window {o.window_start.isoformat()} to {o.window_end.isoformat()}.",
                ),
                facts=(o.item,),
                missing=tuple(LAB_LABELS.get(t, t) for t in o.item.tests),
                actions=order_tests(ctx, o.item.order),
                drug=run.drug,
            )
        )
    return out


def lab_stops(ctx: Context) -> list[Finding]:
    """`monitoring.alc|anc|hemoglobin.interrupt` and `monitoring.platelets.discontinue`.

    Sources: baricitinib interrupt until ALC >= 500, ANC >= 1000, Hb >= 8 [S1, S2]; deuruxolitinib
    the same [S11]; ritlecitinib ALC < 500 interrupt, platelets < 50,000 discontinue [S8a];
    abrocitinib platelets < 50,000 discontinue [S18a, V-weak].
    **When** on therapy, the latest value is below the drug's own interrupt / discontinue threshold.
    **Then** critical: interrupt (hold) or discontinue; repeat the CBC.
    """
    if ctx.run is None:
        return []
    run = ctx.run
    drug = ctx.drug(run.drug)
    out = []
    for lab, threshold in drug.thresholds.items():
        result = latest_lab(ctx, lab)
        if result is None:
            continue
        evidence: tuple[Evidence, ...] = (lab_evidence(result),)
        label = LAB_LABELS[lab]
        if threshold.discontinue_below is not None and result.value < threshold.discontinue_below:
            out.append(
                make(
                    ctx,
                    f"monitoring.{lab}.discontinue",
                    Category.MONITORING,
                    Severity.CRITICAL,
                    f"{label} {lab_value(lab, result.value)}: discontinue {drug.display.lower()} "
                    f"(below {lab_value(lab, threshold.discontinue_below)})"[:139],
                    evidence=evidence,
                    facts=(threshold,),
                    actions=(
                        stop_order(f"Discontinue {drug.display.lower()}", run.drug, run.episode.reference),
                    ),
                    drug=run.drug,
                )
            )
        elif threshold.interrupt_below is not None and result.value < threshold.interrupt_below:
            resume = threshold.resume_at_or_above or threshold.interrupt_below
            out.append(
                make(
                    ctx,
                    f"monitoring.{lab}.interrupt",
                    Category.MONITORING,
                    Severity.CRITICAL,
                    f"{label} {lab_value(lab, result.value)}: interrupt {drug.display.lower()} until "
                    f"{label} >= {lab_value(lab, resume)}"[:139],
                    evidence=evidence,
                    facts=(threshold,),
                    actions=(
                        stop_order(
                            f"Hold {drug.display.lower()} until {label} >= {lab_value(lab, resume)}",
                            run.drug,
                            run.episode.reference,
                        ),
                        *order_tests(ctx, ["lab.cbc_panel"]),
                    ),
                    drug=run.drug,
                )
            )
    return out


def start_unknown(ctx: Context) -> list[Finding]:
    """`monitoring.start_unknown`.

    **When** the patient is on a JAK inhibitor but no order gives its start date.
    **Then** warning: the monitoring schedule and the response review weeks count from the start,
    so none of them can be checked until the start date is recorded.
    """
    if ctx.run is None or ctx.run.start is not None:
        return []
    display = ctx.drug(ctx.run.drug).display
    return [
        make(
            ctx,
            "monitoring.start_unknown",
            Category.MONITORING,
            Severity.WARNING,
            f"On {display} with no start date: monitoring and response weeks cannot be checked",
            lines=(
                "Scheduled tests and SALT review weeks count from the therapy start. "
                f"Record when {display} was started ({md_code(ctx.run.episode.reference)}).",
            ),
            evidence=(Evidence("Current order", display, reference=ctx.run.episode.reference),),
            missing=("therapy start date",),
            drug=ctx.run.drug,
        )
    ]


def hbv_dna(ctx: Context) -> list[Finding]:
    """`monitoring.hbv_dna.detected` and `monitoring.hbv_dna.due`.

    Source: baricitinib - anti-HBc positive with HBsAg negative: monitor HBV DNA; if it is
    detected, consult a hepatologist [S2, S5]. The interval is policy (`hbv_dna_recheck_weeks`).
    **When** anti-HBc is positive and HBsAg negative and the drug being started or taken has that
    rule: the latest HBV DNA is detected (warning), or, on therapy, no HBV DNA was measured in the
    last `hbv_dna_recheck_weeks` (info; action: order HBV DNA).
    """
    monitored = [
        (d, rule)
        for d in ctx.drugs
        if (rule := ctx.drug(d).hepatitis) is not None and rule.hbv_dna_monitoring
    ]
    if not monitored:
        return []
    status, serology = hepatitis_b_status(ctx)
    if status != "core_only":
        return []
    drugs, rule = [d for d, _ in monitored], monitored[0][1]
    latest = latest_qualitative(ctx, "hbv_dna")
    names = drug_names(ctx, drugs)
    if latest is not None and latest.result == "positive":
        return [
            make(
                ctx,
                "monitoring.hbv_dna.detected",
                Category.MONITORING,
                Severity.WARNING,
                f"HBV DNA detected (anti-HBc positive, HBsAg negative): consult a hepatologist ({names})",
                evidence=(qualitative_evidence(latest), *serology),
                facts=(rule,),
                drug=drugs[0],
            )
        ]
    every = ctx.k.parameters.hbv_dna_recheck_weeks
    if ctx.run is None or (latest is not None and latest.when > ctx.as_of - weeks(every.value)):
        return []
    last = f"last HBV DNA {latest.when.isoformat()}" if latest else "no HBV DNA on record"
    return [
        make(
            ctx,
            "monitoring.hbv_dna.due",
            Category.MONITORING,
            Severity.INFO,
            f"HBV DNA monitoring due on {names}: anti-HBc positive, HBsAg negative ({last})",
            lines=(
                f"Every {every.value} weeks (protocol policy); "
                "if HBV DNA is detected, consult a hepatologist.",
            ),
            evidence=serology,
            facts=(rule, every),
            missing=(LAB_LABELS.get("hbv_dna", "HBV DNA"),),
            actions=order_tests(ctx, ["lab.hbv_dna"]),
            drug=drugs[0],
        )
    ]


def findings(ctx: Context) -> list[Finding]:
    return [*lab_stops(ctx), *start_unknown(ctx), *due_and_overdue(ctx), *hbv_dna(ctx)]
