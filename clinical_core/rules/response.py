"""Step 6: assess response (clinical.md 7.1, 7.15).

Response target SALT <= 20 [S7, S15a, S25]. Review weeks 12/24 are the brief's, kept as
policy; the baricitinib label escalates "if response is inadequate" with no fixed week
(`escalation_review_week` is policy); no-benefit review at 36 weeks is the EU Litfulo SmPC
[S10], applied to every JAK inhibitor as policy.
"""

from __future__ import annotations

from datetime import date

from clinical_core.findings import Action, Category, Evidence, Finding, Severity
from clinical_core.record import SaltScore
from clinical_core.rules.common import (
    Context,
    change_dose,
    days,
    latest_salt,
    make,
    number,
    record_salt,
    salt_evidence,
    weeks,
)
from clinical_core.rules.criteria import interaction_hits, renal_band
from clinical_core.rules.monitoring import lab_stops
from clinical_core.rules.safety import infection


def salt_due(ctx: Context) -> list[Finding]:
    """`response.salt.due`.

    **When** on therapy, a SALT review week (`salt_review_weeks`) has passed and no SALT has been
    recorded since (from the review window's start).
    **Then** info; action: record SALT.
    """
    run = ctx.dated_run
    if run is None:
        return []
    review = ctx.k.parameters.salt_review_weeks
    week_now = run.week_on(ctx.as_of) or 0
    passed = [w for w in review.value if week_now >= w]
    if not passed:
        return []
    week = max(passed)
    since = _review_window_start(ctx, week)
    if since is None or salt_for_review(ctx, week) is not None:
        return []
    return [
        make(
            ctx,
            "response.salt.due",
            Category.RESPONSE,
            Severity.INFO,
            f"Week {week} response review: no SALT recorded since {since.isoformat()}",
            lines=(
                f"Review weeks: {', '.join(str(w) for w in review.value)} (brief; policy). Target SALT <= "
                f"{ctx.k.parameters.response_target_salt.value}.",
            ),
            facts=(review, ctx.k.parameters.response_target_salt),
            missing=("SALT score",),
            actions=(record_salt(),),
            drug=run.drug,
        )
    ]


def _review_window_start(ctx: Context, week: int) -> date | None:
    """The first day a SALT counts for review week `week`: the monitoring window opens before the week,
    but never on or before the start, where a SALT is the pre-treatment score."""
    run = ctx.dated_run
    if run is None or run.start is None:
        return None
    opens = run.start + weeks(week) - days(ctx.k.parameters.monitoring_window_days_before.value)
    return max(opens, run.start + days(1))


def salt_for_review(ctx: Context, week: int) -> SaltScore | None:
    """The SALT that counts for review week `week`, once that week has come: the latest on-therapy SALT,
    if recorded in the week's window or later.

    A SALT from the first weeks of therapy says nothing about the response at the review week;
    `response.salt.due` asks for a new one instead (at `salt_review_weeks`).
    """
    run, opens = ctx.dated_run, _review_window_start(ctx, week)
    if run is None or opens is None or (run.week_on(ctx.as_of) or 0) < week:
        return None
    return latest_salt(ctx, after=opens - days(1))


def _on_therapy_salt(ctx: Context) -> SaltScore | None:
    return latest_salt(ctx, after=ctx.run.start) if ctx.run is not None else None


def target_met(ctx: Context) -> list[Finding]:
    """`response.target_met`.

    **When** on therapy, the latest SALT since the start is <= `response_target_salt`.
    **Then** info.
    """
    salt = _on_therapy_salt(ctx)
    target = ctx.k.parameters.response_target_salt
    if ctx.run is None or salt is None or salt.value > target.value:
        return []
    return [
        make(
            ctx,
            "response.target_met",
            Category.RESPONSE,
            Severity.INFO,
            f"Response target met: SALT {number(salt.value)} (target <= {target.value})",
            evidence=(salt_evidence(salt),),
            facts=(target,),
            drug=ctx.run.drug,
        )
    ]


def _dose_limited(ctx: Context, drug: str) -> str | None:
    band, _ = renal_band(ctx, drug)
    if band is not None and band.action != "no_change":
        return "renal function limits the dose"
    if any(i.effect == "dose_reduction" for i, _ in interaction_hits(ctx, drug)):
        return "an interacting medication requires a dose reduction"
    return None


def escalation(ctx: Context) -> list[Finding]:
    """`response.baricitinib.consider_4mg` (any drug with a labelled escalation dose), or
    `response.baricitinib.above_target_dose_limited` when the escalation dose is not an option.

    Source: baricitinib "increase to 4 mg once daily if response is inadequate" [S1, S3]; the week
    is policy (`escalation_review_week`, the brief's 12 weeks).
    **When** on the start dose, at or after the review week, the SALT that counts for that week
    (`salt_for_review`) is above target, and no hold or stop of the drug is advised (a lab below
    its threshold, an active infection: `monitoring.lab_stops`, `safety.infection`).
    **Then** warning; action: change to the escalation dose. When renal function or an interaction
    limits the dose, the warning says the escalation dose is not an option and offers no action.
    """
    run = ctx.dated_run
    if run is None:
        return []
    drug = ctx.drug(run.drug)
    esc, p = drug.doses.escalation, ctx.k.parameters
    if esc is None or run.dose_mg != drug.doses.start.dose_mg:
        return []
    salt = salt_for_review(ctx, p.escalation_review_week.value)
    if salt is None or salt.value <= p.response_target_salt.value or _hold_advised(ctx):
        return []
    limited = _dose_limited(ctx, run.drug)
    above = f"SALT {number(salt.value)} above target at week {run.week_on(ctx.as_of)}"
    escalated = f"{drug.display.lower()} {number(esc.dose_mg)} mg"
    if limited:
        finding_id = f"response.{run.drug}.above_target_dose_limited"
        summary = f"{above}: {escalated} is not an option ({limited})"
        label_step = f"The label's step ({esc.text}) does not apply: {limited}."
        actions: tuple[Action, ...] = ()
    else:
        finding_id = f"response.{run.drug}.consider_{number(esc.dose_mg)}mg"
        summary = f"{above}: consider {escalated}"
        label_step = esc.text
        actions = (
            change_dose(run.drug, drug.display, esc.dose_mg, esc.doses_per_day, run.episode.reference),
        )
    return [
        make(
            ctx,
            finding_id,
            Category.RESPONSE,
            Severity.WARNING,
            summary[:139],
            lines=(
                label_step,
                f"Review week {p.escalation_review_week.value} is policy; the label gives no week.",
            ),
            evidence=(salt_evidence(salt),),
            facts=(esc, p.escalation_review_week, p.response_target_salt),
            actions=actions,
            drug=run.drug,
        )
    ]


