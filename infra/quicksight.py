"""QuickSight over the gold tables (issue 20), opt-in: `-c quicksight_principal=arn:aws:quicksight:…:user/default/<name>`.

Without the context value nothing here is created (QuickSight needs a subscription and costs per
user: docs/quicksight.md). With it:
- `QuickSightAthenaRole`: the role QuickSight assumes for this data source (`AthenaParameters.RoleArn`,
  so the account-wide `aws-quicksight-service-role-v0` is left alone), allowed exactly: queries in the
  stack's workgroup, reading the Glue database and its tables, reading `silver/` and `gold/`, and reading
  and writing the workgroup's results under `athena-results/`;
- an Athena data source on the stack's workgroup;
- one dataset per gold table and one over `population` (direct query: no SPICE capacity to buy);
- a dashboard, from a definition: a sheet with every series' best year (a table), and a sheet with a
  series chart (annual sums by year, one line per series, a series picker).
The principal gets owner permissions on all of them. The local emulator has no QuickSight.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Fn
from aws_cdk import aws_iam as iam
from aws_cdk import aws_quicksight as quicksight
from cdk_nag import NagSuppressions
from constructs import Construct

from chalicelib import APP_NAME
from chalicelib.core.layout import ATHENA_RESULTS_PREFIX, GOLD_PREFIX, SILVER_PREFIX
from chalicelib.gold import tables as gold_tables
from chalicelib.lake import tables as silver_tables

_TYPES = {"string": "STRING", "int": "INTEGER", "bigint": "INTEGER", "double": "DECIMAL", "boolean": "BOOLEAN"}
DATA_SOURCE_ACTIONS = ["quicksight:DescribeDataSource", "quicksight:DescribeDataSourcePermissions",
                       "quicksight:PassDataSource", "quicksight:UpdateDataSource", "quicksight:DeleteDataSource",
                       "quicksight:UpdateDataSourcePermissions"]
DATA_SET_ACTIONS = ["quicksight:DescribeDataSet", "quicksight:DescribeDataSetPermissions", "quicksight:PassDataSet",
                    "quicksight:DescribeIngestion", "quicksight:ListIngestions", "quicksight:UpdateDataSet",
                    "quicksight:DeleteDataSet", "quicksight:CreateIngestion", "quicksight:CancelIngestion",
                    "quicksight:UpdateDataSetPermissions"]
DASHBOARD_ACTIONS = ["quicksight:DescribeDashboard", "quicksight:ListDashboardVersions",
                     "quicksight:UpdateDashboardPermissions", "quicksight:QueryDashboard", "quicksight:UpdateDashboard",
                     "quicksight:DeleteDashboard", "quicksight:DescribeDashboardPermissions",
                     "quicksight:UpdateDashboardPublishedVersion"]
DATASET_TABLES = (*gold_tables.TABLES, silver_tables.POPULATION)


def quicksight_type(hive_type: str) -> str:
    """The QuickSight input column type of a Glue column type."""
    return "DECIMAL" if hive_type.startswith("decimal") else _TYPES[hive_type]


def dataset_columns(table: str) -> list[dict[str, str]]:
    """A dataset's input columns (the table's columns and its partition columns)."""
    if table in gold_tables.TABLES:
        columns, keys = gold_tables.COLUMNS[table], gold_tables.PARTITION_KEYS[table]
    else:
        columns, keys = silver_tables.COLUMNS[table], silver_tables.PARTITION_KEYS[table]
    return [{"name": n, "type": quicksight_type(t)} for n, t in columns] + [{"name": k, "type": "STRING"} for k in keys]


class QuickSight(Construct):
    """Data source, datasets, dashboard and the role QuickSight uses for them (see the module docstring)."""

    def __init__(self, scope: Construct, construct_id: str, *, data: Any, principal: str) -> None:
        super().__init__(scope, construct_id)
        lake = data.lake
        environment = data.config.environment
        self.prefix = f"{APP_NAME}-{environment}"
        self.role = self._role(data, lake)
        self.data_source = quicksight.CfnDataSource(
            self, "DataSource",
            aws_account_id=Fn.ref("AWS::AccountId"),
            data_source_id=f"{self.prefix}-athena",
            name=f"{self.prefix} (Athena workgroup {lake.workgroup.name})",
            type="ATHENA",
            data_source_parameters=quicksight.CfnDataSource.DataSourceParametersProperty(
                athena_parameters=quicksight.CfnDataSource.AthenaParametersProperty(
                    work_group=lake.workgroup.name, role_arn=self.role.role_arn)),
            permissions=[quicksight.CfnDataSource.ResourcePermissionProperty(
                principal=principal, actions=DATA_SOURCE_ACTIONS)],
        )
        self.data_source.add_dependency(lake.workgroup)
        self.data_source.node.add_dependency(self.role)
        self.datasets = {table: self._dataset(table, lake.database_name, principal) for table in DATASET_TABLES}
        self.dashboard = self._dashboard(principal)

    def _role(self, data: Any, lake: Any) -> iam.Role:
        workgroup_arn = Fn.sub(
            f"arn:${{AWS::Partition}}:athena:${{AWS::Region}}:${{AWS::AccountId}}:workgroup/{lake.workgroup.name}")
        role = iam.Role(
            self, "AthenaRole",
            assumed_by=iam.ServicePrincipal("quicksight.amazonaws.com"),
            description=f"{self.prefix}: QuickSight reads the gold and silver tables through the Athena workgroup",
            inline_policies={"athena-gold": iam.PolicyDocument(statements=[
                iam.PolicyStatement(sid="QueryInTheWorkgroup", resources=[workgroup_arn], actions=[
                    "athena:StartQueryExecution", "athena:StopQueryExecution", "athena:GetQueryExecution",
                    "athena:GetQueryResults", "athena:GetQueryResultsStream", "athena:GetWorkGroup"]),
                iam.PolicyStatement(sid="ListWorkgroups", resources=["*"], actions=[
                    "athena:ListWorkGroups", "athena:ListDataCatalogs", "athena:GetDataCatalog"]),
                iam.PolicyStatement(sid="ReadTheCatalog", resources=lake.catalog_arns(), actions=[
                    "glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables", "glue:GetPartition",
                    "glue:GetPartitions", "glue:BatchGetPartition"]),
                iam.PolicyStatement(sid="ListTheTablesAndResults", actions=["s3:ListBucket", "s3:GetBucketLocation"],
                                    resources=[data.bucket_arn]),
                iam.PolicyStatement(sid="ReadTheTables", actions=["s3:GetObject"],
                                    resources=[data.objects(GOLD_PREFIX), data.objects(SILVER_PREFIX)]),
                iam.PolicyStatement(sid="WriteQueryResults",
                                    actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload",
                                             "s3:ListMultipartUploadParts"],
                                    resources=[data.objects(ATHENA_RESULTS_PREFIX)]),
            ])},
        )
        NagSuppressions.add_resource_suppressions(role, [{
            "id": "AwsSolutions-IAM5",
            "reason": "Object wildcards only at the end of the gold, silver and query-result prefixes of the data "
                      "bucket; athena:ListWorkGroups/ListDataCatalogs/GetDataCatalog have no resource-level "
                      "permissions (QuickSight lists them when the data source is opened).",
            "appliesTo": [{"regex": r"/^Resource::arn:<AWS::Partition>:s3:::[^*]+\/[a-z_-]+\/\*$/g"}, "Resource::*"],
        }])
        return role

    def _dataset(self, table: str, database: str, principal: str) -> quicksight.CfnDataSet:
        identifier = f"{self.prefix}-{table.replace('_', '-')}"
        dataset = quicksight.CfnDataSet(
            self, f"DataSet{table.title().replace('_', '')}",
            aws_account_id=Fn.ref("AWS::AccountId"),
            data_set_id=identifier,
            name=f"{self.prefix} {table}",
            import_mode="DIRECT_QUERY",
            physical_table_map={table: quicksight.CfnDataSet.PhysicalTableProperty(
                relational_table=quicksight.CfnDataSet.RelationalTableProperty(
                    data_source_arn=self.data_source.attr_arn, catalog="AwsDataCatalog", schema=database, name=table,
                    input_columns=[quicksight.CfnDataSet.InputColumnProperty(name=c["name"], type=c["type"])
                                   for c in dataset_columns(table)]))},
            permissions=[quicksight.CfnDataSet.ResourcePermissionProperty(principal=principal,
                                                                          actions=DATA_SET_ACTIONS)],
        )
        return dataset

    def _dashboard(self, principal: str) -> quicksight.CfnDashboard:
        dashboard = quicksight.CfnDashboard(
            self, "Dashboard",
            aws_account_id=Fn.ref("AWS::AccountId"),
            dashboard_id=f"{self.prefix}-gold",
            name=f"{self.prefix}: best years and series",
            permissions=[quicksight.CfnDashboard.ResourcePermissionProperty(principal=principal,
                                                                            actions=DASHBOARD_ACTIONS)],
        )
        dashboard.add_property_override("Definition", dashboard_definition({
            "best": self.datasets[gold_tables.SERIES_BEST_YEAR].attr_arn,
            "annual": self.datasets[gold_tables.SERIES_ANNUAL].attr_arn,
        }))
        return dashboard


def _column(dataset: str, name: str) -> dict[str, str]:
    return {"DataSetIdentifier": dataset, "ColumnName": name}


def _title(text: str) -> dict[str, Any]:
    return {"Visibility": "VISIBLE", "FormatText": {"PlainText": text}}


def dashboard_definition(datasets: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's CloudFormation `Definition`: best years (a table) and a series chart with a picker."""
    best = [("CategoricalDimensionField", "survey"), ("CategoricalDimensionField", "series_id"),
            ("NumericalDimensionField", "year"), ("CategoricalDimensionField", "basis")]
    return {
        "DataSetIdentifierDeclarations": [{"Identifier": name, "DataSetArn": arn} for name, arn in datasets.items()],
        "Sheets": [
            {"SheetId": "best-years", "Name": "Best years", "Visuals": [{"TableVisual": {
                "VisualId": "best-years-table", "Title": _title("The best year of every series"),
                "ChartConfiguration": {"FieldWells": {"TableAggregatedFieldWells": {
                    "GroupBy": [{kind: {"FieldId": f"best-{name}", "Column": _column("best", name)}}
                                for kind, name in best],
                    "Values": [{"NumericalMeasureField": {
                        "FieldId": "best-value", "Column": _column("best", "value"),
                        "AggregationFunction": {"SimpleNumericalAggregation": "SUM"}}}],
                }}},
            }}]},
            {"SheetId": "series", "Name": "Series",
             "FilterControls": [{"Dropdown": {"FilterControlId": "series-picker", "Title": "Series",
                                              "SourceFilterId": "series-filter", "Type": "MULTI_SELECT"}}],
             "Visuals": [{"LineChartVisual": {
                 "VisualId": "series-chart", "Title": _title("Sum of the sub-annual values by year"),
                 "ChartConfiguration": {"FieldWells": {"LineChartAggregatedFieldWells": {
                     "Category": [{"NumericalDimensionField": {"FieldId": "annual-year",
                                                               "Column": _column("annual", "year")}}],
                     "Values": [{"NumericalMeasureField": {
                         "FieldId": "annual-sum", "Column": _column("annual", "value_sum"),
                         "AggregationFunction": {"SimpleNumericalAggregation": "SUM"}}}],
                     "Colors": [{"CategoricalDimensionField": {"FieldId": "annual-series",
                                                               "Column": _column("annual", "series_id")}}],
                 }}},
             }}]},
        ],
        "FilterGroups": [{
            "FilterGroupId": "series-filter-group", "CrossDataset": "SINGLE_DATASET", "Status": "ENABLED",
            "Filters": [{"CategoryFilter": {
                "FilterId": "series-filter", "Column": _column("annual", "series_id"),
                "Configuration": {"FilterListConfiguration": {"MatchOperator": "CONTAINS",
                                                              "SelectAllOptions": "FILTER_ALL_VALUES"}}}}],
            "ScopeConfiguration": {"SelectedSheets": {"SheetVisualScopingConfigurations": [
                {"SheetId": "series", "Scope": "ALL_VISUALS"}]}},
        }],
    }


def add_if_asked(stack: Any, data: Any) -> QuickSight | None:
    """The QuickSight resources when the context names a principal (`quicksight_principal`), else nothing."""
    principal = data.config.quicksight_principal
    if not principal:
        return None
    resources = QuickSight(stack, "QuickSight", data=data, principal=principal)
    CfnOutput(stack, "QuickSightDashboardId", value=f"{resources.prefix}-gold")
    return resources
