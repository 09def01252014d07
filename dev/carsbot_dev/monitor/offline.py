"""An in-process stand-in for Telegram's servers, at the request level, for tests and the benchmark.

:class:`OfflineClient` is a real :class:`telethon.TelegramClient` whose network edge is replaced: it never
opens a socket; ``connect``/``disconnect`` register it with an :class:`OfflineTelegram` world, and every
request that Telethon would send (after Telethon built and resolved it) is answered by the world the way
Telegram answers it — history pages with ``offset_id``/``add_offset`` semantics, joins, invites, username
resolution, file parts, login with SRP 2FA, RPC errors such as ``FLOOD_WAIT_X``,
``AUTH_KEY_UNREGISTERED`` or ``USER_ALREADY_PARTICIPANT``. Live updates are raw TL updates fed to
``client._dispatch_update``, exactly where Telethon's update loop hands them to event builders.

The world also checks the invariant the lease protects: two connected clients with one authorization
key are recorded in :attr:`OfflineTelegram.violations` (and the key is revoked, as Telegram does).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from telethon import TelegramClient, errors, types, utils
from telethon.crypto import AuthKey
from telethon.sessions import StringSession

from carsbot_monitor.session import SessionCredentials

TEST_API_ID = 12345
TEST_API_HASH = "0123456789abcdef0123456789abcdef"  # a dummy with the right shape
TEST_ADDRESS = "192.0.2.10"  # TEST-NET-1: documentation address, never contacted


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Account:
    user_id: int
    username: str | None = None
    phone: str | None = None
    password: str | None = None


@dataclass
class StoredMessage:
    id: int
    date: datetime
    text: str = ""
    grouped_id: int | None = None
    edit_date: datetime | None = None
    photo: int | None = None  # file id
    video: int | None = None  # file id
    service: bool = False


@dataclass
class OfflineChannel:
    id: int
    access_hash: int
    title: str
    username: str | None = None
    invite: str | None = None
    invite_expired: bool = False
    # Telegram sometimes still shows an invite preview to a member; importing then says
    # USER_ALREADY_PARTICIPANT (seen after restarts). True reproduces that.
    stale_invite_check: bool = False
    members: set[int] = field(default_factory=set)
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_id: int = 1
    pts: int = 1

    @property
    def top_id(self) -> int:
        return max(self.messages, default=0)

    def tl(self, user_id: int | None = None) -> types.Channel:
        return types.Channel(
            id=self.id,
            title=self.title,
            photo=types.ChatPhotoEmpty(),
            date=_now(),
            broadcast=True,
            left=user_id not in self.members if user_id is not None else None,
            access_hash=self.access_hash,
            username=self.username,
            participants_count=len(self.members),
        )


@dataclass
class _SrpChallenge:
    b: int
    v: int
    B: bytes
    algo: Any


class OfflineClient(TelegramClient):  # type: ignore[misc]
    """A Telethon client whose requests go to an :class:`OfflineTelegram` world instead of a socket."""

    def __init__(
        self, world: OfflineTelegram, credentials: SessionCredentials | None = None, **kwargs: Any
    ) -> None:
        session = StringSession(credentials.session if credentials else None)
        super().__init__(
            session,
            credentials.api_id if credentials else TEST_API_ID,
            credentials.api_hash if credentials else TEST_API_HASH,
            receive_updates=False,
            flood_sleep_threshold=0,
            **kwargs,
        )
        self._world = world
        self._offline_connected = False
        self._offline_disconnected: asyncio.Future[None] | None = None
        world.clients.append(self)

    # ---- the network edge
    async def connect(self) -> None:
        await self._world._connect(self)

    def is_connected(self) -> bool:
        return self._offline_connected

    def disconnect(self) -> Any:
        return self._offline_disconnect()

    async def _offline_disconnect(self, error: BaseException | None = None) -> None:
        if not self._offline_connected:
            return
        self._offline_connected = False
        self._world._disconnected(self)
        future = self._offline_disconnected
        if future is not None and not future.done():
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)

    @property
    def disconnected(self) -> asyncio.Future[None]:
        if self._offline_disconnected is None:
            self._offline_disconnected = asyncio.get_running_loop().create_future()
            self._offline_disconnected.set_result(None)
        return self._offline_disconnected

    async def _call(
        self, sender: Any, request: Any, ordered: bool = False, flood_sleep_threshold: Any = None
    ) -> Any:
        if not self._offline_connected:
            raise ConnectionError("Cannot send requests while disconnected")
        requests = list(request) if utils.is_list_like(request) else [request]
        for item in requests:
            await item.resolve(self, utils)
        results = [await self._world._handle(self, item) for item in requests]
        return results if utils.is_list_like(request) else results[0]

    @property
    def auth_key_bytes(self) -> bytes | None:
        key = self.session.auth_key
        return key.key if key else None


class OfflineTelegram:
    """The world: accounts, channels with history, connected clients and a request log."""

    def __init__(self, *, dc_id: int = 2, seed: int | None = None) -> None:
        self.dc_id = dc_id
        self.rng = random.Random(seed)
        self.accounts: dict[bytes, Account] = {}
        self.users: dict[int, Account] = {}
        self.revoked: dict[bytes, type[errors.RPCError]] = {}
        self.channels: dict[int, OfflineChannel] = {}
        self.files: dict[int, bytes] = {}
        self.clients: list[OfflineClient] = []
        self.connected: list[OfflineClient] = []
        self.requests: Counter[str] = Counter()
        self.connects = 0
        self.connects_by_key: Counter[bytes] = Counter()
        self.violations: list[str] = []
        self.fail_connects = 0
        # While set and not open, connecting waits here (a slow network / handshake).
        self.connect_gate: asyncio.Event | None = None
        # request name -> coroutine function awaited before the request is answered (a slow server).
        self.request_hooks: dict[str, Callable[[], Awaitable[None]]] = {}
        self.flood: dict[str, list[int]] = {}
        self.drop_rate = 0.0  # share of live updates Telegram "forgets" to push
        self.live = True
        self.codes: dict[str, str] = {}
        self._srp: dict[int, _SrpChallenge] = {}
        self._next_channel = 1_700_000_000
        self._next_file = 5_000_000_000

    # ------------------------------------------------------------------------ setup
    def create_account(
        self,
        user_id: int,
        *,
        username: str | None = None,
        phone: str | None = None,
        password: str | None = None,
    ) -> Account:
        account = self.users.get(user_id) or Account(user_id, username, phone, password)
        self.users[user_id] = account
        return account

    def create_session(
        self, account: Account | int, *, api_id: int = TEST_API_ID, api_hash: str = TEST_API_HASH
    ) -> SessionCredentials:
        """A logged-in session (new authorization key) for ``account``."""
        if isinstance(account, int):
            account = self.create_account(account)
        session = StringSession()
        session.set_dc(self.dc_id, TEST_ADDRESS, 443)
        session.auth_key = AuthKey(os.urandom(256))
        self.accounts[session.auth_key.key] = account
        return SessionCredentials(api_id=api_id, api_hash=api_hash, session=session.save())

    def revoke(
        self, credentials: SessionCredentials, error: type[errors.RPCError] = errors.AuthKeyUnregisteredError
    ) -> None:
        """Telegram forgets/revokes this authorization (as after a logout or AUTH_KEY_DUPLICATED)."""
        key = StringSession(credentials.session).auth_key
        assert key is not None
        self.revoked[key.key] = error

    def client_factory(self, credentials: SessionCredentials) -> OfflineClient:
        return OfflineClient(self, credentials)

    def add_channel(
        self,
        title: str,
        *,
        username: str | None = None,
        invite: str | None = None,
        members: Iterable[int] = (),
    ) -> OfflineChannel:
        self._next_channel += 1
        channel = OfflineChannel(
            id=self._next_channel,
            access_hash=self.rng.getrandbits(63),
            title=title,
            username=username.lower() if username else None,
            invite=invite,
            members=set(members),
        )
        self.channels[channel.id] = channel
        return channel

    def channel_by_username(self, username: str) -> OfflineChannel | None:
        name = username.lower().lstrip("@")
        return next((c for c in self.channels.values() if c.username == name), None)

    def script_flood(self, request_name: str, *seconds: int) -> None:
        """The next calls of ``request_name`` (e.g. ``JoinChannelRequest``) answer FLOOD_WAIT_<s>."""
        self.flood.setdefault(request_name, []).extend(seconds)

    # ------------------------------------------------------------------------ publishing
    def _store(self, channel: OfflineChannel, message: StoredMessage) -> StoredMessage:
        channel.messages[message.id] = message
        return message

    def _file(self, data: bytes) -> int:
        self._next_file += 1
        self.files[self._next_file] = data
        return self._next_file

    async def publish(
        self,
        channel: OfflineChannel,
        text: str = "",
        *,
        photo: bytes | None = None,
        video: bytes | None = None,
        deliver: bool | None = None,
        date: datetime | None = None,
    ) -> StoredMessage:
        message = self._store(
            channel,
            StoredMessage(
                id=channel.next_id,
                date=date or _now(),
                text=text,
                photo=self._file(photo) if photo is not None else None,
                video=self._file(video) if video is not None else None,
            ),
        )
        channel.next_id += 1
        await self._push_new(channel, [message], deliver)
        return message

    async def publish_album(
        self,
        channel: OfflineChannel,
        items: Sequence[tuple[str, bytes]],
        *,
        deliver: bool | None = None,
        date: datetime | None = None,
        push_first: int | None = None,
    ) -> list[StoredMessage]:
        """An album: one message per ``(caption, photo)``; captions may be empty on any item.

        ``push_first=n`` pushes only the first ``n`` items live (the rest of the album's updates are
        lost, as when Telegram does not push them); history has every item.
        """
        grouped_id = self.rng.getrandbits(62) | (1 << 62)  # 64-bit album ids
        when = date or _now()
        messages = []
        for text, photo in items:
            messages.append(
                self._store(
                    channel,
                    StoredMessage(
                        id=channel.next_id,
                        date=when,
                        text=text,
                        grouped_id=grouped_id,
                        photo=self._file(photo),
                    ),
                )
            )
            channel.next_id += 1
        await self._push_new(channel, messages if push_first is None else messages[:push_first], deliver)
        return messages

    async def service_message(self, channel: OfflineChannel, *, deliver: bool | None = None) -> StoredMessage:
        message = self._store(channel, StoredMessage(id=channel.next_id, date=_now(), service=True))
        channel.next_id += 1
        await self._push_new(channel, [message], deliver)
        return message

    async def edit(
        self, channel: OfflineChannel, message_id: int, text: str, *, deliver: bool | None = None
    ) -> None:
        message = channel.messages[message_id]
        message.text = text
        message.edit_date = _now()
        if self._should_deliver(deliver):
            channel.pts += 1
            for client in self._receivers(channel):
                update = types.UpdateEditChannelMessage(self._tl_message(channel, message), channel.pts, 1)
                await self._dispatch(client, channel, update)

    async def delete(
        self, channel: OfflineChannel, message_ids: Sequence[int], *, deliver: bool | None = None
    ) -> None:
        for message_id in message_ids:
            channel.messages.pop(message_id, None)
        if self._should_deliver(deliver):
            channel.pts += len(message_ids)
            for client in self._receivers(channel):
                update = types.UpdateDeleteChannelMessages(
                    channel.id, list(message_ids), channel.pts, len(message_ids)
                )
                await self._dispatch(client, channel, update)

    def _should_deliver(self, deliver: bool | None) -> bool:
        if deliver is not None:
            return deliver
        return self.live and (self.drop_rate <= 0 or self.rng.random() >= self.drop_rate)

    def _receivers(self, channel: OfflineChannel) -> list[OfflineClient]:
        receivers = []
        for client in self.connected:
            account = self._account_of(client)
            if account is not None and account.user_id in channel.members:
                receivers.append(client)
        return receivers

    async def _push_new(
        self, channel: OfflineChannel, messages: list[StoredMessage], deliver: bool | None
    ) -> None:
        if not self._should_deliver(deliver):
            return
        for client in self._receivers(channel):
            for message in messages:
                channel.pts += 1
                update = types.UpdateNewChannelMessage(self._tl_message(channel, message), channel.pts, 1)
                await self._dispatch(client, channel, update)

    async def _dispatch(self, client: OfflineClient, channel: OfflineChannel, update: Any) -> None:
        chat = channel.tl(self._account_of(client).user_id)  # type: ignore[union-attr]
        update._entities = {utils.get_peer_id(types.PeerChannel(channel.id)): chat}
        client._mb_entity_cache.extend([], [chat])
        await client._dispatch_update(update)

    # ------------------------------------------------------------------------ TL objects
    def _tl_message(self, channel: OfflineChannel, message: StoredMessage) -> Any:
        peer = types.PeerChannel(channel.id)
        if message.service:
            return types.MessageService(
                id=message.id,
                peer_id=peer,
                date=message.date,
                action=types.MessageActionPinMessage(),
                post=True,
            )
        media: Any = None
        if message.photo is not None:
            data = self.files[message.photo]
            media = types.MessageMediaPhoto(
                photo=types.Photo(
                    id=message.photo,
                    access_hash=message.photo ^ 0x5A5A,
                    file_reference=b"ref",
                    date=message.date,
                    sizes=[types.PhotoSize(type="y", w=800, h=600, size=len(data))],
                    dc_id=self.dc_id,
                )
            )
        elif message.video is not None:
            data = self.files[message.video]
            media = types.MessageMediaDocument(
                document=types.Document(
                    id=message.video,
                    access_hash=message.video ^ 0x5A5A,
                    file_reference=b"ref",
                    date=message.date,
                    mime_type="video/mp4",
                    size=len(data),
                    dc_id=self.dc_id,
                    attributes=[
                        types.DocumentAttributeVideo(duration=5, w=640, h=480),
                        types.DocumentAttributeFilename("video.mp4"),
                    ],
                )
            )
        return types.Message(
            id=message.id,
            peer_id=peer,
            date=message.date,
            message=message.text,
            post=True,
            media=media,
            grouped_id=message.grouped_id,
            edit_date=message.edit_date,
        )

    # ------------------------------------------------------------------------ connections
    def _account_of(self, client: OfflineClient) -> Account | None:
        key = client.auth_key_bytes
        return self.accounts.get(key) if key else None

    async def _connect(self, client: OfflineClient) -> None:
        self.connects += 1
        await asyncio.sleep(0)
        if self.fail_connects > 0:
            self.fail_connects -= 1
            raise ConnectionError("offline world: connection refused")
        if client._offline_connected:
            return
        if self.connect_gate is not None:
            await self.connect_gate.wait()
        if client.session.auth_key is None:  # a brand-new session (login): the key exchange
            client.session.set_dc(self.dc_id, TEST_ADDRESS, 443)
            client.session.auth_key = AuthKey(os.urandom(256))
        key = client.auth_key_bytes
        assert key is not None
        self.connects_by_key[key] += 1
        if any(other.auth_key_bytes == key for other in self.connected):
            self.violations.append(f"two clients connected with one authorization key ({key[:4].hex()}...)")
            self.revoked[key] = errors.AuthKeyDuplicatedError
        client._offline_connected = True
        client._offline_disconnected = asyncio.get_running_loop().create_future()
        self.connected.append(client)

    def _disconnected(self, client: OfflineClient) -> None:
        if client in self.connected:
            self.connected.remove(client)

    async def drop_connection(self, client: OfflineClient, error: BaseException | None = None) -> None:
        """The network drops this client's connection (Telethon gave up reconnecting)."""
        await client._offline_disconnect(error)

    # ------------------------------------------------------------------------ requests
    async def _handle(self, client: OfflineClient, request: Any) -> Any:
        name = type(request).__name__
        self.requests[name] += 1
        await asyncio.sleep(0)
        hook = self.request_hooks.get(name)
        if hook is not None:
            await hook()
        key = client.auth_key_bytes
        if key in self.revoked:
            raise self.revoked[key](request=request)
        if self.flood.get(name):
            seconds = self.flood[name].pop(0)
            raise errors.FloodWaitError(request=request, capture=seconds)
        handler = getattr(self, f"_rpc_{name}", None)
        if handler is None:
            raise NotImplementedError(f"the offline Telegram does not answer {name}")
        if name not in _NO_AUTH and (key is None or key not in self.accounts):
            raise errors.AuthKeyUnregisteredError(request=request)
        return await handler(client, request)

    def _channel_for(self, request: Any, peer: Any, account: Account) -> OfflineChannel:
        channel_id = getattr(peer, "channel_id", None)
        channel = self.channels.get(channel_id) if channel_id is not None else None
        if channel is None or getattr(peer, "access_hash", None) != channel.access_hash:
            raise errors.ChannelInvalidError(request=request)
        if account.user_id not in channel.members and channel.username is None:
            raise errors.ChannelPrivateError(request=request)
        return channel

    def _me(self, client: OfflineClient) -> Account:
        account = self._account_of(client)
        assert account is not None
        return account

    def _user_tl(self, account: Account) -> types.User:
        return types.User(
            id=account.user_id,
            is_self=True,
            access_hash=account.user_id * 7,
            first_name="Monitor",
            username=account.username,
        )

    async def _rpc_GetUsersRequest(self, client: OfflineClient, request: Any) -> Any:
        return [self._user_tl(self._me(client))]

    async def _rpc_GetStateRequest(self, client: OfflineClient, request: Any) -> Any:
        return types.updates.State(pts=1, qts=0, date=_now(), seq=1, unread_count=0)

    async def _rpc_GetDifferenceRequest(self, client: OfflineClient, request: Any) -> Any:
        return types.updates.DifferenceEmpty(date=_now(), seq=1)

    async def _rpc_ResolveUsernameRequest(self, client: OfflineClient, request: Any) -> Any:
        channel = self.channel_by_username(request.username)
        if channel is None:
            raise errors.UsernameNotOccupiedError(request=request)
        return types.contacts.ResolvedPeer(
            peer=types.PeerChannel(channel.id), chats=[channel.tl(self._me(client).user_id)], users=[]
        )

    async def _rpc_JoinChannelRequest(self, client: OfflineClient, request: Any) -> Any:
        account = self._me(client)
        channel = self.channels.get(request.channel.channel_id)
        if channel is None or request.channel.access_hash != channel.access_hash:
            raise errors.ChannelInvalidError(request=request)
        if channel.username is None and account.user_id not in channel.members:
            raise errors.ChannelPrivateError(request=request)
        channel.members.add(account.user_id)
        return types.Updates(updates=[], users=[], chats=[channel.tl(account.user_id)], date=_now(), seq=0)

    def _by_invite(self, request: Any) -> OfflineChannel:
        channel = next((c for c in self.channels.values() if c.invite == request.hash), None)
        if channel is None:
            raise errors.InviteHashInvalidError(request=request)
        if channel.invite_expired:
            raise errors.InviteHashExpiredError(request=request)
        return channel

    async def _rpc_CheckChatInviteRequest(self, client: OfflineClient, request: Any) -> Any:
        account = self._me(client)
        channel = self._by_invite(request)
        if account.user_id in channel.members:
            if not channel.stale_invite_check:
                return types.ChatInviteAlready(chat=channel.tl(account.user_id))
            channel.stale_invite_check = False  # answers with a preview once, correctly afterwards
        return types.ChatInvite(
            title=channel.title,
            photo=types.PhotoEmpty(id=0),
            participants_count=len(channel.members),
            color=0,
            channel=True,
            broadcast=True,
        )

    async def _rpc_ImportChatInviteRequest(self, client: OfflineClient, request: Any) -> Any:
        account = self._me(client)
        channel = self._by_invite(request)
        if account.user_id in channel.members:
            raise errors.UserAlreadyParticipantError(request=request)
        channel.members.add(account.user_id)
        return types.Updates(updates=[], users=[], chats=[channel.tl(account.user_id)], date=_now(), seq=0)

    async def _rpc_GetHistoryRequest(self, client: OfflineClient, request: Any) -> Any:
        account = self._me(client)
        channel = self._channel_for(request, request.peer, account)
        ordered = sorted(channel.messages, reverse=True)  # newest first, like Telegram
        if request.offset_id:
            position = next((i for i, mid in enumerate(ordered) if mid < request.offset_id), len(ordered))
        else:
            position = 0
        # The window is [position + add_offset, position + add_offset + limit), clipped to the list: a
        # negative add_offset reads messages newer than offset_id (what reverse iteration relies on).
        end = position + request.add_offset + max(0, request.limit)
        start = max(0, position + request.add_offset)
        page = ordered[start : max(start, end)]
        page = [
            mid
            for mid in page
            if (not request.min_id or mid > request.min_id) and (not request.max_id or mid < request.max_id)
        ]
        return types.messages.ChannelMessages(
            pts=channel.pts,
            count=len(ordered),
            messages=[self._tl_message(channel, channel.messages[mid]) for mid in page],
            topics=[],
            chats=[channel.tl(account.user_id)],
            users=[],
        )

    async def _rpc_GetMessagesRequest(self, client: OfflineClient, request: Any) -> Any:
        account = self._me(client)
        channel = self._channel_for(request, request.channel, account)
        found: list[Any] = []
        for item in request.id:
            stored = channel.messages.get(getattr(item, "id", -1))
            found.append(
                self._tl_message(channel, stored)
                if stored
                else types.MessageEmpty(id=item.id, peer_id=types.PeerChannel(channel.id))
            )
        return types.messages.ChannelMessages(
            pts=channel.pts,
            count=len(found),
            messages=found,
            topics=[],
            chats=[channel.tl(account.user_id)],
            users=[],
        )

    async def _rpc_GetPeerDialogsRequest(self, client: OfflineClient, request: Any) -> Any:
        account = self._me(client)
        dialogs, messages, chats = [], [], []
        for dialog_peer in request.peers:
            channel = self._channel_for(request, dialog_peer.peer, account)
            if account.user_id not in channel.members:
                raise errors.ChannelPrivateError(request=request)
            dialogs.append(
                types.Dialog(
                    peer=types.PeerChannel(channel.id),
                    top_message=channel.top_id,
                    read_inbox_max_id=0,
                    read_outbox_max_id=0,
                    unread_count=0,
                    unread_mentions_count=0,
                    unread_reactions_count=0,
                    unread_poll_votes_count=0,
                    notify_settings=types.PeerNotifySettings(),
                    pts=channel.pts,
                )
            )
            if channel.top_id:
                messages.append(self._tl_message(channel, channel.messages[channel.top_id]))
            chats.append(channel.tl(account.user_id))
        return types.messages.PeerDialogs(
            dialogs=dialogs,
            messages=messages,
            chats=chats,
            users=[],
            state=types.updates.State(pts=1, qts=0, date=_now(), seq=1, unread_count=0),
        )

    async def _rpc_GetFileRequest(self, client: OfflineClient, request: Any) -> Any:
        data = self.files.get(request.location.id)
        if data is None:
            raise errors.FileReferenceExpiredError(request=request)
        chunk = data[request.offset : request.offset + request.limit]
        return types.upload.File(type=types.storage.FilePartial(), mtime=0, bytes=chunk)

    # ---- login (auth.* answer before authorization)
    def _account_by_phone(self, phone: str) -> Account | None:
        digits = _digits(phone)
        return next((a for a in self.users.values() if a.phone and _digits(a.phone) == digits), None)

    def code_for(self, phone: str) -> str:
        """The login code "sent" to ``phone`` (what the user would read in their Telegram app)."""
        return self.codes[_digits(phone)]

    async def _rpc_SendCodeRequest(self, client: OfflineClient, request: Any) -> Any:
        if self._account_by_phone(request.phone_number) is None:
            raise errors.PhoneNumberInvalidError(request=request)
        code = f"{self.rng.randrange(10000, 99999)}"
        self.codes[_digits(request.phone_number)] = code
        return types.auth.SentCode(type=types.auth.SentCodeTypeApp(length=5), phone_code_hash="offline-hash")

    async def _rpc_SignInRequest(self, client: OfflineClient, request: Any) -> Any:
        if self.codes.get(_digits(request.phone_number)) != request.phone_code:
            raise errors.PhoneCodeInvalidError(request=request)
        account = self._account_by_phone(request.phone_number)
        assert account is not None
        if account.password:
            client._offline_pending_account = account  # type: ignore[attr-defined]
            raise errors.SessionPasswordNeededError(request=request)
        key = client.auth_key_bytes
        assert key is not None
        self.accounts[key] = account
        return types.auth.Authorization(user=self._user_tl(account))

    async def _rpc_GetPasswordRequest(self, client: OfflineClient, request: Any) -> Any:
        from telethon import password as srp

        account: Account = client._offline_pending_account  # type: ignore[attr-defined]
        assert account.password is not None
        algo = types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
            salt1=os.urandom(32), salt2=os.urandom(16), g=3, p=_srp_prime()
        )
        p = int.from_bytes(algo.p, "big")
        x = int.from_bytes(srp.compute_hash(algo, account.password), "big")
        v = pow(algo.g, x, p)
        k = int.from_bytes(srp.sha256(srp.num_bytes_for_hash(algo.p), srp.big_num_for_hash(algo.g)), "big")
        while True:
            b = int.from_bytes(os.urandom(256), "big") % p
            big_b = (k * v + pow(algo.g, b, p)) % p
            if srp.is_good_large(big_b, p):
                break
        srp_id = self.rng.getrandbits(62)
        self._srp[srp_id] = _SrpChallenge(b=b, v=v, B=srp.big_num_for_hash(big_b), algo=algo)
        return types.account.Password(
            new_algo=types.PasswordKdfAlgoUnknown(),
            new_secure_algo=types.SecurePasswordKdfAlgoUnknown(),
            secure_random=os.urandom(32),
            has_password=True,
            current_algo=algo,
            srp_B=self._srp[srp_id].B,
            srp_id=srp_id,
        )

    async def _rpc_CheckPasswordRequest(self, client: OfflineClient, request: Any) -> Any:
        from telethon import password as srp

        check = request.password
        challenge = self._srp.pop(check.srp_id, None)
        if challenge is None:
            raise errors.SrpIdInvalidError(request=request)
        algo = challenge.algo
        p = int.from_bytes(algo.p, "big")
        a_bytes = bytes(check.A)
        u = int.from_bytes(srp.sha256(a_bytes, challenge.B), "big")
        s = pow(int.from_bytes(a_bytes, "big") * pow(challenge.v, u, p) % p, challenge.b, p)
        k = srp.sha256(srp.big_num_for_hash(s))
        expected = srp.sha256(
            srp.xor(srp.sha256(srp.num_bytes_for_hash(algo.p)), srp.sha256(srp.big_num_for_hash(algo.g))),
            srp.sha256(algo.salt1),
            srp.sha256(algo.salt2),
            a_bytes,
            challenge.B,
            k,
        )
        if bytes(check.M1) != expected:
            raise errors.PasswordHashInvalidError(request=request)
        account: Account = client._offline_pending_account  # type: ignore[attr-defined]
        key = client.auth_key_bytes
        assert key is not None
        self.accounts[key] = account
        return types.auth.Authorization(user=self._user_tl(account))

    async def _rpc_InvokeWithLayerRequest(self, client: OfflineClient, request: Any) -> Any:
        return types.Config  # never reached: connect() is offline


_NO_AUTH = {
    "SendCodeRequest",
    "SignInRequest",
    "GetPasswordRequest",
    "CheckPasswordRequest",
    "InvokeWithLayerRequest",
}


def _srp_prime() -> bytes:
    """The 2048-bit safe prime Telegram uses for SRP (the one Telethon accepts without factorising)."""
    from telethon import password as srp

    for const in srp.check_prime_and_good.__code__.co_consts:
        if isinstance(const, tuple) and len(const) == 256 and all(isinstance(x, int) for x in const):
            return bytes(const)
    raise RuntimeError("cannot find Telegram's SRP prime in this Telethon version")


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


def photo_bytes(seed: int, size: int = 2048) -> bytes:
    """Deterministic fake JPEG-ish bytes (content does not matter to the monitor)."""
    return (b"\xff\xd8\xff\xe0" + hashlib.sha256(str(seed).encode()).digest() * (size // 32 + 1))[:size]
