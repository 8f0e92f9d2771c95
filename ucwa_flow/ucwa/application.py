"""The :class:`Application` snapshot: the links of one UCWA application resource.

A UCWA application is the client's endpoint on the server; every other URL the client
uses is found through it. The snapshot holds those links already resolved to absolute
URLs (``urljoin`` against the URL the resource came from, server query strings kept), so
callers never build a URL. It is immutable: after makeMeAvailable, or after the
application is re-created, the client publishes a new snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ucwa_flow.ucwa._http import embedded, link, resolve
from ucwa_flow.ucwa.errors import UnexpectedResponse

__all__ = ["Application"]


@dataclass(frozen=True, slots=True)
class Application:
    """Absolute hrefs of one UCWA application, as last read from the server.

    ``generation`` counts the applications a client created (1 for the first, 2 after the
    first re-creation ...): two snapshots of the same application share it. Links that the
    server has not offered (yet) are ``None``: ``report_my_activity_href`` appears only
    after makeMeAvailable, and ``make_me_available_href`` disappears then.

    ``reattached`` is True when sign-in got back an application that existed before
    (the server answered 200 to the POST with our EndpointId, not 201; see
    :meth:`~ucwa_flow.ucwa.UcwaClient.sign_in`): its conversations and its unacknowledged
    events are still there. Snapshots of the same application keep it.
    """

    self_href: str
    events_href: str
    generation: int
    me_href: str | None = None
    uri: str | None = None
    name: str | None = None
    make_me_available_href: str | None = None
    report_my_activity_href: str | None = None
    communication_href: str | None = None
    start_messaging_href: str | None = None
    conversations_href: str | None = None
    batch_href: str | None = None
    reattached: bool = False

    @property
    def is_available(self) -> bool:
        """True once makeMeAvailable has succeeded (the server offers reportMyActivity)."""
        return self.report_my_activity_href is not None

    @classmethod
    def from_resource(
        cls,
        resource: Mapping[str, Any],
        base_url: str,
        *,
        generation: int,
        reattached: bool = False,
    ) -> Application:
        """Read a snapshot from an application resource fetched from ``base_url``.

        Raises :class:`UnexpectedResponse` when the resource lacks ``self`` or ``events``.
        """
        self_href = link(resource, "self")
        events_href = link(resource, "events")
        if self_href is None or events_href is None:
            raise UnexpectedResponse(
                f"the application resource from {base_url} has no self or events link"
            )
        me = embedded(resource, "me")
        communication = embedded(resource, "communication")

        def absolute(source: Mapping[str, Any], rel: str) -> str | None:
            href = link(source, rel)
            return resolve(base_url, href) if href else None

        uri = me.get("uri")
        name = me.get("name")
        return cls(
            self_href=resolve(base_url, self_href),
            events_href=resolve(base_url, events_href),
            generation=generation,
            me_href=absolute(me, "self"),
            uri=uri if isinstance(uri, str) else None,
            name=name if isinstance(name, str) else None,
            make_me_available_href=absolute(me, "makeMeAvailable"),
            report_my_activity_href=absolute(me, "reportMyActivity"),
            communication_href=absolute(communication, "self"),
            start_messaging_href=absolute(communication, "startMessaging"),
            conversations_href=absolute(communication, "conversations"),
            batch_href=absolute(resource, "batch"),
            reattached=reattached,
        )
