"""CDS Hooks 2.0 service: discovery, the three AA-JAK services, feedback, and the finding
catalogue page that cards link to (`cds_hooks.docs`).

Public API: `init_app(app)` registers the blueprint; `feedback_report_text()`
renders the feedback statistics for `aa-jak feedback-report`.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from flask_cors import CORS

from cds_hooks.feedback import feedback_report_text as feedback_report_text

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Build the registry from the knowledge file, set up JWT checks and CORS, mount the blueprint."""
    from cds_hooks import docs
    from cds_hooks import engine as engine_module
    from cds_hooks.auth import Authenticator, JwksCache
    from cds_hooks.openapi import openapi_document
    from cds_hooks.registry import default_registry
    from cds_hooks.state import CdsHooksState, default_client_factory
    from cds_hooks.views import bp

    settings = app.config["SETTINGS"]
    engine = engine_module.build_default_engine()
    registry = default_registry(engine.observation_codes(), engine.salt_codes())

    def remember_jti(*args: Any) -> bool:
        return bool(state.storage().remember_jti(*args))

    state = CdsHooksState(
        settings=settings,
        registry=registry,
        engine=engine,
        authenticator=Authenticator(settings, JwksCache(settings), remember_jti),
        openapi=openapi_document(_version(), [(s.id, s.hook) for s in registry.services]),
        client_factory=default_client_factory(settings),
    )
    app.extensions["cds_hooks"] = state
    # (The factory itself warns about dev mode: CDS calls without a JWT, plain-http URLs.)
    if not settings.dev_mode and not settings.cds_trusted_issuers:
        log.warning("cds_hooks: no trusted CDS client issuers configured; every CDS call will get 401")
    if not settings.dev_mode and not settings.public_base_url.lower().startswith("https://"):
        # CDS Hooks allows every endpoint only over TLS (F1); the JWT `aud` is built from this URL.
        log.warning("cds_hooks: public_base_url is not https; CDS clients must reach the service over TLS")
    if not docs.catalogue_available():
        # Cards whose sources have no URL link to this page (D3, D7): those links would be dead.
        log.warning("cds_hooks: %s is missing, so %s answers 404", docs.CATALOGUE, docs.FINDINGS_PATH)
    # CORS for browser clients such as the CDS Hooks Sandbox (F8, K2): allow-listed origins only.
    CORS(
        app,
        resources={r"/cds-services*": {"origins": list(settings.cds_cors_origins)}},
        allow_headers=["Authorization", "Content-Type"],
        methods=["GET", "POST", "OPTIONS"],
        max_age=600,
        supports_credentials=False,
    )
    app.register_blueprint(bp)
    app.register_blueprint(docs.bp)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aa-jak")
    except PackageNotFoundError:  # pragma: no cover - running from a plain checkout
        return "0.0.0"
