"""The CDK app (both deploy paths; see docs/pipeline.md). Not shipped to Lambda.

- `main`: the entry point (`python -m infra.main`, run by `infra/cdk.json`).
- `config`: CDK context → `PipelineConfig`; the functions' names, ids, timeouts and the fixed numbers.
- `resources`: `PipelineData`, everything but the functions (buckets, queues, log groups, roles, alarms).
- `queues`: a queue + its dead-letter queue + the alarm on its dead letters.
- `alarms`: the alarm topic, the alarms and the metrics they watch.
- `permissions`: one least-privilege IAM role per function.
- `lake_resources`: the silver layer (EventBridge rule, Glue catalog, Athena workgroup, analyst policy).
- `pipeline_stack`: the two stacks, `PipelineStack` (Path 1) and `DataStack` (Path 2).
- `write_chalice_config`: Path 2, the data stack's outputs into `.chalice/config.json` (a script).
"""
