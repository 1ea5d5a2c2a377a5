"""Verify Cognito JSON Web Tokens: RS256 signature against the pool's JWKS, issuer, client, `token_use`,
expiry. Nothing else is trusted: `alg: none`, HS256 (a key confusion), an unknown `kid`, a token of another
pool or app client, an expired one — each is refused with `InvalidToken`.

The JWKS is fetched once per process and cached (bounded); an unknown `kid` refetches it at most once per
`refresh_interval` (Cognito rotates keys rarely; an attacker's random `kid` must not make us hammer it).
The clock is injected so that expiry is testable.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt.exceptions import PyJWTError

ALGORITHM = "RS256"
MAX_KEYS = 16  # a Cognito JWKS has two; anything beyond this is ignored
MAX_JWKS_BYTES = 64 * 1024
MAX_TOKEN_BYTES = 16 * 1024
CLOCK_SKEW = 60  # seconds of clock difference tolerated on exp / iat
JWKS_TIMEOUT = 5.0  # seconds


class InvalidToken(Exception):
    """The token is not a valid token of this pool and app client; the message says why (for logs,
    never the token itself)."""


def issuer_url(region: str, user_pool_id: str) -> str:
    """The `iss` of a Cognito user pool's tokens (also the base of its JWKS URL)."""
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def fetch_jwks(url: str, timeout: float = JWKS_TIMEOUT) -> dict[str, Any]:
    """GET the JWKS document (bounded size)."""
    if not url.startswith(("https://", "http://")):
        raise InvalidToken(f"the JWKS URL {url!r} is not http(s)")
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body = response.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise InvalidToken("the JWKS document is too large")
    document = json.loads(body)
    if not isinstance(document, dict):
        raise InvalidToken("the JWKS document is not a JSON object")
    return document


@dataclass
class KeySet:
    """The pool's signing keys by `kid`, fetched lazily and refreshed on an unknown `kid` (rate-limited)."""

    url: str
    fetch: Callable[[str], Mapping[str, Any]] = fetch_jwks
    clock: Callable[[], float] = time.monotonic
    refresh_interval: float = 60.0
    _keys: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _fetched_at: float | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def key(self, kid: str) -> Any:
        """The public key for `kid`; InvalidToken if the pool does not publish it."""
        with self._lock:
            if kid not in self._keys and self._may_refresh():
                self._refresh()
            found = self._keys.get(kid)
        if found is None:
            raise InvalidToken("the token's key id is not one of the pool's keys")
        return found

    def _may_refresh(self) -> bool:
        return self._fetched_at is None or self.clock() - self._fetched_at >= self.refresh_interval

    def _refresh(self) -> None:
        self._fetched_at = self.clock()  # a failed fetch also waits for the interval
        try:
            document = self.fetch(self.url)
        except InvalidToken:
            raise
        except Exception as error:  # noqa: BLE001 - network or JSON: no keys, no sign-in
            raise InvalidToken(f"the pool's keys could not be fetched ({type(error).__name__})") from None
        keys: dict[str, Any] = {}
        for entry in list(document.get("keys", []))[:MAX_KEYS]:
            if not isinstance(entry, dict) or entry.get("kty") != "RSA" or not isinstance(entry.get("kid"), str):
                continue
            if entry.get("alg", ALGORITHM) != ALGORITHM or entry.get("use", "sig") != "sig":
                continue
            try:
                keys[entry["kid"]] = jwt.PyJWK(entry, algorithm=ALGORITHM).key
            except PyJWTError:
                continue
        self._keys = keys


@dataclass(frozen=True)
class Claims:
    """What the app uses of a verified token."""

    subject: str
    username: str | None
    email: str | None
    expires_at: int
    token_use: str


@dataclass
class TokenVerifier:
    """Checks tokens of one user pool and app client (`token_use`: `id` or `access`)."""

    issuer: str
    client_id: str
    keys: KeySet
    clock: Callable[[], float] = time.time

    @classmethod
    def for_pool(cls, region: str, user_pool_id: str, client_id: str, issuer: str | None = None,
                 jwks_url: str | None = None, **key_options: Any) -> TokenVerifier:
        """A verifier for a pool; `issuer` overrides the AWS form, `jwks_url` where the keys are fetched
        (default `<issuer>/.well-known/jwks.json`; an emulator's pool keeps AWS's issuer but serves its keys
        itself)."""
        iss = (issuer or issuer_url(region, user_pool_id)).rstrip("/")
        return cls(issuer=iss, client_id=client_id,
                   keys=KeySet(jwks_url or f"{iss}/.well-known/jwks.json", **key_options))

    def verify(self, token: str, token_use: str = "id") -> Claims:
        """The token's claims if every check passes; InvalidToken otherwise."""
        if token_use not in ("id", "access"):
            raise ValueError(f"token_use {token_use!r} is not id or access")
        if not token or len(token) > MAX_TOKEN_BYTES:
            raise InvalidToken("no token, or an oversized one")
        try:
            header = jwt.get_unverified_header(token)
        except PyJWTError:
            raise InvalidToken("the token is not a JWT") from None
        if header.get("alg") != ALGORITHM:
            raise InvalidToken(f"the token's algorithm {str(header.get('alg'))[:10]!r} is not {ALGORITHM}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("the token names no key id")
        key = self.keys.key(kid)
        try:
            claims = jwt.decode(
                token, key, algorithms=[ALGORITHM], issuer=self.issuer,
                audience=self.client_id if token_use == "id" else None,
                # expiry against the injected clock, below
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                         "verify_aud": token_use == "id", "require": ["exp", "iat", "iss", "sub", "token_use"]},
            )
        except PyJWTError as error:
            raise InvalidToken(f"the token was refused: {type(error).__name__}") from None
        if claims.get("token_use") != token_use:
            raise InvalidToken(f"the token is not an {token_use} token")
        if token_use == "access" and claims.get("client_id") != self.client_id:
            raise InvalidToken("the token was issued to another app client")
        now = self.clock()
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, int | float) or not isinstance(iat, int | float):
            raise InvalidToken("the token's exp or iat is not a number")
        if now >= exp + CLOCK_SKEW:
            raise InvalidToken("the token has expired")
        if iat > now + CLOCK_SKEW:
            raise InvalidToken("the token was issued in the future")
        return Claims(
            subject=str(claims["sub"]),
            username=claims.get("cognito:username") or claims.get("username"),
            email=claims.get("email"),
            expires_at=int(exp),
            token_use=token_use,
        )
