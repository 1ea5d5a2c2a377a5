"""Sign-in for the deployed dashboard (`API_AUTH=cognito`): Cognito tokens, the browser session, the
API Gateway authorizer. See docs/web.md, "Signing in".

- `tokens`: verify a Cognito JWT against the pool's published keys (JWKS).
- `session`: the authorization-code flow with PKCE, the session cookie, the app's own check.
- `gateway`: the API Gateway (TOKEN) authorizer that checks the same cookie before the app runs.
- `routes`: `/auth/login`, `/auth/callback`, `/auth/logout`.
"""
