"""Glue partitions for the silver layer: added when a partition is written, dropped with it.

Athena finds a table's partitions in the Glue Data Catalog. Partition projection cannot
describe these (the `survey` and `file` values are not known in advance: a new survey or
file can appear any day), so the lake function registers each partition itself, as it
writes it — no crawler, no `MSCK REPAIR TABLE`. Both calls are idempotent. `catalog_for` says
whether a deployment has one (the Lambda function and `bls-pipeline lake` both ask it).
"""

from __future__ import annotations

import copy
from typing import Any, Protocol

from chalicelib.core.errors import StoreError
from chalicelib.core.settings import Settings
from chalicelib.core.store import Store


class CatalogPartition(Protocol):
    """What a catalog needs of a partition (`tables.Partition`, `revisions.RevisionsPartition`)."""

    @property
    def table(self) -> str: ...

    @property
    def prefix(self) -> str: ...

    @property
    def values(self) -> list[str]: ...


class GlueCatalog:
    """Partitions of the silver tables in one Glue database (tables made by the CDK stack)."""

    def __init__(self, database: str, bucket: str, prefix: str = "", client: Any = None) -> None:
        self.database = database
        self.location = f"s3://{bucket}/{prefix.strip('/') + '/' if prefix.strip('/') else ''}"
        self._client = client
        self._descriptors: dict[str, dict[str, Any]] = {}

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("glue")
        return self._client

    def add(self, partition: CatalogPartition) -> None:
        """Register the partition (nothing for an unpartitioned table; already there is fine)."""
        if not partition.values:
            return
        descriptor = copy.deepcopy(self._descriptor(partition.table))
        descriptor["Location"] = self.location + partition.prefix
        try:
            self.client.create_partition(DatabaseName=self.database, TableName=partition.table,
                                         PartitionInput={"Values": partition.values, "StorageDescriptor": descriptor})
        except self.client.exceptions.AlreadyExistsException:
            return
        except Exception as error:  # botocore errors: the message is retried
            raise StoreError(f"Glue: cannot add partition {partition.values} of {partition.table}: {error}") from None

    def drop(self, partition: CatalogPartition) -> None:
        """Remove the partition from the catalog (absent is fine)."""
        if not partition.values:
            return
        try:
            self.client.delete_partition(DatabaseName=self.database, TableName=partition.table,
                                         PartitionValues=partition.values)
        except self.client.exceptions.EntityNotFoundException:
            return
        except Exception as error:
            raise StoreError(f"Glue: cannot drop partition {partition.values} of {partition.table}: {error}") from None

    def _descriptor(self, table: str) -> dict[str, Any]:
        if table not in self._descriptors:
            try:
                response = self.client.get_table(DatabaseName=self.database, Name=table)
            except Exception as error:
                raise StoreError(f"Glue: cannot read table {self.database}.{table}: {error}") from None
            descriptor = response["Table"]["StorageDescriptor"]
            keep = ("Columns", "InputFormat", "OutputFormat", "SerdeInfo", "Compressed", "Parameters")
            self._descriptors[table] = {k: descriptor[k] for k in keep if k in descriptor}
        return self._descriptors[table]


def catalog_for(settings: Settings, store: Store) -> GlueCatalog | None:
    """The Glue catalog of the silver tables in `settings.lake_database` (LAKE_GLUE_DATABASE), for a
    store in an S3 bucket; None without a database or for a local folder (nothing to register)."""
    location = store.location
    if not settings.lake_database or not location.bucket:
        return None
    return GlueCatalog(settings.lake_database, location.bucket, location.prefix)


__all__ = ["CatalogPartition", "GlueCatalog", "catalog_for"]
