"""The app factory: mounts the CDS Hooks service and the SMART app on one Flask app.

Nothing is built at import time; every call returns a fresh app (tests build one each).
"""

from __future__ import annotations

import logging

from flask import Flask

from aa_jak.settings import DEV_MODE_WARNING, Settings, ensure_secret_key

logger = logging.getLogger("aa_jak")


def create_app(settings: Settings | None = None) -> Flask:
    """Build the product app: ops endpoints, storage, the CDS Hooks service and the SMART app.

    :raise SettingsError: the configuration is unusable (e.g. no secret key outside dev mode).
    """
    from aa_jak import observability
    from aa_jak.logs import configure_logging

    settings = ensure_secret_key(settings or Settings())
    configure_logging(settings.log_level)
    if settings.dev_mode:
        logger.warning("%s", DEV_MODE_WARNING, extra={"dev_mode": True})

    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key.get_secret_value()
    app.config["MAX_CONTENT_LENGTH"] = settings.cds_max_body_bytes

    _check_knowledge()

    from cds_hooks import init_app as init_cds_hooks
    from smart_app import init_app as init_smart_app
    from storage import init_app as init_storage

    observability.init_app(app)  # first, so its timing hook runs before any other hook
    init_storage(app)
    init_cds_hooks(app)
    init_smart_app(app)
    return app


def _check_knowledge() -> None:
    """A broken knowledge file stops start-up (the loader's error names the problem)."""
    from clinical_core import load_knowledge

    load_knowledge()
