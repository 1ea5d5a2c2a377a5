"""The browser session of `API_AUTH=cognito`: sign-in by the authorization-code flow with PKCE, a cookie.

1. A request without a valid session: the page (`/`) answers 302 to `auth/login`; every data route
   answers 401 JSON (`refusal`).
2. `auth/login`: a fresh `state` and PKCE `code_verifier` go into a short-lived cookie
   (`__Host-bls-signin`: HttpOnly, Secure, SameSite=Lax, 10 minutes); 302 to the pool's hosted sign-in
   (`/oauth2/authorize`, `code_challenge` = S256 of the verifier). Nothing is stored server-side.
3. `auth/callback?code=&state=`: the state must equal the cookie's; the function exchanges the code
   (with the verifier) at `/oauth2/token`, verifies the ID token (`tokens.TokenVerifier`), sets it as
   `__Host-bls-session` (HttpOnly, Secure, SameSite=Lax, until the token expires), clears the sign-in
   cookie and answers 302 to the page. The code is single-use and bound to the verifier; the tokens never
   appear in a URL, a page or a log line, and the page's script cannot read them.
4. `auth/logout`: both cookies cleared, 302 to the pool's `/logout` (which ends the hosted session and
   comes back to the page, i.e. to the sign-in).

SameSite=Lax, not Strict: the redirect chain from the sign-in domain back to the page is cross-site,
and a Strict cookie would not be sent on it. Every route is a GET that only reads, so Lax is enough
against cross-site request forgery.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import logging
import secrets
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chalice.app import Response

from chalicelib.core.errors import ConfigError
from chalicelib.core.log import log_event
from chalicelib.core.settings import Settings
from chalicelib.web.auth.tokens import Claims, InvalidToken, TokenVerifier, issuer_url

SESSION_COOKIE = "__Host-bls-session"
SIGN_IN_COOKIE = "__Host-bls-signin"
SIGN_IN_SECONDS = 600  # the time a person has on the sign-in page
MAX_SESSION_SECONDS = 12 * 3600
SCOPES = "openid email"
TOKEN_TIMEOUT = 10.0
MAX_TOKEN_RESPONSE = 64 * 1024
_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True)
class SignInConfig:
    """The pool and app client the API trusts (from the COGNITO_* settings)."""

    region: str
    user_pool_id: str
    client_id: str
    domain: str  # hosted sign-in base URL
    issuer: str
    jwks_url: str | None = None  # None: the issuer's `/.well-known/jwks.json` (AWS); an emulator's keys elsewhere

    @classmethod
    def from_settings(cls, settings: Settings, env_region: str | None = None) -> SignInConfig:
        missing = [name for name, value in (("COGNITO_USER_POOL_ID", settings.cognito_user_pool_id),
                                            ("COGNITO_CLIENT_ID", settings.cognito_client_id),
                                            ("COGNITO_DOMAIN", settings.cognito_domain)) if not value]
        region = settings.cognito_region or env_region or (settings.cognito_user_pool_id or "").split("_")[0]
        if missing or not region:
            raise ConfigError(f"API_AUTH=cognito needs {', '.join(missing or ['COGNITO_REGION'])} "
                              "(the stack sets them; see docs/web.md, 'Signing in')")
        assert settings.cognito_user_pool_id and settings.cognito_client_id and settings.cognito_domain
        return cls(region=region, user_pool_id=settings.cognito_user_pool_id, client_id=settings.cognito_client_id,
                   domain=settings.cognito_domain,
                   issuer=settings.cognito_issuer or issuer_url(region, settings.cognito_user_pool_id),
                   jwks_url=settings.cognito_jwks_url)

    @property
    def origin(self) -> str:
        parts = urllib.parse.urlsplit(self.domain)
        return f"{parts.scheme}://{parts.netloc}"


@functools.lru_cache(maxsize=4)
def verifier_for(config: SignInConfig) -> TokenVerifier:
    """One verifier (and so one JWKS cache) per pool and client for the life of the process."""
    return TokenVerifier.for_pool(config.region, config.user_pool_id, config.client_id, issuer=config.issuer,
                                  jwks_url=config.jwks_url)


# ---- cookies ------------------------------------------------------------------------------


def parse_cookies(header: str | None) -> dict[str, str]:
    """`name=value; name2=value2` → dict (the first of a repeated name wins; malformed parts skipped)."""
    cookies: dict[str, str] = {}
    for part in (header or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in cookies:
            cookies[name] = value.strip().strip('"')
    return cookies


def set_cookie(name: str, value: str, max_age: int) -> str:
    """A `__Host-` cookie: Secure, Path=/, no Domain; HttpOnly and SameSite=Lax always."""
    return f"{name}={value}; Max-Age={max(0, max_age)}; Path=/; Secure; HttpOnly; SameSite=Lax"


def clear_cookie(name: str) -> str:
    return set_cookie(name, "", 0)


def _request_cookies(request: Any) -> dict[str, str]:
    headers = getattr(request, "headers", None) or {}
    return parse_cookies(headers.get("cookie"))


# ---- where the app is ----------------------------------------------------------------------


def base_url(request: Any) -> str:
    """The app's own base URL as the browser sees it: `https://<host>/<stage>` (API Gateway) or
    `http://localhost:8000` (chalice local). The redirect URI built from it must also be registered in
    the app client, so a forged Host header only earns a refusal from the sign-in page."""
    headers = getattr(request, "headers", None) or {}
    context = getattr(request, "context", None) or {}
    host = context.get("domainName") or headers.get("host") or "localhost"
    proto = headers.get("x-forwarded-proto") or ("https" if context.get("domainName") else "http")
    full_path = context.get("path") or ""
    route_path = getattr(request, "path", "") or ""
    prefix = full_path[: len(full_path) - len(route_path)] if route_path and full_path.endswith(route_path) else ""
    return f"{proto}://{host}{prefix.rstrip('/')}"


def redirect_uri(request: Any) -> str:
    return f"{base_url(request)}/auth/callback"


def _redirect(location: str, cookies: list[str] | None = None) -> Response:
    headers: dict[str, Any] = {"Location": location, **_NO_STORE}
    if cookies:
        headers["Set-Cookie"] = cookies
    return Response(body="", status_code=302, headers=headers)


def _json(status: int, body: Mapping[str, Any], cookies: list[str] | None = None) -> Response:
    headers: dict[str, Any] = {"Content-Type": "application/json", **_NO_STORE}
    if cookies:
        headers["Set-Cookie"] = cookies
    return Response(body=json.dumps(body), status_code=status, headers=headers)


# ---- the app's own check -----------------------------------------------------------------------


def session_claims(request: Any, config: SignInConfig, verifier: TokenVerifier | None = None) -> Claims | None:
    """The signed-in person's claims, or None (no cookie, or a token that fails any check)."""
    token = _request_cookies(request).get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return (verifier or verifier_for(config)).verify(token, token_use="id")
    except InvalidToken as refused:
        log_event("session_refused", logging.INFO, reason=str(refused), path=getattr(request, "path", None))
        return None


