"""The monitor: one Telethon user session that turns source-channel posts into queued posts.

Life cycle (see docs/monitor.md):

1. **Lease** — wait until this process holds the session lease (DynamoDB); keep renewing it. Losing it
   ends the session at once (disconnect) and the process goes back to waiting.
2. **Session** — read the current secret version; a version Telegram rejected (or that is not a valid
   secret) is never used again. Then the previous version (``AWSPREVIOUS``) is used if it still works,
   reported loudly; with neither, the monitor waits (polling the secret) for a new version instead of
   retry-looping. Connect, verify.
3. **Running** — live events are only enqueued; workers download media, send to SQS and advance the
   per-channel checkpoint. Catch-up (top-id probe + history backfill from the checkpoint) runs at start,
   after every (re)connect or rotation, periodically and from the idle watchdog. The registry is reloaded
   every ``registry_reload_seconds``; new channels are resolved/joined (paced); the secret is polled and a
   new session is verified and switched to without a restart.

No-loss rule: a channel's checkpoint only moves to ``N`` once every post with an id ``<= N`` was accepted
by SQS (or is known not to be a post). A live message that does not directly follow the checkpoint
triggers a history read instead, so a missed update, a failed send or a deleted message in between can
never be skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carsbot.config import Settings, get_settings
from carsbot.core.contracts import MediaRef, PostKind, QueuedPost
from carsbot_monitor import health
from carsbot_monitor.convert import (
    ChannelInfo,
    build_delete,
    build_post,
    channel_id_of,
    group_messages,
    is_post_message,
    media_spec,
)
from carsbot_monitor.gateway import FloodDeferred, JoinFailed, TelegramGateway
from carsbot_monitor.health import Heartbeat, Telemetry
from carsbot_monitor.lease import Lease
from carsbot_monitor.registry import (
    FAST_FORWARD,
    ChannelRecord,
    ChannelRegistry,
    ChannelStatus,
    peer_channel_id,
)
from carsbot_monitor.session import (
    ClientFactory,
    SessionCredentials,
    SessionDead,
    SessionSecretError,
    SessionStore,
    describe_user,
    is_session_dead,
    telethon_client,
    verify_authorized,
)
from carsbot_monitor.settings import MonitorSettings
from carsbot_monitor.sink import AwsClients, MediaStore, PostSink

# ---------------------------------------------------------------------------------------------- state


class AlbumIndex:
    """Which album (post id) a message belongs to, for recent albums (bounded LRU)."""

    def __init__(self, capacity: int = 20000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[int, int], tuple[int, tuple[int, ...]]] = OrderedDict()

    def add(self, channel_id: int, message_ids: Sequence[int]) -> None:
        if len(message_ids) < 2:
            return
        ids = tuple(sorted(message_ids))
        for message_id in ids:
            self._items[(channel_id, message_id)] = (ids[0], ids)
            self._items.move_to_end((channel_id, message_id))
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def album_of(self, channel_id: int, message_id: int) -> tuple[int, tuple[int, ...]] | None:
        return self._items.get((channel_id, message_id))


@dataclass
class ChannelState:
    """A channel the monitor watches (active and resolved), keyed by numeric channel id."""

    ref: str
    info: ChannelInfo
    access_hash: int
    checkpoint: int
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    backfill_queued: bool = False
    dirty: bool = False  # needs a backfill at ``retry_at``
    failures: int = 0
    retry_at: float = 0.0
    saved_checkpoint: int = 0
    save_retry_at: float = 0.0
    deleted: deque[int] = field(default_factory=lambda: deque(maxlen=500))

    @property
    def channel_id(self) -> int:
        return self.info.channel_id

    @property
    def peer(self) -> Any:
        from telethon.tl import types

        return types.InputPeerChannel(self.info.channel_id, self.access_hash)


@dataclass
class NewJob:
    channel_id: int
    messages: list[Any]


@dataclass
class EditJob:
    channel_id: int
    message: Any
    attempts: int = 0
    not_before: float = 0.0


@dataclass
class DeleteJob:
    channel_id: int
    message_ids: list[int]
    attempts: int = 0
    not_before: float = 0.0


@dataclass
class BackfillJob:
    channel_id: int
    reason: str


Job = NewJob | EditJob | DeleteJob | BackfillJob


@dataclass
class _Pending:
    record: ChannelRecord
    retry_at: float = 0.0
    failures: int = 0
    rejoin: bool = False  # access was lost: only the resolver (a join) may bring it back


# ---------------------------------------------------------------------------------------------- monitor


class Monitor:
    """One monitor process. ``await run()`` until ``request_stop()`` (SIGTERM) or cancellation."""

    def __init__(
        self,
        *,
        settings: Settings | None = None,
        config: MonitorSettings | None = None,
        client_factory: ClientFactory = telethon_client,
        session_store: SessionStore | None = None,
        registry: ChannelRegistry | None = None,
        sink: PostSink | None = None,
        media_store: MediaStore | None = None,
        lease: Lease | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.config = config or MonitorSettings()
        self.client_factory = client_factory
        clients = AwsClients()  # one boto3 session for every service: each extra session costs ~7 MB
        self.store = session_store or SessionStore(
            self.settings.telegram_session_secret, clients.secretsmanager
        )
        self.registry = registry or ChannelRegistry()
        self.sink = sink or PostSink(self.settings.posts_queue_url, clients.sqs)
        self.media_store = media_store or (
            MediaStore(self.settings.media_bucket, clients.s3)
            if self.config.media_enabled and self.settings.media_bucket
            else None
        )
        cfg = self.config
        self.lease = lease or Lease(
            cfg.lease_key,
            duration=cfg.lease_seconds,
            margin=min(cfg.lease_margin_seconds, cfg.lease_seconds / 2),
        )
        self.telemetry = telemetry or Telemetry()
        self.log = self.telemetry.logger
        self.heartbeat = Heartbeat(Path(cfg.heartbeat_file))
        self.tg = TelegramGateway(
            lambda: self.client, self.telemetry, flood_wait_max=cfg.flood_wait_max_seconds, logger=self.log
        )

        self.state = "created"
        self.client: Any = None
        self.credentials: SessionCredentials | None = None
        self.account: dict[str, Any] = {}
        self.channels: dict[int, ChannelState] = {}
        self.by_ref: dict[str, int] = {}
        self.pending: dict[str, _Pending] = {}
        self.albums = AlbumIndex()
        self.dead_versions: set[str] = set()
        self.rejected_versions: set[str] = set()
        # Set while the session in use is the AWSPREVIOUS fallback: (unusable current version, reason).
        self.fallback_from: tuple[str, str] | None = None
        self._fallbacks_reported: set[tuple[str, str]] = set()
        self.connect_attempts = 0
        self.last_update = time.monotonic()
        self._deferred: deque[EditJob | DeleteJob] = deque(maxlen=10000)
        self._queue: asyncio.Queue[Job] | None = None
        # Events bind to the running loop on first use (Python >= 3.10), so they can be made here; a stop
        # requested before run() starts is honoured.
        self._stop: asyncio.Event | None = asyncio.Event()
        self._phase_end: asyncio.Event | None = None
        self._phase_reason = ""
        self._registry_wakeup: asyncio.Event | None = asyncio.Event()
        self._next_join_at = 0.0
        self._phase_tasks: list[asyncio.Task[Any]] = []
        self._backoff = 0
        self._last_catchup = 0.0
        self._started = time.monotonic()
        # Blocking AWS calls run on a small dedicated pool: bounded concurrency and memory (every thread
        # that allocates gets its own malloc arena).
        self._executor = ThreadPoolExecutor(
            max_workers=self.config.workers + 4, thread_name_prefix="monitor-io"
        )

    async def _blocking(self, function: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Run a blocking (boto3/pynamodb) call on the monitor's I/O pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args, **kwargs))

    # ------------------------------------------------------------------------------------ control
    def request_stop(self) -> None:
        """Graceful stop (SIGTERM): finish the job in hand, disconnect, release the lease."""
        if self._stop is not None:
            self._stop.set()

    @property
    def queue(self) -> asyncio.Queue[Job]:
        if self._queue is None:
            self._queue = asyncio.Queue(maxsize=self.config.queue_max)
        return self._queue

    async def run(self) -> int:
        assert self._stop is not None
        self.state = "standby"
        beat = asyncio.create_task(self._heartbeat_loop(), name="monitor-heartbeat")
        self.log.info("monitor starting", extra={"owner": self.lease.owner, "stage": self.settings.stage})
        try:
            while not self._stop.is_set():
                self.state = "standby"
                if not await self._acquire_lease():
                    break
                lost = asyncio.Event()
                keeper = asyncio.create_task(self._keep_lease(lost), name="monitor-lease")
                try:
                    await self._while_owner(lost)
                finally:
                    keeper.cancel()
                    await self._disconnect()  # first: never stay connected while waiting for tasks
                    await self._finish_tasks([keeper])
                if lost.is_set() and not self._stop.is_set():
                    self.telemetry.count(health.LEASE_LOST)
                    self.log.warning("session lease lost; disconnected, waiting to re-acquire it")
            self.state = "stopping"
            with contextlib.suppress(Exception):
                if await self._blocking(self.lease.release):
                    self.log.info("session lease released")
            return 0
        finally:
            self.state = "stopped"
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)
            self._write_heartbeat()
            self.telemetry.flush()
            self._executor.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------------------------ lease
    async def _acquire_lease(self) -> bool:
        assert self._stop is not None
        announced = False
        while not self._stop.is_set():
            try:
                if await self._blocking(self.lease.try_acquire):
                    self.telemetry.count(health.LEASE_ACQUIRED)
                    self.log.info(
                        "session lease acquired",
                        extra={"owner": self.lease.owner, "version": self.lease.version},
                    )
                    return True
                if not announced:
                    announced = True
                    self.log.info("session lease held by another process; standing by")
            except Exception as exc:
                self.log.warning("lease acquisition failed", extra={"error": repr(exc)})
            await _wait_any(self._stop, timeout=self.config.lease_poll_seconds)
        return False

    async def _keep_lease(self, lost: asyncio.Event) -> None:
        period = min(self.config.lease_renew_seconds, self.lease.duration / 3)
        while True:
            remaining = self.lease.valid_until - time.monotonic()
            await asyncio.sleep(max(0.0, min(period, remaining)))
            remaining = self.lease.valid_until - time.monotonic()
            if remaining <= 0:
                lost.set()
                return
            try:
                async with asyncio.timeout(remaining):
                    renewed = await self._blocking(self.lease.renew)
            except TimeoutError:
                lost.set()
                return
            except Exception as exc:
                self.log.warning("lease renewal failed; retrying", extra={"error": repr(exc)})
                continue
            if not renewed:
                lost.set()
                return

    # ------------------------------------------------------------------------------------ session
    async def _while_owner(self, lost: asyncio.Event) -> None:
        assert self._stop is not None
        # A new ownership epoch: checkpoints are re-read from the table (another owner may have moved them).
        self.channels.clear()
        self.by_ref.clear()
        self.pending.clear()
        while not self._stop.is_set() and not lost.is_set():
            credentials = await self._usable_credentials(lost)
            if credentials is None:
                return
            outcome = await self._session(credentials, lost)
            if outcome in {"error", "disconnected"} and not self._stop.is_set() and not lost.is_set():
                delay = self._next_backoff()
                self.log.info("reconnecting", extra={"after_seconds": round(delay, 1), "reason": outcome})
                await _wait_any(self._stop, lost, timeout=delay)

    def _next_backoff(self) -> float:
        self._backoff += 1
        base = self.config.reconnect_min_seconds * (2 ** min(self._backoff - 1, 10))
        return min(self.config.reconnect_max_seconds, base) * random.uniform(0.8, 1.2)

    async def _usable_credentials(self, lost: asyncio.Event) -> SessionCredentials | None:
        """The credentials to connect with, or ``None`` once stopped or the lease is lost.

        The current secret version, unless it is unusable (not a valid session secret, or rejected by
        Telegram): then the previous version (``AWSPREVIOUS``) if that one is still usable — the fallback
        is reported once connected (:meth:`_report_fallback`) and rotation keeps polling ``AWSCURRENT``.
        With neither, wait (polling the secret) for a new version; an unusable version is never retried.
        """
        assert self._stop is not None
        reported: str | None = None
        while not self._stop.is_set() and not lost.is_set():
            problem: str
            try:
                current, previous = await self._blocking(self.store.staged_versions)
            except Exception as exc:
                problem = (
                    str(exc) if isinstance(exc, SessionSecretError) else f"cannot read the secret: {exc!r}"
                )
            else:
                if current is None:
                    problem = "the session secret has no value; run `carsbot session login`"
                else:
                    credentials, problem = await self._load_version(current)
                    if credentials is not None:
                        self.fallback_from = None
                        return credentials
                    # Only a version known to be unusable falls back (not a failed read: that is retried).
                    if current in self.dead_versions and previous and previous != current:
                        fallback, previous_problem = await self._load_version(previous)
                        if fallback is not None:
                            self.fallback_from = (current, problem)
                            return fallback
                        problem = f"{problem}; the previous version is unusable too: {previous_problem}"
            self.state = "waiting-session"
            if problem != reported:
                reported = problem
                self.log.error("monitor is not connected", extra={"reason": problem})
            await _wait_any(self._stop, lost, timeout=self.config.secret_poll_seconds)
        return None

    async def _load_version(self, version: str) -> tuple[SessionCredentials | None, str]:
        """The credentials of ``version``, or ``None`` and why not (an invalid secret is remembered)."""
        if version in self.dead_versions:
            return None, f"secret version {version} is unusable (invalid or rejected by Telegram)"
        try:
            return await self._blocking(self.store.load, version), ""
        except SessionSecretError as exc:
            self.dead_versions.add(version)
            return None, f"secret version {version}: {exc}"
        except Exception as exc:
            return None, f"cannot read the secret: {exc!r}"

    def _report_fallback(self, credentials: SessionCredentials) -> None:
        """Connected with the previous secret version because the current one is unusable: say so."""
        if self.fallback_from is None:
            return
        current, reason = self.fallback_from
        key = (current, credentials.version_id or "")
        if key in self._fallbacks_reported:
            return
        self._fallbacks_reported.add(key)
        self.telemetry.count(health.SESSION_ROTATION_FAILED)
        self.telemetry.flush()
        self.log.error(
            "the current session secret version is unusable; running on the previous version (AWSPREVIOUS)"
            " until a working new version is stored",
            extra={"secret_version": current, "previous_version": credentials.version_id, "reason": reason},
        )

    def _mark_dead(self, credentials: SessionCredentials, reason: str) -> None:
        if credentials.version_id:
            self.dead_versions.add(credentials.version_id)
        self.telemetry.count(health.SESSION_INVALID)
        self.telemetry.flush()
        self.log.error(
            "telegram rejected the session; this secret version is never used again (the previous"
            " version is tried if it is still usable, else the monitor waits for a new version)",
            extra={"reason": reason, "secret_version": credentials.version_id},
        )

    async def _connect(self, credentials: SessionCredentials) -> tuple[Any, Any]:
        """A connected, verified client for ``credentials`` (raises on failure, leaving it disconnected)."""
        if not self.lease.held:
            raise ConnectionError("refusing to connect without holding the session lease")
        client = self.client_factory(credentials)
        self.connect_attempts += 1
        self.telemetry.count(health.CONNECTS)
        try:
            async with asyncio.timeout(self.config.connect_timeout_seconds):
                await client.connect()
            async with asyncio.timeout(self.config.connect_timeout_seconds):
                user = await verify_authorized(client)
        except BaseException:
            await _quiet_disconnect(client)
            raise
        return client, user

    async def _session(self, credentials: SessionCredentials, lost: asyncio.Event) -> str:
        assert self._stop is not None
        self.state = "connecting"
        try:
            # Connecting can take a while (Telethon retries); losing the lease meanwhile aborts it at once,
            # so this process never ends up connected while another one holds the lease.
            client, user = await _unless_set(self._connect(credentials), self._stop, lost)
        except _Interrupted:
            return "stop" if self._stop.is_set() else "lost"
        except SessionDead as exc:
            self._mark_dead(credentials, exc.reason)
            return "dead"
        except Exception as exc:
            if is_session_dead(exc):
                self._mark_dead(credentials, repr(exc))
                return "dead"
            self.telemetry.count(health.CONNECT_FAILED)
            self.log.warning("connecting to telegram failed", extra={"error": repr(exc)})
            return "error"
        if lost.is_set() or self._stop.is_set():
            await _quiet_disconnect(client)
            return "lost"
        self.client, self.credentials = client, credentials
        self.account = describe_user(user)
        self._attach(client)
        self._backoff = 0
        self._report_fallback(credentials)
        self.state = "running"
        self.log.info(
            "connected to telegram", extra={**self.account, "secret_version": credentials.version_id}
        )
        self._phase_end = asyncio.Event()
        self._phase_reason = ""
        loaded = asyncio.Event()
        tasks = [
            asyncio.create_task(self._worker(i), name=f"monitor-worker-{i}")
            for i in range(self.config.workers)
        ]
        tasks += [
            asyncio.create_task(self._registry_loop(loaded), name="monitor-registry"),
            asyncio.create_task(self._resolver_loop(), name="monitor-resolver"),
            asyncio.create_task(self._catchup_loop(loaded), name="monitor-catchup"),
            asyncio.create_task(self._maintenance_loop(), name="monitor-maintenance"),
            asyncio.create_task(self._watchdog_loop(), name="monitor-watchdog"),
            asyncio.create_task(self._rotation_loop(), name="monitor-rotation"),
            asyncio.create_task(self._disconnect_watch(client), name="monitor-disconnect-watch"),
        ]
        self._phase_tasks = tasks
        try:
            await _wait_any(self._stop, lost, self._phase_end)
            if self._stop.is_set():
                await self._drain()
        finally:
            for task in tasks:
                task.cancel()
            # Disconnect before waiting for the tasks: a task that is slow to end (or swallows its
            # cancellation) must never keep this process connected after the lease was lost.
            await self._disconnect()
            await self._finish_tasks(self._phase_tasks)
        if self._stop.is_set():
            return "stop"
        if lost.is_set():
            return "lost"
        return self._phase_reason or "disconnected"

    def _end_phase(self, reason: str) -> None:
        if self._phase_end is not None and not self._phase_end.is_set():
            self._phase_reason = reason
            self._phase_end.set()

    def _session_died(self, exc: SessionDead) -> None:
        if self._phase_end is not None and self._phase_end.is_set():
            return  # already ending (several tasks may hit the dead session at once)
        if self.credentials is not None:
            self._mark_dead(self.credentials, exc.reason)
        self._end_phase("dead")

    async def _drain(self) -> None:
        """On a graceful stop, give queued work a moment to finish (checkpoints cover the rest)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5.0):
                await self.queue.join()

    async def _finish_tasks(self, tasks: Sequence[asyncio.Task[Any]], grace: float = 10.0) -> None:
        """Cancel ``tasks`` and wait (at most ``grace`` seconds) until they have ended."""
        stuck = await _cancel_and_wait(tasks, grace)
        if stuck:
            self.log.error(
                "monitor tasks did not stop when cancelled; continuing without them",
                extra={"tasks": sorted(task.get_name() for task in tasks if task in stuck)},
            )

    async def _disconnect(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            self._detach(client)
            await _quiet_disconnect(client)
            self.log.info("disconnected from telegram")
        if self.state in {"running", "connecting"}:
            self.state = "standby"

    async def _disconnect_watch(self, client: Any) -> None:
        try:
            await client.disconnected
        except Exception as exc:
            if client is self.client:
                if is_session_dead(exc):
                    self._session_died(SessionDead(repr(exc)))
                    return
                self.log.warning("telegram connection closed", extra={"error": repr(exc)})
        if client is self.client:
            self._end_phase("disconnected")

    # ------------------------------------------------------------------------------------ events
    def _attach(self, client: Any) -> None:
        from telethon import events

        client.add_event_handler(self._on_new_message, events.NewMessage())
        client.add_event_handler(self._on_album, events.Album())
        client.add_event_handler(self._on_edit, events.MessageEdited())
        client.add_event_handler(self._on_delete, events.MessageDeleted())
        client.add_event_handler(self._on_any_update, events.Raw())

    def _detach(self, client: Any) -> None:
        for callback in (
            self._on_new_message,
            self._on_album,
            self._on_edit,
            self._on_delete,
            self._on_any_update,
        ):
            with contextlib.suppress(Exception):
                client.remove_event_handler(callback)

    async def _on_any_update(self, update: Any) -> None:
        self.last_update = time.monotonic()

    def _watched(self, channel_id: int | None) -> ChannelState | None:
        return self.channels.get(channel_id) if channel_id is not None else None

    async def _on_new_message(self, event: Any) -> None:
        message = event.message
        if not is_post_message(message):
            return  # service messages are not posts (their ids are covered by the checkpoint logic)
        if getattr(message, "grouped_id", None) is not None:
            return  # album items arrive together as one events.Album
        channel = self._watched(channel_id_of(message))
        if channel is not None:
            self._enqueue(NewJob(channel.channel_id, [message]), channel)

    async def _on_album(self, event: Any) -> None:
        messages = [m for m in event.messages if is_post_message(m)]
        # Telethon keeps every album's collector in client._albums forever; drop ours once delivered.
        albums = getattr(event.client, "_albums", None) if hasattr(event, "client") else None
        if isinstance(albums, dict):
            albums.pop(event.grouped_id, None)
        if not messages:
            return
        channel = self._watched(channel_id_of(messages[0]))
        if channel is not None:
            self._enqueue(NewJob(channel.channel_id, messages), channel)

    async def _on_edit(self, event: Any) -> None:
        message = event.message
        if not is_post_message(message):
            return
        channel = self._watched(channel_id_of(message))
        if channel is not None:
            self._enqueue(EditJob(channel.channel_id, message), channel)

    async def _on_delete(self, event: Any) -> None:
        chat_id = getattr(event, "chat_id", None)
        if chat_id is None:
            return  # deletions outside channels carry no chat; not ours
        channel = self._watched(peer_channel_id(int(chat_id)))
        if channel is not None and event.deleted_ids:
            self._enqueue(DeleteJob(channel.channel_id, list(event.deleted_ids)), channel)

    def _enqueue(self, job: Job, channel: ChannelState | None = None) -> None:
        try:
            self.queue.put_nowait(job)
        except asyncio.QueueFull:
            self.telemetry.count(health.EVENTS_DROPPED)
            if isinstance(job, EditJob | DeleteJob):
                self._deferred.append(job)
            elif channel is not None:
                channel.dirty = True  # the backfill will read it from history
                channel.retry_at = 0.0

    def _enqueue_backfill(self, channel: ChannelState, reason: str) -> None:
        if channel.backfill_queued:
            return
        channel.backfill_queued = True
        try:
            self.queue.put_nowait(BackfillJob(channel.channel_id, reason))
        except asyncio.QueueFull:
            channel.backfill_queued = False
            channel.dirty = True

    # ------------------------------------------------------------------------------------ workers
    async def _worker(self, index: int) -> None:
        while True:
            job = await self.queue.get()
            try:
                await self._handle(job)
            except SessionDead as exc:
                self._requeue_if_needed(job)
                self._session_died(exc)
            except asyncio.CancelledError:
                self._requeue_if_needed(job)
                raise
            except Exception as exc:
                self._requeue_if_needed(job)
                self.log.exception("job failed", extra={"job": type(job).__name__, "error": repr(exc)})
            finally:
                self.queue.task_done()

    def _requeue_if_needed(self, job: Job) -> None:
        if isinstance(job, EditJob | DeleteJob):
            job.attempts += 1
            self._defer(job)
        else:
            channel = self.channels.get(job.channel_id)
            if channel is not None:
                if isinstance(job, BackfillJob):
                    channel.backfill_queued = False
                self._mark_failed(channel)

    def _defer(self, job: EditJob | DeleteJob) -> None:
        job.not_before = time.monotonic() + self.config.retry_base_seconds * (2 ** min(job.attempts, 8))
        self._deferred.append(job)
        if job.attempts >= self.config.send_attempts and job.attempts % self.config.send_attempts == 0:
            self.log.error(
                "an edit/deletion keeps failing; still retrying",
                extra={"channel_id": job.channel_id, "attempts": job.attempts},
            )

    def _mark_failed(self, channel: ChannelState, delay: float | None = None) -> None:
        """Something went wrong for this channel: re-read it from the checkpoint later (backing off)."""
        channel.failures += 1
        if delay is None:
            delay = min(300.0, self.config.retry_base_seconds * (2 ** min(channel.failures, 8)))
        self._schedule(channel, delay)

    def _schedule(self, channel: ChannelState, delay: float) -> None:
        """Re-read this channel from its checkpoint in ``delay`` seconds."""
        channel.dirty = True
        channel.retry_at = time.monotonic() + delay

    async def _handle(self, job: Job) -> None:
        channel = self.channels.get(job.channel_id)
        if channel is None:
            return  # paused/removed meanwhile
        async with channel.lock:
            if self.channels.get(job.channel_id) is not channel:
                return
            if isinstance(job, BackfillJob):
                channel.backfill_queued = False
                await self._backfill(channel, job.reason)
            elif isinstance(job, NewJob):
                await self._live_new(channel, job.messages)
            elif isinstance(job, EditJob):
                await self._live_edit(channel, job)
            else:
                await self._live_delete(channel, job)

    async def _live_new(self, channel: ChannelState, messages: list[Any]) -> None:
        ids = sorted(m.id for m in messages)
        low, high = ids[0], ids[-1]
        if high <= channel.checkpoint:
            return  # already queued (by a backfill)
        if any(getattr(m, "grouped_id", None) is not None for m in messages):
            # An album can reach us in pieces (an item's update late, e.g. after Telethon's gap recovery,
            # or never pushed): queuing the items that arrived would split it into two posts, one maybe
            # without its caption. History has every item: read it from the checkpoint instead (the
            # backfill holds a trailing album back until it has settled).
            await self._backfill(channel, "album")
            return
        if low != channel.checkpoint + 1:
            # Something between the checkpoint and this message was not seen (or not queued): read
            # history from the checkpoint instead, which includes this message.
            await self._backfill(channel, "gap")
            return
        if any(i in channel.deleted for i in ids):
            await self._advance(channel, high, None)
            return
        media = await self._media_for(channel, messages)
        post = build_post(channel.info, messages, media=media)
        try:
            await self._blocking(self.sink.send, post)
        except Exception as exc:
            self.telemetry.count(health.SEND_FAILED)
            self.log.warning(
                "queueing a post failed; it will be re-read",
                extra={"post_id": post.post_id, "error": repr(exc)},
            )
            self._mark_failed(channel)
            return
        self.telemetry.count(health.POSTS_QUEUED)
        self.albums.add(channel.channel_id, ids)
        await self._advance(channel, high, post.date)

    async def _live_edit(self, channel: ChannelState, job: EditJob) -> None:
        message = job.message
        if message.id > channel.checkpoint:
            # Not queued yet: the backfill reads its current (edited) text.
            await self._backfill(channel, "edit-before-queue")
            return
        items = [message]
        group = getattr(message, "grouped_id", None)
        if group is not None:
            around = range(max(1, message.id - 9), message.id + 10)
            fetched = await self.tg.get_messages(channel.peer, list(around))
            album = [m for m in fetched if is_post_message(m) and m.grouped_id == group]
            if album:
                items = album
        media = await self._media_for(channel, items)
        post = build_post(channel.info, items, kind=PostKind.EDIT, media=media)
        if post.edit_date is None:
            post = post.model_copy(update={"edit_date": post.date})
        await self._send_or_defer(post, job)
        self.telemetry.count(health.EDITS_QUEUED)

    async def _live_delete(self, channel: ChannelState, job: DeleteJob) -> None:
        deleted = sorted(set(job.message_ids))
        channel.deleted.extend(deleted)
        gone = set(channel.deleted)
        posts: dict[int, list[int]] = {}
        for message_id in deleted:
            album = self.albums.album_of(channel.channel_id, message_id)
            if album is None:
                posts[message_id] = [message_id]
                continue
            first, members = album
            if set(members) <= gone:
                posts[first] = list(members)
            # else: only some photos of an album are gone so far; the listing stays.
        for first, ids in sorted(posts.items()):
            await self._send_or_defer(build_delete(channel.info, first, ids), job)
            self.telemetry.count(health.DELETES_QUEUED)

    async def _send_or_defer(self, post: QueuedPost, job: EditJob | DeleteJob) -> None:
        try:
            await self._blocking(self.sink.send, post)
        except Exception as exc:
            self.telemetry.count(health.SEND_FAILED)
            self.log.warning(
                "queueing an update failed; will retry", extra={"post_id": post.post_id, "error": repr(exc)}
            )
            raise

    async def _advance(self, channel: ChannelState, message_id: int, date: Any) -> None:
        """Move the checkpoint (memory first, then DynamoDB; a failed write is retried later)."""
        if message_id <= channel.checkpoint:
            return
        channel.checkpoint = message_id
        channel.failures = 0
        try:
            await self._blocking(self.registry.advance_checkpoint, channel.ref, message_id, date)
            channel.saved_checkpoint = max(channel.saved_checkpoint, message_id)
        except Exception as exc:
            channel.save_retry_at = time.monotonic() + 5.0
            self.log.warning(
                "saving a checkpoint failed; will retry", extra={"ref": channel.ref, "error": repr(exc)}
            )

    # ------------------------------------------------------------------------------------ backfill
    async def _backfill(self, channel: ChannelState, reason: str) -> None:
        """Queue everything after the checkpoint that history shows, in order, stopping at a failure."""
        self.telemetry.count(health.BACKFILL_RUNS)
        channel.dirty = False
        try:
            messages, complete = await self.tg.history(
                channel.peer, channel.checkpoint, self.config.backfill_max_messages
            )
        except FloodDeferred as exc:
            self._mark_failed(channel, delay=exc.seconds)
            return
        except SessionDead:
            raise
        except Exception as exc:
            if _is_channel_gone(exc):
                self._lost_access(channel, exc)
                return
            raise
        if not messages:
            return
        units = group_messages(messages)
        last = units[-1]
        hold_from: int | None = None
        if getattr(last[0], "grouped_id", None) is not None:
            newest = max((m.date.timestamp() for m in last if m.date), default=0.0)
            if not complete or time.time() - newest < self.config.album_settle_seconds:
                hold_from = last[0].id  # this album may still be growing, or the page cut it

        # Entries: (post or None for "nothing to queue", highest message id of the unit).
        batch: list[tuple[QueuedPost | None, int, list[int]]] = []
        queued = 0

        async def flush() -> bool:
            nonlocal batch, queued
            entries, batch = batch, []
            posts = [post for post, _, _ in entries if post is not None]
            accepted: list[bool] = []
            if posts:
                try:
                    accepted = await self._blocking(self.sink.send_batch, posts)
                except Exception as exc:
                    self.telemetry.count(health.SEND_FAILED)
                    self.log.warning(
                        "queueing backfilled posts failed", extra={"ref": channel.ref, "error": repr(exc)}
                    )
                    return False
            results = iter(accepted)
            high: int | None = None
            date = None
            for post, unit_high, ids in entries:
                if post is not None:
                    if not next(results):
                        self.telemetry.count(health.SEND_FAILED)
                        break
                    queued += 1
                    date = post.date
                    self.albums.add(channel.channel_id, ids)
                high = unit_high
            else:
                if high is not None:
                    await self._advance(channel, high, date)
                return True
            if high is not None:
                await self._advance(channel, high, date)
            return False

        ok = True
        delay: float | None = None
        for unit in units:
            if hold_from is not None and unit[0].id >= hold_from:
                break
            unit_high = max(m.id for m in unit)
            posts = [m for m in unit if is_post_message(m)]
            if not posts or any(m.id in channel.deleted for m in posts):
                batch.append((None, unit_high, []))  # service/deleted: handled once what precedes it is
                continue
            try:
                media = await self._media_for(channel, posts)
            except FloodDeferred as exc:
                ok, delay = False, exc.seconds
                break
            batch.append((build_post(channel.info, posts, media=media), unit_high, [m.id for m in unit]))
            if sum(1 for post, _, _ in batch if post is not None) >= 10 and not await flush():
                ok = False
                break
        if not await flush():
            ok = False
        if not ok:
            self._mark_failed(channel, delay=delay)
        elif hold_from is not None:
            self._schedule(channel, max(0.2, self.config.album_settle_seconds))
        elif not complete:
            self._schedule(channel, 0.0)  # more history to read
        else:
            # Everything read was handled: trailing service messages move the checkpoint too.
            await self._advance(channel, max(m.id for m in messages), None)
        if queued:
            self.telemetry.count(health.BACKFILL_RECOVERED, queued)
            self.log.info(
                "backfill queued posts",
                extra={
                    "ref": channel.ref,
                    "count": queued,
                    "reason": reason,
                    "checkpoint": channel.checkpoint,
                },
            )

    def _lost_access(self, channel: ChannelState, exc: BaseException) -> None:
        self.log.warning(
            "lost access to a channel; will re-join", extra={"ref": channel.ref, "error": repr(exc)}
        )
        self._forget(channel)
        record = ChannelRecord(
            ref=channel.ref,
            channel_id=channel.channel_id,
            access_hash=channel.access_hash,
            username=channel.info.username,
            title=channel.info.title,
            last_message_id=channel.checkpoint,
        )
        self.pending[channel.ref] = _Pending(
            record, retry_at=time.monotonic() + self.config.rejoin_delay_seconds, rejoin=True
        )

    # ------------------------------------------------------------------------------------ media
    async def _media_for(self, channel: ChannelState, messages: Iterable[Any]) -> list[MediaRef]:
        if self.media_store is None:
            return []
        refs: list[MediaRef] = []
        cap = self.config.media_max_bytes
        for message in sorted(messages, key=lambda m: m.id):
            spec = media_spec(message)
            if spec is None:
                continue
            if spec.size is not None and spec.size > cap:
                self.telemetry.count(health.MEDIA_SKIPPED)
                continue
            key = spec.key(self.config.media_prefix, channel.channel_id)
            if not await self._blocking(self.media_store.exists, key):
                try:
                    data = await self.tg.download(message)
                except (FloodDeferred, SessionDead):
                    raise
                except Exception as exc:
                    self.telemetry.count(health.MEDIA_FAILED)
                    self.log.warning(
                        "media download failed; posting without it",
                        extra={"key": key, "error": repr(exc)},
                    )
                    continue
                if not data:
                    self.telemetry.count(health.MEDIA_FAILED)
                    continue
                if len(data) > cap:
                    self.telemetry.count(health.MEDIA_SKIPPED)
                    continue
                await self._blocking(self.media_store.put, key, bytes(data), spec.mime_type)
                self.telemetry.count(health.MEDIA_STORED)
                spec = type(spec)(spec.message_id, spec.type, spec.ext, spec.mime_type, len(data))
            refs.append(spec.ref(self.config.media_prefix, channel.channel_id))
        return refs[:10]

    # ------------------------------------------------------------------------------------ registry
    async def _registry_loop(self, loaded: asyncio.Event) -> None:
        while True:
            try:
                await self._reload_registry(initial=not loaded.is_set())
            except Exception as exc:
                self.log.warning("registry reload failed", extra={"error": repr(exc)})
            else:
                loaded.set()
            await asyncio.sleep(self.config.registry_reload_seconds)

    async def _reload_registry(self, initial: bool = False) -> None:
        """Apply the registry: watch new active channels, drop paused/removed ones, queue joins.

        Channels found by the first load of a session are caught up by the catch-up that follows it
        (one top-id probe per 100 channels); channels registered later are backfilled directly.
        """
        records = await self._blocking(self.registry.load_all)
        active_refs: set[str] = set()
        added: list[ChannelState] = []
        for record in records:
            if record.status != ChannelStatus.ACTIVE:
                continue
            active_refs.add(record.ref)
            channel_id = self.by_ref.get(record.ref)
            if channel_id is not None and channel_id in self.channels:
                current = self.channels[channel_id]
                if record.last_message_id < 0:
                    self._forget(current)  # "skip missed posts" requested: take a new start point
                    self.pending[record.ref] = _Pending(record)
                elif record.title != current.info.title or record.username != current.info.username:
                    current.info = ChannelInfo(current.channel_id, record.username, record.title)
                continue
            waiting = self.pending.get(record.ref)
            if record.join_error:
                self.pending.pop(record.ref, None)  # an admin has to act (add/resume clears the error)
            elif waiting is not None and waiting.rejoin:
                # Access was lost: watching it again from the stored id would only fail again; the
                # resolver re-joins it (id + hash, or the invite) and then watches it.
                waiting.record = record
            elif record.resolved and not record.needs_start_point:
                assert record.channel_id is not None
                other = self.channels.get(record.channel_id)
                if other is not None:
                    if record.ref not in self.pending:
                        self.log.warning(
                            "two registry entries name the same channel; watching it once",
                            extra={"ref": record.ref, "same_as": other.ref},
                        )
                        self.pending[record.ref] = _Pending(record, retry_at=float("inf"))
                    continue
                added.append(self._watch(record, record.last_message_id))
                self.pending.pop(record.ref, None)
            elif record.ref in self.pending:
                self.pending[record.ref].record = record
            else:
                self.pending[record.ref] = _Pending(record)
        for ref, channel_id in list(self.by_ref.items()):
            if ref not in active_refs and channel_id in self.channels:
                self.log.info("channel is no longer active; not watching it", extra={"ref": ref})
                self._forget(self.channels[channel_id])
        for ref in list(self.pending):
            if ref not in active_refs:
                del self.pending[ref]
        if not initial:
            for channel in added:
                self.log.info("watching a newly registered channel", extra={"ref": channel.ref})
                self._enqueue_backfill(channel, "registered")
        if self._registry_wakeup is not None and self.pending:
            self._registry_wakeup.set()

    def _watch(self, record: ChannelRecord, checkpoint: int) -> ChannelState:
        assert record.channel_id is not None and record.access_hash is not None
        channel = ChannelState(
            ref=record.ref,
            info=ChannelInfo(record.channel_id, record.username, record.title),
            access_hash=record.access_hash,
            checkpoint=checkpoint,
            saved_checkpoint=checkpoint,
        )
        self.channels[record.channel_id] = channel
        self.by_ref[record.ref] = record.channel_id
        return channel

    def _forget(self, channel: ChannelState) -> None:
        if self.channels.get(channel.channel_id) is channel:
            del self.channels[channel.channel_id]
        if self.by_ref.get(channel.ref) == channel.channel_id:
            del self.by_ref[channel.ref]

    async def _resolver_loop(self) -> None:
        assert self._registry_wakeup is not None
        while True:
            await _wait_any(self._registry_wakeup, timeout=1.0)
            self._registry_wakeup.clear()
            now = time.monotonic()
            for ref, pending in list(self.pending.items()):
                if pending.retry_at > now or self.pending.get(ref) is not pending:
                    continue
                wait = self._next_join_at - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if self.pending.get(ref) is not pending:
                    continue
                try:
                    await self._resolve(pending.record)
                    self.pending.pop(ref, None)
                except SessionDead as exc:
                    self._session_died(exc)
                    return
                except FloodDeferred as exc:
                    pending.retry_at = time.monotonic() + exc.seconds
                    self.log.warning(
                        "join/resolve deferred by flood wait", extra={"ref": ref, "seconds": exc.seconds}
                    )
                    break
                except JoinFailed as exc:
                    self.telemetry.count(health.JOIN_FAILED)
                    self.log.error("cannot watch channel", extra={"ref": ref, "reason": str(exc)})
                    self.pending.pop(ref, None)
                    with contextlib.suppress(Exception):
                        await self._blocking(self.registry.save_join_error, ref, str(exc))
                except Exception as exc:
                    pending.failures += 1
                    pending.retry_at = time.monotonic() + min(600.0, 5.0 * 2**pending.failures)
                    self.log.warning(
                        "join/resolve failed; will retry", extra={"ref": ref, "error": repr(exc)}
                    )
                finally:
                    self._next_join_at = time.monotonic() + self.config.join_interval_seconds

    async def _resolve(self, record: ChannelRecord) -> None:
        """Resolve/join ``record`` and start watching it. A username is resolved once, ever: the id and
        access hash are stored right away and used from then on."""
        from telethon.tl import types

        needs_start = record.needs_start_point
        if record.resolved:
            assert record.channel_id is not None and record.access_hash is not None
            channel_id, access_hash = record.channel_id, record.access_hash
            title, username = record.title, record.username
            try:
                chat = await self.tg.join_channel(channel_id, access_hash)
            except JoinFailed:
                if not record.is_invite:
                    raise
                chat = await self.tg.join_invite(record.parsed.value)
            self.telemetry.count(health.JOINS)
            if isinstance(chat, types.Channel):
                title, username = chat.title or title, chat.username or username
        elif record.is_invite:
            chat = await self.tg.join_invite(record.parsed.value)
            self.telemetry.count(health.JOINS)
            if chat.access_hash is None:
                raise JoinFailed("Telegram returned the channel without an access hash")
            channel_id, access_hash, title, username = chat.id, chat.access_hash, chat.title, chat.username
        else:
            chat = await self.tg.resolve_username(record.parsed.value)
            self.telemetry.count(health.RESOLVES)
            if chat.access_hash is None:
                raise JoinFailed("Telegram returned the channel without an access hash")
            channel_id, access_hash, title, username = chat.id, chat.access_hash, chat.title, chat.username
            # Store the id now: whatever happens next, this username is never resolved again.
            await self._blocking(
                self.registry.save_resolution,
                record.ref,
                channel_id=channel_id,
                access_hash=access_hash,
                title=title,
                username=username,
                checkpoint=FAST_FORWARD if needs_start else None,
            )
            if chat.left is not False:
                wait = self.config.join_interval_seconds
                if wait:
                    await asyncio.sleep(wait)  # resolves and joins are both flood-limited
                await self.tg.join_channel(channel_id, access_hash)
                self.telemetry.count(health.JOINS)
        existing = self.channels.get(channel_id)
        if existing is not None and existing.ref != record.ref:
            raise JoinFailed(f"same channel as {existing.ref}")
        peer = types.InputPeerChannel(channel_id, access_hash)
        start: int | None = None
        if needs_start:
            top = await self.tg.top_message_id(peer)
            start = max(0, top - self.config.initial_backfill_messages)
        stored = await self._blocking(
            self.registry.save_resolution,
            record.ref,
            channel_id=channel_id,
            access_hash=access_hash,
            title=title,
            username=username,
            checkpoint=start,
        )
        if stored is None:
            return  # deleted meanwhile
        resolved = ChannelRecord(
            ref=record.ref,
            channel_id=channel_id,
            access_hash=access_hash,
            title=title,
            username=(username or "").lower() or None,
            last_message_id=stored,
        )
        channel = self._watch(resolved, stored)
        self.log.info(
            "watching channel",
            extra={"ref": record.ref, "channel_id": channel_id, "title": title, "checkpoint": stored},
        )
        self._enqueue_backfill(channel, "joined")

    # ------------------------------------------------------------------------------------ catch-up
    async def _catchup_loop(self, loaded: asyncio.Event) -> None:
        await loaded.wait()  # the first catch-up covers every channel the registry holds
        reason = "connected"
        while True:
            try:
                await self.catch_up(reason)
            except SessionDead as exc:
                self._session_died(exc)
                return
            except Exception as exc:
                self.log.warning("catch-up failed", extra={"error": repr(exc)})
            reason = "periodic"
            await asyncio.sleep(self.config.catchup_interval_seconds)

    async def catch_up(self, reason: str) -> int:
        """Find channels with posts after their checkpoint (top ids, 100 per request) and backfill them."""
        self.telemetry.count(health.CATCHUPS)
        self._last_catchup = time.monotonic()
        channels = list(self.channels.values())
        behind = 0
        for start in range(0, len(channels), 100):
            chunk = channels[start : start + 100]
            try:
                tops = await self.tg.top_ids([c.peer for c in chunk])
            except (SessionDead, asyncio.CancelledError):
                raise
            except Exception as exc:
                self.log.warning("top-id probe failed; reading history instead", extra={"error": repr(exc)})
                tops = {}
            for channel in chunk:
                top = tops.get(channel.channel_id)
                if top is None or top > channel.checkpoint:
                    behind += 1
                    self._enqueue_backfill(channel, reason)
        return behind

    async def _maintenance_loop(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            now = time.monotonic()
            for channel in list(self.channels.values()):
                if channel.dirty and channel.retry_at <= now and not channel.backfill_queued:
                    self._enqueue_backfill(channel, "retry")
                if channel.saved_checkpoint < channel.checkpoint and channel.save_retry_at <= now:
                    try:
                        await self._blocking(
                            self.registry.advance_checkpoint, channel.ref, channel.checkpoint, None
                        )
                        channel.saved_checkpoint = channel.checkpoint
                    except Exception as exc:
                        channel.save_retry_at = now + 5.0
                        self.log.warning(
                            "saving a checkpoint failed", extra={"ref": channel.ref, "error": repr(exc)}
                        )
            for _ in range(len(self._deferred)):
                job = self._deferred.popleft()
                if job.not_before > now:
                    self._deferred.append(job)
                    continue
                try:
                    self.queue.put_nowait(job)
                except asyncio.QueueFull:
                    self._deferred.append(job)
                    break

    async def _watchdog_loop(self) -> None:
        failures = 0
        last_probe = time.monotonic()
        while True:
            await asyncio.sleep(min(1.0, self.config.idle_seconds, self.config.probe_seconds))
            now = time.monotonic()
            if now - self.last_update >= self.config.idle_seconds:
                self.last_update = now
                self.telemetry.count(health.IDLE_CATCHUPS)
                self.log.info("no updates for a while; forcing a catch-up")
                try:
                    await self.catch_up("idle")
                except SessionDead as exc:
                    self._session_died(exc)
                    return
                except Exception as exc:
                    self.log.warning("idle catch-up failed", extra={"error": repr(exc)})
            if now - last_probe >= self.config.probe_seconds:
                last_probe = now
                try:
                    async with asyncio.timeout(self.config.connect_timeout_seconds):
                        await self.tg.probe()
                    failures = 0
                except SessionDead as exc:
                    self._session_died(exc)
                    return
                except FloodDeferred:
                    failures = 0
                except Exception as exc:
                    failures += 1
                    self.log.warning(
                        "telegram probe failed", extra={"error": repr(exc), "failures": failures}
                    )
                    if failures >= 3:
                        self._end_phase("disconnected")
                        return

    # ------------------------------------------------------------------------------------ rotation
    async def _rotation_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.secret_poll_seconds)
            try:
                await self.check_rotation()
            except SessionDead as exc:
                self._session_died(exc)
                return
            except Exception as exc:
                self.log.warning("checking the session secret failed", extra={"error": repr(exc)})

    async def check_rotation(self) -> bool:
        """Switch to a new current secret version if it works; returns whether the session changed."""
        current = self.credentials
        if current is None or self.client is None:
            return False
        version = await self._blocking(self.store.current_version)
        if not version or version == current.version_id or version in self.rejected_versions:
            return False
        if version in self.dead_versions:
            return False
        try:
            fresh = await self._blocking(self.store.load, version)
        except SessionSecretError as exc:
            self._reject_rotation(version, str(exc))
            return False
        if fresh.same_session(current):
            # Same authorization re-stored: connecting it twice would duplicate the key. Just note it.
            self.credentials = fresh
            self.fallback_from = None
            return False
        self.log.info("new session secret version; verifying it", extra={"secret_version": version})
        try:
            client, user = await self._connect(fresh)
        except Exception as exc:
            reason = exc.reason if isinstance(exc, SessionDead) else repr(exc)
            if isinstance(exc, SessionDead) or is_session_dead(exc):
                self.dead_versions.add(version)
            self._reject_rotation(version, reason)
            return False
        old = self.client
        self._attach(client)
        self.client, self.credentials = client, fresh
        self.fallback_from = None
        self.account = describe_user(user)
        if old is not None:
            self._detach(old)
            await _quiet_disconnect(old)
        self.telemetry.count(health.SESSION_ROTATED)
        self.log.info("switched to the rotated session", extra={**self.account, "secret_version": version})
        self._phase_tasks.append(
            asyncio.create_task(self._disconnect_watch(client), name="monitor-disconnect-watch")
        )
        await self.catch_up("rotation")
        return True

    def _reject_rotation(self, version: str, reason: str) -> None:
        self.rejected_versions.add(version)
        self.telemetry.count(health.SESSION_ROTATION_FAILED)
        self.telemetry.flush()
        self.log.error(
            "the new session secret version does not work; keeping the current session",
            extra={"secret_version": version, "reason": reason},
        )

    # ------------------------------------------------------------------------------------ health
    def status(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "owner": self.lease.owner,
            "lease_held": self.lease.held,
            "connected": self.client is not None,
            "account_id": self.account.get("account_id"),
            "secret_version": self.credentials.version_id if self.credentials else None,
            "secret_fallback": self.fallback_from is not None,
            "channels": len(self.channels),
            "pending_channels": len(self.pending),
            "queue": self._queue.qsize() if self._queue is not None else 0,
            "deferred": len(self._deferred),
            "posts_queued": int(self.telemetry.counts.get(health.POSTS_QUEUED, 0)),
            "uptime_seconds": round(time.monotonic() - self._started),
        }

    def _write_heartbeat(self) -> None:
        try:
            self.heartbeat.write(self.status())
        except OSError as exc:
            self.log.warning("cannot write the heartbeat file", extra={"error": repr(exc)})

    async def _heartbeat_loop(self) -> None:
        last_flush = time.monotonic()
        while True:
            self._write_heartbeat()
            if self.state == "running" and self.client is not None and self.lease.held:
                self.telemetry.count(health.HEARTBEAT)
                self.telemetry.count(health.CHANNELS_ACTIVE, len(self.channels))
            if time.monotonic() - last_flush >= self.config.metrics_flush_seconds:
                last_flush = time.monotonic()
                self.telemetry.flush()
            await asyncio.sleep(self.config.heartbeat_seconds)


# ---------------------------------------------------------------------------------------------- helpers


def _is_channel_gone(exc: BaseException) -> bool:
    from telethon import errors

    return isinstance(
        exc, errors.ChannelPrivateError | errors.ChannelInvalidError | errors.ChannelBannedError
    )


async def _quiet_disconnect(client: Any) -> None:
    with contextlib.suppress(Exception):
        result = client.disconnect()
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            await result


class _Interrupted(Exception):
    """The awaited work was abandoned because a stop/lease-loss event was set."""


async def _unless_set(awaitable: Any, *events: asyncio.Event) -> Any:
    """The result of ``awaitable``, unless one of ``events`` is set first: then it is cancelled (and
    waited for) and :class:`_Interrupted` is raised."""
    task = asyncio.ensure_future(awaitable)
    watcher = asyncio.ensure_future(_wait_any(*events))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
        await _cancel_and_wait([watcher, task])
    if not task.done() or task.cancelled():
        raise _Interrupted()
    return task.result()


async def _cancel_and_wait(
    tasks: Sequence[asyncio.Future[Any]], grace: float = 10.0
) -> set[asyncio.Future[Any]]:
    """Cancel ``tasks`` and wait until they end, cancelling again any that carry on (on Python 3.11 a
    cancellation can be lost, e.g. inside ``asyncio.wait_for``). Returns those still running after
    ``grace`` seconds (never waits longer)."""
    pending = {task for task in tasks if not task.done()}
    deadline = time.monotonic() + grace
    while pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(0.5, remaining))
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" noise
    return pending


async def _wait_any(*events: asyncio.Event, timeout: float | None = None) -> bool:
    """Wait until any of ``events`` is set (or ``timeout``); returns whether one was set."""
    if any(event.is_set() for event in events):
        return True
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    return bool(done)


def run_monitor(monitor: Monitor, *, install_signals: bool = True) -> int:
    """Run ``monitor`` in a fresh event loop; SIGTERM/SIGINT stop it gracefully."""
    import signal

    async def _main() -> int:
        if install_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, monitor.request_stop)
        return await monitor.run()

    return asyncio.run(_main())


__all__: Sequence[str] = ["Monitor", "run_monitor"]
