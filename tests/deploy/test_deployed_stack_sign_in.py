"""Signing in to the deployed dashboard (API_AUTH=cognito, issue 22) on the emulator, with headless Chromium.

The session's Path 1 deployment (tests/deploy/conftest.py: `path1`, made by `deploy_local` as
`make deploy-local` does; shared with test_deployed_stack.py, so no second deployment) has the stack's user
pool, domain and app client on ministack, and a test user. A person's visit, driven through Chromium's
DevTools pipe (tests/support/browser.py): open the printed dashboard URL → ministack's hosted sign-in
(authorization code with PKCE) → type the printed e-mail and password → back on the dashboard with the
reports' numbers → sign out → back at the sign-in. Then requests without a valid session (none, a forged
token): 401 JSON from API Gateway (ministack invokes the stack's TOKEN authorizer, the API handler itself)
and from the app (the API handler invoked directly, without API Gateway), a redirect to the sign-in for the
page.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import stat
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from support.browser import Browser, ensure_chromium
from workstation.emulator import deploy, ministack, sign_in

API_HANDLER = "bls-pipeline-local"
SESSION_COOKIE = "__Host-bls-session"


@dataclass
class Visit:
    """What the browser saw on its way through the sign-in and out again."""

    dashboard: str
    sign_in_page: str = ""
    after_sign_in: str = ""
    html_state: str = ""
    population_mean: str = ""
    best_year_rows: int = 0
    script_cookies: str = ""
    session_cookie: dict[str, Any] = field(default_factory=dict)
    status_document: dict[str, Any] = field(default_factory=dict)
    after_sign_out: str = ""
    cookies_after_sign_out: list[str] = field(default_factory=list)


def get(url: str, cookie: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET through the emulator's port with the URL's own Host (`<api>.execute-api.localhost` need not resolve)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=60)
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""),
                           headers={"Host": parts.netloc, **({"Cookie": cookie} if cookie else {})})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def first(path1: Any) -> deploy.LocalDeployment:
    return path1.first


@pytest.fixture(scope="module")
def visit(first: deploy.LocalDeployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Visit]:
    """A person's visit in headless Chromium (fresh profile): sign in, look, sign out."""
    ensure_chromium()
    assert first.test_user is not None
    work = tmp_path_factory.mktemp("chromium")
    seen = Visit(first.dashboard_url)
    browser = Browser(work / "profile", work / "chromium.log")
    try:
        browser.open(first.dashboard_url)
        seen.sign_in_page = browser.wait_for("document.getElementById('password') && location.href", 60,
                                             "the hosted sign-in page")
        browser.evaluate(f"document.getElementById('username').value = {json.dumps(first.test_user.email)};"
                         f"document.getElementById('password').value = {json.dumps(first.test_user.password)};"
                         "document.querySelector('form').submit(); true")
        seen.after_sign_in = browser.wait_for(
            "document.documentElement.dataset.js === 'ready' && location.href", 90, "the dashboard")
        seen.html_state = browser.evaluate("document.documentElement.dataset.js")
        seen.population_mean = browser.evaluate("document.getElementById('pop-mean').textContent")
        seen.best_year_rows = browser.evaluate("document.querySelectorAll('tr[data-series]').length")
        seen.script_cookies = browser.evaluate("document.cookie")
        seen.session_cookie = next((c for c in browser.cookies(first.dashboard_url) if c["name"] == SESSION_COOKIE),
                                   {})
        browser.open(first.dashboard_url + "api/status")  # a data route, followed as a link
        seen.status_document = json.loads(browser.wait_for(
            "document.contentType === 'application/json' && document.body.innerText", 60, "api/status"))
        browser.open(first.dashboard_url + "auth/logout")
        seen.after_sign_out = browser.wait_for("document.getElementById('password') && location.href", 60,
                                               "the sign-in page after signing out")
        seen.cookies_after_sign_out = [c["name"] for c in browser.cookies(first.dashboard_url)]
    finally:
        browser.close()
    yield seen


