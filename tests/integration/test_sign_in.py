"""API_AUTH=cognito (issue 22): no valid session, no data; the sign-in flow (PKCE, cookies); the gateway check.

Tokens are signed by a fake pool (tests/support/cognito.py); the app's verifier fetches that pool's JWKS.
The app's own check is exercised through `chalice.test.Client` (AUTH_MODE switched for the test), the flow
through its functions with a request double, the import-time wiring in a fresh process.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib.core.settings import Settings
from chalicelib.core.store import LocalStore
from chalicelib.lake.sync import reconcile
from chalicelib.web import routes as web
from chalicelib.web.auth import gateway, session
from chalicelib.web.auth.tokens import KeySet, TokenVerifier
from support.cognito import (
    CLIENT_ID,
    DOMAIN,
    ISSUER,
    POOL_ID,
    REGION,
    FakePool,
    unsigned_token,
)
from support.gold import series_from_tsv, write_gold
from support.paths import REPO as PROJECT
from support.web import STAGE, fill_store_from_pr

pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported in local mode")

SIGN_IN_ENV = {"COGNITO_REGION": REGION, "COGNITO_USER_POOL_ID": POOL_ID, "COGNITO_CLIENT_ID": CLIENT_ID,
               "COGNITO_DOMAIN": DOMAIN}
DATA_ROUTES = ["/api/status", "/api/reports/population", "/api/reports/best-years",
               "/api/reports/series/PRS30006032", "/reports/best_years.json",
               "/api/surveys", "/api/surveys/pr/series?q=output", "/api/series/PRS30006032"]  # issue 20
API_HOST = "abc123.execute-api.us-east-1.amazonaws.com"


@pytest.fixture(scope="module")
def pool() -> FakePool:
    return FakePool()


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sign-in") / "data"
    store = LocalStore(root)
    fill_store_from_pr(store, str(root))
    reconcile(store)  # issue 20: silver and gold for the explorer's routes
    write_gold(store, "pr", series_from_tsv(store, "pr"))
    return root


@pytest.fixture
def config() -> session.SignInConfig:
    return session.SignInConfig.from_settings(Settings.from_env(SIGN_IN_ENV))


@pytest.fixture
def cognito(pool: FakePool, filled: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    """The app in cognito mode on a filled store; the verifier trusts the fake pool."""
    monkeypatch.setattr(web, "AUTH_MODE", "cognito")
    monkeypatch.setenv("DATA_STORE", str(filled))
    for name, value in SIGN_IN_ENV.items():
        monkeypatch.setenv(name, value)
    verifier = TokenVerifier(ISSUER, CLIENT_ID, KeySet(f"{ISSUER}/.well-known/jwks.json", fetch=pool.fetch))
    monkeypatch.setattr(session, "verifier_for", lambda config: verifier)
    with Client(app, stage_name=STAGE, project_dir=str(PROJECT)) as client:
        yield client


def cookie(token: str) -> dict[str, str]:
    return {"cookie": f"other=1; {session.SESSION_COOKIE}={token}"}


def request(path: str, query: dict[str, str] | None = None, cookies: str = "") -> Any:
    """A request double shaped like API Gateway's (stage `api`)."""
    return SimpleNamespace(path=path, query_params=query or {},
                           headers={"host": API_HOST, "x-forwarded-proto": "https", "cookie": cookies},
                           context={"domainName": API_HOST, "path": f"/api{path}", "stage": "api"})


def set_cookies(response: Any) -> dict[str, str]:
    values = response.headers["Set-Cookie"]
    return {value.split("=", 1)[0]: value for value in ([values] if isinstance(values, str) else values)}


# --------------------------------------------------------------------------- the app's own check


@pytest.mark.parametrize("path", DATA_ROUTES)
def test_every_data_route_answers_401_json_without_a_session(cognito: Client, path: str) -> None:
    response = cognito.http.get(path)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/json"
    body = json.loads(response.body)
    assert body["error"] == "unauthorized" and "sign in" in body["message"]


def test_the_page_redirects_to_the_sign_in_without_a_session(cognito: Client) -> None:
    response = cognito.http.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/auth/login")
    assert response.body in (b"", "")  # no data in the answer


@pytest.mark.parametrize("bad", ["expired", "tampered", "alg_none", "other_client", "access_token"])
def test_a_bad_session_cookie_gets_no_data(cognito: Client, pool: FakePool, bad: str) -> None:
    token = {
        "expired": lambda: pool.token(now=1_000_000_000),
        "tampered": lambda: pool.token()[:-6] + "AAAAAA",
        "alg_none": lambda: unsigned_token(pool.claims()),
        "other_client": lambda: pool.token(aud="another-client"),
        "access_token": lambda: pool.token("access"),
    }[bad]()
    assert cognito.http.get("/api/status", headers=cookie(token)).status_code == 401
    assert cognito.http.get("/", headers=cookie(token)).status_code == 302


