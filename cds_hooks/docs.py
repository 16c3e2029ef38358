"""`GET /docs/findings`: the finding catalogue (clinical_core/findings.md) as a public HTML page.

A card whose finding cites no source with a URL links here instead, at `#<finding id>`
(checklist D3, D7: `source.url` and an absolute link on every card). Each catalogue row
that names one finding id carries that id as its HTML id; rows naming a pattern
(`monitoring.<item>.due`) do not, and their findings' links open the page at the top.
The page is documentation, without patient data: no client JWT is asked for.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from importlib.resources import files

from flask import Blueprint, Response
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import escape

log = logging.getLogger(__name__)
bp = Blueprint("cds_docs", __name__)
FINDINGS_PATH = "/docs/findings"
# Package data of clinical_core, so the installed service (the Docker image) serves it too.
CATALOGUE = files("clinical_core").joinpath("findings.md")
_FINDING_ID = re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)+")
_TITLE = "AA-JAK finding catalogue"
_STYLE = "body{font-family:sans-serif;max-width:70em;margin:auto}td,th{border:1px solid #ccc;padding:.3em}"
_STYLE += "table{border-collapse:collapse}tr:target{background:#ffe58a}"


def findings_url(public_base_url: str, finding_id: str | None = None) -> str:
    """The catalogue's absolute URL, at `finding_id`'s row when given."""
    url = f"{public_base_url.rstrip('/')}{FINDINGS_PATH}"
    return f"{url}#{finding_id}" if finding_id else url


def catalogue_available() -> bool:
    return CATALOGUE.is_file()


@bp.get(FINDINGS_PATH)
def findings() -> Response:
    if not catalogue_available():
        return Response("The finding catalogue is not installed here.\n", 404, mimetype="text/plain")
    return Response(_page(), mimetype="text/html")


@cache
def _page() -> str:
    renderer = MarkdownIt("commonmark", {"html": False}).enable("table")  # raw HTML escaped
    tokens = renderer.parse(CATALOGUE.read_text(encoding="utf-8"))
    _anchor_rows(tokens)
    body = renderer.renderer.render(tokens, renderer.options, {})
    head = f'<meta charset="utf-8"><title>{escape(_TITLE)}</title><style>{_STYLE}</style>'
    return f"<!doctype html>\n<html lang=en><head>{head}</head><body>\n{body}</body></html>\n"


def _anchor_rows(tokens: list[Token]) -> None:
    """Give each table row whose first cell is one finding id (as code) that id as its HTML id."""
    row: Token | None = None
    for token in tokens:
        if token.type == "tr_open":
            row = token
        elif token.type == "inline" and row is not None:  # the row's first cell
            code = [c.content for c in token.children or () if c.type == "code_inline"]
            if len(code) == 1 and _FINDING_ID.fullmatch(code[0]):
                row.attrSet("id", code[0])
            row = None
