"""Render a finding's markdown detail as HTML for the app's pages.

Raw HTML in the markdown is escaped, never passed through: details quote patient
data (medication names, lab displays) that could carry markup.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup

_RENDERER = MarkdownIt("commonmark", {"html": False})


def render_markdown(text: str) -> Markup:
    return Markup(_RENDERER.render(text))  # noqa: S704 - html=False escapes every raw tag
