"""Eligibility summary before a start: the checklist and one verdict finding.

"Chosen drug": the proposed JAK order, else (when nothing is chosen) each candidate
agent the patient is old enough for (`parameters.candidate_agents`). Eligible if every
criterion is met for at least one of them; per-drug failures are named in the detail.

Verification: a checklist line is verified only when every fact its check(s) used is. The
verdict uses the facts of the checks that decide it: for "eligible", every check of each
eligible drug (met ones included, so an eligible verdict resting on a line with an unverified
fact is unverified too) and none of a drug that is not eligible, whose failure does not change
the verdict; otherwise the failing and undecided checks (as the detail lists them). A check whose
evidence was recognised only through an unverified code (an ALC coded 26474-7) is unverified like
one resting on an unverified fact, and so is a verdict about a proposed or current drug the record
knows only through such a code.
"""

from __future__ import annotations

from clinical_core.findings import Category, ChecklistItem, Finding, Severity
from clinical_core.rules.common import RECOGNISED_UNVERIFIED, Context, make, md_text, unverified_drug_evidence
from clinical_core.rules.criteria import MET, MISSING, NOT_MET, UNDECIDED, Check, drug_checks, drug_verdict


def _item(check: Check, key: str, label: str) -> ChecklistItem:
    return ChecklistItem(
        key=key,
        label=label,
        status=check.status,
        value=check.value,
        when=check.when,
        threshold=check.threshold,
        reference=check.reference,
        finding_id=None if check.status == MET else check.finding_id,
        verified=check.verified,
    )


def checklist(ctx: Context, per_drug: dict[str, list[Check]]) -> tuple[ChecklistItem, ...]:
    """One line per criterion; split per drug where the drugs disagree."""
    keys = list(dict.fromkeys(c.key for checks in per_drug.values() for c in checks))
    items: list[ChecklistItem] = []
    for key in keys:
        rows = [(drug, c) for drug, checks in per_drug.items() for c in checks if c.key == key]
        first = rows[0][1]
        if len({c.status for _, c in rows}) == 1 and len(rows) == len(per_drug):
            threshold = "; ".join(dict.fromkeys(c.threshold for _, c in rows if c.threshold)) or None
            items.append(
                ChecklistItem(
                    key=key,
                    label=first.label,
                    status=first.status,
                    value=first.value,
                    when=first.when,
                    threshold=threshold,
                    reference=first.reference,
                    finding_id=None if first.status == MET else first.finding_id,
                    verified=all(c.verified for _, c in rows),
                )
            )
        else:
            items += [_item(c, f"{key}.{drug}", f"{c.label} ({ctx.drug(drug).display})") for drug, c in rows]
    return tuple(items)


def assess(ctx: Context) -> tuple[str, tuple[ChecklistItem, ...], list[Finding]]:
    """(status, checklist, findings); status is eligible | not-eligible | undetermined."""
    per_drug = {drug: drug_checks(ctx, drug) for drug in ctx.drugs}
    verdicts = {drug: drug_verdict(checks) for drug, checks in per_drug.items()}
    items = checklist(ctx, per_drug)
    if any(v == MET for v in verdicts.values()):
        status = "eligible"
    elif not verdicts or all(v == NOT_MET for v in verdicts.values()):
        status = "not-eligible"
    else:
        status = "undetermined"
    if ctx.on_therapy:
        return status, items, []
    return status, items, [_verdict_finding(ctx, status, per_drug, verdicts)]


