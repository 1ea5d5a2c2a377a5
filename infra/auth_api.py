"""API Gateway's half of API_AUTH=cognito (issue 22): patches the API definition `chalice package` made.

The pool and its client exist only in this stack, so `app.py` cannot name them when Chalice builds the
swagger (under `chalice.cdk` the app is imported before any resource exists); the definition is patched here:

- a TOKEN authorizer `session` whose identity source is the `Cookie` header, served by the API handler itself
  (`app.api_entry`; the same verification as the app's: chalicelib/web/auth/gateway.py). A browser carries
  its session in an HttpOnly cookie, which API Gateway's built-in Cognito authorizer (a bare token in a
  header) cannot read;
- every data route requires it; the page `/` and `/auth/*` do not (the page redirects a person without a
  session to the sign-in; the app checks it there);
- the integrations name the API handler by its fixed function name instead of `${APIHandler.Arn}`: the
  handler's environment names the app client, whose callback URL names the API, so the reference would be
  a dependency cycle;
- the handler gets API_AUTH=cognito and the COGNITO_* settings, and `app.api_entry` as its entry.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, Fn

AUTHORIZER_NAME = "session"
OPEN_ROUTES = ("/", "/auth/login", "/auth/callback", "/auth/logout")
AUTHORIZER_TTL_SECONDS = 300
ENTRY = "app.api_entry"
STAGE = "api"  # api_gateway_stage (Chalice's default)


def _lambda_uri(function_name: str) -> dict[str, Any]:
    return {"Fn::Sub": ("arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
                        f"arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{function_name}"
                        "/invocations")}


def api_base_url() -> str:
    """`https://<api id>.execute-api.<region>.<suffix>/api` (the RestAPI of the Chalice template)."""
    return Fn.sub(f"https://${{RestAPI}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{STAGE}")


def app_routes() -> dict[str, list[str]]:
    """Path → lower-case methods of the Chalice app (imported by the Chalice construct already)."""
    import importlib

    app = importlib.import_module("app").app
    return {path: [method.lower() for method in methods] for path, methods in app.routes.items()}


def require_sign_in(rest_api: Any, api_handler: Any, function_name: str, routes: dict[str, list[str]],
                    settings: dict[str, str]) -> None:
    """Patch the RestAPI's definition and the API handler (CfnInclude'd L1 resources) for API_AUTH=cognito."""
    body = "DefinitionBody"
    rest_api.add_property_deletion_override(f"{body}.securityDefinitions.sigv4")
    rest_api.add_property_override(f"{body}.securityDefinitions.{AUTHORIZER_NAME}", {
        "type": "apiKey", "name": "Cookie", "in": "header",
        "x-amazon-apigateway-authtype": "custom",
        "x-amazon-apigateway-authorizer": {
            "type": "token",
            "authorizerUri": _lambda_uri(function_name),
            "identitySource": "method.request.header.Cookie",
            "authorizerResultTtlInSeconds": AUTHORIZER_TTL_SECONDS,
        },
    })
    for path, methods in routes.items():
        if "." in path:
            raise ValueError(f"route {path!r}: a '.' cannot be patched by a property override")
        for method in methods:
            operation = f"{body}.paths.{path}.{method}"
            rest_api.add_property_override(f"{operation}.x-amazon-apigateway-integration.uri",
                                           _lambda_uri(function_name))
            if path in OPEN_ROUTES:
                rest_api.add_property_deletion_override(f"{operation}.security")
            else:
                rest_api.add_property_override(f"{operation}.security", [{AUTHORIZER_NAME: []}])
    api_handler.add_property_override("Handler", ENTRY)
    for name, value in {"API_AUTH": "cognito", **settings}.items():
        api_handler.add_property_override(f"Environment.Variables.{name}", value)


def sign_in_settings(pool_id: str, client_id: str, domain_url: str, jwks_url: str | None = None) -> dict[str, str]:
    settings = {"COGNITO_REGION": Aws.REGION, "COGNITO_USER_POOL_ID": pool_id, "COGNITO_CLIENT_ID": client_id,
                "COGNITO_DOMAIN": domain_url}
    if jwks_url:  # an emulator's pool (infra/cognito.py); on AWS the issuer's keys
        settings["COGNITO_JWKS_URL"] = jwks_url
    return settings
