"""Deployment files: what ``ucwa-flow serve`` runs (accounts, flows, routes, limits,
the store, the admin endpoint, logging). The loader comes in ``load_deployment``."""

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
)

__all__ = [
    "AccountSpec",
    "AdminSpec",
    "Deployment",
    "FlowSpec",
    "LimitsSpec",
    "LoggingSpec",
    "RouteSpec",
    "ScheduleSpec",
    "SecretSource",
    "ServerSpec",
    "SourceSpot",
]
