"""What a new user meets trying every documented command (issue 19, point 14): flags that are offered
are used, every command says what it did, and the local store can be reset without the environments."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from chalicelib.core.store import LocalStore
from tests.support.paths import REPO
from workstation import snapshot
from workstation.cli import main


def _help(capsys, *argv):
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_version_prints_the_package_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"bls-pipeline {version('bls-pipeline')}"


def test_query_help_does_not_offer_s3_stores(capsys):
    text = _help(capsys, "query")
    assert "s3://" not in text
    assert "read-only" in text and "local store folder" in text


@pytest.mark.parametrize("command", ["analyze", "lake", "query"])
def test_commands_that_fetch_nothing_do_not_offer_contact_or_offline(capsys, command):
    text = _help(capsys, command)
    assert "--contact" not in text and "--offline" not in text


@pytest.mark.parametrize("command", ["mirror", "population", "run"])
def test_commands_that_fetch_offer_contact_and_offline(capsys, command):
    text = _help(capsys, command)
    assert "--contact" in text and "--offline" in text


def test_mirror_offline_mirrors_the_bundled_snapshot(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("BLS_CONTACT", raising=False)
    store = tmp_path / "data"
    assert main(["mirror", "--offline", "--json", "--store", str(store)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is True and document["offline"] is True
    names = sorted(p.name for p in snapshot.SNAPSHOT_DIR.iterdir())
    assert sorted(document["added"]) == names
    assert LocalStore(store).read("bls/pr/pr.series").body == (snapshot.SNAPSHOT_DIR / "pr.series").read_bytes()

    # --verify says that it verified, and what it found
    assert main(["mirror", "--offline", "--verify", "--store", str(store)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("offline: used the bundled snapshot")
    assert (f"verified: {len(names)} file(s) downloaded again and compared by SHA-256 with the stored copy, "
            f"{len(names)} identical, 0 differed (replaced)") in text


def test_population_offline_stores_the_bundled_response(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("BLS_CONTACT", raising=False)
    store = tmp_path / "data"
    assert main(["population", "--offline", "--store", str(store)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("offline: used the bundled snapshot")
    assert "population: stored population/population.json" in text
    assert LocalStore(store).read("population/population.json").body


def test_run_dry_run_says_what_it_would_do_and_why_nothing_was_converted(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("BLS_CONTACT", raising=False)
    store = tmp_path / "data"
    assert main(["run", "--offline", "--dry-run", "--store", str(store)]) == 0
    text = capsys.readouterr().out
    count = len(list(snapshot.SNAPSHOT_DIR.iterdir()))
    assert (f"mirror: would add {count}, would update 0, would delete 0, 0 unchanged, 0 failed; "
            "dry run: nothing downloaded or written") in text
    assert "Silver layer: nothing converted (dry run: the mirror wrote no file to convert)" in text
    assert "Notifications: none (dry run" in text
    assert f"{count} added" not in text and "every source unchanged" not in text
    assert not store.exists() or list(LocalStore(store).list()) == []


def test_the_source_server_module_prints_help():
    done = subprocess.run([sys.executable, "-m", "workstation.sourceserver", "--help"], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0
    assert done.stdout.startswith("usage: python -m workstation.sourceserver")
    assert "bundled snapshot" in done.stdout


@pytest.mark.skipif(shutil.which("git") is None or not (REPO / ".git").exists(), reason="needs the git checkout")
def test_chalice_package_output_is_ignored():
    # docs/pipeline.md: `chalice package out/`; the CDK's chalice.out/ and cdk.out/ (also under infra/)
    paths = ["out/sam.json", "out/deployment.zip", "chalice.out/x", "cdk.out/x", "infra/cdk.out/x",
             "infra/chalice.out/x"]
    done = subprocess.run(["git", "check-ignore", "--no-index", *paths], cwd=REPO, capture_output=True, text=True,
                          check=False)
    assert done.stdout.split() == paths


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_clean_data_resets_the_store_and_keeps_the_environments():
    # a make of its own, also when this test runs under `make test` (no inherited MAKEFLAGS / MAKELEVEL)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    make = ["make", "--no-print-directory", "-n"]
    done = subprocess.run([*make, "clean-data"], cwd=REPO, capture_output=True, text=True, check=False, env=env)
    assert done.returncode == 0
    assert done.stdout.splitlines() == ["rm -rf data"]
    everything = subprocess.run([*make, "clean"], cwd=REPO, capture_output=True, text=True, check=False, env=env)
    assert everything.returncode == 0 and "rm -rf data" in everything.stdout and ".venv" in everything.stdout
