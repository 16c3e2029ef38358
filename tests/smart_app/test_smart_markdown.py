"""Finding details are markdown from the core; the app shows them as HTML without letting markup through."""

from __future__ import annotations

from smart_app.markdown import render_markdown


def test_finding_detail_markdown_becomes_html() -> None:
    html = str(render_markdown("**Evidence**\n- ALC: 400 cells/mm3 (2026-01-05)"))
    assert "<strong>Evidence</strong>" in html and "<li>ALC: 400 cells/mm3 (2026-01-05)</li>" in html


def test_markup_quoted_from_patient_data_is_escaped() -> None:
    html = str(render_markdown("- Medication: <script>alert(1)</script>"))
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_javascript_links_are_not_rendered_as_links() -> None:
    html = str(render_markdown("[source](javascript:alert(1))"))
    assert 'href="javascript:' not in html