def _hold_advised(ctx: Context) -> bool:
    """Another rule advises holding or stopping the drug: a dose increase would contradict it."""
    return bool(lab_stops(ctx) or infection(ctx))


def step_down(ctx: Context) -> list[Finding]:
    """`response.baricitinib.consider_2mg` (any drug with a labelled step-down dose).

    Source: baricitinib "once response is adequate on 4 mg, decrease to 2 mg" [S1, S3].
    **When** on the escalation dose with the latest SALT since that dose started at or below target
    (a score from the lower dose says nothing about the response on the higher one).
    **Then** info; action: change to the step-down dose.
    """
    run = ctx.dated_run
    if run is None:
        return []
    salt = latest_salt(ctx, after=run.episode.start or run.start)
    if salt is None:
        return []
    drug = ctx.drug(run.drug)
    down, esc = drug.doses.step_down, drug.doses.escalation or drug.doses.near_total_start
    target = ctx.k.parameters.response_target_salt
    if down is None or esc is None or run.dose_mg != esc.dose_mg or salt.value > target.value:
        return []
    return [
        make(
            ctx,
            f"response.{run.drug}.consider_{number(down.dose_mg)}mg",
            Category.RESPONSE,
            Severity.INFO,
            f"SALT {number(salt.value)} at target on {number(esc.dose_mg)} mg: consider stepping down to "
            f"{number(down.dose_mg)} mg",
            lines=(down.text,),
            evidence=(salt_evidence(salt),),
            facts=(down, target),
            actions=(
                change_dose(run.drug, drug.display, down.dose_mg, down.doses_per_day, run.episode.reference),
            ),
            drug=run.drug,
        )
    ]


def no_benefit(ctx: Context) -> list[Finding]:
    """`response.no_benefit.review`.

    Source: EU Litfulo SmPC - consider stopping if there is no benefit after 36 weeks [S10];
    applied to every JAK inhibitor as policy.
    **When** on therapy at or after `no_benefit_review_week`, the SALT that counts for that week
    (`salt_for_review`: a score from before the week's window says nothing about benefit at it) is
    above target and improved by less than `min_improvement_salt` from the pre-treatment SALT.
    **Then** warning: review continuing therapy.
    """
    run, p = ctx.dated_run, ctx.k.parameters
    salt = salt_for_review(ctx, p.no_benefit_review_week.value)
    if run is None or salt is None or salt.value <= p.response_target_salt.value:
        return []
    baseline = latest_salt(ctx, until=run.start)
    if baseline is not None and baseline.value - salt.value >= p.min_improvement_salt.value:
        return []
    evidence = [salt_evidence(salt)] + ([salt_evidence(baseline, "Pre-treatment SALT")] if baseline else [])
    return [
        make(
            ctx,
            "response.no_benefit.review",
            Category.RESPONSE,
            Severity.WARNING,
            f"Week {run.week_on(ctx.as_of)}: SALT {number(salt.value)}, no meaningful benefit, review",
            lines=(
                f"Benefit = improvement of at least {p.min_improvement_salt.value} SALT points (policy).",
            ),
            evidence=evidence,
            facts=(p.no_benefit_review_week, p.min_improvement_salt, p.response_target_salt),
            missing=() if baseline else ("pre-treatment SALT",),
            drug=run.drug,
        )
    ]


def relapse_warning(ctx: Context) -> list[Finding]:
    """`response.stop.relapse_warning`.

    Source: the brief - "response is not sustained after treatment discontinuation"; ritlecitinib
    interruption < 6 weeks not expected to lose regrowth [S8a]. Relapse after stopping is reported in
    trials [unverified].
    **When** a proposed order stops a JAK inhibitor.
    **Then** warning: relapse after stopping is common.
    """
    stops = [o for o in ctx.proposed if o.intent == "stop" and o.drug is not None]
    out = []
    for order in stops:
        drug = ctx.drug(order.drug or "")
        education = ctx.k.education.durability
        out.append(
            make(
                ctx,
                "response.stop.relapse_warning",
                Category.RESPONSE,
                Severity.WARNING,
                f"Stopping {drug.display.lower()}: hair loss often returns after a JAK inhibitor is stopped",
                lines=(education.text,),
                evidence=(Evidence("Proposed order", "stop", None, order.reference),),
                facts=(education, *(f for f in (drug.interruption_note,) if f is not None)),
                drug=order.drug,
            )
        )
    return out


def findings(ctx: Context) -> list[Finding]:
    return [
        *salt_due(ctx),
        *target_met(ctx),
        *escalation(ctx),
        *step_down(ctx),
        *no_benefit(ctx),
        *relapse_warning(ctx),
    ]
