"""The `iss` allow-list: which FHIR servers may launch the app, and how we authenticate to each.

SMART App Launch 2.2 leaves `iss` validation to the app (app-launch.html#app-protection,
HL7/smart-app-launch#230). A forged `iss` would make the app send its client secret,
the code and the tokens to a counterfeit server, so every launch is checked here
BEFORE any network call.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from aa_jak.settings import SmartClient


def normalise_iss(iss: str) -> str | None:
    """Scheme, host (lower case, default port dropped) and path without a trailing slash.

    Returns None for anything that is not an absolute http(s) URL without
    credentials, query or fragment: such a value can never match the allow-list.
    """
    try:
        parts = urlsplit(iss.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if parts.username or parts.password or parts.query or parts.fragment:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is not None and not (scheme == "http" and port == 80) and not (scheme == "https" and port == 443):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path.rstrip('/')}"


@dataclass(frozen=True)
class RegisteredClient:
    """One allow-listed FHIR server.

    `iss` is the normalised allow-list key, the FHIR base the app calls. The `aud` of an
    authorize request is spelled as the server knows itself instead: on an EHR launch, the
    launch's `iss` as given (R41); on a standalone launch, `configured_iss`, as written in
    the settings.
    """

    iss: str
    configured_iss: str
    client_id: str
    client_type: str  # public | confidential-symmetric | confidential-asymmetric
    client_secret: str | None
    scopes: str | None
    standalone: bool

    @property
    def confidential(self) -> bool:
        return self.client_type != "public"


class ClientRegistry:
    """Allow-list keyed by normalised `iss`; built once from `settings.smart_clients`."""

    def __init__(self, clients: list[SmartClient]) -> None:
        self._by_iss: dict[str, RegisteredClient] = {}
        for c in clients:
            key = normalise_iss(c.iss)
            if key is None:
                raise ValueError(f"settings.smart_clients: iss {c.iss!r} is not an absolute http(s) URL")
            if key in self._by_iss:
                raise ValueError(f"settings.smart_clients: iss {c.iss!r} is listed twice")
            secret = c.client_secret.get_secret_value() if c.client_secret else None
            if c.client_type == "confidential-symmetric" and not secret:
                raise ValueError(
                    f"settings.smart_clients: {c.iss!r} is confidential-symmetric without a secret"
                )
            self._by_iss[key] = RegisteredClient(
                iss=key,
                configured_iss=c.iss.strip(),
                client_id=c.client_id,
                client_type=c.client_type,
                client_secret=secret,
                scopes=c.scopes,
                standalone=c.standalone,
            )

    def get(self, iss: str | None) -> RegisteredClient | None:
        if not iss:
            return None
        key = normalise_iss(iss)
        return self._by_iss.get(key) if key else None

    def standalone(self) -> list[RegisteredClient]:
        return [c for c in self._by_iss.values() if c.standalone]

    def needs_private_key(self) -> bool:
        return any(c.client_type == "confidential-asymmetric" for c in self._by_iss.values())
