"""Step 1: confirm severe disease.

clinical.md 7.2: labels say "severe AA"; trials required SALT >= 50. The brief's
">40% scalp loss" matches no standard scale, so `severity_threshold_salt` is 50.
"""

from __future__ import annotations

from clinical_core.findings import Category, Evidence, Finding, Severity
from clinical_core.rules.common import (
    Context,
    diagnosis_evidence,
    has_totalis_or_universalis,
    make,
    number,
    record_salt,
    salt_evidence,
    totalis_or_universalis,
)
from clinical_core.rules.criteria import MET, age_check, is_near_total_loss, is_severe, pre_treatment_salt


def salt_missing(ctx: Context) -> list[Finding]:
    """`severity.salt.missing`.

    **When** the patient has an AA diagnosis and no SALT score on record.
    **Then** ask for a SALT score (action: record SALT).
    """
    if ctx.record.salt_scores and any(s.when <= ctx.as_of for s in ctx.record.salt_scores):
        return []
    severe_at = ctx.k.parameters.severity_threshold_salt
    target = ctx.k.parameters.response_target_salt
    return [
        make(
            ctx,
            "severity.salt.missing",
            Category.SEVERITY,
            Severity.WARNING,
            "No SALT score on record: record one to confirm severity and track response",
            lines=(
                f"Severity (SALT >= {severe_at.value}, label 'severe AA') and response "
                f"(SALT <= {target.value}) are judged on SALT.",
            ),
            facts=(severe_at, target, ctx.k.salt.regions),
            missing=("SALT score",),
            actions=(record_salt(),),
        )
    ]


def salt_stale(ctx: Context) -> list[Finding]:
    """`severity.salt.stale`.

    **When** not on therapy and the latest SALT is older than `salt_max_age_days`.
    **Then** ask for a current SALT score.
    """
    salt = pre_treatment_salt(ctx)
    max_age = ctx.k.parameters.salt_max_age_days
    if not ctx.initiating or salt is None or (ctx.as_of - salt.when).days <= max_age.value:
        return []
    age_days = (ctx.as_of - salt.when).days
    return [
        make(
            ctx,
            "severity.salt.stale",
            Category.SEVERITY,
            Severity.INFO,
            f"Latest SALT is {age_days} days old (over {max_age.value}): record a current score",
            evidence=(salt_evidence(salt),),
            facts=(max_age,),
            missing=("current SALT score",),
            actions=(record_salt(),),
        )
    ]


def severe(ctx: Context) -> list[Finding]:
    """`severity.severe` / `severity.below_threshold`.

    Source: labels "severe AA"; BRAVE/ALLEGRO/THRIVE entry SALT >= 50 [S7, S24e].
    **When** not on therapy (or proposing a start): latest SALT >= `severity_threshold_salt`,
    or alopecia totalis/universalis documented -> severe; a SALT below it without AT/AU -> below threshold.
    **Then** say so; below the threshold, JAK inhibitors are outside the labelled population.
    """
    if not ctx.initiating:
        return []
    p = ctx.k.parameters
    salt = pre_treatment_salt(ctx)
    at_au = has_totalis_or_universalis(ctx)
    evidence = [salt_evidence(salt)] if salt else []
    evidence += _subtype_evidence(ctx)
    if is_severe(ctx, salt.value if salt else None):
        below = salt is None or salt.value < p.severity_threshold_salt.value
        basis = "AT/AU documented" if at_au and below else f"SALT {number(salt.value) if salt else '?'}"
        return [
            make(
                ctx,
                "severity.severe",
                Category.SEVERITY,
                Severity.INFO,
                f"Severe alopecia areata ({basis}): within the labelled population",
                lines=(f"Threshold: SALT >= {p.severity_threshold_salt.value} or AT/AU.",),
                evidence=evidence,
                facts=(p.severity_threshold_salt,),
            )
        ]
    if salt is None:
        return []
    return [
        make(
            ctx,
            "severity.below_threshold",
            Category.SEVERITY,
            Severity.WARNING,
            f"SALT {number(salt.value)} below {p.severity_threshold_salt.value}: not 'severe AA' as labelled",
            lines=(
                "FDA labels cover severe AA; pivotal trials required SALT >= 50. "
                "The brief's '>40%' is not a standard scale (clinical.md 7.2).",
            ),
            evidence=evidence,
            facts=(p.severity_threshold_salt,),
            sources=("S24f",),
        )
    ]


def near_total_loss(ctx: Context) -> list[Finding]:
    """`severity.near_total_loss`.

    Source: baricitinib "consider 4 mg for nearly complete or complete scalp hair loss" [S1, S3].
    **When** not on therapy, SALT >= `near_total_loss_salt` or AT/AU documented, and an agent under
    consideration (the ordered one, else the candidates for the patient's age) has a labelled
    near-total-loss start dose and a minimum age the patient meets.
    **Then** note that this supports considering that agent's higher start dose.
    """
    if not ctx.initiating or not is_near_total_loss(ctx):
        return []
    offers = [
        (d, start)
        for d in ctx.drugs
        if (start := ctx.drug(d).doses.near_total_start) is not None and _old_enough(ctx, d)
    ]
    if not offers:
        return []
    p = ctx.k.parameters
    salt = pre_treatment_salt(ctx)
    agent, start = offers[0]
    display = ctx.drug(agent).display
    return [
        make(
            ctx,
            "severity.near_total_loss",
            Category.SEVERITY,
            Severity.INFO,
            f"Nearly complete or complete scalp loss: a {display.lower()} {number(start.dose_mg)} mg "
            "start may be considered",
            lines=(f"Policy cut-off: SALT >= {p.near_total_loss_salt.value} (AA-IGA 4) or AT/AU.",),
            evidence=([salt_evidence(salt)] if salt else []) + _subtype_evidence(ctx),
            facts=(p.near_total_loss_salt, start),
            drug=agent,
        )
    ]


def _old_enough(ctx: Context, drug: str) -> bool:
    """Known to meet the drug's minimum age (a higher start dose is not suggested on an unknown age)."""
    check = age_check(ctx, drug)
    return check is None or check.status == MET


def _subtype_evidence(ctx: Context) -> list[Evidence]:
    return [diagnosis_evidence(d) for d in totalis_or_universalis(ctx)]


def findings(ctx: Context) -> list[Finding]:
    return [*salt_missing(ctx), *salt_stale(ctx), *severe(ctx), *near_total_loss(ctx)]
