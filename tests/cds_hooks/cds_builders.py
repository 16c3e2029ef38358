"""Hand-built assessments for rendering tests (ids from clinical_core/findings.md)."""

from __future__ import annotations

from datetime import date

from clinical_core.findings import (
    Action,
    ActionKind,
    Assessment,
    Category,
    Citation,
    Coding,
    Evidence,
    Finding,
    Severity,
)
from clinical_core.record import ProposedOrder

AS_OF = date(2026, 11, 1)
LOINC = "http://loinc.org"
LABEL = Citation("S1", "Olumiant (baricitinib) prescribing information", "https://example.org/olumiant-pi")


def finding(fid: str, category: Category, severity: Severity, summary: str, **kw: object) -> Finding:
    kw.setdefault("detail", f"Detail for {fid}.")
    kw.setdefault("citations", (LABEL,))
    return Finding(id=fid, category=category, severity=severity, summary=summary, **kw)  # type: ignore[arg-type]


def order_test(code: str, display: str) -> Action:
    return Action(ActionKind.ORDER_TEST, f"Order {display}", code=Coding(LOINC, code, display))


def eligible_with_gaps() -> Assessment:
    """AA, not on a JAK inhibitor, eligible; baseline tests missing; minor notes."""
    return Assessment(
        as_of=AS_OF,
        status="eligible",
        findings=(
            finding(
                "eligibility.eligible",
                Category.SEVERITY,
                Severity.INFO,
                "Eligible for a JAK inhibitor for severe alopecia areata (SALT 62).",
                evidence=(Evidence("SALT", "62", date(2026, 10, 1), "Observation/s1"),),
            ),
            finding(
                "baseline.tb_screening.missing",
                Category.BASELINE,
                Severity.WARNING,
                "No TB screening in the last 3 months: order an IGRA before starting.",
                actions=(order_test("71773-6", "M. tuberculosis IGRA"),),
                missing=("IGRA or TST",),
            ),
            finding(
                "baseline.cbc.missing",
                Category.BASELINE,
                Severity.WARNING,
                "No CBC with differential in the last 3 months.",
                actions=(order_test("57021-8", "CBC with differential"),),
            ),
            finding(
                "prior_therapy.documented",
                Category.PRIOR_THERAPY,
                Severity.INFO,
                "Prior therapy: intralesional corticosteroids.",
            ),
            finding(
                "baseline.vaccines.update",
                Category.BASELINE,
                Severity.INFO,
                "Bring immunizations up to date before starting; non-live zoster vaccine is the option.",
                verified=False,
            ),
            finding(
                "severity.salt.stale",
                Category.SEVERITY,
                Severity.INFO,
                "Latest SALT score is over 6 months old: record a new one.",
                actions=(Action(ActionKind.RECORD_SALT, "Record SALT"),),
            ),
        ),
    )


def on_therapy(active_ref: str = "MedicationRequest/mr-1") -> Assessment:
    return Assessment(
        as_of=AS_OF,
        status="on-therapy",
        drug="baricitinib",
        therapy_week=30,
        findings=(
            finding(
                "monitoring.lipids_week12.overdue",
                Category.MONITORING,
                Severity.WARNING,
                "Lipid panel due at week 12 is overdue.",
                actions=(order_test("57698-3", "Lipid panel"),),
            ),
            finding(
                "response.baricitinib.consider_4mg",
                Category.RESPONSE,
                Severity.WARNING,
                "SALT still above 20 at week 30 on baricitinib 2 mg: consider 4 mg.",
                actions=(
                    Action(
                        ActionKind.CHANGE_DOSE,
                        "Change to baricitinib 4 mg once daily",
                        drug="baricitinib",
                        dose_mg=4,
                        doses_per_day=1,
                        target=active_ref,
                    ),
                ),
                drug="baricitinib",
            ),
            finding(
                "monitoring.alc.interrupt",
                Category.MONITORING,
                Severity.CRITICAL,
                "ALC 400 cells/mm3 is below 500: interrupt baricitinib.",
                drug="baricitinib",
            ),
        ),
    )


def hard_stop_at_sign(
    draft_ref: str = "MedicationRequest/draft-1",
) -> tuple[Assessment, tuple[ProposedOrder, ...]]:
    orders = (
        ProposedOrder(kind="medication", reference=draft_ref, drug="baricitinib", dose_mg=4, doses_per_day=1),
    )
    assessment = Assessment(
        as_of=AS_OF,
        status="eligible",
        drug="baricitinib",
        findings=(
            finding(
                "baseline.tb.positive",
                Category.BASELINE,
                Severity.CRITICAL,
                "Positive IGRA: treat latent TB before starting a JAK inhibitor.",
                hard_stop=True,
                drug="baricitinib",
            ),
            finding(
                "agent.dose.baricitinib_start",
                Category.AGENT,
                Severity.WARNING,
                "Baricitinib 4 mg start without near-total loss: the label starts at 2 mg.",
                actions=(
                    Action(
                        ActionKind.CHANGE_DOSE,
                        "Change to 2 mg once daily",
                        drug="baricitinib",
                        dose_mg=2,
                        doses_per_day=1,
                        target=draft_ref,
                    ),
                ),
                drug="baricitinib",
            ),
            finding(
                "monitoring.cbc_week4.due",
                Category.MONITORING,
                Severity.INFO,
                "CBC due at week 4.",
            ),
        ),
    )
    return assessment, orders


def live_vaccine_during_therapy(vaccine_ref: str = "MedicationRequest/vax-1") -> tuple[Assessment, tuple]:
    orders = (ProposedOrder(kind="vaccine", reference=vaccine_ref, live_vaccine=True, cvx="94"),)
    assessment = Assessment(
        as_of=AS_OF,
        status="on-therapy",
        drug="baricitinib",
        findings=(
            finding(
                "safety.live_vaccine.during_therapy",
                Category.SAFETY,
                Severity.CRITICAL,
                "Live vaccine ordered during JAK inhibitor therapy.",
                hard_stop=True,
                actions=(Action(ActionKind.STOP_ORDER, "Remove the live vaccine order", target=vaccine_ref),),
            ),
            finding(
                "monitoring.cbc_week4.due",
                Category.MONITORING,
                Severity.INFO,
                "CBC due at week 4.",
            ),
        ),
    )
    return assessment, orders