def test_deploy_local_prints_the_dashboard_url_and_a_test_users_sign_in(first: deploy.LocalDeployment) -> None:
    # GIVEN `make deploy-local` done (API_AUTH=cognito, the default of the stack)
    user = first.test_user
    assert user is not None
    port = int(first.endpoint.rsplit(":", 1)[1])
    (rest_api,) = [api for api in ministack.client("apigateway", port).get_rest_apis()["items"]
                   if api["id"] in first.outputs["DashboardURL"]]
    # THEN the summary names the API as the emulator serves it and the user's e-mail and password
    assert first.dashboard_url == f"http://{rest_api['id']}.execute-api.localhost:{port}/api/"
    printed = deploy.render(first)
    assert f"open {first.dashboard_url} in a browser and sign in as {user.email} with the password {user.password}" \
        in printed
    # ... the user is confirmed with a permanent password in the stack's pool
    cognito = ministack.client("cognito-idp", port)
    assert user.pool_id == first.outputs["UserPoolId"]
    assert cognito.admin_get_user(UserPoolId=user.pool_id, Username=user.email)["UserStatus"] == "CONFIRMED"
    # ... and the password is kept in the state folder, readable by its owner only
    kept = first.state_dir / sign_in.STATE_FILE
    assert json.loads(kept.read_text())["password"] == user.password
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    # ... the API handler trusts that pool, with the hosted sign-in and the keys on the emulator's gateway
    variables = ministack.client("lambda", port).get_function_configuration(
        FunctionName=API_HANDLER)["Environment"]["Variables"]
    assert variables["API_AUTH"] == "cognito"
    assert variables["COGNITO_USER_POOL_ID"] == user.pool_id
    assert variables["COGNITO_DOMAIN"] == f"http://localhost:{port}"
    assert variables["COGNITO_JWKS_URL"] == f"http://localhost:{port}/{user.pool_id}/.well-known/jwks.json"
    # ... and the app client has the code flow with the emulator's callback beside AWS's
    client = cognito.describe_user_pool_client(UserPoolId=user.pool_id,
                                               ClientId=variables["COGNITO_CLIENT_ID"])["UserPoolClient"]
    assert client["AllowedOAuthFlows"] == ["code"] and "ClientSecret" not in client
    assert client["CallbackURLs"] == [
        f"https://{rest_api['id']}.execute-api.us-east-1.amazonaws.com/api/auth/callback",
        f"{first.dashboard_url}auth/callback"]
    assert variables["COGNITO_CLIENT_ID"] == first.outputs["UserPoolClientId"]