def refusal(request: Any, page: bool) -> Response:
    """No valid session: the page goes to the sign-in; a data route answers 401 JSON."""
    if page:
        return _redirect(f"{base_url(request)}/auth/login")
    return _json(401, {"error": "unauthorized", "message": "sign in first (no valid session)",
                       "hint": f"open {base_url(request)}/ in a browser to sign in (docs/web.md, 'Signing in')"})


def guard(request: Any, page: bool, settings: Settings | None = None,
          verifier: TokenVerifier | None = None) -> Response | None:
    """None if the request has a valid session; otherwise the response that refuses it."""
    config = SignInConfig.from_settings(settings or Settings.from_env())
    if session_claims(request, config, verifier) is None:
        return refusal(request, page)
    return None


def content_security_policy(policy: str, config: SignInConfig) -> str:
    """The page's CSP with the sign-in origin added to `form-action` only: a form submitted with an expired
    session is redirected there (browsers check form-action along redirects). Nothing else may load from it."""
    return policy.replace("form-action 'self'", f"form-action 'self' {config.origin}")


# ---- the flow ----------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def code_challenge(verifier: str) -> str:
    """PKCE S256: base64url(SHA-256(verifier)) without padding (RFC 7636)."""
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


def login(request: Any, config: SignInConfig, token_bytes: Callable[[int], str] = secrets.token_urlsafe) -> Response:
    """302 to the hosted sign-in with a fresh state and PKCE challenge; both kept in the sign-in cookie."""
    state, verifier = token_bytes(32), token_bytes(48)
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": config.client_id, "redirect_uri": redirect_uri(request),
        "scope": SCOPES, "state": state, "code_challenge": code_challenge(verifier),
        "code_challenge_method": "S256",
    })
    return _redirect(f"{config.domain}/oauth2/authorize?{query}",
                     [set_cookie(SIGN_IN_COOKIE, f"{state}.{verifier}", SIGN_IN_SECONDS)])


