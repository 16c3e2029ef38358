"""View models for the pages: what the clinician sees, built from the core's Assessment and record.

No clinical logic here: statuses, checklists, timeline and findings come from
`clinical_core.evaluate`; thresholds, codes and the response target from the
knowledge file. This module only groups and formats them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from smart_app import charts
from smart_app import context as C
from smart_app import data as D
from smart_app import knowledge_view as K
from smart_app.scopes import ScopeSet, requested_scopes

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"

SAVE_MESSAGES = {
    "created": "SALT score saved to the record (the EHR answered 201 Created).",
    "exists": "This SALT score was already saved; no duplicate was created (the EHR answered 200 OK).",
    "accepted": "The EHR accepted the SALT score.",
}

# Charted labs: record test key -> title. Which labs matter and their thresholds come from the core/knowledge.
LAB_CHARTS = (
    ("alc", "Absolute lymphocyte count (ALC)"),
    ("anc", "Absolute neutrophil count (ANC)"),
    ("hemoglobin", "Hemoglobin"),
    ("platelets", "Platelets"),
    ("alt", "ALT"),
    ("ast", "AST"),
    ("ldl", "LDL cholesterol"),
)

STATUS_TEXT = {
    "not-applicable": "No alopecia areata diagnosis on record",
    "not-eligible": "Not eligible",
    "eligible": "Eligible",
    "undetermined": "Eligibility undetermined",
    "on-therapy": "On therapy",
}


@dataclass
class Banner:
    show: bool
    name: str
    age: int | None
    sex: str | None
    birth_date: date | None
    identifier: str | None
    patient_id: str
    read: bool = True  # False: the EHR was not read, so only `patient_id` (from the launch) is known


@dataclass
class PageView:
    context_id: str
    banner: Banner
    as_of: date | None = None
    fetched_at: datetime | None = None
    assessment: Any = None
    record: Any = None
    status_text: str = ""
    status_verified: bool = True
    therapy_text: str | None = None
    alerts: list[Any] = field(default_factory=list)
    info: list[Any] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    charts: list[tuple[Any, Any]] = field(default_factory=list)  # (ChartSpec, Markup)
    incomplete: list[str] = field(default_factory=list)
    can_write: bool = False
    salt_available: bool = False
    education: Any = None
    knowledge: Any = None
    durations: dict[str, str] = field(default_factory=dict)
    diagnosis_codes: dict[str, str] = field(default_factory=dict)  # Condition reference -> its codes


def _diagnosis_codes(diagnoses: Any) -> dict[str, str]:
    """Every code of each diagnosis's Condition, ICD-10-CM first: the codes a payer's form asks for."""
    from clinical_core.extract import code_text

    return {
        d.reference: ", ".join(code_text(s, c) for s, c in sorted(d.codes, key=lambda sc: sc[0] != ICD10CM))
        or code_text(d.system, d.code)
        for d in diagnoses
    }


def knowledge() -> Any:
    return C.app_state().knowledge()


def salt_model() -> K.SaltModel | None:
    return K.salt_model(knowledge())


def _banner(ctx: Any, record: Any | None, as_of: date | None) -> Banner:
    demo = getattr(record, "demographics", None)
    return Banner(
        show=bool(ctx.need_patient_banner),
        name=(demo.name if demo and demo.name else "Name not on record"),
        age=demo.age_on(as_of) if demo and as_of else None,
        sex=demo.sex if demo else None,
        birth_date=demo.birth_date if demo else None,
        identifier=demo.identifier if demo else None,
        patient_id=ctx.patient_id,
    )


def banner_only(ctx: Any) -> PageView:
    """The banner for pages that do not load the whole record (the SALT form): Patient read only."""
    state = C.app_state()
    granted = ScopeSet.from_string(ctx.scope)
    record = None
    if granted.allows("Patient", "r"):
        patient, ctx = C.with_fhir(ctx, lambda fhir: fhir.read("Patient", ctx.patient_id))
        record = D.build_record([patient])
    return PageView(context_id=ctx.context_id, banner=_banner(ctx, record, state.as_of()))


def banner_unread(ctx: Any) -> PageView:
    """The banner without reading the EHR (it is failing): the patient id from the launch only."""
    banner = Banner(
        show=bool(ctx.need_patient_banner),
        name="Patient name not available (the EHR was not read)",
        age=None,
        sex=None,
        birth_date=None,
        identifier=None,
        patient_id=ctx.patient_id,
        read=False,
    )
    return PageView(context_id=ctx.context_id, banner=banner)


def _therapy_text(assessment: Any, record: Any) -> str | None:
    if assessment.status != "on-therapy":
        return None
    k = knowledge()
    episodes = [t for t in record.therapies if t.drug == assessment.drug and t.end is None] or [
        t for t in record.therapies if t.drug == assessment.drug
    ]
    dose = ""
    if episodes:
        ep = episodes[-1]
        if ep.dose_text:
            dose = ep.dose_text
        elif ep.dose_mg is not None:
            dose = f"{ep.dose_mg:g} mg" + (f" {ep.doses_per_day}x daily" if ep.doses_per_day else "")
    parts = [K.drug_label(k, assessment.drug) or "JAK inhibitor"]
    if dose:
        parts.append(dose)
    if assessment.therapy_week is not None:
        parts.append(f"week {assessment.therapy_week}")
    return ", ".join(parts)


def _salt_chart(record: Any) -> tuple[charts.ChartSpec, Any] | None:
    k = knowledge()
    if not record.salt_scores:
        return None
    points = [charts.Point(s.when, s.value, f"SALT {s.value:g}") for s in record.salt_scores]
    target = K.response_target(k)
    lines = [(f"response target (SALT ≤ {target:g})", target)] if target is not None else []
    markers = []
    previous: dict[str, Any] = {}
    for ep in sorted(record.therapies, key=lambda t: t.start or date.min):
        if ep.start is None:
            continue
        dose = ep.dose_text or (f"{ep.dose_mg:g} mg" if ep.dose_mg is not None else "")
        verb = "dose change" if ep.drug in previous else "start"
        markers.append((f"{verb}: {K.drug_label(k, ep.drug)} {dose}".strip(), ep.start))
        previous[ep.drug] = ep
    spec = charts.ChartSpec("salt", "SALT score", "% scalp hair loss", points, lines, markers, (0, 100))
    return spec, charts.render(spec)


def _lab_charts(record: Any, drug: str | None) -> list[tuple[charts.ChartSpec, Any]]:
    from clinical_core.record import CANONICAL_UNITS

    k = knowledge()
    out = []
    for test, title in LAB_CHARTS:
        series = record.lab_series(test)
        if not series:
            continue
        unit = CANONICAL_UNITS.get(test, "")
        points = [
            charts.Point(r.when, r.value, f"{r.value:g} {unit} (as received: {r.original})") for r in series
        ]
        spec = charts.ChartSpec(test, title, unit, points, _threshold_lines(k, drug, test))
        out.append((spec, charts.render(spec)))
    return out


def _threshold_lines(k: Any, drug: str | None, test: str) -> list[tuple[str, float]]:
    """The chosen drug's thresholds; before a drug is chosen, every candidate agent's, merged when equal."""
    drugs = [drug] if drug else list(K.candidate_agents(k))
    merged: dict[tuple[str, float], list[str]] = {}
    for d in drugs:
        for label, value in K.drug_thresholds(k, d, test):
            merged.setdefault((label, value), []).append(K.drug_display(k, d))
    return [(f"{label} ({', '.join(names)}): {value:g}", value) for (label, value), names in merged.items()]


def _missing(assessment: Any, record: Any) -> list[str]:
    items: list[str] = []
    for f in assessment.findings:
        for m in f.missing:
            if m not in items:
                items.append(m)
    for u in record.uninterpretable:
        items.append(f"{u.what}: {u.why} ({u.reference})")
    return items


def _duration(start: date | None, end: date) -> str:
    if start is None:
        return "onset not recorded"
    months = (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)
    years, months = divmod(max(months, 0), 12)
    return (f"{years} y " if years else "") + f"{months} mo"


def build(ctx: Any, *, with_charts: bool = True) -> PageView:
    """Query FHIR for the context's patient, evaluate, and group the result for the templates."""
    state = C.app_state()
    k = knowledge()
    granted = ScopeSet.from_string(ctx.scope)
    as_of = state.as_of()
    data, ctx = C.with_fhir(ctx, lambda fhir: D.fetch(fhir, ctx.patient_id, granted, k, state.now()))
    record, assessment = D.assess(data, as_of, k)
    view = PageView(context_id=ctx.context_id, banner=_banner(ctx, record, as_of), as_of=as_of, knowledge=k)
    view.fetched_at = data.fetched_at
    view.assessment = assessment
    view.record = record
    view.status_text = STATUS_TEXT.get(assessment.status, assessment.status)
    # The headline repeats the eligibility verdict, so it says "verify" when the verdict does.
    view.status_verified = all(f.verified for f in assessment.findings if f.id.startswith("eligibility."))
    view.therapy_text = _therapy_text(assessment, record)
    ranked = sorted(assessment.findings, key=lambda f: f.severity.rank)
    view.alerts = [f for f in ranked if f.severity.value in ("critical", "warning")]
    view.info = [f for f in ranked if f.severity.value == "info"]
    view.missing = _missing(assessment, record)
    view.can_write = granted.can_write_observation()
    view.salt_available = view.can_write and K.salt_model(k) is not None
    view.education = K.education(k)
    view.durations = {d.reference: _duration(d.onset or d.recorded, as_of) for d in record.diagnoses}
    view.diagnosis_codes = _diagnosis_codes(record.diagnoses)
    config_caps: list[str] = []
    client = state.registry.get(ctx.iss)
    if client is not None:
        try:
            config_caps = list(state.discovery.get(client.iss).capabilities)
        except Exception:
            config_caps = ["permission-v2"]
        requested = requested_scopes(client.scopes, config_caps, standalone=False)
        view.incomplete = granted.missing_from(requested)
    for rtype in data.skipped:
        note = f"{rtype} (not permitted by the granted scopes)"
        if note not in view.incomplete:
            view.incomplete.append(note)
    if with_charts:
        salt_chart = _salt_chart(record)
        if salt_chart:
            view.charts.append(salt_chart)
        view.charts.extend(_lab_charts(record, assessment.drug))
    return view