def test_a_person_signs_in_with_chromium_and_sees_the_dashboard_with_data(first: deploy.LocalDeployment,
                                                                           visit: Visit) -> None:
    # GIVEN a fresh browser that opened the printed dashboard URL
    port = int(first.endpoint.rsplit(":", 1)[1])
    # THEN it was sent to ministack's hosted sign-in, with a PKCE challenge and the emulator's callback
    sign_in_page = urllib.parse.urlsplit(visit.sign_in_page)
    query = urllib.parse.parse_qs(sign_in_page.query)
    assert (sign_in_page.netloc, sign_in_page.path) == (f"localhost:{port}", "/oauth2/authorize")
    assert query["code_challenge_method"] == ["S256"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == [f"{first.dashboard_url}auth/callback"]
    # WHEN the person typed the printed e-mail and password
    # THEN the browser is back on the dashboard, with no code or token in the URL
    assert visit.after_sign_in == first.dashboard_url
    # ... which shows the reports' data: the population mean and every best-year row
    assert visit.html_state == "ready"
    assert visit.population_mean == f"{first.population_stats['mean']:,.0f}"
    s3 = ministack.client("s3", port)
    best = json.loads(s3.get_object(Bucket=first.bucket, Key="reports/best_years.json")["Body"].read())["series"]
    assert visit.best_year_rows == len(best) > 0
    # ... the session is an HttpOnly, Secure, SameSite=Lax cookie the page's script cannot read
    assert visit.session_cookie["httpOnly"] is True and visit.session_cookie["secure"] is True
    assert visit.session_cookie["sameSite"] == "Lax"
    assert SESSION_COOKIE not in visit.script_cookies
    # ... and a data route followed as a link answers the data
    assert [survey["survey"] for survey in visit.status_document["surveys"]] == ["pr"]


def test_signing_out_ends_the_session(visit: Visit) -> None:
    # GIVEN the signed-in browser WHEN it opened auth/logout
    # THEN it is back at the hosted sign-in (the page, without a session, sends it there) and the session is gone
    assert urllib.parse.urlsplit(visit.after_sign_out).path == "/oauth2/authorize"
    assert SESSION_COOKIE not in visit.cookies_after_sign_out


def _forged(token: str) -> str:
    """The same token claiming another subject (signature unchanged)."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


# Each refusal by the authorizer is a failed invocation, after which ministack starts a fresh worker (a cold
# start of ~10 s): one bad token here; `alg: none`, other pools, expiry... are unit-tested (tests/unit).
@pytest.mark.parametrize("cookie", ["none", "forged"])
def test_without_a_valid_session_there_is_no_data(first: deploy.LocalDeployment, visit: Visit, cookie: str) -> None:
    # GIVEN a request without a cookie, or with the signed-in person's token altered (another subject)
    header = None if cookie == "none" else f"{SESSION_COOKIE}={_forged(visit.session_cookie['value'])}"
    # WHEN it asks API Gateway for data
    status, headers, body = get(first.dashboard_url + "api/status", header)
    # THEN 401 JSON, no data
    assert status == 401 and headers["content-type"].startswith("application/json")
    assert b"surveys" not in body
    # ... and the page sends it to the sign-in
    status, headers, _ = get(first.dashboard_url, header)
    assert status == 302 and headers["location"] == f"{first.dashboard_url}auth/login"


def _proxy_event(dashboard_url: str, path: str, cookie: str | None) -> dict[str, Any]:
    """The event API Gateway would send the API handler for GET <stage><path> (here sent without API Gateway)."""
    host = urllib.parse.urlsplit(dashboard_url).netloc
    headers = {"host": host, **({"cookie": cookie} if cookie else {})}
    return {
        "resource": path, "path": path, "httpMethod": "GET", "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
        "multiValueQueryStringParameters": None, "pathParameters": None, "stageVariables": None,
        "requestContext": {"resourcePath": path, "httpMethod": "GET", "path": f"/api{path}", "stage": "api",
                           "requestId": "test", "identity": {"sourceIp": "127.0.0.1"}},
        "body": None, "isBase64Encoded": False,
    }


def test_the_app_itself_refuses_where_api_gateway_does_not_check(first: deploy.LocalDeployment,
                                                                 visit: Visit) -> None:
    # GIVEN the API handler invoked directly (no API Gateway, so no authorizer in front)
    lam = ministack.client("lambda", int(first.endpoint.rsplit(":", 1)[1]))

    def invoke(path: str, cookie: str | None) -> dict[str, Any]:
        answer = lam.invoke(FunctionName=API_HANDLER, Payload=json.dumps(_proxy_event(first.dashboard_url, path,
                                                                                       cookie)))
        assert "FunctionError" not in answer
        return dict(json.loads(answer["Payload"].read()))

    # WHEN a data route and the page are asked for without a session
    data, page = invoke("/api/status", None), invoke("/", None)
    # THEN the app answers 401 JSON and a redirect to the sign-in by itself
    assert data["statusCode"] == 401 and json.loads(data["body"])["error"] == "unauthorized"
    assert page["statusCode"] == 302
    assert page["headers"]["Location"] == f"{first.dashboard_url}auth/login"
    # ... while the signed-in token gets the data (the cookie is what grants it)
    signed = invoke("/api/status", f"{SESSION_COOKIE}={visit.session_cookie['value']}")
    assert signed["statusCode"] == 200 and "surveys" in json.loads(signed["body"])


def test_the_emulators_cryptography_is_the_locked_version() -> None:
    # ministack signs its tokens with cryptography (requirements-emulator.txt), and the functions import that copy
    # before the layer's: it must be the lock's version, so that what runs here is what runs on AWS
    lock = (Path(__file__).resolve().parents[2] / "requirements.txt").read_text()
    locked = re.search(r"^cryptography==(\S+)", lock, re.MULTILINE)
    assert locked is not None
    installed = sorted(p.name for p in ministack.EMULATOR_VENV.glob("lib/python*/site-packages/cryptography-*.dist-info"))
    assert installed == [f"cryptography-{locked.group(1)}.dist-info"]
