"""The SMART on FHIR app (SMART App Launch 2.2): launch, OAuth, per-launch context, pages, SALT write-back.

`init_app(app)` registers the blueprint under `/app` and builds, once, the
registries the views use: the `iss` allow-list, the discovery cache and our
signing keys. Settings come from `app.config["SETTINGS"]` (aa_jak.settings).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from flask import Flask

from smart_app.discovery import DiscoveryCache
from smart_app.keys import ClientKeys
from smart_app.registry import ClientRegistry

logger = logging.getLogger(__name__)


class SmartAppState:
    """Everything the views share, built when the app is created (app.extensions["smart_app"])."""

    def __init__(self, app: Flask, settings: Any) -> None:
        self.settings = settings
        self.registry = ClientRegistry(settings.smart_clients)
        self.discovery = DiscoveryCache(
            settings.smart_discovery_cache_s,
            settings.fhir_request_timeout_s,
            require_https=not settings.dev_mode,  # TLS for every exchange (AL#app-protection, R318)
        )
        self.keys = self._load_keys(settings)
        secret = app.config.get("SECRET_KEY") or secrets.token_hex(32)
        secret_bytes = secret if isinstance(secret, bytes) else str(secret).encode()
        self.csrf_secret = secret_bytes + b"|smart-csrf"
        self.nonce_secret = secret_bytes + b"|smart-oidc-nonce"  # oauth.nonce_for: HMAC(secret, state)
        self.redirect_uri = settings.public_base_url.rstrip("/") + "/app/callback"
        self._knowledge: Any = None
        # Replaceable in tests.
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.knowledge_loader = _load_default_knowledge
        self.storage_override: Any = None  # a storage object with the `storage` API (tests)
        self.record_types_override: tuple[Any, Any] | None = None  # (LaunchState, LaunchContext) (tests)

    def _load_keys(self, settings: Any) -> ClientKeys:
        if settings.smart_private_jwks_file:
            return ClientKeys.from_file(settings.smart_private_jwks_file)
        if self.registry.needs_private_key() and not settings.dev_mode:
            raise ValueError(
                "settings.smart_private_jwks_file is required for confidential-asymmetric SMART clients"
            )
        if self.registry.needs_private_key():
            logger.warning("SMART app: using an ephemeral signing key (dev mode); EHRs must re-read our JWKS")
        return ClientKeys.ephemeral()

    def knowledge(self) -> Any:
        if self._knowledge is None:
            self._knowledge = self.knowledge_loader()
        return self._knowledge

    def as_of(self) -> date:
        if self.settings.frozen_today:
            return date.fromisoformat(self.settings.frozen_today)
        return self.now().date()

    def storage(self) -> Any:
        if self.storage_override is not None:
            return self.storage_override
        from storage import get_storage

        return get_storage()

    def new_launch_state(self, **fields: Any) -> Any:
        if self.record_types_override:
            return self.record_types_override[0](**fields)
        from storage import LaunchState

        return LaunchState(**fields)

    def new_context(self, **fields: Any) -> Any:
        if self.record_types_override:
            return self.record_types_override[1](**fields)
        from storage import LaunchContext

        return LaunchContext(**fields)

    def fhir_client(self, ctx: Any) -> Any:
        from fhir_access import FhirClient

        return FhirClient(
            ctx.iss,
            ctx.access_token,
            timeout_s=self.settings.fhir_request_timeout_s,
            deadline_s=self.settings.fhir_deadline_s,
            max_workers=self.settings.fhir_max_workers,
        )


def _load_default_knowledge() -> Any:
    from clinical_core import load_knowledge

    return load_knowledge()


def init_app(app: Flask) -> None:
    from smart_app.markdown import render_markdown
    from smart_app.views import bp

    settings = app.config["SETTINGS"]
    app.extensions["smart_app"] = SmartAppState(app, settings)
    app.add_template_filter(render_markdown, "markdown")
    app.register_blueprint(bp)
