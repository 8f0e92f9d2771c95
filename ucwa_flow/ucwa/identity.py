"""Who a client says it is: SIP addresses, the stable EndpointId, the UserAgent."""

from __future__ import annotations

import uuid

from ucwa_flow import __version__

__all__ = ["default_user_agent", "endpoint_id_for", "sip_uri"]


def sip_uri(address: str) -> str:
    """``sip:user@domain`` for ``user@domain`` or ``sip:user@domain``."""
    address = address.strip()
    return address if address.lower().startswith("sip:") else f"sip:{address}"


def endpoint_id_for(user: str) -> str:
    """The stable EndpointId of a bot identity: the same after every restart.

    A UUID derived from the SIP address (case-insensitive). UCWA answers a re-POST with a
    known EndpointId with the existing application (200) instead of piling up new ones.
    """
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ucwa-flow:{sip_uri(user).lower()}"))


def default_user_agent() -> str:
    """``ucwa-flow/<version>``, the UserAgent of the applications we create: the package's
    own ``__version__``, which the build takes the distribution's version from (reading
    the installed packages' metadata instead cost every start 10-15 ms)."""
    return f"ucwa-flow/{__version__}"
