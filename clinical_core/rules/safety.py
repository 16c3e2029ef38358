"""Safety: boxed-warning risk factors and events during therapy (brief "critical safety").

Boxed warning: serious infections, mortality, malignancy, MACE, thrombosis [S3, S2, S8b, S12];
EMA: in patients 65 and over use only if no alternative [S21a].
"""

from __future__ import annotations

from datetime import timedelta

from clinical_core.findings import Category, Evidence, Finding, Severity
from clinical_core.record import SmokingStatus
from clinical_core.rules.common import (
    Context,
    any_conditions,
    condition_evidence,
    make,
    stop_order,
    vaccination_evidence,
)
from clinical_core.rules.criteria import infection_evidence, pregnancy_evidence


def _smoking(ctx: Context) -> SmokingStatus | None:
    statuses = [s for s in ctx.record.smoking if s.when <= ctx.as_of]
    return max(statuses, key=lambda s: s.when) if statuses else None


def boxed_warning_risk_factors(ctx: Context) -> list[Finding]:
    """`safety.boxed_warning.risk_factors`.

    **When** the patient is >= `boxed_warning_age`, a current/former smoker, or has cardiovascular,
    thrombotic or malignancy history.
    **Then** warning: weigh the boxed-warning risks (MACE, thrombosis, malignancy, mortality).
    """
    evidence: list[Evidence] = []
    age_param = ctx.k.parameters.boxed_warning_age
    old_age = ctx.age is not None and ctx.age >= age_param.value
    if old_age:
        evidence.append(Evidence("Age", f"{ctx.age} years (>= {age_param.value})", ctx.as_of))
    smoking = _smoking(ctx)
    if smoking is not None and smoking.current_or_former:
        evidence.append(
            Evidence(
                "Smoking",
                smoking.display,
                smoking.when,
                smoking.reference,
                verified=smoking.verified,
                unverified_code=smoking.unverified_code,
            )
        )
    for concept in ("smoker", "cardiovascular", "vte", "malignancy"):
        evidence += [condition_evidence(c) for c in any_conditions(ctx, concept)]
    if not evidence:
        return []
    drugs = ctx.drugs or tuple(ctx.k.parameters.candidate_agents.value)
    labels = ", ".join(
        dict.fromkeys(e.label if e.label in ("Age", "Smoking") else e.value or "" for e in evidence)
    )
    return [
        make(
            ctx,
            "safety.boxed_warning.risk_factors",
            Category.SAFETY,
            Severity.WARNING,
            f"Boxed-warning risk factors present ({labels})"[:139],
            lines=(
                *(f"{ctx.drug(d).display}: {ctx.drug(d).boxed_warning.text}" for d in drugs),
                f"Age >= {age_param.value}: {age_param.rationale}" if old_age else "",
            ),
            evidence=evidence,
            facts=[*([age_param] if old_age else []), *(ctx.drug(d).boxed_warning for d in drugs)],
            drug=drugs[0] if len(drugs) == 1 else None,
        )
    ]


