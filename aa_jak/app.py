"""The app factory: mounts the CDS Hooks service and the SMART app on one Flask app.

Nothing is built at import time; every call returns a fresh app (tests build one each).
"""

from __future__ import annotations

import hmac
import logging

from flask import Flask, Response, request

from aa_jak.settings import DEV_MODE_WARNING, Settings, ensure_secret_key, refuse_plain_http

logger = logging.getLogger("aa_jak")


def create_app(settings: Settings | None = None) -> Flask:
    """Build the product app: ops endpoints, storage, the CDS Hooks service and the SMART app.

    :raise SettingsError: the configuration is unusable (e.g. no secret key, or a plain-http
        FHIR server or JWKS URL, outside dev mode).
    """
    from aa_jak import observability
    from aa_jak.logs import configure_logging

    settings = ensure_secret_key(settings or Settings())
    refuse_plain_http(settings)
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
    _protect_metrics(app, settings)
    init_storage(app)
    init_cds_hooks(app)
    init_smart_app(app)
    return app


def _protect_metrics(app: Flask, settings: Settings) -> None:
    """`/metrics` requires `Authorization: Bearer <metrics_token>` when that setting is set."""
    if settings.metrics_token is None:
        if not settings.dev_mode:
            logger.warning(
                "metrics_token is not set: /metrics is open to anyone who can reach the service; "
                "set AA_JAK_METRICS_TOKEN or restrict /metrics at the network"
            )
        return
    expected = settings.metrics_token.get_secret_value().strip().encode()

    @app.before_request
    def _require_metrics_token() -> Response | None:
        if request.endpoint != "ops.metrics":
            return None
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        # Constant-time comparison: the answer time must not reveal how much of a guess was right.
        if scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), expected):
            return None
        return Response(status=401, headers={"WWW-Authenticate": "Bearer"})


def _check_knowledge() -> None:
    """A broken knowledge file stops start-up (the loader's error names the problem)."""
    from clinical_core import load_knowledge

    load_knowledge()
