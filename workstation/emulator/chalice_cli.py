"""The Chalice command line against the emulator: a project copy to run it in, and the emulator's quirks.

- `project`: a Chalice project folder for the emulator's stage (app.py, chalicelib/,
  requirements.txt, `.chalice/config.json` copied from the repository; the dependency cache
  `.chalice/deployments/` shared with the repository's) — `chalice deploy` writes its stage
  into the copy's config and its record beside it, never into the repository's tracked files.
- `run`: `chalice <args>` in a subprocess with the emulator's endpoint and dummy credentials.
- `python -m workstation.emulator.chalice_cli <chalice args>`: Chalice's own CLI with the
  workaround below installed (what `run` starts).

ministack 1.5.x answers `PATCH /restapis/{id}` (UpdateRestApi) with `"minimumCompressionSize": ""`
when the patch sets it to `""` (which `chalice deploy` sends to mean "no compression"):
botocore cannot parse the integer (`invalid literal for int() with base 10: ''`). A
`before-parse` hook on the sessions Chalice makes turns that empty value into null — in this
process only: the product and its clients never see it. (docs/deploy-local.md, "Emulator quirks".)
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


def fix_empty_integers(response_dict: dict[str, Any] | None = None, **_: Any) -> None:
    """botocore `before-parse` hook: ministack's `""` in an integer field of UpdateRestApi → null."""
    if not response_dict or not response_dict.get("body"):
        return
    try:
        body = json.loads(response_dict["body"])
    except ValueError:
        return
    if isinstance(body, dict) and any(body.get(name) == "" for name in _INTEGER_FIELDS):
        for name in _INTEGER_FIELDS:
            if body.get(name) == "":
                body[name] = None
        response_dict["body"] = json.dumps(body).encode()


def install_workaround() -> None:
    """Register `fix_empty_integers` on every botocore session the Chalice CLI creates."""
    from chalice.cli import factory

    original = factory.create_botocore_session

    def create_botocore_session(*args: Any, **kwargs: Any) -> Any:
        session = original(*args, **kwargs)
        session.register("before-parse.api-gateway.UpdateRestApi", fix_empty_integers)
        return session

    factory.create_botocore_session = create_botocore_session


def main(argv: Sequence[str] | None = None) -> int:
    install_workaround()
    from chalice.cli import main as chalice_main

    sys.argv = ["chalice", *(sys.argv[1:] if argv is None else argv)]
    return int(chalice_main() or 0)


if __name__ == "__main__":
    raise SystemExit(main())
