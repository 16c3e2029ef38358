"""The rules, one module per algorithm step (original brief steps 1-6, safety, eligibility).

Each module exposes `findings(ctx) -> list[Finding]`; `clinical_core.evaluate` runs them.
Shared criteria live in `criteria`, shared look-ups and the finding builder in `common`.
"""
