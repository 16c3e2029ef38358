"""Step 4: baseline before initiation, for the chosen drug (or each candidate agent).

Brief step 4 corrected by clinical.md 7.8-7.11: CBC to confirm initiation is allowed,
hepatic and renal function, TB evaluation, viral hepatitis screening (HBsAg, anti-HBc,
HCV Ab), update immunizations [S2, S8a, S5]; the pregnancy test is practice, not label.
Look-back windows are policy (`parameters.baseline_lookback_days`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import partial

from clinical_core.findings import Category, ChecklistItem, Evidence, Finding, Severity
from clinical_core.knowledge.model import BaselineTest, Fact
from clinical_core.record import CANONICAL_UNITS
from clinical_core.rules.agent import checks_for
from clinical_core.rules.common import (
    LAB_LABELS,
    Context,
    days,
    drug_names,
    lab_evidence,
    latest_lab,
    latest_qualitative,
    make,
    number,
    order_tests,
    qualitative_evidence,
    vaccination_evidence,
)
from clinical_core.rules.criteria import (
    NOT_MET,
    Check,
    hepatitis_check,
    infection_check,
    lab_start_check,
    pregnancy_check,
    pregnancy_test_applies,
    tb_status,
)

THRESHOLD_FINDINGS = {
    "alc": "baseline.alc.below_start",
    "anc": "baseline.anc.below_start",
    "hemoglobin": "baseline.hemoglobin.below_start",
    "platelets": "baseline.platelets.below_start",
}


# --- Presence of each baseline test in its window ----------------------------------------------------


def _window(ctx: Context, key: str) -> tuple[date, int]:
    window = ctx.k.parameters.baseline_lookback_days.value[key]
    return ctx.baseline_reference_date - days(window), window


def _latest_evidence(ctx: Context, test: str, since: date | None) -> Evidence | None:
    until = ctx.baseline_reference_date
    if test in CANONICAL_UNITS:
        lab = latest_lab(ctx, test, since=since, until=until)
        return lab_evidence(lab) if lab else None
    qual = latest_qualitative(ctx, test, since=since, until=until)
    return qualitative_evidence(qual) if qual else None


def presence(ctx: Context, key: str, test: BaselineTest) -> tuple[str, list[Evidence]]:
    """met (all required and one of any_of in window) | out-of-window (only older results) | missing."""
    since, _ = _window(ctx, key)
    in_window = {t: _latest_evidence(ctx, t, since) for t in test.tests}
    required_ok = all(in_window[t] is not None for t in test.require)
    any_ok = not test.any_of or any(in_window[t] is not None for t in test.any_of)
    found = [e for e in in_window.values() if e is not None]
    if required_ok and any_ok:
        return "met", found
    older = [e for t in test.tests if (e := _latest_evidence(ctx, t, None)) is not None]
    return ("out-of-window" if older else "missing"), found or older


def _applies(ctx: Context, key: str) -> bool:
    return key != "pregnancy_test" or pregnancy_test_applies(ctx)


def missing_tests(ctx: Context) -> list[Finding]:
    """`baseline.<test>.missing` for cbc, liver_enzymes, lipids, renal_function, tb_screening,
    hepatitis_b, hepatitis_c (warning) and pregnancy_test (info; females in the policy age band).

    **When** before a start, the test has no result in its look-back window.
    **Then** name the test and the window; action: order it (LOINC from the value set).
    """
    if not ctx.initiating:
        return []
    out = []
    for key, test in ctx.k.baseline_tests.items():
        if not _applies(ctx, key) or (key == "tb_screening" and tb_status(ctx)[0] == "positive"):
            continue
        status, evidence = presence(ctx, key, test)
        if status == "met":
            continue
        _, window = _window(ctx, key)
        older = " (only older results)" if status == "out-of-window" else ""
        severity = Severity.INFO if key == "pregnancy_test" else Severity.WARNING
        out.append(
            make(
                ctx,
                f"baseline.{key}.missing",
                Category.BASELINE,
                severity,
                f"No {test.label.split(' (')[0].lower()} in the last {window} days{older}",
                lines=(
                    f"{test.label}: needed before starting a JAK inhibitor.",
                    f"Look-back window: {window} days (policy).",
                    test.note or "",
                ),
                evidence=evidence,
                facts=(test, ctx.k.parameters.baseline_lookback_days),
                missing=(test.label,),
                actions=order_tests(ctx, test.order),
            )
        )
    return out


def _lab_start(ctx: Context, drug: str, lab: str) -> Check | None:
    return lab_start_check(ctx, drug, lab)


def _hepatitis(ctx: Context, drug: str, which: str) -> Check:
    return hepatitis_check(ctx, drug, which)


def below_start(ctx: Context) -> list[Finding]:
    """`baseline.alc|anc|hemoglobin|platelets.below_start`.

    Sources: baricitinib/deuruxolitinib ALC < 500, ANC < 1000, Hb < 8 [S1, S2, S12]; ritlecitinib
    ALC < 500, platelets < 100,000 [S8a]; tofacitinib Hb < 9 [S17a]; abrocitinib platelets < 150,000 [S18a].
    **When** before a start, the latest value is below the chosen drug's own start threshold.
    **Then** critical, naming each drug whose threshold fails; a hard stop on a proposed order.
    """
    if not ctx.initiating:
        return []
    out = []
    for lab, finding_id in THRESHOLD_FINDINGS.items():
        checks = checks_for(ctx, partial(_lab_start, lab=lab), finding_id)
        if not checks:
            continue
        value = checks[0].value
        drugs = [c.drug or "" for c in checks]
        out.append(
            make(
                ctx,
                finding_id,
                Category.BASELINE,
                Severity.CRITICAL,
                f"{LAB_LABELS[lab]} {value} is below the start threshold for {drug_names(ctx, drugs)}"[:139],
                lines=tuple(f"{ctx.drug(c.drug or '').display}: {c.threshold}" for c in checks),
                evidence=checks[0].evidence,
                facts=[f for c in checks for f in c.facts],
                drug=drugs[0] if len(drugs) == 1 else None,
                hard_stop=ctx.hard_stop(drugs),
                actions=order_tests(ctx, ["lab.cbc_panel"]),
            )
        )
    return out


def tb(ctx: Context) -> list[Finding]:
    """`baseline.tb.positive` / `baseline.tb.indeterminate`.

    Source: "Active/latent TB evaluation (no use in active TB; treat latent TB first)" [S2, S8a].
    **When** before a start: a positive IGRA/TST or an active/latent TB condition; or an indeterminate IGRA.
    **Then** critical (hard stop on a proposed order) / warning: repeat the test.
    """
    if not ctx.initiating:
        return []
    status, evidence = tb_status(ctx)
    facts = [f for d in ctx.drugs if (f := ctx.drug(d).tb) is not None]
    if status == "positive":
        return [
            make(
                ctx,
                "baseline.tb.positive",
                Category.BASELINE,
                Severity.CRITICAL,
                "Positive TB screening or TB on record: do not start a JAK inhibitor before TB is treated",
                lines=("Active TB: do not use. Latent TB: treat before starting.",),
                evidence=evidence,
                facts=facts,
                hard_stop=ctx.hard_stop(ctx.drugs),
            )
        ]
    if status == "indeterminate":
        return [
            make(
                ctx,
                "baseline.tb.indeterminate",
                Category.BASELINE,
                Severity.WARNING,
                "Indeterminate TB IGRA: repeat the test before starting a JAK inhibitor",
                evidence=evidence,
                facts=facts,
                missing=("determinate TB screening result",),
                actions=order_tests(ctx, ["lab.tb_igra"]),
            )
        ]
    return []


def hepatitis(ctx: Context) -> list[Finding]:
    """`baseline.hepatitis_b.positive`, `baseline.hepatitis_c.positive`, `baseline.hepatitis_b.monitor_dna`.

    Sources: viral hepatitis screening per guidelines [S2]; baricitinib anti-HBc+/HBsAg-: monitor
    HBV DNA, consult a hepatologist if detected [S5]. For drugs whose label says "not recommended in
    hepatitis B or C" (ritlecitinib) see `agent.hepatitis.not_recommended` instead.
    **When** before a start: HBsAg / HCV Ab positive or the condition on record (hold, policy);
    anti-HBc positive with HBsAg negative (drugs with the HBV DNA rule).
    **Then** critical (hard stop on a proposed order) / warning with an HBV DNA order.
    """
    if not ctx.initiating:
        return []
    out = []
    for which, label in (("hepatitis_b", "Hepatitis B"), ("hepatitis_c", "Hepatitis C")):
        finding_id = f"baseline.{which}.positive"
        checks = checks_for(ctx, partial(_hepatitis, which=which), finding_id)
        if checks:
            drugs = [c.drug or "" for c in checks]
            out.append(
                make(
                    ctx,
                    finding_id,
                    Category.BASELINE,
                    Severity.CRITICAL,
                    f"{label} positive: hold JAK inhibitor initiation and refer ({drug_names(ctx, drugs)})"[
                        :139
                    ],
                    lines=(
                        "No label rule for this drug beyond screening; holding and referring is "
                        "project policy.",
                    ),
                    evidence=checks[0].evidence,
                    facts=[f for c in checks for f in c.facts],
                    sources=("POLICY",),
                    drug=drugs[0] if len(drugs) == 1 else None,
                    hard_stop=ctx.hard_stop(drugs),
                )
            )
    dna = [
        c
        for c in checks_for(ctx, partial(_hepatitis, which="hepatitis_b"), "baseline.hepatitis_b.monitor_dna")
        if (rule := ctx.drug(c.drug or "").hepatitis) is not None and rule.hbv_dna_monitoring
    ]
    if dna:
        out.append(
            make(
                ctx,
                "baseline.hepatitis_b.monitor_dna",
                Category.BASELINE,
                Severity.WARNING,
                "Anti-HBc positive, HBsAg negative: monitor HBV DNA during therapy",
                lines=("If HBV DNA is detected, consult a hepatologist.",),
                evidence=dna[0].evidence,
                facts=[f for c in dna for f in c.facts],
                drug=dna[0].drug if len(dna) == 1 else None,
                actions=order_tests(ctx, ["lab.hbv_dna"]),
            )
        )
    return out


def _start_stop(
    ctx: Context,
    check: Callable[[Context, str], Check],
    finding_id: str,
    summary: str,
    *,
    sources: tuple[str, ...] = (),
) -> list[Finding]:
    """One critical hard stop for the drugs about to start whose `check` is not met."""
    if not ctx.initiating or not ctx.drugs:
        return []
    checks = [c for d in ctx.drugs if (c := check(ctx, d)).status == NOT_MET]
    if not checks:
        return []
    return [
        make(
            ctx,
            finding_id,
            Category.BASELINE,
            Severity.CRITICAL,
            summary,
            evidence=checks[0].evidence,
            facts=[f for c in checks for f in c.facts],
            sources=sources,
            hard_stop=ctx.hard_stop(ctx.drugs),
        )
    ]


def pregnancy(ctx: Context) -> list[Finding]:
    """`baseline.pregnancy.positive`.

    Source: animal data suggest possible fetal harm [S6, S8g]; the test itself is practice (clinical.md 7.11).
    **When** before a start: an active pregnancy condition, a positive test, or hCG at/above the cut-off
    in the pregnancy-test window.
    **Then** critical; a hard stop on a proposed order.
    """
    return _start_stop(
        ctx,
        pregnancy_check,
        "baseline.pregnancy.positive",
        "Pregnancy documented: do not start a JAK inhibitor",
        sources=("POLICY",),
    )


def infection(ctx: Context) -> list[Finding]:
    """`baseline.infection.active`.

    Source: serious infection or herpes zoster - interrupt until controlled / resolved [S2, S5, S11].
    **When** before a start, an active serious infection or herpes zoster is on record.
    **Then** critical; a hard stop on a proposed order.
    """
    return _start_stop(
        ctx,
        infection_check,
        "baseline.infection.active",
        "Active serious infection or herpes zoster: do not start until it is controlled",
    )


def live_vaccine_recent(ctx: Context) -> list[Finding]:
    """`baseline.live_vaccine.recent`.

    Source: live vaccines "not recommended during, or shortly before, treatment" [S8f, S20b].
    **When** before a start, a live vaccine was given within `live_vaccine_lookback_days`.
    **Then** warn: consider delaying the start.
    """
    if not ctx.initiating:
        return []
    lookback = ctx.k.parameters.live_vaccine_lookback_days
    since = ctx.as_of - days(lookback.value)
    recent = [v for v in ctx.record.vaccinations if v.live and since <= v.when <= ctx.as_of]
    if not recent:
        return []
    facts = [ctx.drug(d).live_vaccines for d in ctx.drugs]
    return [
        make(
            ctx,
            "baseline.live_vaccine.recent",
            Category.BASELINE,
            Severity.WARNING,
            f"Live vaccine ({recent[-1].display}) within {lookback.value} days: consider delaying the start"[
                :139
            ],
            evidence=[vaccination_evidence(v) for v in recent],
            facts=[lookback, *facts],
        )
    ]


def vaccines_update(ctx: Context) -> list[Finding]:
    """`baseline.vaccines.update`.

    Source: "Update immunizations" before starting [S2, S8a]; live zoster is discontinued, the
    non-live recombinant zoster vaccine is the zoster option (clinical.md 7.10).
    **When** before a start.
    **Then** remind: bring immunizations up to date; no live vaccines during therapy.
    """
    if not ctx.initiating or not ctx.drugs:
        return []
    return [
        make(
            ctx,
            "baseline.vaccines.update",
            Category.BASELINE,
            Severity.INFO,
            "Update immunizations before starting; non-live recombinant zoster vaccine is the zoster option",
            lines=("Avoid live vaccines during therapy and shortly before it.",),
            facts=[ctx.drug(d).live_vaccines for d in ctx.drugs],
            sources=("S2", "S8a", "CV1"),
        )
    ]


# --- Checklist ---------------------------------------------------------------------------------------


def checklist(ctx: Context) -> tuple[ChecklistItem, ...]:
    """One line per baseline test: date, value, window, and the chosen drug's thresholds.

    A line is verified when the test definition, the look-back window (the pregnancy test: the
    age band too), the thresholds it shows and the rules behind a not-met status all are, and
    when no result it shows or fails on was recognised only through an unverified code.
    """
    items = []
    lookback = ctx.k.parameters.baseline_lookback_days
    for key, test in ctx.k.baseline_tests.items():
        if not _applies(ctx, key):
            continue
        status, evidence = presence(ctx, key, test)
        _, window = _window(ctx, key)
        threshold, threshold_facts = _threshold_text(ctx, key)
        finding_id = None if status == "met" else f"baseline.{key}.missing"
        failing, failing_facts, failing_evidence = _failing_finding(ctx, key)
        if failing is not None:
            status, finding_id = "not-met", failing
        verified = (
            test.verified
            and lookback.verified
            and (key != "pregnancy_test" or ctx.k.parameters.pregnancy_test_age_band.verified)
            and all(f.verified for f in threshold_facts)
            and all(f.verified for f in failing_facts)
            and all(e.verified for e in (*evidence, *failing_evidence))
        )
        when = max((e.when for e in evidence if e.when), default=None)
        value = "; ".join(f"{e.label} {e.value}" for e in evidence) or None
        reference = next((e.reference for e in evidence if e.reference), None)
        items.append(
            ChecklistItem(
                key=key,
                label=f"{test.label} (within {window} days)",
                status=status,
                value=value,
                when=when,
                threshold=threshold,
                reference=reference,
                finding_id=finding_id,
                verified=verified,
            )
        )
    return tuple(items)


def _threshold_text(ctx: Context, key: str) -> tuple[str | None, list[Fact]]:
    """The CBC line's start thresholds per drug, and the facts that text shows."""
    if key != "cbc":
        return None, []
    parts = []
    facts: list[Fact] = []
    for drug_key in ctx.drugs:
        drug = ctx.drug(drug_key)
        limits = [
            f"{LAB_LABELS[lab]} < {number(t.do_not_start_below)}"
            for lab, t in drug.thresholds.items()
            if t.do_not_start_below is not None
        ]
        facts += [t for t in drug.thresholds.values() if t.do_not_start_below is not None]
        if not limits and drug.no_threshold_note is not None:
            facts.append(drug.no_threshold_note)
        parts.append(
            f"{drug.display}: do not start if {', '.join(limits)}"
            if limits
            else f"{drug.display}: no thresholds in the knowledge file (check the PI)"
        )
    return "; ".join(parts) or None, facts


