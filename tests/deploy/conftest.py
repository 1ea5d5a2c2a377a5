"""The deploy tier: the Path 1 stack deployed on ministack (`workstation.emulator`), as `make deploy-local`.

One deployment per module, on free ports, with its own state folder; the emulator's
environment (`.venv-emulator/`, `make emulator-venv`) must exist: `make test` makes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from workstation.emulator import deploy, ministack, processes


class Deployed:
    """A running local deployment and clients of its emulator."""

    def __init__(self, state_dir: Path, port: int, first: deploy.LocalDeployment) -> None:
        self.state_dir, self.port, self.first = state_dir, port, first

    def client(self, service: str) -> Any:
        return ministack.client(service, self.port)

    def running(self) -> dict[str, processes.Background]:
        return processes.StateFile(self.state_dir).load()


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """`deploy_local` once (emulator, source server, stack, one ingestion); everything stopped after."""
    state_dir = tmp_path_factory.mktemp("deploy-local")
    port = processes.free_port()
    try:
        yield Deployed(state_dir, port, deploy.deploy_local(state_dir, port))
    finally:
        deploy.stop_local(state_dir)
