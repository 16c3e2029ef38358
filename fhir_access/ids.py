"""The FHIR R4 `id` datatype and resource type names, shared by every package that checks them.

Use with `fullmatch`: `match` with `$` would also accept a trailing newline.
"""

from __future__ import annotations

import re

FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # 1-64 letters, digits, '-' or '.'
RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
