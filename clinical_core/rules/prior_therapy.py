"""Step 2: document prior conventional therapy (per `parameters.step_therapy_mode`).

clinical.md 7.6 / 4: "second-line after failure of intralesional steroids / contact
immunotherapy" is a payer criterion [S23], not a label condition; European consensus
puts JAK inhibitors first-line for systemic therapy [S21a]. Hence the mode switch:
advisory (info), required (warning and an eligibility criterion) or off (silent).
"""

from __future__ import annotations

from clinical_core.findings import Category, Evidence, Finding, Severity
from clinical_core.rules.common import Context, make


def _prior(ctx: Context) -> list[Evidence]:
    return [
        Evidence(t.therapy.replace("_", " "), t.status, t.start, t.reference, t.verified, t.unverified_code)
        for t in ctx.record.prior_therapies
        if t.start is None or t.start <= ctx.as_of
    ]


def documented(ctx: Context) -> list[Finding]:
    """`prior_therapy.documented`.

    **When** step therapy is not `off`, before a start, and conventional therapies are on record.
    **Then** list them.
    """
    mode = ctx.k.parameters.step_therapy_mode
    prior = _prior(ctx)
    if mode.value == "off" or not ctx.initiating or not prior:
        return []
    names = ", ".join(dict.fromkeys(e.label for e in prior))
    summary = f"Prior conventional AA therapy on record: {names}"
    return [
        make(
            ctx,
            "prior_therapy.documented",
            Category.PRIOR_THERAPY,
            Severity.INFO,
            summary if len(summary) < 140 else summary[:135] + "...",
            evidence=prior,
            facts=(mode,),
        )
    ]


def none_documented(ctx: Context) -> list[Finding]:
    """`prior_therapy.none_documented`.

    **When** step therapy is `advisory` (info) or `required` (warning), before a start,
    and no conventional therapy is on record.
    **Then** say so; in `required` mode it fails eligibility.
    """
    mode = ctx.k.parameters.step_therapy_mode
    if mode.value == "off" or not ctx.initiating or _prior(ctx):
        return []
    required = mode.value == "required"
    lines = (
        "Not a label condition: payers (e.g., Medica, Cigna) require a prior trial of conventional "
        "therapy; European consensus puts JAK inhibitors first-line for systemic therapy.",
    )
    return [
        make(
            ctx,
            "prior_therapy.none_documented",
            Category.PRIOR_THERAPY,
            Severity.WARNING if required else Severity.INFO,
            "No prior conventional AA therapy on record"
            + (" (required by local policy)" if required else ""),
            lines=lines,
            facts=(mode,),
            sources=("S23", "S21a"),
            missing=("prior conventional therapy (intralesional steroid, contact immunotherapy, systemic)",),
        )
    ]


def findings(ctx: Context) -> list[Finding]:
    return [*documented(ctx), *none_documented(ctx)]
