"""Server-rendered SVG charts (pygal, `js=[]`: no script, no CDN).

Data points of the main series get stable classes and ids
(`<point_class>` and `<point_class>-<n>`) so browser tests can count them.
Threshold lines and the response target come from the knowledge file; the
chart only draws what it is given.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

import pygal
from markupsafe import Markup
from pygal.etree import etree  # lxml when installed, else xml.etree: whichever pygal renders with
from pygal.style import Style

SVG_NS = "{http://www.w3.org/2000/svg}"

STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1b1b1b",
    foreground_strong="#1b1b1b",
    foreground_subtle="#595959",
    font_family="system-ui, sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=13,
    title_font_size=15,
    value_font_size=12,
    colors=("#0b5cad", "#b3261e", "#7a4f01", "#2e7d32", "#6a1b9a", "#37474f", "#ad1457"),
)


class _Element(Protocol):
    """The part of an lxml (or xml.etree) element used here; pygal itself is untyped."""

    @property
    def tag(self) -> object: ...  # a str for elements; comments have a non-str tag

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...

    def iter(self, *tags: str) -> Iterator[_Element]: ...


@dataclass(frozen=True)
class Point:
    when: date
    value: float
    label: str  # e.g. "52 %" or "0.9 cells/mm3 (as received: 0.9 10*3/uL)"


@dataclass(frozen=True)
class ChartSpec:
    key: str  # "salt", "alc", ...
    title: str
    unit: str
    points: Sequence[Point]
    lines: Sequence[tuple[str, float]] = ()  # horizontal: (label, value)
    markers: Sequence[tuple[str, date]] = ()  # vertical: (label, date)
    y_range: tuple[float, float] | None = None


def _tag(el: _Element) -> str:
    return str(el.tag).removeprefix(SVG_NS)


def _classes(el: _Element) -> list[str]:
    return (el.get("class") or "").split()


def render(spec: ChartSpec) -> Markup:
    points = sorted(spec.points, key=lambda p: p.when)
    dates = [p.when for p in points] + [d for _, d in spec.markers]
    lo_date, hi_date = min(dates), max(dates)
    if lo_date == hi_date:
        lo_date, hi_date = lo_date - timedelta(days=15), hi_date + timedelta(days=15)
    values = [p.value for p in points] + [v for _, v in spec.lines]
    if spec.y_range:
        y_lo, y_hi = spec.y_range
    else:
        y_lo = min([0.0, *values])
        y_hi = max(values) * 1.15 if values and max(values) > 0 else 1.0
    chart = pygal.DateLine(
        js=[],
        style=STYLE,
        width=760,
        height=340,
        explicit_size=False,
        disable_xml_declaration=True,
        show_legend=True,
        legend_at_bottom=True,
        legend_at_bottom_columns=1,
        truncate_legend=-1,  # the legend names thresholds and dose markers: they must read in full
        range=(y_lo, y_hi),
        x_label_rotation=30,
        truncate_label=-1,
        show_minor_x_labels=False,
        x_labels_major_count=6,
        x_value_formatter=lambda d: d.isoformat(),
        value_formatter=lambda v: f"{v:g}",
        dots_size=4,
        allow_interruptions=True,
        print_values=False,
    )
    chart.add(
        f"{spec.title} ({spec.unit})",
        [{"value": (p.when, p.value), "label": p.label} for p in points],
    )
    for label, value in spec.lines:
        chart.add(
            label,
            [(lo_date, value), (hi_date, value)],
            show_dots=False,
            stroke_style={"dasharray": "8,5", "width": 2},
        )
    for label, when in spec.markers:
        chart.add(
            label,
            [(when, y_lo), (when, y_hi)],
            show_dots=False,
            stroke_style={"dasharray": "2,4", "width": 2},
        )
    tree = chart.render_tree()
    for parent in list(tree.iter()):
        for child in list(parent):
            if not isinstance(child.tag, str) or _tag(child) == "script":
                parent.remove(child)  # pygal's inline config script, and comments
    _mark_points(tree, spec.key, points)
    svg = etree.tostring(tree, encoding="unicode")
    return Markup(svg)  # noqa: S704 - built by pygal from our numbers and our labels, scripts removed


def _mark_points(tree: _Element, key: str, points: list[Point]) -> None:
    overlay = next((g for g in tree.iter(f"{SVG_NS}g", "g") if "overlay" in _classes(g)), None)
    if overlay is None:
        return
    series = next((g for g in overlay.iter(f"{SVG_NS}g", "g") if "serie-0" in _classes(g)), None)
    if series is None:
        return
    circles = [c for c in series.iter(f"{SVG_NS}circle", "circle")]
    for n, (circle, point) in enumerate(zip(circles, points, strict=False)):
        circle.set("class", (circle.get("class") or "") + f" data-point {key}-point")
        circle.set("id", f"{key}-point-{n}")
        title = etree.SubElement(circle, f"{SVG_NS}title")
        title.text = f"{point.when.isoformat()}: {point.label}"
