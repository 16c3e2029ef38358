"""The clinical core: knowledge, patient record, rules, findings. Pure Python: no Flask, no I/O, no clock.

FHIR resources -> `build_record` -> `PatientRecord` -> `evaluate(record, as_of, knowledge)` -> `Assessment`.
"""

from clinical_core.anchoring import ANCHOR_DATE as ANCHOR_DATE
from clinical_core.anchoring import reanchor as reanchor
from clinical_core.evaluate import evaluate as evaluate
from clinical_core.extract import build_record as build_record
from clinical_core.extract import proposed_orders as proposed_orders
from clinical_core.findings import (
    Action as Action,
)
from clinical_core.findings import (
    ActionKind as ActionKind,
)
from clinical_core.findings import (
    Assessment as Assessment,
)
from clinical_core.findings import (
    Category as Category,
)
from clinical_core.findings import (
    Finding as Finding,
)
from clinical_core.findings import (
    Severity as Severity,
)
from clinical_core.knowledge import Knowledge as Knowledge
from clinical_core.knowledge import KnowledgeError as KnowledgeError
from clinical_core.knowledge import load_knowledge as load_knowledge
from clinical_core.record import PatientRecord as PatientRecord
from clinical_core.record import ProposedOrder as ProposedOrder
