"""The sandbox EHR's ES384 signing key for CDS Hooks client JWTs (cds-hooks.md F3, F10, K1).

The key is made fresh for each sandbox run (`aa-jak sandbox` writes the public JWKS to a
file that the product trusts); it signs nothing outside this machine.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

JWT_LIFETIME_S = 300  # what the public CDS Hooks Sandbox uses


@dataclass(frozen=True)
class SigningKey:
    private_key: ec.EllipticCurvePrivateKey
    kid: str

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(private_key=ec.generate_private_key(ec.SECP384R1()), kid=uuid.uuid4().hex)

    @classmethod
    def load_or_create(cls, pem_path: Path) -> SigningKey:
        """The key stored at `pem_path` (kid in a `.kid` file next to it), or a new one saved there."""
        kid_path = pem_path.with_suffix(".kid")
        if pem_path.exists() and kid_path.exists():
            key = serialization.load_pem_private_key(pem_path.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{pem_path} is not an EC private key")
            return cls(private_key=key, kid=kid_path.read_text(encoding="utf-8").strip())
        key_obj = cls.generate()
        pem_path.parent.mkdir(parents=True, exist_ok=True)
        pem_path.write_bytes(
            key_obj.private_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        pem_path.chmod(0o600)
        kid_path.write_text(key_obj.kid, encoding="utf-8")
        return key_obj

    def public_jwks(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "alg": "ES384", "use": "sig"})
        return {"keys": [jwk]}

    def write_jwks(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.public_jwks(), indent=2), encoding="utf-8")
        return path

    def cds_jwt(self, *, iss: str, aud: str, jku: str | None = None, now: float | None = None) -> str:
        """A CDS Hooks client JWT: `aud` is the exact URL being called (service, discovery or feedback)."""
        issued = int(now if now is not None else time.time())
        headers = {"kid": self.kid, "typ": "JWT"}
        if jku:
            headers["jku"] = jku
        payload = {
            "iss": iss,
            "aud": aud,
            "iat": issued,
            "exp": issued + JWT_LIFETIME_S,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(payload, self.private_key, algorithm="ES384", headers=headers)
