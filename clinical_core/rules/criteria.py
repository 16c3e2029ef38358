"""Per-drug criteria, written once: the eligibility checklist and the findings both read these.

Each check returns a `Check`: met | not-met | missing | out-of-window | unknown, with the
evidence, the facts (for sources and verification: a check is verified only when all its
facts are, and none of its evidence was recognised only through an unverified code) and the
finding that explains it.
`decisive` is False for checks whose missing data does not decide eligibility.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from clinical_core.findings import Evidence
from clinical_core.knowledge.model import Fact, Interaction, LabThreshold, RenalBand
from clinical_core.record import LabResult, QualitativeResult, SaltScore
from clinical_core.rules.common import (
    LAB_LABELS,
    Context,
    Members,
    active_conditions,
    condition_evidence,
    current_medication_classes,
    days,
    diagnosis_evidence,
    has_totalis_or_universalis,
    lab_evidence,
    lab_value,
    latest_lab,
    latest_qualitative,
    latest_salt,
    medication_evidence,
    merged_members,
    number,
    qualitative_evidence,
    totalis_or_universalis,
    unverified_drug_evidence,
)

NOT_MET = "not-met"
MET = "met"
MISSING = "missing"
OUT_OF_WINDOW = "out-of-window"
UNKNOWN = "unknown"
UNDECIDED = frozenset({MISSING, OUT_OF_WINDOW, UNKNOWN})


@dataclass(frozen=True)
class Check:
    key: str
    label: str
    status: str
    drug: str | None = None
    value: str | None = None
    when: date | None = None
    threshold: str | None = None
    reference: str | None = None
    finding_id: str | None = None
    evidence: tuple[Evidence, ...] = ()
    facts: tuple[Fact, ...] = ()
    decisive: bool = True
    detail: str | None = None

    @property
    def verified(self) -> bool:
        """Every fact the check used is verified in the knowledge file, and every item of its evidence
        was recognised by a verified code (its checklist line's flag)."""
        return all(f.verified for f in self.facts) and all(e.verified for e in self.evidence)


# --- Severity (drug-independent) ------------------------------------------------------------------


def is_severe(ctx: Context, salt_value: float | None) -> bool:
    threshold = ctx.k.parameters.severity_threshold_salt.value
    return has_totalis_or_universalis(ctx) or (salt_value is not None and salt_value >= threshold)


def is_near_total_loss(ctx: Context) -> bool:
    """SALT at or above `near_total_loss_salt`, or alopecia totalis/universalis documented."""
    salt = pre_treatment_salt(ctx)
    threshold = ctx.k.parameters.near_total_loss_salt.value
    return has_totalis_or_universalis(ctx) or (salt is not None and salt.value >= threshold)


def pre_treatment_salt(ctx: Context) -> SaltScore | None:
    """The latest SALT before a start (on therapy: on or before the start date)."""
    until = ctx.run.start if ctx.run is not None and not ctx.initiating else None
    return latest_salt(ctx, until=until)


def severity_check(ctx: Context) -> Check:
    p = ctx.k.parameters
    salt = pre_treatment_salt(ctx)
    threshold = f"SALT >= {p.severity_threshold_salt.value} or alopecia totalis/universalis"
    facts: tuple[Fact, ...] = (p.severity_threshold_salt,)
    # An AT/AU diagnosis is evidence where it decides severity: no SALT, or a SALT below the threshold.
    at_au = tuple(diagnosis_evidence(d) for d in totalis_or_universalis(ctx))
    if salt is None:
        if at_au:
            return Check(
                "severity",
                "Severe AA",
                MET,
                value="AT/AU documented",
                threshold=threshold,
                evidence=at_au,
                facts=facts,
            )
        return Check(
            "severity",
            "Severe AA",
            MISSING,
            threshold=threshold,
            finding_id="severity.salt.missing",
            facts=facts,
        )
    severe = is_severe(ctx, salt.value)
    stale = ctx.initiating and (ctx.as_of - salt.when).days > p.salt_max_age_days.value
    status = (OUT_OF_WINDOW if stale else MET) if severe else NOT_MET
    finding = "severity.salt.stale" if stale and severe else (None if severe else "severity.below_threshold")
    return Check(
        "severity",
        "Severe AA",
        status,
        value=f"SALT {number(salt.value)}",
        when=salt.when,
        threshold=threshold,
        reference=salt.reference,
        finding_id=finding,
        evidence=(
            Evidence("SALT", number(salt.value), salt.when, salt.reference),
            *(at_au if salt.value < p.severity_threshold_salt.value else ()),
        ),
        facts=facts,
    )


# --- Age ---------------------------------------------------------------------------------------------


def age_check(ctx: Context, drug: str) -> Check | None:
    min_age = ctx.drug(drug).min_age
    if min_age is None:
        return None
    threshold = f"age >= {min_age.value} years ({ctx.drug(drug).display.lower()})"
    if ctx.age is None:
        return Check(
            "age", "Age", UNKNOWN, drug, threshold=threshold, finding_id="agent.age.unknown", facts=(min_age,)
        )
    status = MET if ctx.age >= min_age.value else NOT_MET
    return Check(
        "age",
        "Age",
        status,
        drug,
        value=f"{ctx.age} years",
        threshold=threshold,
        finding_id=None if status == MET else "agent.age.below_minimum",
        facts=(min_age,),
        evidence=(Evidence("Age", f"{ctx.age} years", ctx.as_of),),
    )


# --- Prior conventional therapy (required mode only) -----------------------------------------------------


def prior_therapy_check(ctx: Context) -> Check | None:
    mode = ctx.k.parameters.step_therapy_mode
    if mode.value != "required":
        return None
    prior = [t for t in ctx.record.prior_therapies if t.start is None or t.start <= ctx.as_of]
    status = MET if prior else NOT_MET
    value = ", ".join(sorted({t.therapy.replace("_", " ") for t in prior})) or "none on record"
    return Check(
        "prior_therapy",
        "Prior conventional therapy (required by policy)",
        status,
        value=value,
        finding_id=None if prior else "prior_therapy.none_documented",
        facts=(mode,),
    )


# --- Lab thresholds ------------------------------------------------------------------------------------


def cbc_window_start(ctx: Context) -> date:
    window = ctx.k.parameters.baseline_lookback_days.value["cbc"]
    return ctx.baseline_reference_date - days(window)


def threshold_text(drug_display: str, lab: str, threshold: LabThreshold) -> str:
    assert threshold.do_not_start_below is not None
    return f"do not start below {lab_value(lab, threshold.do_not_start_below)} ({drug_display.lower()})"


def lab_start_check(ctx: Context, drug: str, lab: str) -> Check | None:
    """The drug's own start threshold for one lab (None when the drug has none)."""
    threshold = ctx.drug(drug).thresholds.get(lab)
    if threshold is None or threshold.do_not_start_below is None:
        return None
    label = LAB_LABELS[lab]
    text = threshold_text(ctx.drug(drug).display, lab, threshold)
    result = latest_lab(ctx, lab, until=ctx.baseline_reference_date)
    if result is None:
        return Check(
            lab, label, MISSING, drug, threshold=text, finding_id="baseline.cbc.missing", facts=(threshold,)
        )
    status = NOT_MET if result.value < threshold.do_not_start_below else MET
    if status == MET and result.when < cbc_window_start(ctx):
        status = OUT_OF_WINDOW
    finding = {NOT_MET: f"baseline.{lab}.below_start", OUT_OF_WINDOW: "baseline.cbc.missing"}.get(status)
    return Check(
        lab,
        label,
        status,
        drug,
        value=lab_value(lab, result.value),
        when=result.when,
        threshold=text,
        reference=result.reference,
        finding_id=finding,
        evidence=(lab_evidence(result),),
        facts=(threshold,),
    )


# --- Infections: TB, hepatitis -------------------------------------------------------------------------


def _window_start(ctx: Context, test_key: str) -> date:
    return ctx.baseline_reference_date - days(ctx.k.parameters.baseline_lookback_days.value[test_key])


def tb_status(ctx: Context) -> tuple[str, tuple[Evidence, ...]]:
    """positive | indeterminate | negative | missing (with the evidence)."""
    conditions = active_conditions(ctx, "active_tb") + active_conditions(ctx, "latent_tb")
    if conditions:
        return "positive", tuple(condition_evidence(c) for c in conditions)
    results = [r for r in (latest_qualitative(ctx, "tb_igra"), latest_qualitative(ctx, "tb_skin_test")) if r]
    if not results:
        return "missing", ()
    positive = [r for r in results if r.result == "positive"]
    if positive:  # a positive IGRA/TST stays relevant whatever its age
        return "positive", tuple(qualitative_evidence(r) for r in positive)
    latest = max(results, key=lambda r: r.when)
    if latest.when < _window_start(ctx, "tb_screening"):
        return "missing", (qualitative_evidence(latest),)
    if latest.result == "indeterminate":
        return "indeterminate", (qualitative_evidence(latest),)
    return "negative", (qualitative_evidence(latest),)


def tb_check(ctx: Context, drug: str) -> Check:
    status, evidence = tb_status(ctx)
    fact = ctx.drug(drug).tb
    facts = (fact,) if fact else ()
    mapping = {
        "positive": (NOT_MET, "baseline.tb.positive"),
        "indeterminate": (UNKNOWN, "baseline.tb.indeterminate"),
        "missing": (MISSING, "baseline.tb_screening.missing"),
        "negative": (MET, None),
    }
    check_status, finding = mapping[status]
    first = evidence[0] if evidence else None
    return Check(
        "tb",
        "Tuberculosis screening",
        check_status,
        drug,
        value=status,
        when=first.when if first else None,
        reference=first.reference if first else None,
        finding_id=finding,
        evidence=evidence,
        facts=facts,
    )


def _latest_in_window(ctx: Context, test: str, window_key: str) -> QualitativeResult | None:
    return latest_qualitative(
        ctx, test, since=_window_start(ctx, window_key), until=ctx.baseline_reference_date
    )


def hepatitis_b_status(ctx: Context) -> tuple[str, tuple[Evidence, ...]]:
    """positive | core_only (anti-HBc+, HBsAg-) | negative | missing."""
    conditions = active_conditions(ctx, "hepatitis_b")
    hbsag = latest_qualitative(ctx, "hbsag")
    if conditions or (hbsag is not None and hbsag.result == "positive"):
        evidence = tuple(condition_evidence(c) for c in conditions)
        return "positive", evidence + (
            (qualitative_evidence(hbsag),) if hbsag and hbsag.result == "positive" else ()
        )
    hbsag_w = _latest_in_window(ctx, "hbsag", "hepatitis_b")
    core = latest_qualitative(ctx, "anti_hbc")
    if core is not None and core.result == "positive" and hbsag is not None and hbsag.result == "negative":
        return "core_only", (qualitative_evidence(core), qualitative_evidence(hbsag))
    core_w = _latest_in_window(ctx, "anti_hbc", "hepatitis_b")
    if hbsag_w is None or core_w is None:
        return "missing", tuple(qualitative_evidence(r) for r in (hbsag_w, core_w) if r)
    return "negative", (qualitative_evidence(hbsag_w), qualitative_evidence(core_w))


def hepatitis_c_status(ctx: Context) -> tuple[str, tuple[Evidence, ...]]:
    conditions = active_conditions(ctx, "hepatitis_c")
    hcv = latest_qualitative(ctx, "hcv_ab")
    if conditions or (hcv is not None and hcv.result == "positive"):
        evidence = tuple(condition_evidence(c) for c in conditions)
        return "positive", evidence + (
            (qualitative_evidence(hcv),) if hcv and hcv.result == "positive" else ()
        )
    hcv_w = _latest_in_window(ctx, "hcv_ab", "hepatitis_c")
    if hcv_w is None:
        return "missing", ()
    return "negative", (qualitative_evidence(hcv_w),)


def hepatitis_check(ctx: Context, drug: str, which: str) -> Check:
    status, evidence = hepatitis_b_status(ctx) if which == "hepatitis_b" else hepatitis_c_status(ctx)
    rule = ctx.drug(drug).hepatitis
    label_rule = rule is not None and which in rule.not_recommended_in
    positive_finding = "agent.hepatitis.not_recommended" if label_rule else f"baseline.{which}.positive"
    mapping = {
        "positive": (NOT_MET, positive_finding),
        "missing": (MISSING, f"baseline.{which}.missing"),
        "negative": (MET, None),
        "core_only": (MET, "baseline.hepatitis_b.monitor_dna"),
    }
    check_status, finding = mapping[status]
    label = "Hepatitis B" if which == "hepatitis_b" else "Hepatitis C"
    first = evidence[0] if evidence else None
    value = "anti-HBc positive, HBsAg negative" if status == "core_only" else status
    return Check(
        which,
        label,
        check_status,
        drug,
        value=value,
        when=first.when if first else None,
        reference=first.reference if first else None,
        finding_id=finding,
        evidence=evidence,
        facts=(rule,) if rule else (),
    )


# --- Pregnancy, infection ---------------------------------------------------------------------------------


def pregnancy_test_applies(ctx: Context) -> bool:
    """A woman of childbearing potential: female, in the policy age band."""
    band = ctx.k.parameters.pregnancy_test_age_band.value
    sex = ctx.record.demographics.sex
    return sex == "female" and ctx.age is not None and band.min <= ctx.age <= band.max


def _latest_hcg(ctx: Context, since: date) -> LabResult | None:
    return latest_lab(ctx, "hcg_quantitative", since=since)


def pregnancy_evidence(ctx: Context, since: date) -> tuple[Evidence, ...]:
    """Positive pregnancy evidence since a date: active condition, positive test, or hCG at/above cut-off."""
    found = [condition_evidence(c) for c in active_conditions(ctx, "pregnancy")]
    test = latest_qualitative(ctx, "pregnancy_test", since=since)
    if test is not None and test.result == "positive":
        found.append(qualitative_evidence(test))
    hcg = _latest_hcg(ctx, since)
    if hcg is not None and hcg.value >= ctx.k.parameters.hcg_positive_miu_ml.value:
        found.append(lab_evidence(hcg))
    return tuple(found)


def _pregnancy_facts(ctx: Context, drug: str, since: date, documented: bool) -> tuple[Fact, ...]:
    """What the "Not pregnant" row rests on, so that its verified flag covers all of it.

    The hCG cut-off whenever an hCG result was read against it, whichever way it fell. The drug's
    pregnancy fact only where pregnancy is at issue: documented, or a woman of childbearing
    potential; for anyone else the row is met without it.
    """
    facts: list[Fact] = []
    if _latest_hcg(ctx, since) is not None:
        facts.append(ctx.k.parameters.hcg_positive_miu_ml)
    fact = ctx.drug(drug).pregnancy
    if fact is not None and (documented or pregnancy_test_applies(ctx)):
        facts.append(fact)
    return tuple(facts)


def pregnancy_check(ctx: Context, drug: str) -> Check:
    since = _window_start(ctx, "pregnancy_test")
    evidence = pregnancy_evidence(ctx, since)
    facts = _pregnancy_facts(ctx, drug, since, documented=bool(evidence))
    if evidence:
        return Check(
            "pregnancy",
            "Not pregnant",
            NOT_MET,
            drug,
            value="pregnancy documented",
            when=evidence[0].when,
            reference=evidence[0].reference,
            finding_id="baseline.pregnancy.positive",
            evidence=evidence,
            facts=facts,
            decisive=False,
        )
    # A met row carries its facts too, as the TB and infection rows do, so that the row (and an
    # eligible verdict resting on it) shows when one of them is unverified.
    return Check(
        "pregnancy",
        "Not pregnant",
        MET,
        drug,
        value="no pregnancy documented",
        facts=facts,
        decisive=False,
    )


def infection_evidence(ctx: Context) -> tuple[Evidence, ...]:
    conditions = active_conditions(ctx, "serious_infection") + active_conditions(ctx, "herpes_zoster")
    return tuple(condition_evidence(c) for c in conditions)


def infection_check(ctx: Context, drug: str) -> Check:
    evidence = infection_evidence(ctx)
    fact = ctx.drug(drug).infection
    status = NOT_MET if evidence else MET
    return Check(
        "infection",
        "No active serious infection",
        status,
        drug,
        value="active infection" if evidence else "none recorded",
        finding_id="baseline.infection.active" if evidence else None,
        evidence=evidence,
        facts=(fact,) if fact else (),
        decisive=False,
    )


# --- Renal, hepatic -------------------------------------------------------------------------------------


def latest_egfr(ctx: Context) -> LabResult | None:
    return latest_lab(ctx, "egfr")


def renal_band(ctx: Context, drug: str) -> tuple[RenalBand | None, LabResult | None]:
    renal = ctx.drug(drug).renal
    egfr = latest_egfr(ctx)
    if renal is None or egfr is None:
        return None, egfr
    return next((b for b in renal.bands if b.contains(egfr.value)), None), egfr


def renal_check(ctx: Context, drug: str) -> Check | None:
    renal = ctx.drug(drug).renal
    if renal is None:
        return None
    esrd = active_conditions(ctx, "end_stage_renal_disease")
    if esrd and renal.esrd_not_recommended is not None and renal.esrd_not_recommended.value:
        return Check(
            "renal",
            "Renal function",
            NOT_MET,
            drug,
            value="end-stage renal disease",
            reference=esrd[0].reference,
            finding_id="agent.renal.not_recommended",
            evidence=tuple(condition_evidence(c) for c in esrd),
            facts=(renal.esrd_not_recommended,),
        )
    if not renal.bands:
        return None
    band, egfr = renal_band(ctx, drug)
    if egfr is None:
        return Check(
            "renal", "Renal function (eGFR)", MISSING, drug, finding_id="baseline.renal_function.missing"
        )
    value = lab_value("egfr", egfr.value)
    evidence = (lab_evidence(egfr),)
    if band is None or band.action == "no_change":
        return Check(
            "renal",
            "Renal function (eGFR)",
            MET,
            drug,
            value=value,
            when=egfr.when,
            reference=egfr.reference,
            evidence=evidence,
            facts=(band,) if band else (),
        )
    status = NOT_MET if band.action == "not_recommended" else MET
    finding = "agent.renal.not_recommended" if status == NOT_MET else "agent.renal.dose_reduction"
    return Check(
        "renal",
        "Renal function (eGFR)",
        status,
        drug,
        value=value,
        when=egfr.when,
        threshold=_band_text(band),
        reference=egfr.reference,
        finding_id=finding,
        evidence=evidence,
        facts=(band,),
    )


def _band_text(band: RenalBand) -> str:
    low = f"{number(band.egfr_at_least)} <= " if band.egfr_at_least is not None else ""
    high = f" < {number(band.egfr_below)}" if band.egfr_below is not None else ""
    return f"{low}eGFR{high}: {band.action.replace('_', ' ')}"


def hepatic_check(ctx: Context, drug: str) -> Check | None:
    rule = ctx.drug(drug).hepatic
    if rule is None or not rule.value:
        return None
    conditions = active_conditions(ctx, "severe_hepatic_impairment")
    if not conditions:  # the line exists because of the rule, so it rests on it when met too
        return Check(
            "hepatic",
            "No severe hepatic impairment",
            MET,
            drug,
            value="none recorded",
            facts=(rule,),
            decisive=False,
        )
    return Check(
        "hepatic",
        "No severe hepatic impairment",
        NOT_MET,
        drug,
        value="severe hepatic impairment",
        reference=conditions[0].reference,
        finding_id="agent.hepatic.not_recommended",
        evidence=tuple(condition_evidence(c) for c in conditions),
        facts=(rule,),
    )


# --- Interactions, combinations, pharmacogenomics ---

INTERACTION_FINDINGS = {
    "strong_oat3_inhibitor": "agent.interaction.oat3_inhibitor",
    "cyp2c9_inhibitor": "agent.interaction.cyp2c9_inhibitor",
    "strong_cyp3a_inducer": "agent.interaction.cyp3a_inducer",
    "strong_cyp3a4_inhibitor": "agent.interaction.cyp3a_inhibitor",
    # Fluconazole-type (moderate CYP3A4 + strong CYP2C19): the same CYP3A4 exposure finding.
    "cyp3a4_moderate_cyp2c19_strong_inhibitor": "agent.interaction.cyp3a_inhibitor",
}


def interaction_hits(ctx: Context, drug: str) -> list[tuple[Interaction, Members]]:
    classes = current_medication_classes(ctx)
    return [(i, classes[i.drug_class]) for i in ctx.drug(drug).interactions if i.drug_class in classes]


def interaction_checks(ctx: Context, drug: str) -> list[Check]:
    checks = []
    for interaction, members in interaction_hits(ctx, drug):
        blocking = interaction.effect in ("contraindicated", "not_recommended")
        checks.append(
            Check(
                f"interaction.{interaction.drug_class}",
                "Interacting medication",
                NOT_MET if blocking else MET,
                drug,
                value=", ".join(members),
                threshold=interaction.text,
                finding_id=INTERACTION_FINDINGS.get(interaction.drug_class),
                evidence=tuple(medication_evidence("Medication", members)),
                facts=(interaction,),
                decisive=False,
            )
        )
    return checks


def combination_partners(ctx: Context, drug: str) -> list[Evidence]:
    """The concomitant products the combination rule names, one item each (verified if any source is)."""
    rule = ctx.drug(drug).combination_not_recommended
    partners: list[Evidence] = []
    for jak in sorted(ctx.other_active_jaks - {drug}) if rule.other_jak else ():
        order = unverified_drug_evidence(ctx, jak)
        code = order.unverified_code if order else None
        name = f"{ctx.drug(jak).display} (JAK inhibitor)"
        partners.append(Evidence("Concomitant", name, verified=order is None, unverified_code=code))
    classes = current_medication_classes(ctx)
    partners += medication_evidence(
        "Concomitant", merged_members(*(classes.get(c, {}) for c in rule.classes))
    )
    partners += [
        Evidence("Concomitant", t.therapy.replace("_", " "), None, None, t.verified, t.unverified_code)
        for t in ctx.record.prior_therapies
        if t.therapy == "cyclosporine" and t.end is None and t.status == "active"
    ]
    unique: dict[str | None, Evidence] = {}
    for partner in partners:
        if partner.value not in unique or (partner.verified and not unique[partner.value].verified):
            unique[partner.value] = partner
    return list(unique.values())


def combination_check(ctx: Context, drug: str) -> Check:
    partners = combination_partners(ctx, drug)
    rule = ctx.drug(drug).combination_not_recommended
    return Check(
        "combination",
        "No other JAK inhibitor or potent immunosuppressant",
        NOT_MET if partners else MET,
        drug,
        value=", ".join(p.value or "" for p in partners) or "none",
        finding_id="agent.combination.not_recommended" if partners else None,
        evidence=tuple(partners),
        facts=(rule,),
        decisive=False,
    )


def cyp2c9_check(ctx: Context, drug: str) -> Check | None:
    rule = ctx.drug(drug).cyp2c9_genotype_required
    if rule is None or not rule.value:
        return None
    result = latest_qualitative(ctx, "cyp2c9_phenotype")
    if result is None:
        return Check(
            "cyp2c9",
            "CYP2C9 metabolizer status",
            MISSING,
            drug,
            finding_id="agent.cyp2c9.missing",
            facts=(rule,),
        )
    poor = result.result == "poor"
    value = f"{result.result} metabolizer"
    facts: tuple[Fact, ...] = (rule,)
    if result.inferred_from is not None:
        value += f" (inferred from {result.inferred_from})"
        facts += (ctx.k.pharmacogenomics.cyp2c9,)
    return Check(
        "cyp2c9",
        "CYP2C9 metabolizer status",
        NOT_MET if poor else MET,
        drug,
        value=value,
        when=result.when,
        reference=result.reference,
        finding_id="agent.cyp2c9.poor_metabolizer" if poor else None,
        evidence=(qualitative_evidence(result, value),),
        facts=facts,
    )


# --- All criteria for one drug ---------------------------------------------------------------------------


def drug_checks(ctx: Context, drug: str) -> list[Check]:
    """Every initiation criterion for one drug, in checklist order."""
    checks: list[Check | None] = [severity_check(ctx), age_check(ctx, drug), prior_therapy_check(ctx)]
    checks += [lab_start_check(ctx, drug, lab) for lab in ("alc", "anc", "hemoglobin", "platelets")]
    checks += [
        tb_check(ctx, drug),
        hepatitis_check(ctx, drug, "hepatitis_b"),
        hepatitis_check(ctx, drug, "hepatitis_c"),
        pregnancy_check(ctx, drug),
        infection_check(ctx, drug),
        renal_check(ctx, drug),
        hepatic_check(ctx, drug),
        combination_check(ctx, drug),
        cyp2c9_check(ctx, drug),
    ]
    checks += interaction_checks(ctx, drug)
    return [c for c in checks if c is not None]


def drug_verdict(checks: list[Check]) -> str:
    """met | not-met | missing for one drug."""
    if any(c.status == NOT_MET for c in checks):
        return NOT_MET
    if any(c.status in UNDECIDED and c.decisive for c in checks):
        return MISSING
    return MET
