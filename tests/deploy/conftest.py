"""One emulator (and snapshot source server) per test session, shared by the deploy-tier modules.

Each module deploys its own environment on it (Path 1: `local`, Path 2: `chalice`), except that the Path 1
deployment (`path1`, what `make deploy-local` does) is made once per session and shared by the modules that
use it (test_deployed_stack.py, test_deployed_stack_sign_in.py): a deployment costs a minute. The
processes are stopped at the end of the session (test_stop.py checks the stop itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from workstation.emulator import chalice_cli, deploy, processes

TIME_BUDGET = 0.0  # seconds of mirroring for the daily function (Path 1): the mirror goes on in continuations


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


@dataclass(frozen=True)
class Path1:
    """The session's Path 1 deployment (environment `local`) and the project copy holding its record."""

    first: deploy.LocalDeployment
    project: Path
    time_budget: float = TIME_BUDGET


@pytest.fixture(scope="session")
def path1(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Path1:
    """`deploy_local` once (emulator, source server, stack, one ingestion and all that follows), with the
    daily function given no time to mirror (TIME_BUDGET)."""
    project = chalice_cli.project(tmp_path_factory.mktemp("chalice-project"))
    first = deploy.deploy_local(emulator.state_dir, emulator.port, project_dir=project,
                                ingest_time_budget=TIME_BUDGET)
    return Path1(first, project)
