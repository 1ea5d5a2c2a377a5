"""`/auth/login`, `/auth/callback`, `/auth/logout` (registered on the app as a blueprint).

They exist in every mode (so the API's routes do not depend on API_AUTH) and answer 404 unless
API_AUTH=cognito. API Gateway lets them through without an authorizer (they are how one gets a session);
`authorizer` is the one the other routes use (IAM in `iam` mode, so that nothing is public there).
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.core.settings import Settings
from chalicelib.web.auth import session


def _not_in_this_mode() -> Response:
    return Response(body='{"error":"not_found","message":"sign-in is off (API_AUTH is not cognito)"}',
                    status_code=404, headers={"Content-Type": "application/json", "Cache-Control": "no-store"})


def register(auth_mode: str, authorizer: Any) -> Blueprint:
    """The blueprint with its three routes for this mode (`authorizer`: what API Gateway requires)."""
    api = Blueprint(__name__)
    enabled = auth_mode == "cognito"
    gate = None if enabled else authorizer

    def config() -> session.SignInConfig:
        return session.SignInConfig.from_settings(Settings.from_env())

    @api.route("/auth/login", methods=["GET"], authorizer=gate)
    def sign_in() -> Response:
        return session.login(api.current_request, config()) if enabled else _not_in_this_mode()

    @api.route("/auth/callback", methods=["GET"], authorizer=gate)
    def sign_in_callback() -> Response:
        return session.callback(api.current_request, config()) if enabled else _not_in_this_mode()

    @api.route("/auth/logout", methods=["GET"], authorizer=gate)
    def sign_out() -> Response:
        return session.logout(api.current_request, config()) if enabled else _not_in_this_mode()

    return api
