"""Websocket consumers of live results: one per question results page, one per session summary panel.

Only the session's organizers and participants may connect (refused in ``connect``). A watcher
gets the current snapshot first, then every newer version pushed to its audience's group;
a version that is not newer than the last one sent is dropped, so a client never moves back.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from voting import live


class LiveConsumer(AsyncWebsocketConsumer):
    """Shared behaviour: join the audience's group, send the snapshot, forward newer versions only."""

    group = ""
    sent_version = -1

    async def join(self, group: str, snapshot: Awaitable[tuple[int, str]]) -> None:
        """Join ``group``, accept, then send the snapshot: taken after joining, so no version falls in between."""
        self.group = group
        await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.forward(*await snapshot)

    async def forward(self, version: int, html: str) -> None:
        """Send a fragment unless the client already has this version or a newer one."""
        if version > self.sent_version:
            self.sent_version = version
            await self.send(text_data=html)

    async def live_update(self, event: dict[str, Any]) -> None:
        """A new version from the group (``type: live.update``)."""
        await self.forward(event["version"], event["html"])

    async def disconnect(self, code: int) -> None:
        """Leave the group."""
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Watchers only listen; anything they send is ignored."""


class QuestionResultsConsumer(LiveConsumer):
    """``/ws/questions/<id>/``: the question's results fragment, live."""

    async def connect(self) -> None:
        """Refuse anyone who is neither organizer nor participant of the question's session."""
        question_id = self.scope["url_route"]["kwargs"]["question_id"]
        found = await database_sync_to_async(live.question_audience)(question_id, self.scope)
        if found is None:
            await self.close()
            return
        question, audience = found
        await self.join(
            live.question_group(question.pk, audience),
            database_sync_to_async(live.question_snapshot)(question, audience),
        )


class SessionSummaryConsumer(LiveConsumer):
    """``/ws/sessions/<id>/``: the session's summary panel, live."""

    async def connect(self) -> None:
        """Refuse anyone who is neither organizer nor participant of the session."""
        session_id = self.scope["url_route"]["kwargs"]["session_id"]
        found = await database_sync_to_async(live.session_audience)(session_id, self.scope)
        if found is None:
            await self.close()
            return
        session, audience = found
        await self.join(
            live.session_group(session.pk, audience),
            database_sync_to_async(live.render_session_summary)(session, is_organizer=audience == live.ORGANIZERS),
        )
