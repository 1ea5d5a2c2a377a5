"""The sign-in on the emulator (API_AUTH=cognito, issue 22): the CDK context that points the app at ministack's
Cognito, and a test user to sign in with.

- `context(port)`: `sign_in_emulator=http://localhost:<port>` (infra/cognito.py): the app's hosted sign-in and
  the pool's keys are on the emulator's gateway, and the API's emulator URL
  (`http://<api id>.execute-api.localhost:<port>/api/`) is registered on the app client beside AWS's.
  `localhost`, not 127.0.0.1: ministack recognises `<api id>.execute-api.localhost` as the API's host, and
  a browser keeps the session's `Secure` cookie over plain HTTP only on localhost.
- `ensure_test_user`: what an administrator does on AWS (docs/web.md, "Letting someone in") —
  `admin-create-user` (no invitation sent) and `admin-set-user-password --permanent` — for one test user
  whose generated password is kept in the state folder (`sign-in.json`, readable by its owner only), so a
  second `make deploy-local` keeps it.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TEST_USER = "tester@example.org"
STATE_FILE = "sign-in.json"
PASSWORD_LENGTH = 20
SYMBOLS = "!#%*+-=?@^_"


def context(port: int) -> dict[str, str]:
    """The CDK context that points the stack's sign-in at the emulator on `port`."""
    return {"sign_in_emulator": f"http://localhost:{port}"}


@dataclass(frozen=True)
class TestUser:
    """A person who can sign in to the emulator's dashboard."""

    email: str
    password: str
    pool_id: str


def generate_password(length: int = PASSWORD_LENGTH) -> str:
    """Random, and meeting the pool's policy (infra/cognito.py: 14+ characters, lower, upper, digit, symbol)."""
    alphabet = string.ascii_letters + string.digits + SYMBOLS
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if (any(c.islower() for c in password) and any(c.isupper() for c in password)
                and any(c.isdigit() for c in password) and any(c in SYMBOLS for c in password)):
            return password


def _kept_password(state_dir: Path, pool_id: str, email: str) -> str | None:
    try:
        kept = json.loads((state_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    same = isinstance(kept, dict) and kept.get("pool_id") == pool_id and kept.get("email") == email
    return str(kept["password"]) if same and kept.get("password") else None


def _keep(state_dir: Path, user: TestUser) -> None:
    path = state_dir / STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"email": user.email, "password": user.password, "pool_id": user.pool_id}, handle)
    path.chmod(0o600)


def ensure_test_user(cognito: Any, pool_id: str, state_dir: Path, email: str = TEST_USER) -> TestUser:
    """The test user of this pool with a permanent password (created, or its kept password set again)."""
    password = _kept_password(state_dir, pool_id, email) or generate_password()
    try:
        # TemporaryPassword: ministack 1.5.33 generates a 12-character one whatever the pool's minimum length
        # (ours is 14) and refuses its own creation (docs/deploy-local.md, quirk 4); replaced just below.
        cognito.admin_create_user(UserPoolId=pool_id, Username=email, MessageAction="SUPPRESS",
                                  TemporaryPassword=generate_password(),
                                  UserAttributes=[{"Name": "email", "Value": email},
                                                  {"Name": "email_verified", "Value": "true"}])
    except cognito.exceptions.UsernameExistsException:
        pass
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=password, Permanent=True)
    user = TestUser(email, password, pool_id)
    _keep(state_dir, user)
    return user
