"""`make deploy-local-stop` on the session's emulator (after every other deploy-tier module)."""

from __future__ import annotations

from typing import Any

import pytest

from workstation.emulator import deploy, processes


def test_stop_ends_every_process_it_started(emulator: Any) -> None:
    # GIVEN the session's deployments: emulator (with its Lambda workers) and source server
    running = processes.StateFile(emulator.state_dir).load()
    if not running:
        pytest.skip("no deployment ran in this session")
    assert set(running) == {"ministack", "sources"}
    assert len(processes.group_members(running["ministack"].pid)) > 1  # workers of the functions
    # WHEN `make deploy-local-stop`
    stopped = deploy.stop_local(emulator.state_dir)
    # THEN no process of either group is left, the ports are closed, the state is gone
    assert sorted(b.name for b in stopped) == ["ministack", "sources"]
    for background in running.values():
        assert processes.group_members(background.pid) == [], background
        assert not processes.port_open(background.port), background
    assert processes.StateFile(emulator.state_dir).load() == {}
    assert deploy.stop_local(emulator.state_dir) == []  # a second stop has nothing to do
