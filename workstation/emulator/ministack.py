"""ministack (PyPI `ministack`), the local AWS emulator, run from its own virtual environment.

`.venv-emulator/` holds ministack, boto3 and aws-sam-translator only (`requirements-emulator.txt`,
made by `make emulator-venv`): ministack pins botocore exactly, and Lambda functions run on
its interpreter, so anything else installed there could stand in for what the layer must supply.
The emulator gets a minimal environment (no PYTHONPATH, no virtual environment of ours), binds
127.0.0.1 only, keeps its state in memory, and unpacks function code and layers under
`<state folder>/lambda-tmp` (its TMPDIR).
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path
from typing import Any

from chalicelib.core.errors import ConfigError
from workstation.emulator import processes

REPO = Path(__file__).resolve().parents[2]
EMULATOR_VENV = REPO / ".venv-emulator"
DEFAULT_PORT = 4566  # LocalStack's port: `AWS_ENDPOINT_URL=http://localhost:4566` works unchanged
REGION = "us-east-1"
ACCOUNT = "000000000000"  # the emulator's account
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}  # accepted, never checked
HEALTH_PATH = "/_ministack/health"
LAMBDA_TMP = "lambda-tmp"  # under the state folder: TMPDIR of the emulator


def endpoint(port: int) -> str:
    """The emulator's URL for clients of this machine."""
    return f"http://127.0.0.1:{port}"


def executable(venv: Path = EMULATOR_VENV) -> Path:
    """The `ministack` command of the emulator's environment (ConfigError if it is not installed)."""
    command = venv / "bin" / "ministack"
    if not command.is_file():
        raise ConfigError(f"the emulator is not installed ({command} is missing): run `make emulator-venv`")
    return command


def healthy(port: int) -> bool:
    """True when a ministack answers its health check on the port."""
    try:
        with urllib.request.urlopen(endpoint(port) + HEALTH_PATH, timeout=2) as response:
            return response.status == 200 and b'"services"' in response.read()
    except OSError:
        return False


def start(port: int, state_dir: Path, venv: Path = EMULATOR_VENV) -> processes.Background:
    """Start ministack on 127.0.0.1:port in the background and wait until it answers."""
    if processes.port_open(port):
        raise ConfigError(f"port {port} is in use by something else than this deployment's emulator; "
                          "stop it, or choose another port (EMULATOR_PORT=4577 make deploy-local)")
    tmpdir = state_dir / LAMBDA_TMP
    tmpdir.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", str(state_dir)),
        "LANG": "C.UTF-8",
        "TMPDIR": str(tmpdir),
        "GATEWAY_PORT": str(port),
        "BIND_HOST": "127.0.0.1",
        "MINISTACK_REGION": REGION,
    }
    background = processes.start("ministack", [str(executable(venv))], env, state_dir / "ministack.log", port,
                                 cwd=state_dir)
    try:
        processes.wait_until(lambda: healthy(port), 60, f"ministack on port {port} (log: {background.log})")
    except TimeoutError:
        processes.stop(background)
        raise
    return background


def client(service: str, port: int, **config: Any) -> Any:
    """A boto3 client of the emulator (fixed region and dummy credentials; `config`: botocore Config)."""
    import boto3
    from botocore.config import Config

    return boto3.client(service, endpoint_url=endpoint(port), region_name=REGION,
                        config=Config(**config) if config else None, **CREDENTIALS)
