"""The sign-in settings block (COGNITO_*) of chalicelib.core.settings."""

from __future__ import annotations

import pytest

from chalicelib.core.errors import ConfigError
from chalicelib.core.settings import Settings


def test_sign_in_settings_are_read_and_normalised() -> None:
    settings = Settings.from_env({
        "COGNITO_REGION": "eu-west-1", "COGNITO_USER_POOL_ID": "eu-west-1_AbC123", "COGNITO_CLIENT_ID": "abc123",
        "COGNITO_DOMAIN": "https://team.auth.eu-west-1.amazoncognito.com/",
        "COGNITO_ISSUER": "http://localhost:4566/eu-west-1_AbC123",
        "COGNITO_JWKS_URL": "http://localhost:4566/eu-west-1_AbC123/.well-known/jwks.json",
    })
    assert (settings.cognito_region, settings.cognito_user_pool_id, settings.cognito_client_id) == (
        "eu-west-1", "eu-west-1_AbC123", "abc123")
    assert settings.cognito_domain == "https://team.auth.eu-west-1.amazoncognito.com"
    assert settings.cognito_issuer == "http://localhost:4566/eu-west-1_AbC123"
    assert settings.cognito_jwks_url == "http://localhost:4566/eu-west-1_AbC123/.well-known/jwks.json"


def test_sign_in_settings_default_to_unset() -> None:
    settings = Settings.from_env({})
    assert settings.cognito_user_pool_id is settings.cognito_client_id is settings.cognito_domain is None


@pytest.mark.parametrize(("name", "value"), [
    ("COGNITO_USER_POOL_ID", "pool"), ("COGNITO_CLIENT_ID", "a b"), ("COGNITO_REGION", "mars"),
    ("COGNITO_DOMAIN", "javascript:alert(1)"), ("COGNITO_DOMAIN", "https://x/?q=1"), ("COGNITO_ISSUER", "x"),
    ("COGNITO_JWKS_URL", "file:///etc/passwd"),
])
def test_invalid_sign_in_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})
