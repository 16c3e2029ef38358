"""The one settings object, read from the environment (prefix `AA_JAK_`) or a YAML file.

Nested values (lists of issuers or clients) are given as JSON in the
environment, e.g. `AA_JAK_SMART_CLIENTS='[{"iss": "...", "client_id": "..."}]'`,
or in the YAML file named by `AA_JAK_CONFIG_FILE`.

Precedence, highest first: keyword arguments, environment variables, the YAML
file, the defaults below. An unknown key in the YAML file, or an unknown
`AA_JAK_*` environment variable, is an error naming the key (a typo must not
silently fall back to a default). `AA_JAK_CONFIG_FILE` itself and the
`AA_JAK_TEST_*` variables used by the test suite are not settings.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "AA_JAK_"
CONFIG_FILE_ENV = "AA_JAK_CONFIG_FILE"
# Environment variables with our prefix that are not settings.
_NOT_SETTINGS = ("AA_JAK_CONFIG_FILE", "AA_JAK_TEST_")

DEV_MODE_WARNING = (
    "DEVELOPMENT MODE: CDS calls without a client JWT (a JWT that is sent is still verified) "
    "and plain-http URLs are allowed"
)


class SettingsError(ValueError):
    """The configuration cannot be used; the message says which key and how to fix it."""


class CdsTrustedIssuer(BaseModel):
    """A CDS client (EHR) allowed to call the service (CDS Hooks checklist F6, C8)."""

    model_config = ConfigDict(extra="forbid")

    iss: str
    jwks_url: str | None = None  # fetched and cached; never taken from the JWT's `jku`
    jwks_file: Path | None = None  # a local JWKS, e.g. the public CDS Hooks Sandbox key
    allowed_jku: list[str] = Field(default_factory=list)  # `jku` values accepted in the JWT header
    fhir_servers: list[str] = Field(default_factory=list)  # `fhirServer` bases this issuer may name
    tenant: str | None = None


class SmartClient(BaseModel):
    """One FHIR server the app may be launched from (the `iss` allow-list, SMART checklist 1.1)."""

    model_config = ConfigDict(extra="forbid")

    iss: str
    client_id: str
    client_type: Literal["public", "confidential-symmetric", "confidential-asymmetric"] = "public"
    client_secret: SecretStr | None = None
    scopes: str | None = None  # override the default minimal scope set
    standalone: bool = False  # offered on the standalone launch page


class _YamlFileSource(PydanticBaseSettingsSource):
    """Values from the YAML file named by `AA_JAK_CONFIG_FILE` (absent: no values)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self.path = os.environ.get(CONFIG_FILE_ENV) or None

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False  # unused: __call__ returns the whole mapping

    def __call__(self) -> dict[str, Any]:
        if not self.path:
            return {}
        path = Path(self.path)
        if not path.is_file():
            raise SettingsError(f"{CONFIG_FILE_ENV} names {path}, which is not a file")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise SettingsError(f"{path} is not valid YAML: {exc}") from exc
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise SettingsError(f"{path} must hold a mapping of setting names to values")
        known = set(self.settings_cls.model_fields)
        for key in data:
            if key not in known:
                raise SettingsError(
                    f"Unknown setting {key!r} in {path}. Known settings: {', '.join(sorted(known))}"
                )
        return data


