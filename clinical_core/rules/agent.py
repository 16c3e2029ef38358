"""Step 3: the agent and its dose, per drug (clinical.md 1-2, 7.3-7.5, 7.12-7.13).

Every fact is the drug's own, read from `drugs.<key>` in the knowledge file.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from clinical_core.findings import Action, Category, Evidence, Finding, Severity
from clinical_core.knowledge.model import DoseChange, Fact, Interaction
from clinical_core.rules.common import (
    Context,
    Members,
    change_dose,
    drug_names,
    make,
    medication_evidence,
    merged_members,
    number,
    stop_order,
)
from clinical_core.rules.criteria import (
    INTERACTION_FINDINGS,
    NOT_MET,
    Check,
    age_check,
    combination_check,
    cyp2c9_check,
    hepatic_check,
    hepatitis_check,
    interaction_hits,
    is_near_total_loss,
    renal_band,
    renal_check,
)


def checks_for(ctx: Context, fn: Callable[[Context, str], Check | None], finding_id: str) -> list[Check]:
    """The checks (one per chosen/candidate drug) that point at `finding_id`."""
    found = [fn(ctx, drug) for drug in ctx.drugs]
    return [c for c in found if c is not None and c.finding_id == finding_id]


def _facts(checks: list[Check]) -> list[Fact]:
    return [f for c in checks for f in c.facts]


def _evidence(checks: list[Check]) -> list[Evidence]:
    return list(dict.fromkeys(e for c in checks for e in c.evidence))


def _one_drug(checks: list[Check]) -> str | None:
    drugs = {c.drug for c in checks}
    return drugs.pop() if len(drugs) == 1 else None


def _target(ctx: Context, drug: str) -> str | None:
    if ctx.proposed_jak is not None and ctx.proposed_jak.drug == drug:
        return ctx.proposed_jak.reference
    if ctx.run is not None and ctx.run.drug == drug:
        return ctx.run.episode.reference
    return None


def _dose(ctx: Context, drug: str) -> tuple[float | None, int | None]:
    if ctx.proposed_jak is not None and ctx.proposed_jak.drug == drug:
        return ctx.proposed_jak.dose_mg, ctx.proposed_jak.doses_per_day
    if ctx.run is not None and ctx.run.drug == drug:
        return ctx.run.episode.dose_mg, ctx.run.episode.doses_per_day
    return None, None


def _reduced_dose_action(ctx: Context, drug: str, reduce: tuple[DoseChange, ...]) -> list[Action]:
    dose_mg, _ = _dose(ctx, drug)
    change = next((c for c in reduce if dose_mg is not None and c.from_mg == dose_mg), None)
    if change is None:
        return []
    facts = ctx.drug(drug)
    # The labelled reduced dose at the label's frequency, whatever the order's (as _already_reduced reads it).
    return [
        change_dose(drug, facts.display, change.to_mg, facts.doses.start.doses_per_day, _target(ctx, drug))
    ]


def _already_reduced(ctx: Context, drug: str, reduce: tuple[DoseChange, ...]) -> bool:
    """The ordered or current dose is at or below every reduced dose, reduces no further (1 mg), and is
    taken as often as the label gives the reduced dose: 1 mg twice daily is 2 mg a day, not a reduction.
    """
    dose_mg, per_day = _dose(ctx, drug)
    if dose_mg is None or not reduce or any(c.from_mg == dose_mg for c in reduce):
        return False
    # A reduced dose keeps the start dose's frequency (as `Drug.labelled_doses` reads it); an unknown
    # frequency is read as that one, as `dose_not_labelled` and the dose-change actions read it.
    labelled_per_day = ctx.drug(drug).doses.start.doses_per_day
    return dose_mg <= min(c.to_mg for c in reduce) and per_day in (None, labelled_per_day)


def off_label(ctx: Context) -> list[Finding]:
    """`agent.off_label`.

    Source: no FDA AA indication for ruxolitinib, tofacitinib, upadacitinib, abrocitinib (clinical.md 2).
    **When** the proposed or current JAK inhibitor is off-label for AA.
    **Then** say "off-label".
    """
    if ctx.mode == "candidates":
        return []
    drug = ctx.drug(ctx.drugs[0])
    if not drug.off_label:
        return []
    return [
        make(
            ctx,
            "agent.off_label",
            Category.AGENT,
            Severity.WARNING,
            f"{drug.display} has no FDA approval for alopecia areata: off-label use",
            lines=(f"{drug.display} ({drug.brand}), {drug.mechanism}. AA dose: {drug.doses.start.text}.",),
            facts=(drug.fda_aa_approval, drug.doses.start),
            drug=ctx.drugs[0],
        )
    ]


def age_below_minimum(ctx: Context) -> list[Finding]:
    """`agent.age.below_minimum`.

    Source: baricitinib and deuruxolitinib adults only [S1, S11]; ritlecitinib >= 12 years [S8a].
    **When** the patient is younger than the drug's minimum AA age (candidates: younger than all of them).
    **Then** critical; a hard stop on a proposed order.
    """
    if ctx.age is None:
        return []
    if ctx.mode == "candidates" and not ctx.drugs:
        candidates = ctx.k.parameters.candidate_agents.value
        facts = [m for c in candidates if (m := ctx.drug(c).min_age) is not None]
        ages = ", ".join(
            f"{ctx.drug(c).display.lower()} {m.value}"
            for c in candidates
            if (m := ctx.drug(c).min_age) is not None
        )
        return [
            make(
                ctx,
                "agent.age.below_minimum",
                Category.AGENT,
                Severity.CRITICAL,
                f"Age {ctx.age}: below the minimum age of every approved JAK inhibitor for AA",
                lines=(f"Minimum ages: {ages}.",),
                evidence=(Evidence("Age", f"{ctx.age} years", ctx.as_of),),
                facts=facts,
            )
        ]
    checks = checks_for(ctx, age_check, "agent.age.below_minimum")
    if not checks:
        return []
    drug = _one_drug(checks)
    return [
        make(
            ctx,
            "agent.age.below_minimum",
            Category.AGENT,
            Severity.CRITICAL,
            f"Age {ctx.age}: below the minimum AA age for {drug_names(ctx, [c.drug or '' for c in checks])}",
            lines=tuple(c.threshold or "" for c in checks),
            evidence=_evidence(checks),
            facts=_facts(checks),
            drug=drug,
            hard_stop=ctx.hard_stop(c.drug for c in checks),
        )
    ]


def age_unknown(ctx: Context) -> list[Finding]:
    """`agent.age.unknown`.

    **When** the record has no birth date.
    **Then** warn: the minimum-age criteria cannot be checked.
    """
    if ctx.age is not None:
        return []
    limits = [(d, m) for d in ctx.drugs if (m := ctx.drug(d).min_age) is not None]
    return [
        make(
            ctx,
            "agent.age.unknown",
            Category.AGENT,
            Severity.WARNING,
            "No birth date on record: the minimum age for JAK inhibitors cannot be checked",
            lines=tuple(f"{ctx.drug(d).display}: age >= {m.value} years." for d, m in limits),
            facts=[m for _, m in limits],
            missing=("birth date",),
        )
    ]


def combination(ctx: Context) -> list[Finding]:
    """`agent.combination.not_recommended`.

    Source: "not recommended with other JAK inhibitors, biologic immunomodulators, cyclosporine,
    or other potent immunosuppressants" [S7, S8b, S11].
    **When** the JAK inhibitor is given or proposed with one of these.
    **Then** critical; a hard stop on a proposed order.
    """
    checks = checks_for(ctx, combination_check, "agent.combination.not_recommended")
    if not checks:
        return []
    partners = ", ".join(dict.fromkeys(c.value or "" for c in checks))
    summary = f"JAK inhibitor with {partners}: combination not recommended"
    return [
        make(
            ctx,
            "agent.combination.not_recommended",
            Category.AGENT,
            Severity.CRITICAL,
            summary
            if len(summary) < 140
            else "JAK inhibitor with another immunomodulator: combination not recommended",
            lines=tuple(dict.fromkeys(f.text for c in checks for f in c.facts if hasattr(f, "text"))),
            evidence=_evidence(checks),
            facts=_facts(checks),
            drug=_one_drug(checks),
            hard_stop=ctx.hard_stop(c.drug for c in checks),
        )
    ]


def interactions(ctx: Context) -> list[Finding]:
    """`agent.interaction.oat3_inhibitor`, `.cyp2c9_inhibitor`, `.cyp3a_inducer`, `.cyp3a_inhibitor`.

    Sources: baricitinib + strong OAT3 inhibitors: dose reduction [S3, S20]; deuruxolitinib +
    moderate/strong CYP2C9 inhibitors: contraindicated [S13, unverified]; ritlecitinib + strong
    CYP3A inducers: not recommended [S8c]; ruxolitinib/tofacitinib + strong CYP3A4 inhibitors [S16b, S17b].
    **When** the drug is given or proposed with a medication in the class its label names.
    **Then** contraindicated or not recommended -> critical (hard stop on a proposed order, like
    the renal and hepatic "not recommended" rules, and failing eligibility); otherwise a warning,
    with a dose change where the label gives the reduced dose.
    """
    out: list[Finding] = []
    for drug in ctx.drugs:
        # Two classes may share a finding (ketoconazole and fluconazole with tofacitinib): one per id.
        by_id: dict[str, list[tuple[Interaction, Members]]] = {}
        for interaction, members in interaction_hits(ctx, drug):
            if finding_id := INTERACTION_FINDINGS.get(interaction.drug_class):
                by_id.setdefault(finding_id, []).append((interaction, members))
        out += [_interaction_finding(ctx, drug, finding_id, hits) for finding_id, hits in by_id.items()]
    return out


_EFFECT_ORDER = ("contraindicated", "not_recommended", "dose_reduction", "monitor")


def _interaction_finding(
    ctx: Context, drug: str, finding_id: str, hits: list[tuple[Interaction, Members]]
) -> Finding:
    facts = tuple(interaction for interaction, _ in hits)
    members = merged_members(*(found for _, found in hits))
    effect = min((f.effect for f in facts), key=_EFFECT_ORDER.index)
    blocking = effect in ("contraindicated", "not_recommended")
    reduce = next((f.reduce for f in facts if f.reduce), ())
    return make(
        ctx,
        finding_id,
        Category.AGENT,
        Severity.CRITICAL if blocking else Severity.WARNING,
        f"{ctx.drug(drug).display} with {', '.join(members)}: {effect.replace('_', ' ')}"[:139],
        lines=tuple(f.text for f in facts),
        evidence=medication_evidence("Medication", members),
        facts=facts,
        actions=_reduced_dose_action(ctx, drug, reduce),
        drug=drug,
        hard_stop=blocking and ctx.hard_stop([drug]),
    )


def cyp2c9(ctx: Context) -> list[Finding]:
    """`agent.cyp2c9.missing` / `agent.cyp2c9.poor_metabolizer`.

    Source: deuruxolitinib - "determine CYP2C9 genotype before starting; do not use in CYP2C9
    poor metabolizers" [S12, S13, S23].
    **When** deuruxolitinib is proposed or current and no CYP2C9 status is on record (missing),
    or the patient is a poor metabolizer (also for deuruxolitinib as a candidate).
    **Then** order the test / critical, a hard stop on a proposed order. A status inferred from a
    genotype cites the knowledge file's unverified diplotype mapping, so the finding is unverified.
    """
    out: list[Finding] = []
    for check in checks_for(ctx, cyp2c9_check, "agent.cyp2c9.poor_metabolizer"):
        out.append(
            make(
                ctx,
                "agent.cyp2c9.poor_metabolizer",
                Category.AGENT,
                Severity.CRITICAL,
                f"CYP2C9 poor metabolizer: do not use {ctx.drug(check.drug or '').display.lower()}",
                evidence=check.evidence,
                facts=check.facts,
                drug=check.drug,
                hard_stop=ctx.hard_stop([check.drug]),
            )
        )
    if ctx.mode != "candidates":
        for check in checks_for(ctx, cyp2c9_check, "agent.cyp2c9.missing"):
            out.append(
                make(
                    ctx,
                    "agent.cyp2c9.missing",
                    Category.AGENT,
                    Severity.WARNING,
                    f"No CYP2C9 genotype on record: required before starting "
                    f"{ctx.drug(check.drug or '').display.lower()}",
                    facts=check.facts,
                    missing=("CYP2C9 genotype / metabolizer status",),
                    actions=_cyp2c9_order(ctx),
                    drug=check.drug,
                )
            )
    return out


def _cyp2c9_order(ctx: Context) -> tuple[Action, ...]:
    from clinical_core.rules.common import order_tests

    return order_tests(ctx, ["lab.cyp2c9"])


def hepatitis(ctx: Context) -> list[Finding]:
    """`agent.hepatitis.not_recommended`.

    Source: ritlecitinib - "initiation NOT recommended in patients with hepatitis B or hepatitis C" [S8a].
    **When** a drug with that label rule is chosen (or a candidate) and hepatitis B or C is on record.
    **Then** critical; a hard stop on a proposed order.
    """
    checks = [
        c
        for which in ("hepatitis_b", "hepatitis_c")
        for c in checks_for(ctx, partial(_hepatitis, which=which), "agent.hepatitis.not_recommended")
    ]
    if not checks:
        return []
    kinds = " and ".join(
        dict.fromkeys("hepatitis B" if c.key == "hepatitis_b" else "hepatitis C" for c in checks)
    )
    drugs = drug_names(ctx, dict.fromkeys(c.drug or "" for c in checks))
    return [
        make(
            ctx,
            "agent.hepatitis.not_recommended",
            Category.AGENT,
            Severity.CRITICAL,
            f"{kinds[0].upper()}{kinds[1:]} on record: {drugs} not recommended",
            evidence=_evidence(checks),
            facts=_facts(checks),
            drug=_one_drug(checks),
            hard_stop=ctx.hard_stop(c.drug for c in checks),
        )
    ]


def _hepatitis(ctx: Context, drug: str, which: str) -> Check:
    return hepatitis_check(ctx, drug, which)


def renal(ctx: Context) -> list[Finding]:
    """`agent.renal.dose_reduction` / `agent.renal.not_recommended`.

    Sources: baricitinib eGFR 30 to < 60 dose reduction, < 30 not recommended [S3, bands unverified];
    deuruxolitinib eGFR < 30 not recommended [S11]; ritlecitinib not recommended in ESRD (EU) [S10].
    **When** the latest eGFR falls in the drug's reduction band, below its floor, or ESRD is on record;
    no reduction warning when the ordered or current dose is already a reduced one at its labelled
    frequency, or an unknown one (baricitinib 1 mg once daily; 1 mg twice daily is still warned about).
    **Then** warning with the reduced dose / critical (hard stop on a proposed order).
    """
    out: list[Finding] = []
    blocked = checks_for(ctx, renal_check, "agent.renal.not_recommended")
    if blocked:
        out.append(
            make(
                ctx,
                "agent.renal.not_recommended",
                Category.AGENT,
                Severity.CRITICAL,
                f"Renal function ({blocked[0].value}): "
                f"{drug_names(ctx, [c.drug or '' for c in blocked])} not recommended",
                lines=tuple(c.threshold or "" for c in blocked),
                evidence=_evidence(blocked),
                facts=_facts(blocked),
                drug=_one_drug(blocked),
                hard_stop=ctx.hard_stop(c.drug for c in blocked),
            )
        )
    for check in checks_for(ctx, renal_check, "agent.renal.dose_reduction"):
        drug = check.drug or ""
        band, _ = renal_band(ctx, drug)
        if band and _already_reduced(ctx, drug, band.reduce):
            continue
        actions = _reduced_dose_action(ctx, drug, band.reduce) if band else []
        doses = ", ".join(
            f"{number(c.from_mg)} -> {number(c.to_mg)} mg" for c in (band.reduce if band else ())
        )
        out.append(
            make(
                ctx,
                "agent.renal.dose_reduction",
                Category.AGENT,
                Severity.WARNING,
                f"eGFR {check.value}: reduce the {ctx.drug(drug).display.lower()} dose ({doses})"[:139],
                lines=(check.threshold or "",),
                evidence=check.evidence,
                facts=check.facts,
                actions=actions,
                drug=drug,
            )
        )
    return out


def hepatic(ctx: Context) -> list[Finding]:
    """`agent.hepatic.not_recommended`.

    Sources: ritlecitinib, deuruxolitinib Child-Pugh C not recommended [S8a, S11]; baricitinib severe
    hepatic impairment not recommended [S20 EU; US unverified].
    **When** severe hepatic impairment is on record and the drug's label rule says not recommended.
    **Then** critical; a hard stop on a proposed order.
    """
    checks = checks_for(ctx, hepatic_check, "agent.hepatic.not_recommended")
    if not checks:
        return []
    return [
        make(
            ctx,
            "agent.hepatic.not_recommended",
            Category.AGENT,
            Severity.CRITICAL,
            f"Severe hepatic impairment: {drug_names(ctx, [c.drug or '' for c in checks])} not recommended",
            evidence=_evidence(checks),
            facts=_facts(checks),
            drug=_one_drug(checks),
            hard_stop=ctx.hard_stop(c.drug for c in checks),
        )
    ]


def baricitinib_start_dose(ctx: Context) -> list[Finding]:
    """`agent.dose.baricitinib_start`.

    Source: baricitinib "2 mg once daily"; "consider 4 mg for nearly complete or complete scalp hair
    loss" [S1, S2, S3].
    **When** a proposed baricitinib start (not already on baricitinib) is above the start dose and
    there is no near-total scalp loss.
    **Then** warn; action: change to the start dose.
    """
    order = ctx.proposed_jak
    if (
        order is None
        or order.drug != "baricitinib"
        or (ctx.run is not None and ctx.run.drug == "baricitinib")
    ):
        return []
    doses = ctx.drug("baricitinib").doses
    if order.dose_mg is None or order.dose_mg <= doses.start.dose_mg or is_near_total_loss(ctx):
        return []
    return [
        make(
            ctx,
            "agent.dose.baricitinib_start",
            Category.AGENT,
            Severity.WARNING,
            f"Baricitinib {number(order.dose_mg)} mg start without near-total scalp loss: "
            f"label start is {number(doses.start.dose_mg)} mg",
            lines=(doses.start.text, doses.near_total_start.text if doses.near_total_start else ""),
            evidence=(Evidence("Proposed order", f"{number(order.dose_mg)} mg", None, order.reference),),
            facts=(doses.start, doses.near_total_start),
            actions=(
                change_dose(
                    "baricitinib",
                    "Baricitinib",
                    doses.start.dose_mg,
                    doses.start.doses_per_day,
                    order.reference,
                ),
            ),
            drug="baricitinib",
        )
    ]


def dose_not_labelled(ctx: Context) -> list[Finding]:
    """`agent.dose.not_labelled`.

    Sources: baricitinib 1/2/4 mg once daily [S1, S3]; ritlecitinib 50 mg once daily, no escalation
    [S8a]; deuruxolitinib 8 mg twice daily [S11].
    **When** a proposed order for an FDA-approved AA drug has a dose or frequency the label does not give.
    **Then** warn; action: change to the labelled start dose.
    """
    order = ctx.proposed_jak
    if order is None or order.drug is None or order.dose_mg is None:
        return []
    drug = ctx.drug(order.drug)
    if drug.off_label:
        return []
    per_day = order.doses_per_day or drug.doses.start.doses_per_day
    if (order.dose_mg, per_day) in drug.labelled_doses():
        return []
    start = drug.doses.start
    return [
        make(
            ctx,
            "agent.dose.not_labelled",
            Category.AGENT,
            Severity.WARNING,
            f"{drug.display} {number(order.dose_mg)} mg x{per_day}/day is not a labelled AA dose "
            f"({start.text.split(';')[0]})"[:139],
            lines=(start.text,),
            evidence=(
                Evidence(
                    "Proposed order", f"{number(order.dose_mg)} mg, {per_day} per day", None, order.reference
                ),
            ),
            facts=(start,),
            actions=(
                change_dose(order.drug, drug.display, start.dose_mg, start.doses_per_day, order.reference),
            ),
            drug=order.drug,
        )
    ]


def findings(ctx: Context) -> list[Finding]:
    return [
        *off_label(ctx),
        *age_below_minimum(ctx),
        *age_unknown(ctx),
        *combination(ctx),
        *interactions(ctx),
        *cyp2c9(ctx),
        *hepatitis(ctx),
        *renal(ctx),
        *hepatic(ctx),
        *baricitinib_start_dose(ctx),
        *dose_not_labelled(ctx),
    ]


__all__ = ["NOT_MET", "findings", "stop_order"]
