"""Which URLs belong to a FHIR server's base URL: the only URLs the client ever requests.

SMART App Launch 1.7 and CDS Hooks C7: the bearer token goes to the FHIR server it was issued
for and nowhere else. A server-supplied URL (a `next` link, an absolute reference) is under the
base when scheme, host, port and path prefix all match.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit

from fhir_access.errors import OffOriginUrl

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class BaseUrl:
    scheme: str
    host: str
    port: int
    path: str  # no trailing slash; "" for a server at the root

    @classmethod
    def parse(cls, url: str) -> BaseUrl:
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError("FHIR base URL must be an absolute http or https URL")
        if parts.query or parts.fragment or parts.username is not None:
            raise ValueError("FHIR base URL must not carry a query, a fragment or credentials")
        return cls(parts.scheme, parts.hostname, _port(parts), parts.path.rstrip("/"))

    @property
    def url(self) -> str:
        default = _DEFAULT_PORTS[self.scheme] == self.port
        netloc = self.host if default else f"{self.host}:{self.port}"
        if ":" in self.host:  # IPv6 literal
            netloc = f"[{self.host}]" if default else f"[{self.host}]:{self.port}"
        return f"{self.scheme}://{netloc}{self.path}"

    def contains(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
            port = _port(parts)
        except ValueError:
            return False
        if (parts.scheme, parts.hostname, port) != (self.scheme, self.host, self.port):
            return False
        if parts.username is not None or parts.password is not None:
            return False
        # A server may normalise "/fhir/../admin" (or its percent-encoded form) to "/admin".
        if ".." in unquote(parts.path).split("/"):
            return False
        return parts.path == self.path or parts.path.startswith(self.path + "/")

    def resolve(self, reference: str, *, resource_type: str | None = None) -> str:
        """An absolute URL under the base for a relative query ("Observation?patient=1") or an absolute URL.

        Raises `OffOriginUrl` for anything outside the base; the message never includes the URL.
        """
        url = reference if urlsplit(reference).scheme else f"{self.url}/{reference.lstrip('/')}"
        if not self.contains(url):
            raise OffOriginUrl(
                f"FHIR {resource_type or 'request'}: URL is outside the FHIR base URL; not requested",
                resource_type=resource_type,
            )
        return url

    def segments(self, url: str) -> list[str]:
        """The path segments after the base path, e.g. ["Patient", "123"]."""
        rest = urlsplit(url).path[len(self.path) :]
        return [segment for segment in rest.split("/") if segment]


def parses_as_url(text: str) -> bool:
    """Whether `text` splits into URL parts, port included (not "https://[::1" nor "https://h:x/")."""
    try:
        _port(urlsplit(text))
    except ValueError:
        return False
    return True


def _port(parts: SplitResult) -> int:
    return parts.port or _DEFAULT_PORTS.get(parts.scheme, -1)
