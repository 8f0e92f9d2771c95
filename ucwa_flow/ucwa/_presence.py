"""Being available: makeMeAvailable, activity reports, presence, the keep-alive.

:class:`Presence` is the part of :class:`~ucwa_flow.ucwa.client.UcwaClient` that keeps the
user reachable for IM and the application alive; the client mixes it in. It uses only what
the client provides (declared below): the application snapshot, its refresh and
re-creation, and the client's request primitive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import httpx

from ucwa_flow.clock import Clock
from ucwa_flow.ucwa._http import link, resolve
from ucwa_flow.ucwa.application import Application
from ucwa_flow.ucwa.errors import ApplicationGone, UcwaError, UcwaHttpError

__all__ = ["FORMATS", "KEEP_ALIVE_SLEEP", "Presence"]

log = logging.getLogger("ucwa_flow.ucwa")

#: the message formats a client can offer
FORMATS = ("Plain", "Html")
#: the user whose keep-alive is sleeping until its next report, set around that sleep only
#: (not its retries' back-off): a virtual clock that skips idle time tells its timer by it
KEEP_ALIVE_SLEEP: ContextVar[str | None] = ContextVar("ucwa_keep_alive_sleep", default=None)
_FORMATS = FORMATS


class Presence:
    """makeMeAvailable, reportMyActivity, presence and the keep-alive of a client."""

    # provided by UcwaClient
    user: str
    clock: Clock
    _application: Application | None
    _formats: tuple[str, ...] | None
    _wanted_formats: tuple[str, ...] | None

    @property
    def application(self) -> Application:
        raise NotImplementedError

    async def refresh_application(self) -> Application:
        raise NotImplementedError

    async def recreate_application(self, stale: Application | None = None) -> Application:
        raise NotImplementedError

    async def get(self, href: str) -> dict[str, Any]:
        raise NotImplementedError

    def absolute(self, href: str) -> str:
        raise NotImplementedError

    async def _send(
        self,
        method: str,
        href: str,
        *,
        json: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        during_sign_in: bool = False,
    ) -> httpx.Response:
        raise NotImplementedError

    async def make_me_available(
        self, formats: Sequence[str] = _FORMATS, *, sign_in_as: str = "Online"
    ) -> Application:
        """POST makeMeAvailable (Messaging, in ``formats``) and refresh the snapshot.

        Without it the application cannot receive IMs. A second call on the same
        application (409 AlreadyExists, or no makeMeAvailable link any more) is harmless.
        """
        unknown = [f for f in formats if f not in _FORMATS]
        if unknown or not formats:
            raise ValueError(f"message formats must be among {_FORMATS}, got {list(formats)}")
        self._wanted_formats = tuple(formats)
        application = self.application
        if application.make_me_available_href is None:
            application = await self.refresh_application()
        if application.make_me_available_href is not None:
            body = {
                "SupportedModalities": ["Messaging"],
                "SupportedMessageFormats": list(formats),
                "signInAs": sign_in_as,
            }
            try:
                await self._send("POST", application.make_me_available_href, json=body)
            except UcwaHttpError as exc:
                if exc.status != 409 or exc.subcode != "AlreadyExists":
                    raise
        self._formats = tuple(formats)
        return await self.refresh_application()

    async def report_my_activity(self) -> None:
        """POST reportMyActivity (keeps the user Available and the application alive)."""
        application = self.application
        if application.report_my_activity_href is None:
            application = await self.refresh_application()
        if application.report_my_activity_href is None:
            raise UcwaError(f"{self.user}: reportMyActivity needs makeMeAvailable first")
        await self._send("POST", application.report_my_activity_href)

    async def set_my_presence(self, availability: str = "Online") -> None:
        """POST ``me/presence`` (the link the ``me`` resource gives). The server confirms
        it with a ``presence updated`` event on this application's channel even when
        nothing changed, which makes it a marker in the event stream."""
        me_href = self.application.me_href
        if me_href is None:
            raise UcwaError(f"{self.user}: the application has no me resource")
        me = await self.get(me_href)
        href = link(me, "presence")
        if href is None:
            raise UcwaError(f"{self.user}: me has no presence link (makeMeAvailable first)")
        await self._send(
            "POST", resolve(self.absolute(me_href), href), json={"availability": availability}
        )

    async def keep_alive(self, interval: float = 180.0) -> None:
        """Report activity every ``interval`` seconds (on the client's clock), forever.

        Run it as a task (:meth:`start_keep_alive`). It never dies of a server problem:
        an expired application is re-created (the event channel then reports the lost
        conversations), a missing makeMeAvailable is redone, other failures are logged and
        tried again at the next tick. UCWA wants activity at least every 4 minutes.
        """
        while True:
            sleeping = KEEP_ALIVE_SLEEP.set(self.user)
            try:
                await self.clock.sleep(interval)
            finally:
                KEEP_ALIVE_SLEEP.reset(sleeping)
            application = self._application
            if application is None:
                continue
            try:
                await self.report_my_activity()
            except UcwaHttpError as exc:
                log.warning("%s: keep-alive failed: %s", self.user, exc)
                try:
                    if isinstance(exc, ApplicationGone):
                        await self.recreate_application(application)
                    elif exc.subcode == "MakeMeAvailableRequired":
                        await self.make_me_available(self._formats or _FORMATS)
                except (UcwaError, httpx.HTTPError) as again:
                    log.warning("%s: keep-alive recovery failed: %s", self.user, again)
            except (UcwaError, httpx.HTTPError) as exc:  # e.g. a corrupt gzip body
                log.warning("%s: keep-alive failed: %s", self.user, exc)

    def start_keep_alive(self, interval: float = 180.0) -> asyncio.Task[None]:
        """Start :meth:`keep_alive` as a task; cancel the task to stop it."""
        return asyncio.get_running_loop().create_task(
            self.keep_alive(interval), name=f"ucwa-keep-alive {self.user}"
        )
