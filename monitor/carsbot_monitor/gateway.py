"""Every Telegram request the monitor makes, with FloodWait and dead-session handling in one place.

* ``FloodWaitError`` is never slept inside Telethon (the client has ``flood_sleep_threshold=0``). Here a
  wait up to ``flood_wait_max_seconds`` is slept (and reported) and the request retried; a longer one
  raises :class:`FloodDeferred` so the caller reschedules the work. A flood on one kind of request also
  holds back the next requests of that kind instead of hammering Telegram.
* Errors meaning "this session is dead" (revoked, unregistered, AUTH_KEY_DUPLICATED) become
  :class:`SessionDead`, which ends the session phase without any retry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from carsbot_monitor import health
from carsbot_monitor.health import Telemetry
from carsbot_monitor.session import SessionDead, dead_reason, is_session_dead

T = TypeVar("T")


class FloodDeferred(RuntimeError):
    """Telegram asked to wait longer than the monitor sleeps inline; retry the work later."""

    def __init__(self, what: str, seconds: float) -> None:
        super().__init__(f"flood wait of {seconds:.0f}s on {what}")
        self.what = what
        self.seconds = seconds


class JoinFailed(RuntimeError):
    """A channel cannot be joined/resolved until an admin changes something (stored as join_error)."""


def _flood_seconds(exc: BaseException) -> float | None:
    from telethon import errors

    if isinstance(exc, errors.FloodWaitError | errors.FloodPremiumWaitError | errors.SlowModeWaitError):
        return float(getattr(exc, "seconds", 0) or 1)
    return None


class TelegramGateway:
    def __init__(
        self,
        get_client: Callable[[], Any],
        telemetry: Telemetry,
        *,
        flood_wait_max: float = 900.0,
        max_flood_retries: int = 3,
        logger: Any = None,
    ) -> None:
        self._get_client = get_client
        self.telemetry = telemetry
        self.flood_wait_max = flood_wait_max
        self.max_flood_retries = max_flood_retries
        self.logger = logger or telemetry.logger
        self._flood_until: dict[str, float] = {}

    @property
    def client(self) -> Any:
        client = self._get_client()
        if client is None:
            raise ConnectionError("not connected to Telegram")
        return client

    async def _gate(self, what: str) -> None:
        until = self._flood_until.get(what, 0.0)
        wait = until - time.monotonic()
        if wait <= 0:
            return
        if wait > self.flood_wait_max:
            raise FloodDeferred(what, wait)
        await asyncio.sleep(wait)

    async def call(self, what: str, make: Callable[[], Awaitable[T]]) -> T:
        """Run ``make()`` (a fresh coroutine per attempt) with FloodWait and dead-session handling."""
        attempt = 0
        while True:
            await self._gate(what)
            try:
                return await make()
            except Exception as exc:
                seconds = _flood_seconds(exc)
                if seconds is None:
                    if is_session_dead(exc):
                        raise SessionDead(dead_reason(exc)) from exc
                    raise
                attempt += 1
                self._flood_until[what] = time.monotonic() + seconds
                self.telemetry.count(health.FLOOD_WAITS)
                self.telemetry.count(health.FLOOD_WAIT_SECONDS, seconds, unit="Seconds")
                self.logger.warning(
                    "telegram flood wait", extra={"request": what, "seconds": seconds, "attempt": attempt}
                )
                if seconds > self.flood_wait_max or attempt > self.max_flood_retries:
                    raise FloodDeferred(what, seconds) from exc
                await asyncio.sleep(seconds)

    # ---------------------------------------------------------------- requests
    async def request(self, what: str, request_factory: Callable[[], Any]) -> Any:
        return await self.call(what, lambda: self.client(request_factory()))

    async def me(self) -> Any:
        from telethon import functions, types

        users = await self.request("get_me", lambda: functions.users.GetUsersRequest([types.InputUserSelf()]))
        return users[0] if users else None

    async def probe(self) -> None:
        from telethon import functions

        await self.request("probe", lambda: functions.updates.GetStateRequest())

    async def resolve_username(self, username: str) -> Any:
        """The channel behind ``username`` (one ResolveUsername request; heavily flood-limited)."""
        from telethon import errors, functions, types

        try:
            resolved = await self.request(
                "resolve", lambda: functions.contacts.ResolveUsernameRequest(username=username)
            )
        except (errors.UsernameNotOccupiedError, errors.UsernameInvalidError) as exc:
            raise JoinFailed(f"@{username} does not exist") from exc
        peer = resolved.peer
        if not isinstance(peer, types.PeerChannel):
            raise JoinFailed(f"@{username} is not a channel")
        for chat in resolved.chats:
            if isinstance(chat, types.Channel) and chat.id == peer.channel_id:
                return chat
            if isinstance(chat, types.ChannelForbidden) and chat.id == peer.channel_id:
                raise JoinFailed(f"@{username}: access to the channel is forbidden")
        raise JoinFailed(f"@{username}: Telegram returned no channel")

    async def join_channel(self, channel_id: int, access_hash: int) -> Any:
        """Join a public channel by id + access hash; already being a participant is success."""
        from telethon import errors, functions, types

        channel = types.InputChannel(channel_id, access_hash)
        try:
            updates = await self.request("join", lambda: functions.channels.JoinChannelRequest(channel))
        except errors.UserAlreadyParticipantError:
            return None
        except errors.ChannelsTooMuchError as exc:
            raise JoinFailed("the account is in too many channels (Telegram allows 500)") from exc
        except (errors.ChannelPrivateError, errors.ChannelInvalidError, errors.ChannelBannedError) as exc:
            raise JoinFailed(f"cannot join: {type(exc).__name__}") from exc
        for chat in getattr(updates, "chats", []) or []:
            if isinstance(chat, types.Channel) and chat.id == channel_id:
                return chat
        return None

    async def join_invite(self, invite_hash: str) -> Any:
        """Join through a private invite; returns the channel. "Already a participant" is success."""
        from telethon import errors, functions, types

        def _channel(chat: Any) -> Any:
            if isinstance(chat, types.Channel):
                return chat
            if isinstance(chat, types.ChannelForbidden):
                raise JoinFailed("access to the channel is forbidden (banned?)")
            raise JoinFailed("the invite is not for a channel")

        try:
            invite = await self.request(
                "check_invite", lambda: functions.messages.CheckChatInviteRequest(hash=invite_hash)
            )
        except (errors.InviteHashExpiredError, errors.InviteHashInvalidError) as exc:
            raise JoinFailed(
                f"the invite link is {'expired' if 'Expired' in type(exc).__name__ else 'invalid'}"
            ) from exc
        if isinstance(invite, types.ChatInviteAlready):
            return _channel(invite.chat)
        try:
            updates = await self.request(
                "join", lambda: functions.messages.ImportChatInviteRequest(hash=invite_hash)
            )
        except errors.UserAlreadyParticipantError:
            again = await self.request(
                "check_invite", lambda: functions.messages.CheckChatInviteRequest(hash=invite_hash)
            )
            if isinstance(again, types.ChatInviteAlready | types.ChatInvitePeek):
                return _channel(again.chat)
            raise JoinFailed("Telegram says we are a participant but does not show the channel") from None
        except errors.InviteRequestSentError as exc:
            raise JoinFailed("a join request was sent; approve it in the channel, then resume it") from exc
        except (errors.InviteHashExpiredError, errors.InviteHashInvalidError) as exc:
            raise JoinFailed("the invite link is expired or invalid") from exc
        except errors.ChannelsTooMuchError as exc:
            raise JoinFailed("the account is in too many channels (Telegram allows 500)") from exc
        for chat in getattr(updates, "chats", []) or []:
            if isinstance(chat, types.Channel | types.ChannelForbidden):
                return _channel(chat)
        raise JoinFailed("joined, but Telegram returned no channel")

    async def top_message_id(self, peer: Any) -> int:
        """The newest message id of a channel (0 when empty)."""
        from telethon import functions

        history = await self.request(
            "history",
            lambda: functions.messages.GetHistoryRequest(
                peer=peer, offset_id=0, offset_date=None, add_offset=0, limit=1, max_id=0, min_id=0, hash=0
            ),
        )
        messages = getattr(history, "messages", []) or []
        return max((m.id for m in messages), default=0)

    async def top_ids(self, peers: Sequence[Any]) -> dict[int, int]:
        """Newest message id per channel for up to 100 channels in one request (GetPeerDialogs)."""
        from telethon import functions, types

        if not peers:
            return {}
        result = await self.request(
            "dialogs",
            lambda: functions.messages.GetPeerDialogsRequest(peers=[types.InputDialogPeer(p) for p in peers]),
        )
        tops: dict[int, int] = {}
        for dialog in getattr(result, "dialogs", []) or []:
            if isinstance(dialog.peer, types.PeerChannel):
                tops[dialog.peer.channel_id] = int(dialog.top_message)
        return tops

    async def history(self, peer: Any, min_id: int, limit: int) -> tuple[list[Any], bool]:
        """Messages newer than ``min_id``, ascending, at most ``limit``.

        Returns ``(messages, complete)``; ``complete`` is ``False`` when the read stopped early (a flood
        wait or the limit), in which case the messages are still a gap-free prefix.
        """
        messages: list[Any] = []

        async def _read() -> None:
            remaining = limit - len(messages)
            if remaining <= 0:
                return
            after = messages[-1].id if messages else min_id
            async for message in self.client.iter_messages(
                peer, limit=remaining, min_id=after, reverse=True, wait_time=0
            ):
                messages.append(message)

        try:
            await self.call("history", _read)
        except FloodDeferred:
            return messages, False
        return messages, len(messages) < limit

    async def get_messages(self, peer: Any, ids: Sequence[int]) -> list[Any]:
        result = await self.call("get_messages", lambda: self.client.get_messages(peer, ids=list(ids)))
        return [m for m in (result or []) if m is not None]

    async def download(self, message: Any) -> bytes | None:
        data = await self.call("download", lambda: self.client.download_media(message, file=bytes))
        return bytes(data) if isinstance(data, bytes | bytearray) else None
