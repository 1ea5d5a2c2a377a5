"""`bls-pipeline users` (workstation/users.py) against a fake Cognito client."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.core.errors import ConfigError, PipelineError
from chalicelib.core.settings import Settings
from workstation import users
from workstation.cli import build_parser, main

POOL = "us-east-1_AbC123"


class FakeCognito:
    class exceptions:
        class UsernameExistsException(Exception):
            pass

        class UserNotFoundException(Exception):
            pass

    def __init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def admin_create_user(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("create", kwargs))
        if kwargs["Username"] in self.users:
            raise self.exceptions.UsernameExistsException()
        self.users[kwargs["Username"]] = {"Username": kwargs["Username"], "UserStatus": "FORCE_CHANGE_PASSWORD",
                                          "Enabled": True, "Attributes": kwargs["UserAttributes"]}
        return {"User": self.users[kwargs["Username"]]}

    def admin_delete_user(self, **kwargs: Any) -> None:
        if kwargs["Username"] not in self.users:
            raise self.exceptions.UserNotFoundException()
        del self.users[kwargs["Username"]]

    def get_paginator(self, name: str) -> Any:
        users = list(self.users.values())
        return type("P", (), {"paginate": lambda self, **kw: [{"Users": users}]})()


def run(argv: list[str], client: FakeCognito) -> tuple[dict[str, Any], str, bool]:
    args = build_parser().parse_args(argv)
    return users.run(args, Settings.from_env({}), client=client)


def test_add_creates_a_verified_user_and_cognito_mails_the_password() -> None:
    client = FakeCognito()
    result, text, ok = run(["users", "add", "Ann@Example.org", "--pool", POOL], client)
    assert ok and result == {"pool": POOL, "email": "ann@example.org", "status": "FORCE_CHANGE_PASSWORD"}
    [(_, call)] = client.calls
    assert call == {"UserPoolId": POOL, "Username": "ann@example.org", "DesiredDeliveryMediums": ["EMAIL"],
                    "UserAttributes": [{"Name": "email", "Value": "ann@example.org"},
                                       {"Name": "email_verified", "Value": "true"}]}
    assert "temporary password" in text
    listed, text, _ = run(["users", "list", "--pool", POOL], client)
    assert listed["users"] == [{"email": "ann@example.org", "status": "FORCE_CHANGE_PASSWORD", "enabled": True}]
    with pytest.raises(PipelineError, match="already a user"):
        run(["users", "add", "ann@example.org", "--pool", POOL], client)
    assert run(["users", "remove", "ann@example.org", "--pool", POOL], client)[0]["removed"] is True


def test_bad_pool_or_email_is_a_usage_error() -> None:
    with pytest.raises(ConfigError, match="--pool"):
        run(["users", "add", "ann@example.org"], FakeCognito())
    with pytest.raises(ConfigError, match="not an e-mail"):
        run(["users", "add", "ann", "--pool", POOL], FakeCognito())
    assert main(["users", "add", "ann@example.org", "--pool", "nope"]) == 2