def live_vaccine(ctx: Context) -> list[Finding]:
    """`safety.live_vaccine.during_therapy`.

    Source: live vaccines "not recommended during, or shortly before, treatment" [S8f, S20b].
    **When** a live vaccine was given since the therapy start, or one is proposed while on (or
    starting) a JAK inhibitor.
    **Then** critical; a proposed live vaccine is a hard stop with an action to remove the order.
    """
    on = ctx.run is not None
    starting = ctx.proposed_jak is not None
    if not on and not starting:
        return []
    drug = ctx.run.drug if ctx.run is not None else (ctx.proposed_jak.drug if ctx.proposed_jak else None)
    facts = [ctx.drug(drug).live_vaccines] if drug else []
    proposed = [o for o in ctx.proposed if o.kind == "vaccine" and o.intent == "start" and o.live_vaccine]
    if proposed:
        names = [o.medication_name or f"CVX {o.cvx}" for o in proposed]
        return [
            make(
                ctx,
                "safety.live_vaccine.during_therapy",
                Category.SAFETY,
                Severity.CRITICAL,
                f"Live vaccine ({', '.join(names)}) proposed during JAK inhibitor therapy: avoid"[:139],
                lines=("Use non-live alternatives (e.g., recombinant zoster vaccine).",),
                evidence=[
                    Evidence("Proposed vaccine", n, None, o.reference, o.verified, o.unverified_code)
                    for n, o in zip(names, proposed, strict=True)
                ],
                facts=facts,
                actions=[
                    stop_order(f"Remove the {n} order", None, o.reference)
                    for n, o in zip(names, proposed, strict=True)
                ],
                drug=drug,
                hard_stop=True,
            )
        ]
    if ctx.run is None:
        return []
    # With no start date on record, look back as far as the pre-start live-vaccine window.
    since = ctx.run.start or ctx.as_of - timedelta(days=ctx.k.parameters.live_vaccine_lookback_days.value)
    given = [v for v in ctx.record.vaccinations if v.live and since <= v.when <= ctx.as_of]
    if not given:
        return []
    return [
        make(
            ctx,
            "safety.live_vaccine.during_therapy",
            Category.SAFETY,
            Severity.CRITICAL,
            f"Live vaccine ({given[-1].display}) given during JAK inhibitor therapy"[:139],
            evidence=[vaccination_evidence(v) for v in given],
            facts=facts,
            drug=drug,
        )
    ]


def pregnancy(ctx: Context) -> list[Finding]:
    """`safety.pregnancy.during_therapy`.

    Source: animal data suggest possible fetal harm [S6, S8g].
    **When** on therapy, a pregnancy condition, positive test, or hCG at/above the cut-off since the start.
    **Then** critical.
    """
    if ctx.run is None:
        return []
    lookback = ctx.k.parameters.baseline_lookback_days.value["pregnancy_test"]
    evidence = pregnancy_evidence(ctx, ctx.run.start or ctx.as_of - timedelta(days=lookback))
    if not evidence:
        return []
    drug = ctx.drug(ctx.run.drug)
    return [
        make(
            ctx,
            "safety.pregnancy.during_therapy",
            Category.SAFETY,
            Severity.CRITICAL,
            f"Pregnancy documented during {drug.display.lower()} therapy: review treatment",
            lines=tuple(f.text for f in (drug.pregnancy, drug.lactation) if f is not None),
            evidence=evidence,
            facts=[f for f in (drug.pregnancy, drug.lactation) if f is not None],
            sources=() if drug.pregnancy else ("POLICY",),
            drug=ctx.run.drug,
        )
    ]


def infection(ctx: Context) -> list[Finding]:
    """`safety.infection.during_therapy`.

    Source: serious infection or herpes zoster - interrupt until controlled / resolved [S2, S5, S11].
    **When** on therapy with an active serious infection or herpes zoster.
    **Then** critical: interrupt until the infection is controlled.
    """
    if ctx.run is None:
        return []
    evidence = infection_evidence(ctx)
    if not evidence:
        return []
    drug = ctx.drug(ctx.run.drug)
    return [
        make(
            ctx,
            "safety.infection.during_therapy",
            Category.SAFETY,
            Severity.CRITICAL,
            f"Serious infection or zoster on {drug.display.lower()}: interrupt until controlled",
            evidence=evidence,
            facts=[drug.infection] if drug.infection else [],
            sources=() if drug.infection else ("POLICY",),
            actions=(
                stop_order(
                    f"Hold {drug.display.lower()} until the infection is controlled",
                    ctx.run.drug,
                    ctx.run.episode.reference,
                ),
            ),
            drug=ctx.run.drug,
        )
    ]


def findings(ctx: Context) -> list[Finding]:
    return [*boxed_warning_risk_factors(ctx), *live_vaccine(ctx), *pregnancy(ctx), *infection(ctx)]