def test_a_signed_in_person_gets_the_data_and_the_page(cognito: Client, pool: FakePool,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    token = pool.token()
    for path in DATA_ROUTES:
        response = cognito.http.get(path, headers=cookie(token))
        assert response.status_code == 200, (path, response.body[:300])
    page = cognito.http.get("/", headers=cookie(token))
    assert page.status_code == 200
    html = page.body.decode()
    assert "signed in" in html and 'href="auth/logout"' in html
    # the sign-in origin is allowed for form submissions only (a form redirected to the sign-in)
    policy = page.headers["Content-Security-Policy"]
    assert f"form-action 'self' {DOMAIN}" in policy
    assert policy.count(DOMAIN) == 1 and "default-src 'none'" in policy
    # the token is in no answer and no log line
    assert token not in html
    assert token[-20:] not in capsys.readouterr().err


# --------------------------------------------------------------------------- the flow


def test_login_redirects_to_the_hosted_sign_in_with_pkce(config: session.SignInConfig) -> None:
    response = session.login(request("/auth/login"), config)
    assert response.status_code == 302
    location = urllib.parse.urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{DOMAIN}/oauth2/authorize"
    query = dict(urllib.parse.parse_qsl(location.query))
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == f"https://{API_HOST}/api/auth/callback"
    assert query["code_challenge_method"] == "S256" and query["scope"] == "openid email"
    # the state and verifier are in an HttpOnly, Secure, SameSite cookie, the challenge is S256(verifier)
    [sign_in_cookie] = set_cookies(response).values()
    assert sign_in_cookie.startswith(f"{session.SIGN_IN_COOKIE}=")
    for attribute in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=600"):
        assert attribute in sign_in_cookie
    state, verifier = sign_in_cookie.split(";")[0].split("=", 1)[1].split(".")
    assert state == query["state"] and len(verifier) >= 43
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert query["code_challenge"] == digest
    assert verifier not in response.headers["Location"]


def _callback(config: session.SignInConfig, pool: FakePool, state: str = "s" * 43, kept: str = "s" * 43,
              answer: dict[str, Any] | None = None) -> tuple[Any, list[tuple[str, dict[str, str]]]]:
    exchanged: list[tuple[str, dict[str, str]]] = []

    def exchange(url: str, form: dict[str, str]) -> dict[str, Any]:
        exchanged.append((url, dict(form)))
        return answer if answer is not None else {"id_token": pool.token(), "access_token": pool.token("access"),
                                                  "expires_in": 3600, "token_type": "Bearer"}

    verifier = TokenVerifier(ISSUER, CLIENT_ID, KeySet("https://x", fetch=lambda url: pool.jwks()))
    cookies = f"{session.SIGN_IN_COOKIE}={kept}.the-verifier-xyz"
    response = session.callback(request("/auth/callback", {"code": "the-code", "state": state}, cookies), config,
                                exchange=exchange, verifier=verifier)
    return response, exchanged


def test_callback_exchanges_the_code_with_the_verifier_and_sets_the_session(config: session.SignInConfig,
                                                                            pool: FakePool) -> None:
    response, exchanged = _callback(config, pool)
    assert exchanged == [(f"{DOMAIN}/oauth2/token", {
        "grant_type": "authorization_code", "client_id": CLIENT_ID, "code": "the-code",
        "redirect_uri": f"https://{API_HOST}/api/auth/callback", "code_verifier": "the-verifier-xyz"})]
    assert response.status_code == 302 and response.headers["Location"] == f"https://{API_HOST}/api/"
    cookies = set_cookies(response)
    session_cookie = cookies[session.SESSION_COOKIE]
    for attribute in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/"):
        assert attribute in session_cookie
    max_age = int(session_cookie.split("Max-Age=")[1].split(";")[0])
    assert 3500 < max_age <= 3600  # the session ends when the token does
    assert "Max-Age=0" in cookies[session.SIGN_IN_COOKIE]  # the verifier is gone
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("state", "kept"), [("attacker-state", "s" * 43), ("s" * 43, ""), ("", "")])
def test_callback_refuses_a_state_that_does_not_match(config: session.SignInConfig, pool: FakePool,
                                                      state: str, kept: str) -> None:
    response, exchanged = _callback(config, pool, state=state, kept=kept)
    assert response.status_code == 401 and exchanged == []
    assert session.SESSION_COOKIE not in set_cookies(response)


@pytest.mark.parametrize("answer", [{}, {"id_token": "junk"}, {"error": "invalid_grant"}])
def test_callback_refuses_a_bad_token_answer(config: session.SignInConfig, pool: FakePool,
                                             answer: dict[str, Any]) -> None:
    response, exchanged = _callback(config, pool, answer=answer)
    assert response.status_code == 401 and len(exchanged) == 1
    assert session.SESSION_COOKIE not in set_cookies(response)


