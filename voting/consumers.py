"""Websocket consumers of live results: one per question results page, one per session summary panel.

Only the session's organizers and participants may connect (refused in ``connect``). A watcher
gets the current snapshot first, then every newer version pushed to its audience's group;
a version that is not newer than the last one sent is dropped, so a client never moves back.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from voting import live

Snapshot = Callable[[], tuple[int, str]]


class LiveConsumer(AsyncWebsocketConsumer):
    """Admit or refuse, join the audience's group, send the snapshot, then forward newer versions only."""

    group = ""
    sent_version = -1

    def admit(self) -> tuple[str, Snapshot] | None:
        """(group, snapshot maker) for this socket's scope, or None to refuse it. Runs in a thread (ORM)."""
        raise NotImplementedError

    async def connect(self) -> None:
        """Refuse outsiders before accepting; the snapshot is taken after joining, so no version falls between."""
        admitted = await database_sync_to_async(self.admit)()
        if admitted is None:
            await self.close()
            return
        self.group, snapshot = admitted
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.forward(*await database_sync_to_async(snapshot)())

    async def forward(self, version: int, html: str) -> None:
        """Send a fragment unless the client already has this version or a newer one."""
        if version > self.sent_version:
            self.sent_version = version
            await self.send(text_data=html)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Forward pushed versions straight away; everything else the Channels way.

        Channels' dispatch first hops to a thread to close stale database connections, once per
        message and socket; a push touches no database, and at thousands of watchers that hop
        was half of the server's time (docs/benchmarks.md).
        """
        if message["type"] == "live.update":
            await self.live_update(message)
        elif message["type"] == "live.reset":
            await self.live_reset(message)
        else:
            await super().dispatch(message)

    async def live_update(self, event: dict[str, Any]) -> None:
        """A new version from the group (``type: live.update``)."""
        await self.forward(event["version"], event["html"])

    async def live_reset(self, event: dict[str, Any]) -> None:
        """What the client must show now, whatever it had (``type: live.reset``, after a visibility change)."""
        self.sent_version = event["version"]
        await self.send(text_data=event["html"])

    async def disconnect(self, code: int) -> None:
        """Leave the group."""
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Watchers only listen; anything they send is ignored."""


class QuestionResultsConsumer(LiveConsumer):
    """``/ws/questions/<id>/``: the question's results fragment, live."""

    def admit(self) -> tuple[str, Snapshot] | None:
        """Organizers and participants of the question's session; never a draft or a missing question."""
        found = live.question_audience(self.scope["url_route"]["kwargs"]["question_id"], self.scope)
        if found is None:
            return None
        question, audience = found
        return live.question_group(question.pk, audience), partial(live.question_snapshot, question, audience)


class SessionSummaryConsumer(LiveConsumer):
    """``/ws/sessions/<id>/``: the session's summary panel, live."""

    def admit(self) -> tuple[str, Snapshot] | None:
        """Organizers and participants of the session."""
        found = live.session_audience(self.scope["url_route"]["kwargs"]["session_id"], self.scope)
        if found is None:
            return None
        session, audience = found
        snapshot = partial(live.render_session_summary, session, is_organizer=audience == live.ORGANIZERS)
        return live.session_group(session.pk, audience), snapshot
