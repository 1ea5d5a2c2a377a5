"""The Chalice command line against the emulator: a project copy to run it in, and the emulator's quirks.

- `project`: a Chalice project folder for the emulator's stage (app.py, chalicelib/,
  requirements.txt, `.chalice/config.json` copied from the repository; the dependency cache
  `.chalice/deployments/` shared with the repository's) — `chalice deploy` writes its stage
  into the copy's config and its record beside it, never into the repository's tracked files.
- `run`: `chalice <args>` in a subprocess with the emulator's endpoint and dummy credentials.
- `python -m workstation.emulator.chalice_cli <chalice args>`: Chalice's own CLI with the
  workaround below installed (what `run` starts).

ministack 1.5.x stores the value of `PATCH /restapis/{id}` (UpdateRestApi) `replace
/minimumCompressionSize ""` (what `chalice deploy` sends to mean "no compression") as the string
`""`, and from then on every answer describing that API (UpdateRestApi, GetRestApi, GetRestApis)
carries `"minimumCompressionSize": ""`: botocore cannot parse the integer (`invalid literal for
int() with base 10: ''`). A `before-parse` hook on API Gateway answers, registered on the
sessions Chalice makes, turns that empty value into null — in this process only: the product
and its clients never see it.

ministack 1.5.x has no PutRestApi (`PUT /restapis/{id}`, "Unknown API Gateway v1 path"), which
`chalice deploy` calls on every redeploy to overwrite the API from its swagger document; and its
ImportRestApi (`POST /restapis?mode=import`, the first deploy) makes an API without the
document's paths. So the REST API is not exercised on the emulator; a `before-call` hook answers
PutRestApi with the API as it is (GetRestApi), so that a redeploy completes.
(docs/deploy-local.md, "Emulator quirks".)

Not a quirk, a pace: after creating or updating a function Chalice waits on botocore's
`function_active` / `function_updated` waiters, which poll every 5 s; the emulator is done at
the second poll, so each of the ~10 waits costs 5 s. Here the waiters poll every 0.2 s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workstation.emulator import ministack

REPO = Path(__file__).resolve().parents[2]
PROJECT_FILES = ("app.py", "requirements.txt")
PROJECT_TREES = ("chalicelib",)
# UpdateRestApi fields that are integers in the API model: an empty string there is ministack's.
_INTEGER_FIELDS = ("minimumCompressionSize",)


def project(target: Path, source: Path = REPO) -> Path:
    """A fresh copy of the Chalice project in `target` (its `.chalice/deployed/` is kept: the stage's record)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        shutil.copy2(source / name, target / name)
    for name in PROJECT_TREES:
        shutil.rmtree(target / name, ignore_errors=True)
        shutil.copytree(source / name, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    chalice = target / ".chalice"
    chalice.mkdir(exist_ok=True)
    config = chalice / "config.json"
    if not config.exists():
        shutil.copy2(source / ".chalice" / "config.json", config)
    cache = source / ".chalice" / "deployments"  # the dependency zips Chalice builds: share them
    cache.mkdir(parents=True, exist_ok=True)
    if not (chalice / "deployments").exists():
        (chalice / "deployments").symlink_to(cache, target_is_directory=True)
    return target


def update_config(project_dir: Path, change: Any) -> dict[str, Any]:
    """Apply `change(config) -> config` to the project's `.chalice/config.json`."""
    path = project_dir / ".chalice" / "config.json"
    config = change(json.loads(path.read_text()))
    path.write_text(json.dumps(config, indent=2) + "\n")
    return config


def environment(port: int) -> dict[str, str]:
    """The process environment for the Chalice CLI against the emulator on `port`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update({"AWS_ENDPOINT_URL": ministack.endpoint(port), "AWS_DEFAULT_REGION": ministack.REGION,
                "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])})
    return env


def run(args: Sequence[str], project_dir: Path, port: int, stdin: str | None = None,
        timeout: float = 900, extra_env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`chalice --project-dir <project_dir> <args>` against the emulator (with the workaround)."""
    argv = [sys.executable, "-m", "workstation.emulator.chalice_cli", "--project-dir", str(project_dir), *args]
    return subprocess.run(argv, check=False, input=stdin, capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env=environment(port) | dict(extra_env or {}))


def _nulled(document: Any) -> bool:
    """Replace `""` in the integer fields of `document` (and of its `item`/`items`) by None; True if any was."""
    changed = False
    for item in [document, *(document.get("items") or document.get("item") or [])] if isinstance(document, dict) else []:
        for name in _INTEGER_FIELDS:
            if isinstance(item, dict) and item.get(name) == "":
                item[name] = None
                changed = True
    return changed


def fix_empty_integers(response_dict: dict[str, Any] | None = None, **_: Any) -> None:
    """botocore `before-parse` hook on API Gateway answers: ministack's `""` in an integer field → null."""
    if not response_dict or not response_dict.get("body") or b'""' not in response_dict["body"]:
        return
    try:
        body = json.loads(response_dict["body"])
    except ValueError:
        return
    if _nulled(body):
        response_dict["body"] = json.dumps(body).encode()


class _Answer:
    """The HTTP side of a short-circuited call (botocore reads its status code)."""

    status_code = 200
    headers: dict[str, str] = {}  # noqa: RUF012 - read only


def put_rest_api_unsupported(session: Any) -> Any:
    """A botocore `before-call` hook for PutRestApi: answer with GetRestApi (the API unchanged)."""
    def answer(params: dict[str, Any], model: Any = None, **_: Any) -> tuple[_Answer, dict[str, Any]]:
        api_id = params["url_path"].rstrip("/").rsplit("/", 1)[-1]
        described = session.create_client("apigateway").get_rest_api(restApiId=api_id)
        described.pop("ResponseMetadata", None)
        return _Answer(), described

    return answer


def install_workaround() -> None:
    """Register the workarounds on every botocore session the Chalice CLI creates."""
    from chalice.cli import factory

    original = factory.create_botocore_session

    def create_botocore_session(*args: Any, **kwargs: Any) -> Any:
        session = original(*args, **kwargs)
        session.register("before-parse.api-gateway", fix_empty_integers)  # every API Gateway operation
        session.register("before-call.api-gateway.PutRestApi", put_rest_api_unsupported(session))
        return session

    factory.create_botocore_session = create_botocore_session
    _fast_waiters()


def _fast_waiters(interval: float = 0.2) -> None:
    """botocore's waiters in this process sleep at most `interval` between polls (the emulator is quick)."""
    import time as real_time
    import types

    from botocore import waiter

    waiter.time = types.SimpleNamespace(  # type: ignore[attr-defined]
        sleep=lambda seconds: real_time.sleep(min(seconds, interval)), time=real_time.time,
        monotonic=real_time.monotonic)


def main(argv: Sequence[str] | None = None) -> int:
    install_workaround()
    from chalice.cli import main as chalice_main

    sys.argv = ["chalice", *(sys.argv[1:] if argv is None else argv)]
    return int(chalice_main() or 0)


if __name__ == "__main__":
    raise SystemExit(main())