def test_logout_clears_the_cookies_and_ends_the_hosted_session(config: session.SignInConfig) -> None:
    response = session.logout(request("/auth/logout"), config)
    assert response.status_code == 302
    location = urllib.parse.urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{DOMAIN}/logout"
    assert dict(urllib.parse.parse_qsl(location.query)) == {"client_id": CLIENT_ID,
                                                             "logout_uri": f"https://{API_HOST}/api/"}
    cookies = set_cookies(response)
    assert all("Max-Age=0" in cookies[name] for name in (session.SESSION_COOKIE, session.SIGN_IN_COOKIE))


def test_chalice_local_base_url_has_no_stage() -> None:
    local = SimpleNamespace(path="/auth/login", headers={"host": "localhost:8000"}, context={"path": "/auth/login"})
    assert session.redirect_uri(local) == "http://localhost:8000/auth/callback"


def test_cognito_mode_without_its_settings_fails_closed(cognito: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COGNITO_CLIENT_ID")
    response = cognito.http.get("/api/status")
    assert response.status_code == 500  # logged as a ConfigError naming COGNITO_CLIENT_ID; no data


# --------------------------------------------------------------------------- API Gateway's check


METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/api/GET/api/status"


def _authorize(pool: FakePool, cookies: str) -> dict[str, Any]:
    verifier = TokenVerifier(ISSUER, CLIENT_ID, KeySet("https://x", fetch=lambda url: pool.jwks()))
    event = {"type": "TOKEN", "authorizationToken": cookies, "methodArn": METHOD_ARN}
    assert gateway.is_authorizer_event(event)
    return gateway.authorize(event, Settings.from_env(SIGN_IN_ENV), verifier)


def test_gateway_authorizer_allows_the_stage_for_a_valid_session(pool: FakePool) -> None:
    policy = _authorize(pool, f"a=b; {session.SESSION_COOKIE}={pool.token()}")
    assert policy["principalId"] == pool.claims()["sub"]
    [statement] = policy["policyDocument"]["Statement"]
    assert statement == {"Action": "execute-api:Invoke", "Effect": "Allow",
                         "Resource": "arn:aws:execute-api:us-east-1:123456789012:abc123/api/*/*"}


@pytest.mark.parametrize("cookies", ["", "a=b", f"{session.SESSION_COOKIE}=junk", "expired"])
def test_gateway_authorizer_refuses_without_a_valid_session(pool: FakePool, cookies: str) -> None:
    if cookies == "expired":
        cookies = f"{session.SESSION_COOKIE}={pool.token(now=1_000_000_000)}"
    with pytest.raises(Exception, match="^Unauthorized$"):
        _authorize(pool, cookies)


def test_api_entry_sends_authorizer_events_to_the_gateway_check(monkeypatch: pytest.MonkeyPatch) -> None:
    import app as app_module

    monkeypatch.setattr(app_module.sign_in_gateway, "authorize", lambda event: {"checked": event["methodArn"]})
    event = {"type": "TOKEN", "authorizationToken": "", "methodArn": METHOD_ARN}
    assert app_module.api_entry(event, None) == {"checked": METHOD_ARN}
    assert not gateway.is_authorizer_event({"httpMethod": "GET", "path": "/"})


# --------------------------------------------------------------------------- import-time wiring


PROBE = """
import json, warnings
from chalice.test import Client
from app import app
routes = {path: [type(e.authorizer).__name__ if e.authorizer else None for e in methods.values()]
          for path, methods in app.routes.items()}
with Client(app, stage_name="test") as client:
    login = client.http.get("/auth/login")
    data = client.http.get("/api/status")
print(json.dumps({"routes": routes, "login": [login.status_code, login.headers.get("Location", "")],
                  "data": data.status_code}))
"""


@pytest.mark.parametrize("mode", ["cognito", "iam"])
def test_sign_in_routes_exist_in_every_mode(mode: str, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "DATA_STORE": str(tmp_path), "AWS_DEFAULT_REGION": "us-east-1",
           "API_AUTH": mode, **SIGN_IN_ENV}
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", PROBE], cwd=PROJECT, capture_output=True, check=False,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"/auth/login", "/auth/callback", "/auth/logout"} <= set(probe["routes"])
    if mode == "cognito":
        # API Gateway's check is added by the stack (infra/auth_api.py); the app checks every request itself
        assert all(kinds == [None] for kinds in probe["routes"].values())
        assert probe["login"][0] == 302 and probe["login"][1].startswith(f"{DOMAIN}/oauth2/authorize?")
        assert probe["data"] == 401
    else:
        # nothing becomes public in iam mode: the sign-in routes carry the IAM authorizer too (and answer 404)
        assert all(kinds == ["IAMAuthorizer"] for kinds in probe["routes"].values())
        assert probe["login"][0] == 404
