"""API Gateway's own check of the session (a Lambda TOKEN authorizer on the `Cookie` header).

A browser sends its session as a cookie, never as an `Authorization` header, so API Gateway's built-in
Cognito authorizer (which reads a header holding the bare token) cannot see it: following a link to
`/api/status` or a report file would be refused. Instead the stack (infra/auth_api.py) gives every data
route a TOKEN authorizer whose identity source is `Cookie`, served by the API handler function itself
(`app.api_entry` sends authorizer events here): the same verification as the app's, before the app runs.
Without a valid session API Gateway answers 401 itself.
"""

from __future__ import annotations

import logging
from typing import Any

from chalicelib.core.log import log_event
from chalicelib.core.settings import Settings
from chalicelib.web.auth import session
from chalicelib.web.auth.tokens import TokenVerifier


def is_authorizer_event(event: Any) -> bool:
    return isinstance(event, dict) and event.get("type") == "TOKEN" and "methodArn" in event


def api_arn_pattern(method_arn: str) -> str:
    """`arn:…:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>` → every method and path of that
    stage (the result is cached per cookie, so it must hold for any route the session calls)."""
    arn, _, rest = method_arn.partition("/")
    stage = rest.split("/", 1)[0]
    if not arn.startswith("arn:") or ":execute-api:" not in arn or not stage:
        raise ValueError("not an execute-api method ARN")
    return f"{arn}/{stage}/*/*"


def authorize(event: dict[str, Any], settings: Settings | None = None,
              verifier: TokenVerifier | None = None) -> dict[str, Any]:
    """An Allow policy for the API's stage if the cookie holds a valid session; raise `Exception("Unauthorized")`
    otherwise (API Gateway's contract for a 401)."""
    config = session.SignInConfig.from_settings(settings or Settings.from_env())
    token = session.parse_cookies(str(event.get("authorizationToken") or "")).get(session.SESSION_COOKIE)
    claims = None
    if token:
        try:
            claims = (verifier or session.verifier_for(config)).verify(token, token_use="id")
        except Exception as refused:  # noqa: BLE001 - any failure is a refusal
            log_event("gateway_session_refused", logging.INFO, reason=str(refused)[:200])
    if claims is None:
        raise Exception("Unauthorized")  # noqa: TRY002 - the exact text API Gateway expects
    return {
        "principalId": claims.subject,
        "policyDocument": {"Version": "2012-10-17", "Statement": [{
            "Action": "execute-api:Invoke", "Effect": "Allow",
            "Resource": api_arn_pattern(str(event["methodArn"])),
        }]},
        "context": {"username": claims.username or ""},
    }
