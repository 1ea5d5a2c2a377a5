"""`bls-pipeline users add|list|remove`: who may sign in to the deployed dashboard (API_AUTH=cognito).

People are created by an administrator only (the pool allows no self sign-up). `users add EMAIL` creates
the user with a verified e-mail address; Cognito e-mails a temporary password (valid 3 days), changed at
the first sign-in. Needs AWS credentials allowed `cognito-idp:AdminCreateUser` (…ListUsers, …AdminDeleteUser)
on the pool. `--pool` is the stack's `UserPoolId` output (or COGNITO_USER_POOL_ID). See docs/web.md.

The same with the AWS CLI:
    aws cognito-idp admin-create-user --user-pool-id POOL --username EMAIL \
        --user-attributes Name=email,Value=EMAIL Name=email_verified,Value=true --desired-delivery-mediums EMAIL
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from chalicelib.core.errors import ConfigError, PipelineError
from chalicelib.core.settings import Settings

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_POOL = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d_[0-9A-Za-z]+$")


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """`users` and its actions on the CLI's sub-parsers."""
    users = sub.add_parser("users", help="who may sign in to the deployed dashboard (Cognito user pool)")
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    pool_flags = argparse.ArgumentParser(add_help=False)
    pool_flags.add_argument("--pool", help="user pool id: the stack output UserPoolId (env COGNITO_USER_POOL_ID)")
    pool_flags.add_argument("--region", help="the pool's region (default: from the pool id)")
    add = actions.add_parser("add", parents=[common, pool_flags], help="create a user; Cognito e-mails a temporary password")
    add.add_argument("email")
    add.add_argument("--no-email", action="store_true",
                     help="do not send the invitation (print nothing secret either: reset the password yourself)")
    actions.add_parser("list", parents=[common, pool_flags], help="list the pool's users")
    remove = actions.add_parser("remove", parents=[common, pool_flags], help="delete a user")
    remove.add_argument("email")


def _pool(args: argparse.Namespace, settings: Settings) -> tuple[str, str]:
    pool = args.pool or settings.cognito_user_pool_id
    if not pool or not _POOL.match(pool):
        raise ConfigError(f"--pool: {pool!r} is not a user pool id; give the stack output UserPoolId, "
                          "e.g. --pool us-east-1_AbC123 (or set COGNITO_USER_POOL_ID)")
    return pool, args.region or settings.cognito_region or pool.split("_")[0]


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ConfigError(f"{value!r} is not an e-mail address")
    return value.strip().lower()


def run(args: argparse.Namespace, settings: Settings, client: Any = None) -> tuple[dict[str, Any], str, bool]:
    """The `users` command (the CLI's CommandResult: JSON, text, ok)."""
    pool, region = _pool(args, settings)
    if client is None:
        import boto3  # type: ignore[import-untyped]

        client = boto3.client("cognito-idp", region_name=region)
    try:
        if args.action == "add":
            email = _email(args.email)
            options: dict[str, Any] = {"DesiredDeliveryMediums": ["EMAIL"]}
            if args.no_email:
                options = {"MessageAction": "SUPPRESS"}
            answer = client.admin_create_user(
                UserPoolId=pool, Username=email,
                UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
                **options)
            status = answer["User"]["UserStatus"]
            return ({"pool": pool, "email": email, "status": status},
                    f"{email} added to {pool} ({status})" + ("" if args.no_email else
                                                             "; Cognito e-mailed a temporary password"), True)
        if args.action == "remove":
            email = _email(args.email)
            client.admin_delete_user(UserPoolId=pool, Username=email)
            return {"pool": pool, "email": email, "removed": True}, f"{email} removed from {pool}", True
        users = []
        for page in client.get_paginator("list_users").paginate(UserPoolId=pool):
            for user in page["Users"]:
                attributes = {a["Name"]: a["Value"] for a in user.get("Attributes", [])}
                users.append({"email": attributes.get("email", user["Username"]), "status": user["UserStatus"],
                              "enabled": user["Enabled"]})
        text = "\n".join(f"{u['email']}  {u['status']}{'' if u['enabled'] else '  (disabled)'}" for u in users)
        return {"pool": pool, "users": users}, text or f"no users in {pool}", True
    except client.exceptions.UsernameExistsException:
        raise PipelineError(f"{args.email} is already a user of {pool}") from None
    except client.exceptions.UserNotFoundException:
        raise PipelineError(f"{args.email} is not a user of {pool}") from None