def _check_environment(known: set[str]) -> None:
    """Raise on an `AA_JAK_*` variable that names no setting (e.g. a typo like AA_JAK_SECRETKEY)."""
    for name in os.environ:
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper.startswith(_NOT_SETTINGS):
            continue
        field = upper[len(ENV_PREFIX) :].split("__", 1)[0].lower()
        if field not in known:
            raise SettingsError(f"Unknown setting in environment variable {name}: no setting named {field!r}")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AA_JAK_", extra="forbid", env_nested_delimiter="__")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        _check_environment(set(settings_cls.model_fields))
        return (init_settings, env_settings, _YamlFileSource(settings_cls), file_secret_settings)

    # Development mode: CDS calls without a client JWT are let through (a JWT that is sent is still
    # verified), plain-http URLs are accepted. Warns loudly at start.
    dev_mode: bool = False
    # The URL clients use to reach this service (behind proxies): the CDS JWT `aud` is checked against it.
    public_base_url: str = "http://127.0.0.1:8000"
    database_url: str = "sqlite:///var/aa-jak.db"
    secret_key: SecretStr = SecretStr("")  # Flask secret; required outside dev mode
    log_level: str = "INFO"
    # When set, `/metrics` requires `Authorization: Bearer <metrics_token>`; unset, it is open
    # (operators often restrict it at the network instead) and a warning says so at start.
    metrics_token: SecretStr | None = None
    # The date rules evaluate against, for demos and tests only; production leaves it unset (today).
    frozen_today: str | None = None

    # FHIR access (CDS fallback, SMART app)
    fhir_request_timeout_s: float = 2.0
    fhir_deadline_s: float = 4.0
    fhir_max_workers: int = 8

    # CDS Hooks
    cds_trusted_issuers: list[CdsTrustedIssuer] = Field(default_factory=list)
    cds_algorithms: list[str] = Field(default_factory=lambda: ["ES384", "RS384"])
    cds_jwt_leeway_s: int = 30
    cds_jwt_max_lifetime_s: int = 3600
    cds_cors_origins: list[str] = Field(default_factory=list)
    cds_max_body_bytes: int = 5_000_000
    cds_jwks_cache_s: int = 3600  # how long a fetched client JWKS is trusted
    cds_jwks_min_refetch_s: int = 60  # at most one refetch per JWKS URL this often (unknown `kid`)
    cds_jwks_timeout_s: float = 3.0  # timeout for fetching a client JWKS

    # SMART app
    smart_clients: list[SmartClient] = Field(default_factory=list)
    smart_private_jwks_file: Path | None = None  # our signing keys for private_key_jwt
    smart_state_ttl_s: int = 600
    smart_session_ttl_s: int = 8 * 3600
    smart_discovery_cache_s: int = 300
    smart_cookie_secure: bool = True  # the key cookies: `SameSite=None` needs Secure in browsers
    smart_refresh_leeway_s: int = 60  # refresh the access token this long before it expires
    # Business identifier system of SALT Observations the app writes (conditional create on it).
    smart_salt_identifier_system: str = "urn:aa-jak:fhir:identifier:salt-observation"

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        # A blank token would make `Authorization: Bearer ` the password.
        if value is not None and not value.get_secret_value().strip():
            raise ValueError(
                "metrics_token is empty: set a random value, or leave it unset for an open /metrics"
            )
        return value


def ensure_secret_key(settings: Settings) -> Settings:
    """Refuse to run without a secret key outside dev mode; in dev mode, make one up.

    A generated key lives only as long as the process: sessions do not survive a
    restart, and several workers would each have their own key (the `serve`
    command generates one before forking for that reason).

    :raise SettingsError: no secret key and not in dev mode.
    """
    if settings.secret_key.get_secret_value():
        return settings
    if not settings.dev_mode:
        raise SettingsError(
            "No secret key: set AA_JAK_SECRET_KEY (or secret_key in the file named by AA_JAK_CONFIG_FILE), "
            "e.g. to the output of `python -c 'import secrets; print(secrets.token_urlsafe(48))'`. "
            "Only development mode (AA_JAK_DEV_MODE=true or `aa-jak serve --dev`) runs without one."
        )
    return settings.model_copy(update={"secret_key": SecretStr(secrets.token_urlsafe(48))})


def refuse_plain_http(settings: Settings) -> None:
    """Outside dev mode, refuse settings that would send keys, tokens or patient data over plain http.

    `public_base_url` is only warned about (in `cds_hooks`): TLS often ends at a proxy in front
    of the service.

    :raise SettingsError: naming the setting, its entry and the URL.
    """
    if settings.dev_mode:
        return
    for where, owner, url in _outbound_urls(settings):
        if not url.lower().startswith("https://"):
            raise SettingsError(
                f"{where} ({owner}) is {url!r}, which is not https. Outside development mode every "
                "FHIR server, JWKS and jku URL in the settings must use https; fix the URL, or use "
                "development mode (AA_JAK_DEV_MODE=true) for local testing."
            )


def _outbound_urls(settings: Settings) -> Iterator[tuple[str, str, str]]:
    """(setting, whose entry, URL) for each URL the product fetches keys or patient data from.

    CDS issuers: client keys (`jwks_url`, `allowed_jku`; CDS Hooks F6) and the FHIR servers the
    service queries with the EHR's token (B2). SMART clients: the FHIR server the app signs in to.
    """
    for i, issuer in enumerate(settings.cds_trusted_issuers):
        entry = f"cds_trusted_issuers[{i}]"
        if issuer.jwks_url is not None:
            yield f"{entry}.jwks_url", f"iss {issuer.iss}", issuer.jwks_url
        for j, jku in enumerate(issuer.allowed_jku):
            yield f"{entry}.allowed_jku[{j}]", f"iss {issuer.iss}", jku
        for j, server in enumerate(issuer.fhir_servers):
            yield f"{entry}.fhir_servers[{j}]", f"iss {issuer.iss}", server
    for i, client in enumerate(settings.smart_clients):
        yield f"smart_clients[{i}].iss", f"client_id {client.client_id}", client.iss
