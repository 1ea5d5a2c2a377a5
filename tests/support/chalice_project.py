"""Driving app.py through chalice.test.Client: a project config per test, a scheduled event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalice.test import Client

from support.paths import REPO


def project_with(tmp_path: Path, env: dict[str, str]) -> Path:
    """A copy of the Chalice project config whose stage `dev` sets `env` (Chalice applies it per invoke)."""
    config = json.loads((REPO / ".chalice" / "config.json").read_text())
    config.setdefault("stages", {}).setdefault("dev", {})["environment_variables"] = env
    project = tmp_path / "project"
    (project / ".chalice").mkdir(parents=True)
    (project / ".chalice" / "config.json").write_text(json.dumps(config))
    return project


def scheduled_event(client: Client) -> dict[str, Any]:
    return client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={},
        resources=["arn:aws:events:us-east-1:123456789012:rule/bls-pipeline-dev-ingest-event"],
    )
