"""Fixtures shared by every tier: fake AWS credentials for every test, stores, the local source server.

Helpers (constants, servers, builders) live in the `support` package, not here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.paths import BUCKET


@pytest.fixture(autouse=True)
def fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test can reach real AWS: fake credentials, a fixed region, no profile or endpoint."""
    for name in list(os.environ):
        if name.startswith("AWS_") and name not in ("AWS_CA_BUNDLE",):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    for name in ("DATA_STORE", "BLS_SOURCE_URL", "BLS_CONTACT", "POPULATION_API_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def lambda_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """chalice.test gives every invocation 3 s; a real one has the function's timeout (900 s for ingest)."""
    import chalice.test

    class Context(chalice.test.LambdaContext):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, max_runtime_ms=900_000, **kwargs)

    monkeypatch.setattr(chalice.test, "LambdaContext", Context)


@pytest.fixture
def local_store(tmp_path: Path):
    """An empty local-folder store."""
    from chalicelib.core.store import LocalStore

    return LocalStore(tmp_path / "data")


@pytest.fixture
def s3_store() -> Iterator:
    """An empty S3 store (moto, in process) under a prefix, so prefix handling is exercised."""
    import boto3
    from moto import mock_aws

    from chalicelib.core.store import S3Store

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield S3Store(BUCKET, "mirror", client=client)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest):
    """Each test using `store` runs once per backend."""
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture
def source_server() -> Iterator:
    """A running local source server (BLS listing format, 403 without contact)."""
    from workstation.sourceserver import SourceServer

    server = SourceServer()
    server.start()
    yield server
    server.stop()
