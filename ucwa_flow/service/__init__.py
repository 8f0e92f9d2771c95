"""``ucwa-flow serve``: a deployment's bot accounts in one long-lived process.

:class:`Service` turns a :class:`~ucwa_flow.deploy.Deployment` into running, supervised,
durable bots (one per account), reloads their flows without dropping a conversation,
starts scheduled outbound conversations and stops gracefully; it is what the admin
endpoint asks for readiness, reloads and outbound starts. See :mod:`._service`. With a
PostgreSQL store the process is one worker of several sharing the accounts through leases:
:class:`Coordinator` (:mod:`._coordinator`, docs/ha.md).
"""

from ucwa_flow.admin import AccountHealth, Readiness, ReloadReport
from ucwa_flow.service._account import AccountRunner, Server, describe_error
from ucwa_flow.service._backoff import Backoff
from ucwa_flow.service._coordinator import Coordinator, account_digest
from ucwa_flow.service._preflight import SecretsUnreadable, preflight
from ucwa_flow.service._service import FlowsRefused, Service
from ucwa_flow.service._stores import StoreNotOpened, store_target

__all__ = [
    "AccountHealth",
    "AccountRunner",
    "Backoff",
    "Coordinator",
    "FlowsRefused",
    "Readiness",
    "ReloadReport",
    "SecretsUnreadable",
    "Server",
    "Service",
    "StoreNotOpened",
    "account_digest",
    "describe_error",
    "preflight",
    "store_target",
]
