"""Deployment files: what ``ucwa-flow serve`` runs (accounts, flows, routes, limits,
the store, the admin endpoint, logging).

:func:`load_deployment` reads one into a :class:`Deployment` or raises
:class:`DeploymentError` with every problem at ``file:line:col``;
:func:`check_deployment_flows` loads the flows it names. The file format is documented in
``docs/deploy.md`` and described by ``schemas/deploy.schema.json``.
"""

from ucwa_flow._listen import parse_listen
from ucwa_flow.deploy._errors import DEPLOY_RULES, DeploymentError, DeploymentFileError
from ucwa_flow.deploy._loader import (
    DeploymentFlows,
    check_deployment_flows,
    deployment_flow_diagnostics,
    is_deployment_file,
    load_deployment,
    load_deployment_flows,
)
from ucwa_flow.deploy._model import (
    AccountSpec,
    AdminSpec,
    Deployment,
    FlowSpec,
    LimitsSpec,
    LoggingSpec,
    RouteSpec,
    ScheduleSpec,
    SecretSource,
    ServerSpec,
    SourceSpot,
    WorkersSpec,
)

__all__ = [
    "DEPLOY_RULES",
    "AccountSpec",
    "AdminSpec",
    "Deployment",
    "DeploymentError",
    "DeploymentFileError",
    "DeploymentFlows",
    "FlowSpec",
    "LimitsSpec",
    "LoggingSpec",
    "RouteSpec",
    "ScheduleSpec",
    "SecretSource",
    "ServerSpec",
    "SourceSpot",
    "WorkersSpec",
    "check_deployment_flows",
    "deployment_flow_diagnostics",
    "is_deployment_file",
    "load_deployment",
    "load_deployment_flows",
    "parse_listen",
]
