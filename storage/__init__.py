"""The one storage module (SQLAlchemy 2.x): SMART launch state and context, the CDS `jti` replay
cache, cards issued and their feedback, and the audit trail. See `Storage`; the schema's Alembic
migrations are run by `storage.migrate`."""

from storage.extension import get_storage as get_storage
from storage.extension import init_app as init_app
from storage.records import OVERRIDE_CODE_MAX_LENGTH as OVERRIDE_CODE_MAX_LENGTH
from storage.records import AuditRecord as AuditRecord
from storage.records import FeedbackItem as FeedbackItem
from storage.records import FeedbackStat as FeedbackStat
from storage.records import LaunchContext as LaunchContext
from storage.records import LaunchState as LaunchState
from storage.store import Storage as Storage

__all__ = [
    "OVERRIDE_CODE_MAX_LENGTH",
    "AuditRecord",
    "FeedbackItem",
    "FeedbackStat",
    "LaunchContext",
    "LaunchState",
    "Storage",
    "get_storage",
    "init_app",
]
