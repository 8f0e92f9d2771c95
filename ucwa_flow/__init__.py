"""ucwa-flow: declarative state-machine bots for Skype for Business Server (UCWA).

The public API is re-exported here as the layers land; see ``docs/architecture.md``.
"""

from __future__ import annotations

from ucwa_flow.clock import Clock, ManualClock, SystemClock
from ucwa_flow.errors import OperationalError, UcwaFlowError

__all__ = ["Clock", "ManualClock", "OperationalError", "SystemClock", "UcwaFlowError"]
__version__ = "0.1.0.dev0"
