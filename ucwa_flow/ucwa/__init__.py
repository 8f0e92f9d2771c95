"""The UCWA protocol layer: wire client, WebTicket auth, event channel, event decoder.

It knows nothing of flows. The seams:

* :class:`UcwaClient` signs one identity in (:func:`discover`, :class:`WebTicketAuth`),
  holds its :class:`Application` and performs IM operations by following links;
* :class:`EventChannel` is the one P-GET loop of that application, yielding decoded
  event batches in order and :class:`ConversationsLost` records, each at a
  :class:`ReadPosition` (durable consumers resume from a stored one); its ``stats``
  (:class:`ChannelStats`) count reconnects, resyncs and application re-creations;
* the decoder turns event-channel bodies into frozen records.
"""

from __future__ import annotations

from ucwa_flow.ucwa._stats import ChannelStats
from ucwa_flow.ucwa.application import Application
from ucwa_flow.ucwa.auth import WebTicketAuth
from ucwa_flow.ucwa.channel import EventChannel
from ucwa_flow.ucwa.channel_items import ChannelItem, ConversationsLost, ReadPosition
from ucwa_flow.ucwa.client import UcwaClient
from ucwa_flow.ucwa.discovery import Discovery, discover
from ucwa_flow.ucwa.identity import endpoint_id_for

__all__ = [
    "Application",
    "ChannelItem",
    "ChannelStats",
    "ConversationsLost",
    "Discovery",
    "EventChannel",
    "ReadPosition",
    "UcwaClient",
    "WebTicketAuth",
    "discover",
    "endpoint_id_for",
]
