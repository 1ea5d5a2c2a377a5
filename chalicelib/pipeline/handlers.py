"""Lambda entry points called by `app.py`: settings from the environment, one store, one run."""

from __future__ import annotations

import os
from typing import Any

from chalicelib.core.log import log_event
from chalicelib.core.settings import Settings
from chalicelib.core.store import open_store
from chalicelib.pipeline.analysis import analyze
from chalicelib.pipeline.ingestion import IngestionFailed, ingest

LAKE_DATABASE_VARIABLE = "LAKE_GLUE_DATABASE"  # the Glue database whose partitions the lake function keeps


def scheduled_ingestion(env: dict[str, str] | None = None) -> dict[str, Any]:
    """The daily Lambda run: ingest, log, and raise if a step failed (so the error metric sees it)."""
    settings = Settings.from_env(env)
    store = open_store(settings.data_store)
    log_event("ingestion_start", store=store.url, sources=list(settings.bls_source_urls))
    result = ingest(settings, store)
    log_event("ingestion_end", **result.to_dict())
    if not result.ok:
        raise IngestionFailed("ingestion failed: " + "; ".join(result.to_dict()["errors"].values()))
    return result.to_dict()


def handle_analysis_message(body: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The SQS Lambda run for one message (raises so that SQS redelivers, then dead-letters)."""
    settings = Settings.from_env(env)
    store = open_store(settings.data_store)
    return analyze(body, settings, store).to_dict()


def handle_lake_message(body: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The SQS Lambda run of the silver layer for one message (raises so that SQS redelivers)."""
    from chalicelib.lake.catalog import GlueCatalog
    from chalicelib.lake.messages import handle_lake_message as handle

    settings = Settings.from_env(env)
    store = open_store(settings.data_store)
    database = (os.environ if env is None else env).get(LAKE_DATABASE_VARIABLE, "").strip()
    bucket = getattr(store, "bucket", None)
    catalog = GlueCatalog(database, bucket, getattr(store, "prefix", "")) if database and bucket else None
    return handle(body, store, catalog=catalog).to_dict()
