"""A fake Cognito user pool for tests: an RSA key made in the test, its JWKS, tokens signed with it."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

REGION = "us-east-1"
POOL_ID = "us-east-1_TestPool1"
CLIENT_ID = "testclient0123456789"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL_ID}"
DOMAIN = "https://bls-test.auth.us-east-1.amazoncognito.com"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class FakePool:
    """Signs tokens like Cognito; `jwks()` is what the pool publishes."""

    kid: str = "test-key-1"
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537,
                                                                                     key_size=2048))
    fetches: int = 0

    def jwks(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        return {"keys": [{
            "kid": self.kid, "kty": "RSA", "alg": "RS256", "use": "sig",
            "n": _b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": _b64(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
        }]}

    def fetch(self, url: str) -> dict[str, Any]:
        assert url == f"{ISSUER}/.well-known/jwks.json", url
        self.fetches += 1
        return self.jwks()

    def claims(self, token_use: str = "id", now: float | None = None, **changes: Any) -> dict[str, Any]:
        now = time.time() if now is None else now
        claims: dict[str, Any] = {
            "sub": "2f0c4f0e-1111-2222-3333-444455556666", "iss": ISSUER, "token_use": token_use,
            "iat": int(now), "exp": int(now) + 3600, "auth_time": int(now), "email": "ann@example.org",
        }
        if token_use == "id":
            claims |= {"aud": CLIENT_ID, "cognito:username": "ann"}
        else:
            claims |= {"client_id": CLIENT_ID, "username": "ann", "scope": "openid email"}
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, token_use: str = "id", now: float | None = None, headers: dict[str, Any] | None = None,
              key: Any = None, **changes: Any) -> str:
        return jwt.encode(self.claims(token_use, now, **changes), key or self.key, algorithm="RS256",
                          headers={"kid": self.kid, **(headers or {})})


def unsigned_token(claims: dict[str, Any], kid: str = "test-key-1") -> str:
    """An `alg: none` token (no signature)."""
    header = {"alg": "none", "typ": "JWT", "kid": kid}
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."
