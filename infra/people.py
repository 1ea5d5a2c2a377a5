"""Issue 22 in the stacks — sign-in, the operations dashboard, the VPC option — wired in with one call per stack.

`cdk deploy` (Path 1): API_AUTH defaults to `cognito` (`-c api_auth=iam|none`, or the API_AUTH variable, keep
the other modes); the user pool and app client (infra/cognito.py), API Gateway's session check
(infra/auth_api.py); the functions in a VPC if asked (infra/vpc.py); the dashboard (infra/operations_dashboard.py).
Path 2's data stack gets the dashboard (its functions are deployed by `chalice deploy`, whose API keeps the
mode in `.chalice/config.json`).
"""

from __future__ import annotations

import os
from typing import Any

from aws_cdk import CfnOutput

from infra.auth_api import STAGE, api_base_url, app_routes, require_sign_in, sign_in_settings
from infra.cognito import SignIn, SignInOptions, emulator_api_base_url
from infra.config import API_HANDLER
from infra.operations_dashboard import OperationsDashboard
from infra.vpc import FunctionNetwork, NetworkOptions

API_AUTH_MODES = ("cognito", "iam", "none")


def api_auth_mode(scope: Any) -> str:
    """`-c api_auth=…`, else the API_AUTH variable, else `cognito`."""
    value = str(scope.node.try_get_context("api_auth") or os.environ.get("API_AUTH") or "cognito").strip().lower()
    if value not in API_AUTH_MODES:
        raise ValueError(f"context 'api_auth': {value!r} is not one of {', '.join(API_AUTH_MODES)}")
    return value


def add_dashboard(stack: Any, data: Any) -> OperationsDashboard:
    """The operations dashboard of `data` (a PipelineData)."""
    config = data.config
    alarms = [data.analysis.alarm, *data.function_alarms, data.continuation.alarm, data.lake.lake_queue.alarm]
    queues = {"analysis": data.queue, "analysis dead letters": data.dead_letter_queue,
              "continuation": data.continuation_queue, "continuation dead letters": data.continuation.dead_letters,
              "lake": data.lake.queue, "lake dead letters": data.lake.dead_letter_queue}
    functions = [config.function_name(name) for name in data.roles]
    dashboard = OperationsDashboard(stack, "Operations", dashboard_name=f"bls-pipeline-{config.environment}",
                                    alarms=alarms, queues=queues, function_names=functions)
    CfnOutput(stack, "OperationsDashboard", value=dashboard.dashboard.dashboard_name)
    return dashboard


def add_to_data_stack(stack: Any) -> None:
    add_dashboard(stack, stack.data)


def add_to_pipeline_stack(stack: Any) -> None:
    """Sign-in, VPC and dashboard for a PipelineStack (after its functions are wired)."""
    data, config = stack.data, stack.data.config
    stack.api_auth = api_auth_mode(stack)
    if stack.api_auth == "cognito" and API_HANDLER in stack.functions:
        options = SignInOptions.from_context(stack, config.environment)
        bases = [api_base_url()]
        if options.emulator:  # `make deploy-local` only: the API as the emulator serves it is registered too
            bases.append(emulator_api_base_url(options.emulator, STAGE))
        stack.sign_in = SignIn(stack, "SignIn", options, callback_urls=[f"{b}/auth/callback" for b in bases],
                               logout_urls=[f"{b}/" for b in bases])
        require_sign_in(
            stack.chalice.get_resource("RestAPI"), stack.functions[API_HANDLER], config.function_name(API_HANDLER),
            app_routes(),
            sign_in_settings(stack.sign_in.pool.user_pool_id, stack.sign_in.client.user_pool_client_id,
                             stack.sign_in.base_url(), stack.sign_in.jwks_url()),
        )
        CfnOutput(stack, "UserPoolId", value=stack.sign_in.pool.user_pool_id)
        CfnOutput(stack, "UserPoolClientId", value=stack.sign_in.client.user_pool_client_id)
        CfnOutput(stack, "SignInDomain", value=stack.sign_in.base_url())
        CfnOutput(stack, "DashboardURL", value=f"{bases[-1]}/")  # on an emulator, its own URL
    network = NetworkOptions.from_context(stack)
    if network.enabled:
        stack.network = FunctionNetwork(stack, "Network", network)
        for name, function in stack.functions.items():
            function.add_property_override("VpcConfig", stack.network.vpc_config())
            stack.network.allow_network_interfaces(data.roles[name])
    add_dashboard(stack, data)