def _verdict_finding(
    ctx: Context, status: str, per_drug: dict[str, list[Check]], verdicts: dict[str, str]
) -> Finding:
    lines = []
    for drug, checks in per_drug.items():
        failing = [c for c in checks if c.status == NOT_MET]
        undecided = [c for c in checks if c.status in UNDECIDED and c.decisive]
        parts = [
            # The value may quote the record (medication names, genotype text).
            f"{c.label}: {md_text(c.value) if c.value else c.status}"
            + (f" ({c.threshold})" if c.threshold else "")
            for c in failing
        ]
        parts += [f"{c.label}: {c.status}" for c in undecided]
        verdict = {MET: "all criteria met", NOT_MET: "not met", MISSING: "data missing"}[verdicts[drug]]
        lines.append(
            f"- **{ctx.drug(drug).display}**: {verdict}" + (f" - {'; '.join(parts)}" if parts else "")
        )
    if not per_drug:
        lines.append("- No candidate agent: the patient is below every approved agent's minimum age.")
    deciding = _deciding(status, per_drug, verdicts)
    unverified = _unverified_labels(ctx, deciding)
    if unverified:
        lines.append(f"Checklist lines resting on unverified facts: {unverified}.")
    if codes := _unverified_codes(deciding):
        lines.append(f"{RECOGNISED_UNVERIFIED}: {codes}.")
    # A met line's evidence decides the verdict too: an ALC recognised by an unverified code.
    evidence_verified = all(e.verified for c in deciding for e in c.evidence)
    orders = [] if ctx.mode == "candidates" else [unverified_drug_evidence(ctx, d) for d in per_drug]
    evidence = [o for o in orders if o is not None]
    # A met line adds only its unverified facts: the detail cites what to verify, not every met rule.
    facts = [f for c in deciding for f in c.facts if c.status != MET or not f.verified]
    eligible = [ctx.drug(d).display.lower() for d, v in verdicts.items() if v == MET]
    if status == "eligible":
        # The other agents' failing and undecided lines stay in the detail (cited) without deciding the
        # verdict's flag; those resting on unverified facts are named, lest a verified verdict vouch for them.
        others = [
            c for d, checks in per_drug.items() if verdicts[d] != MET for c in checks if c.status != MET
        ]
        if other_unverified := _unverified_labels(ctx, others):
            lines.append(f"Other agents' lines resting on unverified facts: {other_unverified}.")
        return make(
            ctx,
            "eligibility.eligible",
            Category.AGENT,
            Severity.INFO,
            f"Eligible for a JAK inhibitor: {', '.join(eligible)}"[:139],
            lines=lines,
            evidence=evidence,
            facts=facts,
            sources=[s for c in others for f in c.facts for s in f.sources],
            verified=evidence_verified,
        )
    if status == "not-eligible":
        return make(
            ctx,
            "eligibility.not_eligible",
            Category.AGENT,
            Severity.WARNING,
            "Not eligible: a criterion fails for every JAK inhibitor considered",
            lines=lines,
            evidence=evidence,
            facts=facts,
            verified=evidence_verified,
        )
    missing = [
        f"{c.label} ({ctx.drug(d).display})"
        for d, checks in per_drug.items()
        for c in checks
        if c.status in UNDECIDED and c.decisive
    ]
    return make(
        ctx,
        "eligibility.undetermined",
        Category.AGENT,
        Severity.INFO,
        "Eligibility undetermined: data missing to decide",
        lines=lines,
        evidence=evidence,
        facts=facts,
        missing=missing,
        verified=evidence_verified,
    )


def _deciding(status: str, per_drug: dict[str, list[Check]], verdicts: dict[str, str]) -> list[Check]:
    """The checks the verdict rests on (see the module docstring)."""
    if status == "eligible":
        return [c for drug, checks in per_drug.items() if verdicts[drug] == MET for c in checks]
    return [c for checks in per_drug.values() for c in checks if c.status != MET]


def _unverified_codes(checks: list[Check]) -> str:
    """The unverified code each line's evidence rests on, with the line: "LOINC 26474-7 (ALC)"."""
    codes = [
        f"{md_text(e.unverified_code)} ({c.label})" if e.unverified_code else c.label
        for c in checks
        for e in c.evidence
        if not e.verified
    ]
    return "; ".join(dict.fromkeys(codes))


def _unverified_labels(ctx: Context, checks: list[Check]) -> str:
    labels = [
        f"{c.label} ({ctx.drug(c.drug).display})" if c.drug else c.label for c in checks if not c.verified
    ]
    return "; ".join(dict.fromkeys(labels))
