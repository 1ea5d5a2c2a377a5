"""One emulator (and snapshot source server) per test session, shared by the deploy-tier modules.

Each module deploys its own environment on it (Path 1: `local`, Path 2: `chalice`); the
processes are stopped at the end of the session (test_stop.py checks the stop itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from workstation.emulator import deploy, processes


@dataclass(frozen=True)
class Emulator:
    """Where the session's deployments keep their state, and the emulator's port."""

    state_dir: Path
    port: int


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """A free port and a state folder; the first `deploy_local` starts the processes, the session's end stops them."""
    state_dir = tmp_path_factory.mktemp("deploy-local")
    try:
        yield Emulator(state_dir, processes.free_port())
    finally:
        deploy.stop_local(state_dir)