def _failing_finding(ctx: Context, key: str) -> tuple[str | None, list[Fact], list[Evidence]]:
    """The finding behind a not-met line (None: not failing), and the facts and evidence that decided it."""
    checks: list[Check] = []
    if key == "cbc":
        checks = [c for d in ctx.drugs for lab in THRESHOLD_FINDINGS if (c := lab_start_check(ctx, d, lab))]
    elif key in ("hepatitis_b", "hepatitis_c"):
        checks = [hepatitis_check(ctx, d, key) for d in ctx.drugs]
    elif key == "tb_screening":
        status, evidence = tb_status(ctx)
        if status != "positive":
            return None, [], []
        facts: list[Fact] = [f for d in ctx.drugs if (f := ctx.drug(d).tb) is not None]
        return "baseline.tb.positive", facts, list(evidence)
    failing = [c for c in checks if c.status == NOT_MET]
    return (
        failing[0].finding_id if failing else None,
        [f for c in failing for f in c.facts],
        [e for c in failing for e in c.evidence],
    )


def findings(ctx: Context) -> list[Finding]:
    return [
        *missing_tests(ctx),
        *below_start(ctx),
        *tb(ctx),
        *hepatitis(ctx),
        *pregnancy(ctx),
        *infection(ctx),
        *live_vaccine_recent(ctx),
        *vaccines_update(ctx),
    ]
