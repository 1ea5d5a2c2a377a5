"""The user pool people sign in with (API_AUTH=cognito, the default of `cdk deploy`; issue 22).

- Users are created by an administrator only (`bls-pipeline users add EMAIL`, docs/web.md); no self
  sign-up. Sign-in by e-mail address; a strong password policy; TOTP MFA optional (`-c cognito_mfa=required`
  makes it mandatory); account recovery by e-mail only.
- A hosted sign-in domain (`<prefix>.auth.<region>.amazoncognito.com`; `-c cognito_domain_prefix=…`).
- One public app client for the dashboard: authorization-code grant with PKCE (enforced by the app, which
  always sends a challenge), no implicit grant, no client secret (a public client has none, so there is none
  to leak), tokens valid one hour (the session ends with them), token revocation on, no user-existence errors.
- Advanced security (threat protection, cdk-nag AwsSolutions-COG3) is a paid feature plan; it is off unless
  `-c cognito_threat_protection=true` (suppressed with that reason).
- Emulator only: `-c sign_in_emulator=http://localhost:<port>` (what `make deploy-local` passes; never for AWS)
  points the app at an emulator's Cognito, which serves the hosted sign-in and the pool's keys on its own
  gateway (`<gateway>/oauth2/…`, `<gateway>/<pool id>/.well-known/jwks.json`) and the API at
  `http://<api id>.execute-api.localhost:<port>/api`: that callback is registered beside AWS's
  (docs/deploy-local.md). The pool itself is the same as on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from aws_cdk import Duration, Fn, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from cdk_nag import NagSuppressions
from constructs import Construct

PASSWORD_MIN_LENGTH = 14
TOKEN_HOURS = 1
SCOPES = ("openid", "email")


@dataclass(frozen=True)
class SignInOptions:
    """From CDK context (`-c cognito_mfa=required`, `-c cognito_domain_prefix=…`, `-c cognito_threat_protection=true`)."""

    environment: str = "dev"
    mfa_required: bool = False
    domain_prefix: str | None = None
    threat_protection: bool = False
    emulator: str | None = None  # an emulator's gateway URL (docs/deploy-local.md); None on AWS

    @classmethod
    def from_context(cls, scope: Construct, environment: str) -> SignInOptions:
        mfa = str(scope.node.try_get_context("cognito_mfa") or "optional").lower()
        if mfa not in ("optional", "required"):
            raise ValueError(f"context 'cognito_mfa': {mfa!r} is not optional or required")
        prefix = scope.node.try_get_context("cognito_domain_prefix") or None
        threat = str(scope.node.try_get_context("cognito_threat_protection") or "false").lower() in ("1", "true", "yes")
        return cls(environment=environment, mfa_required=mfa == "required", domain_prefix=prefix,
                   threat_protection=threat, emulator=emulator_gateway(scope.node.try_get_context("sign_in_emulator")))


def emulator_gateway(value: object) -> str | None:
    """`-c sign_in_emulator=http://localhost:4566` → that URL; unset → None. Only `http(s)://localhost[:port]`:
    the emulator serves the API at `<api id>.execute-api.localhost`, and a browser keeps `Secure` cookies over
    plain HTTP on localhost only."""
    if value in (None, ""):
        return None
    parts = urlsplit(str(value).strip())
    if parts.scheme not in ("http", "https") or parts.hostname != "localhost" or parts.path.strip("/") \
            or parts.query or parts.fragment:
        raise ValueError(f"context 'sign_in_emulator': {value!r} is not an emulator's http://localhost:<port>")
    return f"{parts.scheme}://{parts.netloc}"


class SignIn(Construct):
    """User pool, hosted domain and the dashboard's app client."""

    def __init__(self, scope: Construct, construct_id: str, options: SignInOptions,
                 callback_urls: list[str], logout_urls: list[str]) -> None:
        super().__init__(scope, construct_id)
        self.options = options
        self.pool = cognito.UserPool(
            self, "Users",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True, username=False),
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(email=cognito.StandardAttribute(required=True,
                                                                                           mutable=True)),
            password_policy=cognito.PasswordPolicy(
                min_length=PASSWORD_MIN_LENGTH, require_lowercase=True, require_uppercase=True,
                require_digits=True, require_symbols=True, temp_password_validity=Duration.days(3),
            ),
            mfa=cognito.Mfa.REQUIRED if options.mfa_required else cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            user_invitation=cognito.UserInvitationConfig(
                email_subject="Your sign-in to the BLS pipeline dashboard",
                email_body="Your user name is {username} and your temporary password is {####}. "
                           "Open the dashboard's address (ask whoever added you) and sign in; you will choose "
                           "a new password.",
            ),
            feature_plan=cognito.FeaturePlan.PLUS if options.threat_protection else cognito.FeaturePlan.ESSENTIALS,
            standard_threat_protection_mode=(cognito.StandardThreatProtectionMode.FULL_FUNCTION
                                             if options.threat_protection else None),
            removal_policy=RemovalPolicy.RETAIN,  # the people's accounts outlive a stack replacement
            deletion_protection=True,
        )
        prefix = options.domain_prefix or Fn.join("-", ["bls-pipeline", options.environment, Fn.ref("AWS::AccountId")])
        self.domain = self.pool.add_domain("Domain", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=prefix))
        self.client = self.pool.add_client(
            "Dashboard",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True, implicit_code_grant=False,
                                         client_credentials=False),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
                callback_urls=callback_urls,
                logout_urls=logout_urls,
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            id_token_validity=Duration.hours(TOKEN_HOURS),
            access_token_validity=Duration.hours(TOKEN_HOURS),
            refresh_token_validity=Duration.hours(12),
            auth_session_validity=Duration.minutes(5),
        )
        suppressions = []
        if not options.mfa_required:
            suppressions.append({
                "id": "AwsSolutions-COG2",
                "reason": "MFA is optional by design (issue 22): each person may enable TOTP; "
                          "`-c cognito_mfa=required` makes it mandatory. Users are created by an administrator only.",
            })
        if not options.threat_protection:
            suppressions.append({
                "id": "AwsSolutions-COG8",
                "reason": "The Plus feature plan (threat protection, compromised-password checks) is paid per active "
                          "user; off by default for a small team of admin-created users, "
                          "`-c cognito_threat_protection=true` selects it.",
            })
            suppressions.append({
                "id": "AwsSolutions-COG3",
                "reason": "Threat protection needs the paid Plus feature plan; a small team of admin-created users "
                          "with a strong password policy does not need it by default. "
                          "`-c cognito_threat_protection=true` turns it on (enforced).",
            })
        if suppressions:
            NagSuppressions.add_resource_suppressions(self.pool, suppressions)

    def base_url(self) -> str:
        """The hosted sign-in's base URL (COGNITO_DOMAIN of the API handler); an emulator's gateway."""
        return self.options.emulator or self.domain.base_url()

    def jwks_url(self) -> str | None:
        """Where the pool's keys are (COGNITO_JWKS_URL): None on AWS (the issuer's); an emulator's gateway."""
        if not self.options.emulator:
            return None
        return Fn.join("", [self.options.emulator, "/", self.pool.user_pool_id, "/.well-known/jwks.json"])


def emulator_api_base_url(gateway: str, stage: str) -> str:
    """The API as an emulator serves it: `http://<api id>.execute-api.localhost:<port>/<stage>` (ministack's
    host-based form; the app derives its redirect URI from that Host)."""
    parts = urlsplit(gateway)
    return Fn.sub(f"{parts.scheme}://${{RestAPI}}.execute-api.{parts.netloc}/{stage}")
