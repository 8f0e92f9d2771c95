"""The runtime: flows answering real conversations.

* :class:`Bot` signs one identity in and serves every conversation with its flow(s);
* :class:`Engine` turns event-channel items into flow inputs (per-conversation order);
* :class:`Catalog` and :class:`Route`: several flows on one account, and which one answers
  an invitation; :class:`Limits`: when new invitations are shed; :class:`Reloaded`: what
  a hot reload (``Engine.reload``) did;
* :class:`FlowInstance` is one conversation's run of the flow;
* :class:`Port` is everything the interpreter may ask of UCWA (:class:`UcwaPort`);
* :mod:`ucwa_flow.runtime.trace` has the records every step emits;
* :class:`Caller` is a person's side of a chat (``ucwa-flow run`` on the simulator and the
  conversation-test runner); :class:`CallerError` is a step the person cannot take.
"""

from ucwa_flow.runtime.bot import Bot
from ucwa_flow.runtime.caller import Caller, CallerError, Heard
from ucwa_flow.runtime.engine import Engine
from ucwa_flow.runtime.flowmachine import FlowMachine
from ucwa_flow.runtime.instance import FlowInstance
from ucwa_flow.runtime.limits import Limits
from ucwa_flow.runtime.port import Port, UcwaPort
from ucwa_flow.runtime.routing import Catalog, Route
from ucwa_flow.runtime.versions import Reloaded

__all__ = [
    "Bot",
    "Caller",
    "CallerError",
    "Catalog",
    "Engine",
    "FlowInstance",
    "FlowMachine",
    "Heard",
    "Limits",
    "Port",
    "Reloaded",
    "Route",
    "UcwaPort",
]
