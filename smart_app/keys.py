"""Our signing keys for `private_key_jwt` (client-confidential-asymmetric.html) and their public JWKS.

Keys come from `settings.smart_private_jwks_file` (a JWKS of private keys, each
with `kid`). In development without a file, an ephemeral RSA key (RS384) and
P-384 key (ES384) are generated at start. The public half is served at
`/app/.well-known/jwks.json`.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ASSERTION_LIFETIME_S = 240  # SMART: exp no more than 5 minutes ahead (R331)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str  # RS384 | ES384
    private_key: Any

    def public_jwk(self) -> dict[str, Any]:
        pub = self.private_key.public_key()
        algo = RSAAlgorithm if self.alg == "RS384" else ECAlgorithm
        jwk = algo.to_jwk(pub, as_dict=True)
        jwk.update({"kid": self.kid, "alg": self.alg, "use": "sig", "key_ops": ["verify"]})
        return jwk


def _key_from_jwk(jwk: dict[str, Any]) -> SigningKey:
    kid = jwk.get("kid")
    if not kid:
        raise ValueError("smart_private_jwks_file: every key needs a `kid`")
    if jwk.get("kty") == "RSA":
        rsa_key = RSAAlgorithm.from_jwk(jwk)
        if not isinstance(rsa_key, rsa.RSAPrivateKey):
            raise ValueError(f"smart_private_jwks_file: key {kid} is not a private RSA key")
        return SigningKey(kid, "RS384", rsa_key)
    if jwk.get("kty") == "EC" and jwk.get("crv") == "P-384":
        ec_key = ECAlgorithm.from_jwk(jwk)
        if not isinstance(ec_key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"smart_private_jwks_file: key {kid} is not a private EC key")
        return SigningKey(kid, "ES384", ec_key)
    raise ValueError(f"smart_private_jwks_file: key {kid} must be RSA or EC P-384")


class ClientKeys:
    def __init__(self, keys: list[SigningKey]) -> None:
        if not keys:
            raise ValueError("no signing keys")
        self.keys = keys

    @classmethod
    def from_file(cls, path: Path) -> ClientKeys:
        doc = json.loads(Path(path).read_text())
        return cls([_key_from_jwk(k) for k in doc.get("keys", [])])

    @classmethod
    def ephemeral(cls) -> ClientKeys:
        stamp = secrets.token_hex(4)
        return cls(
            [
                SigningKey(
                    f"dev-rs384-{stamp}",
                    "RS384",
                    rsa.generate_private_key(public_exponent=65537, key_size=2048),
                ),
                SigningKey(f"dev-es384-{stamp}", "ES384", ec.generate_private_key(ec.SECP384R1())),
            ]
        )

    def public_jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self.keys]}

    def choose(self, server_algs: tuple[str, ...]) -> SigningKey:
        """The first of our keys whose algorithm the server advertises (RS384 first if it says nothing)."""
        for key in self.keys:
            if not server_algs or key.alg in server_algs:
                return key
        raise ValueError("the server supports none of our signing algorithms: " + ", ".join(server_algs))

    def client_assertion(self, client_id: str, token_url: str, server_algs: tuple[str, ...] = ()) -> str:
        """RFC 7523 client assertion as SMART profiles it (ASYM#request, R307-R334)."""
        key = self.choose(server_algs)
        now = int(time.time())
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": token_url,
            "exp": now + ASSERTION_LIFETIME_S,
            "iat": now,
            "jti": secrets.token_urlsafe(24),
        }
        return jwt.encode(claims, key.private_key, algorithm=key.alg, headers={"kid": key.kid, "typ": "JWT"})


def write_private_jwks(path: Path, keys: ClientKeys) -> None:
    """Save keys as a private JWKS (used by tests and the sandbox to share one key pair)."""
    out = []
    for k in keys.keys:
        algo = RSAAlgorithm if k.alg == "RS384" else ECAlgorithm
        jwk = algo.to_jwk(k.private_key, as_dict=True)
        jwk.update({"kid": k.kid, "alg": k.alg})
        out.append(jwk)
    Path(path).write_text(json.dumps({"keys": out}))
