"""The store a DATA_STORE value names."""

from __future__ import annotations

from chalicelib.core.store.base import Store
from chalicelib.core.store.local import LocalStore
from chalicelib.core.store.s3 import S3Store


def open_store(url: str) -> Store:
    """The store for a DATA_STORE value: `s3://bucket[/prefix]` or a local folder."""
    if url.startswith("s3://"):
        bucket, _, prefix = url[len("s3://") :].partition("/")
        return S3Store(bucket, prefix)
    return LocalStore(url)
