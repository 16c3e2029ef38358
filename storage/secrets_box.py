"""Encryption at rest for launch secrets (tokens, PKCE verifiers): SMART App Launch 1.10."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Changing this label changes the key: stored secrets would no longer decrypt.
_KEY_INFO = b"aa-jak storage: launch secrets v1"


class SecretBox:
    """Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from the app secret with HKDF-SHA256.

    Deriving a separate key keeps the Flask SECRET_KEY itself from being used for two purposes.
    """

    def __init__(self, secret_key: str | bytes) -> None:
        if not secret_key:
            raise ValueError("an empty secret key cannot protect stored tokens")
        material = secret_key.encode() if isinstance(secret_key, str) else secret_key
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_INFO).derive(material)
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def open(self, sealed: str) -> str | None:
        """The plaintext, or None when `sealed` was made under another key or was altered."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except InvalidToken:
            return None