def exchange_code(token_url: str, form: Mapping[str, str], timeout: float = TOKEN_TIMEOUT) -> dict[str, Any]:
    """POST the authorization code to the pool's token endpoint; its JSON answer."""
    if not token_url.startswith(("https://", "http://")):
        raise ConfigError(f"the token endpoint {token_url!r} is not http(s)")
    request = urllib.request.Request(token_url, data=urllib.parse.urlencode(form).encode(), method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read(MAX_TOKEN_RESPONSE + 1)
    if len(body) > MAX_TOKEN_RESPONSE:
        raise ValueError("the token response is too large")
    document = json.loads(body)
    if not isinstance(document, dict):
        raise ValueError("the token response is not a JSON object")
    return document


def _sign_in_failed(request: Any, reason: str) -> Response:
    log_event("sign_in_failed", logging.WARNING, reason=reason)
    return _json(401, {"error": "sign_in_failed", "message": "the sign-in could not be completed",
                       "hint": f"start again at {base_url(request)}/"}, [clear_cookie(SIGN_IN_COOKIE)])


def callback(request: Any, config: SignInConfig,
             exchange: Callable[[str, Mapping[str, str]], Mapping[str, Any]] | None = None,
             verifier: TokenVerifier | None = None, clock: Callable[[], float] = time.time) -> Response:
    """Check the state, exchange the code (with the PKCE verifier), verify the ID token, set the session."""
    params = getattr(request, "query_params", None) or {}
    if params.get("error"):
        return _sign_in_failed(request, f"the sign-in page answered {str(params.get('error'))[:40]}")
    code, state = params.get("code") or "", params.get("state") or ""
    kept_state, _, code_verifier = _request_cookies(request).get(SIGN_IN_COOKIE, "").partition(".")
    if not code or not state or not kept_state or not code_verifier:
        return _sign_in_failed(request, "no code, state or sign-in cookie")
    if not hmac.compare_digest(state.encode(), kept_state.encode()):
        return _sign_in_failed(request, "the state does not match the sign-in cookie")
    try:
        answer = (exchange or exchange_code)(f"{config.domain}/oauth2/token", {
            "grant_type": "authorization_code", "client_id": config.client_id, "code": code,
            "redirect_uri": redirect_uri(request), "code_verifier": code_verifier,
        })
        id_token = str(answer.get("id_token") or "")
        claims = (verifier or verifier_for(config)).verify(id_token, token_use="id")
    except InvalidToken as refused:
        return _sign_in_failed(request, f"the ID token was refused: {refused}")
    except Exception as error:  # noqa: BLE001 - the token endpoint failed or answered nonsense
        return _sign_in_failed(request, f"the code exchange failed ({type(error).__name__})")
    max_age = min(MAX_SESSION_SECONDS, int(claims.expires_at - clock()))
    log_event("signed_in", subject=claims.subject)
    return _redirect(f"{base_url(request)}/", [set_cookie(SESSION_COOKIE, id_token, max_age),
                                               clear_cookie(SIGN_IN_COOKIE)])


def logout(request: Any, config: SignInConfig) -> Response:
    """Clear both cookies, then the pool's logout (ends the hosted session), back to the page."""
    query = urllib.parse.urlencode({"client_id": config.client_id, "logout_uri": f"{base_url(request)}/"})
    return _redirect(f"{config.domain}/logout?{query}", [clear_cookie(SESSION_COOKIE), clear_cookie(SIGN_IN_COOKIE)])
