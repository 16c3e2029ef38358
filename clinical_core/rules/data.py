"""Data the extraction could not interpret (style guide: say what could not be read)."""

from __future__ import annotations

from clinical_core.findings import Category, Evidence, Finding, Severity
from clinical_core.rules.common import Context, make


def uninterpretable(ctx: Context) -> list[Finding]:
    """`data.uninterpretable`.

    **When** one or more resources could not be interpreted (unit, code, date).
    **Then** list them, so no datum is dropped silently.
    """
    items = ctx.record.uninterpretable
    if not items:
        return []
    return [
        make(
            ctx,
            "data.uninterpretable",
            Category.DATA,
            Severity.WARNING,
            f"{len(items)} record item(s) could not be interpreted; check them before relying on this advice",
            lines=("These items were not used by the rules.",),
            evidence=tuple(Evidence(i.what, i.why, None, i.reference) for i in items),
            missing=tuple(f"{i.what}: {i.why}" for i in items),
        )
    ]


def findings(ctx: Context) -> list[Finding]:
    return uninterpretable(ctx)
