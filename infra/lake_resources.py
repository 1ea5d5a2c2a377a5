"""The silver layer's AWS resources (see docs/lake.md), added to `PipelineData` (infra/resources.py).

- S3 → EventBridge → the lake queue (+ dead-letter queue and its alarm, `infra/queues.py`): the lake function is
  told about every created or deleted key under the lake inputs (`events.lake_filters`).
  EventBridge, not a bucket notification: S3 rejects notification configurations whose
  key filters overlap, and the report inputs already have one under `bls/`.
- Glue database + tables `bls_data`, `bls_series`, `population` (columns from
  `chalicelib.lake.tables.COLUMNS`) and the gold tables `series_catalog`, `series_annual`,
  `series_best_year`, `series_latest` (`chalicelib.gold.tables.COLUMNS`); partitions are
  registered by the lake function as it writes them (`chalicelib.lake.catalog`; the gold step
  of the same function, docs/gold.md): no crawler, no MSCK REPAIR.
- An Athena workgroup (results under their own prefix, SSE-S3, configuration enforced,
  a bytes-scanned cutoff per query) with the three reports and the three gold questions as
  named queries.
- `AnalystPolicy`: a managed policy for read-only SQL (Athena in this workgroup, the Glue
  tables, the silver and gold prefixes; results under the results prefix).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, Fn
from aws_cdk import aws_athena as athena
from aws_cdk import aws_events as events_
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from cdk_nag import NagSuppressions
from constructs import Construct

from chalicelib import APP_NAME
from chalicelib.core.layout import (
    ATHENA_RESULTS_PREFIX,
    BLS_PREFIX,
    GOLD_PREFIX,
    POPULATION_KEY,
    SILVER_PREFIX,
)
from chalicelib.core.s3_events import EVENTBRIDGE_TYPES
from chalicelib.gold import tables as gold_tables
from chalicelib.gold.queries import gold_queries
from chalicelib.lake import tables
from chalicelib.lake.queries import report_queries, revision_queries
from chalicelib.pipeline import events
from infra.alarms import Alarms
from infra.permissions import consume_statement
from infra.queues import QueueIds, queue_with_dead_letters

BYTES_SCANNED_CUTOFF = 10 * 1024**3  # per Athena query; override with -c athena_bytes_scanned_cutoff=...
_PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
}


class LakeResources(Construct):
    """Queue, event rule, catalog, workgroup, named queries and the analyst policy of the silver layer."""

    def __init__(self, scope: Construct, construct_id: str, *, data: Any, alarms: Alarms, timeout_seconds: int,
                 max_receive_count: int,
                 bytes_scanned_cutoff: int = BYTES_SCANNED_CUTOFF, named_queries: bool = True) -> None:
        super().__init__(scope, construct_id)
        self.data = data
        environment = data.config.environment
        self.database_name = f"{APP_NAME}_{environment}".replace("-", "_")
        self.lake_queue = queue_with_dead_letters(
            self, QueueIds("Queue", "DeadLetters", "LakeDeadLettersAlarm"),
            consumer_timeout=timeout_seconds, max_receive_count=max_receive_count, alarms=alarms,
            alarm_description="A lake input could not be converted after retries: it is in the lake dead-letter queue.",
        )
        self.queue, self.dead_letter_queue = self.lake_queue.queue, self.lake_queue.dead_letters
        self.rule = events_.Rule(
            self, "SourceChanged",
            description="A lake input (BLS file or population) was created or deleted: update the silver layer.",
            event_pattern=events_.EventPattern(
                source=["aws.s3"],
                detail_type=list(EVENTBRIDGE_TYPES),
                detail={"bucket": {"name": [data.bucket_name]},
                        "object": {"key": [{"prefix": f.prefix} for f in events.lake_filters()]}},
            ),
            targets=[targets.SqsQueue(self.queue)],
        )
        self.database = glue.CfnDatabase(self, "Database", catalog_id=Aws.ACCOUNT_ID, database_input={
            "name": self.database_name,
            "description": f"{APP_NAME} {environment}: the silver layer (typed Parquet of the BLS mirror)",
        })
        self.tables = {table: self._table(table, tables.COLUMNS[table], tables.PARTITION_KEYS[table],
                                          tables.table_prefix(table)) for table in tables.TABLES}
        self.gold_tables = {table: self._table(table, gold_tables.COLUMNS[table], gold_tables.PARTITION_KEYS[table],
                                               gold_tables.table_prefix(table)) for table in gold_tables.TABLES}
        self.workgroup = self._workgroup(bytes_scanned_cutoff)
        self.named_queries = self._named_queries() if named_queries else {}
        self.analyst_policy = self._analyst_policy()

    # ----------------------------------------------------------------------- catalog

    def _table(self, table: str, columns: tuple[tuple[str, str], ...], keys: tuple[str, ...],
               prefix: str) -> glue.CfnTable:
        resource = glue.CfnTable(
            self, f"Table{table.title().replace('_', '')}",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=self.database_name,
            table_input={
                "name": table,
                "tableType": "EXTERNAL_TABLE",
                "parameters": {"classification": "parquet", "EXTERNAL": "TRUE"},
                "partitionKeys": [{"name": key, "type": "string"} for key in keys],
                "storageDescriptor": {
                    "columns": [{"name": name, "type": kind} for name, kind in columns],
                    "location": Fn.sub(f"s3://{self.data.bucket_name_pattern}/{prefix}"),
                    "inputFormat": _PARQUET["InputFormat"],
                    "outputFormat": _PARQUET["OutputFormat"],
                    "serdeInfo": {"serializationLibrary": _PARQUET["SerdeInfo"]},
                },
            },
        )
        resource.add_resource_dependency(self.database)
        return resource

    def glue_arn(self, resource: str) -> str:
        """The ARN of the Glue catalog, or of a database/table in it (`database/x`, `table/x/y`)."""
        return Fn.sub(f"arn:${{AWS::Partition}}:glue:${{AWS::Region}}:${{AWS::AccountId}}:{resource}")

    def catalog_arns(self) -> list[str]:
        """The catalog, the database and its tables (what Glue checks for table and partition calls)."""
        return [self.glue_arn("catalog"), self.glue_arn(f"database/{self.database_name}")] + [
            self.glue_arn(f"table/{self.database_name}/{table}") for table in (*tables.TABLES, *gold_tables.TABLES)]

    # ----------------------------------------------------------------------- Athena

    def _workgroup(self, bytes_scanned_cutoff: int) -> athena.CfnWorkGroup:
        """Results under their own prefix (SSE-S3), configuration enforced, a cutoff per query."""
        environment = self.data.config.environment
        return athena.CfnWorkGroup(
            self, "WorkGroup",
            name=f"{APP_NAME}-{environment}",
            description=f"{APP_NAME} {environment}: SQL over the silver layer",
            recursive_delete_option=True,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=bytes_scanned_cutoff,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=Fn.sub(f"s3://{self.data.bucket_name_pattern}/{ATHENA_RESULTS_PREFIX}"),
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"),
                ),
            ),
        )

    def _named_queries(self) -> dict[str, athena.CfnNamedQuery]:
        """The three reports, the three gold questions and the revisions' two as named queries (the same SQL as
        the local DuckDB tests)."""
        environment = self.data.config.environment
        described = [  # (key, SQL, description); the key names the resource and the query
            *((name, sql, f"Report '{name}' over the silver layer (same SQL as the local DuckDB tests)")
              for name, sql in report_queries(self.data.config.settings()).items()),
            *((f"gold_{name}", sql,
               f"Gold: {name.replace('_', ' ')} (docs/gold.md; same SQL as the local DuckDB tests)")
              for name, sql in gold_queries().items()),
            *((name, sql, f"Revisions: {name.replace('_', ' ')} (docs/lake.md; same SQL as `bls-pipeline query`)")
              for name, sql in revision_queries().items()),
        ]
        queries = {
            key: athena.CfnNamedQuery(
                self, f"Query{key.title().replace('_', '')}",
                name=f"{APP_NAME}-{environment}-{key.replace('_', '-')}",
                description=description,
                database=self.database_name,
                work_group=self.workgroup.ref,
                query_string=sql,
            )
            for key, sql, description in described
        }
        for query in queries.values():
            query.add_resource_dependency(self.database)
        return queries

    # ----------------------------------------------------------------------- IAM

    def function_statements(self) -> list[iam.PolicyStatement]:
        """The lake function's permissions (beside its own log group and ListBucket)."""
        data = self.data
        return [
            iam.PolicyStatement(sid="ReadLakeInputs", actions=["s3:GetObject"],
                                resources=[data.objects(BLS_PREFIX), data.objects(POPULATION_KEY)]),
            iam.PolicyStatement(sid="ReadWriteDeleteSilver",
                                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                                resources=[data.objects(SILVER_PREFIX)]),
            iam.PolicyStatement(sid="ReadWriteDeleteGold",  # the gold step (chalicelib.gold.sync)
                                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                                resources=[data.objects(GOLD_PREFIX)]),
            iam.PolicyStatement(sid="KeepGluePartitions",
                                actions=["glue:GetTable", "glue:CreatePartition", "glue:DeletePartition"],
                                resources=self.catalog_arns()),
            consume_statement("ConsumeLakeQueue", self.queue),
        ]

    def _analyst_policy(self) -> iam.ManagedPolicy:
        data = self.data
        workgroup_arn = Fn.sub(
            f"arn:${{AWS::Partition}}:athena:${{AWS::Region}}:${{AWS::AccountId}}:workgroup/{self.workgroup.name}")
        policy = iam.ManagedPolicy(
            self, "AnalystPolicy",
            description=f"{APP_NAME} {data.config.environment}: read-only SQL on the silver and gold layers (Athena)",
            statements=[
                iam.PolicyStatement(sid="QueryInTheWorkgroup", resources=[workgroup_arn], actions=[
                    "athena:StartQueryExecution", "athena:StopQueryExecution", "athena:GetQueryExecution",
                    "athena:GetQueryResults", "athena:GetQueryResultsStream", "athena:GetWorkGroup",
                    "athena:ListQueryExecutions", "athena:ListNamedQueries", "athena:GetNamedQuery",
                    "athena:BatchGetNamedQuery", "athena:BatchGetQueryExecution"]),
                iam.PolicyStatement(sid="ReadTheCatalog", resources=self.catalog_arns(), actions=[
                    "glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition",
                    "glue:GetPartitions", "glue:BatchGetPartition"]),
                iam.PolicyStatement(sid="ListSilverAndResults", actions=["s3:ListBucket", "s3:GetBucketLocation"],
                                    resources=[data.bucket_arn], conditions={"StringLike": {"s3:prefix": [
                                        f"{SILVER_PREFIX}*", f"{GOLD_PREFIX}*", f"{ATHENA_RESULTS_PREFIX}*"]}}),
                iam.PolicyStatement(sid="ReadSilver", actions=["s3:GetObject"],
                                    resources=[data.objects(SILVER_PREFIX)]),
                iam.PolicyStatement(sid="ReadGold", actions=["s3:GetObject"],
                                    resources=[data.objects(GOLD_PREFIX)]),
                iam.PolicyStatement(sid="WriteOwnQueryResults",
                                    actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                                    resources=[data.objects(ATHENA_RESULTS_PREFIX)]),
            ],
        )
        NagSuppressions.add_resource_suppressions(policy, [{
            "id": "AwsSolutions-IAM5",
            "reason": "Wildcards only at the end of the silver, gold and query-result prefixes of the data bucket "
                      "(object names are not known in advance) and in the s3:prefix condition for them.",
            "appliesTo": [{"regex": r"/^Resource::arn:<AWS::Partition>:s3:::[^*]+\/[a-z_-]+\/\*$/g"}],
        }])
        return policy
