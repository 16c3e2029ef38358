"""The knowledge file: load, validate, and look codes up fast.

`load_knowledge()` reads `protocol.yaml` beside this module (or a given path),
validates it with pydantic (unknown keys are errors that name the key) and
builds the indexes the extraction uses on the hot path.
"""

from __future__ import annotations

from clinical_core.knowledge.model import (
    CodeEntry as CodeEntry,
)
from clinical_core.knowledge.model import (
    Knowledge as Knowledge,
)
from clinical_core.knowledge.model import (
    KnowledgeError as KnowledgeError,
)
from clinical_core.knowledge.model import (
    ValueSet as ValueSet,
)
from clinical_core.knowledge.model import (
    load_knowledge as load_knowledge,
)
