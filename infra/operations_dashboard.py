"""The operations dashboard (issue 22): what the pipeline did over the last days, in one CloudWatch page.

- every metric of `chalicelib.core.metrics.CATALOG` (the EMF lines the functions write), daily sums,
  one graph per group;
- the alarms' states;
- the queues' depth and oldest message (analysis, continuation, lake and their dead-letter queues);
- each function's errors, throttles and duration.
Both deploy paths get it (the function names are fixed).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib.core.metrics import CATALOG, NAMESPACE, SERVICE

DAY = Duration.days(1)
HOUR = Duration.hours(1)
DEFAULT_RANGE = "-P14D"


def pipeline_metric(name: str, label: str, statistic: str = "Sum", period: Duration = DAY) -> cloudwatch.Metric:
    return cloudwatch.Metric(namespace=NAMESPACE, metric_name=name, dimensions_map={"service": SERVICE},
                             statistic=statistic, period=period, label=label)


def lambda_metric(name: str, function_name: str, statistic: str, period: Duration = HOUR) -> cloudwatch.Metric:
    return cloudwatch.Metric(namespace="AWS/Lambda", metric_name=name, dimensions_map={"FunctionName": function_name},
                             statistic=statistic, period=period, label=function_name)


class OperationsDashboard(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, dashboard_name: str,
                 alarms: Sequence[cloudwatch.IAlarm], queues: dict[str, sqs.IQueue],
                 function_names: Sequence[str]) -> None:
        super().__init__(scope, construct_id)
        groups: dict[str, list[cloudwatch.IMetric]] = {}
        for spec in CATALOG:
            groups.setdefault(spec.group, []).append(pipeline_metric(spec.name, spec.label, spec.statistic))
        pipeline_widgets: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(title=f"{group} (per day)", left=metrics, width=8, height=6,
                                   view=cloudwatch.GraphWidgetView.BAR if len(metrics) > 1 else
                                   cloudwatch.GraphWidgetView.TIME_SERIES)
            for group, metrics in groups.items()
        ]
        alarm_widget = cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(alarms), width=24, height=4)
        queue_widgets = [
            cloudwatch.GraphWidget(
                title="Queues: messages waiting", width=12, height=6,
                left=[queue.metric_approximate_number_of_messages_visible(period=HOUR, statistic="Maximum",
                                                                          label=name)
                      for name, queue in queues.items()]),
            cloudwatch.GraphWidget(
                title="Queues: age of the oldest message (s)", width=12, height=6,
                left=[queue.metric_approximate_age_of_oldest_message(period=HOUR, statistic="Maximum", label=name)
                      for name, queue in queues.items()]),
        ]
        function_widgets = [
            cloudwatch.GraphWidget(title="Functions: errors and throttles", width=12, height=6,
                                   left=[lambda_metric("Errors", name, "Sum") for name in function_names],
                                   right=[lambda_metric("Throttles", name, "Sum") for name in function_names]),
            cloudwatch.GraphWidget(title="Functions: duration (ms, p95)", width=12, height=6,
                                   left=[lambda_metric("Duration", name, "p95") for name in function_names]),
        ]
        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=dashboard_name, start=DEFAULT_RANGE,
            widgets=[[alarm_widget], pipeline_widgets[:3], pipeline_widgets[3:], queue_widgets, function_widgets],
        )
