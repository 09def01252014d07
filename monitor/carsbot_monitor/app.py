"""The monitor: one Telethon user session that turns source-channel posts into queued posts.

Life cycle (see docs/monitor.md); this module holds the lease loop and supervises the session's tasks,
the parts do the work:

1. **Lease** — wait until this process holds the session lease (``lease.py``); keep renewing it on a
   thread of its own. Losing it ends the session at once (disconnect) and the process goes back to waiting.
2. **Session** — pick the secret version to connect with (``credentials.py``: current, else previous,
   never a rejected one, else wait for a new version). Connect, verify.
3. **Running** — live events are only turned into jobs (``events.py``); workers do them: live posts,
   edits and deletions (``live.py``), history reads and catch-up (``backfill.py``), media to S3
   (``media.py``); every checkpoint moves through one keeper (``checkpoints.py``). The registry is
   reconciled and new channels resolved/joined (``watchlist.py``); the secret is polled and a new session
   verified and switched to without a restart; a heartbeat file and metrics report health (``health.py``).

No-loss rule: a channel's checkpoint only moves to ``N`` once every post with an id ``<= N`` was accepted
by SQS (or is known not to be a post). A live message that does not directly follow the checkpoint
triggers a history read instead, so a missed update, a failed send or a deleted message in between can
never be skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from carsbot.adapters.media import MediaStore
from carsbot.adapters.queues import QueueSender
from carsbot.channels import ChannelRegistry
from carsbot.config import Settings, get_settings
from carsbot.core.backoff import Backoff
from carsbot_monitor import health
from carsbot_monitor.aio import (
    BlockingPool,
    Interrupted,
    cancel_and_wait,
    quiet_disconnect,
    unless_set,
    wait_any,
)
from carsbot_monitor.backfill import Backfiller, PostQueue
from carsbot_monitor.checkpoints import CheckpointKeeper
from carsbot_monitor.connection import Connection
from carsbot_monitor.context import Context
from carsbot_monitor.credentials import SessionVersions
from carsbot_monitor.events import AlbumIndex, LiveEvents
from carsbot_monitor.gateway import TelegramGateway
from carsbot_monitor.health import Heartbeat, Pulse, Telemetry
from carsbot_monitor.jobs import ChannelState, WorkQueue
from carsbot_monitor.lease import Lease
from carsbot_monitor.live import LivePosts
from carsbot_monitor.media import MediaBucket, MediaFetcher
from carsbot_monitor.session import (
    ClientFactory,
    SessionCredentials,
    SessionDead,
    SessionStore,
    is_session_dead,
    telethon_client,
)
from carsbot_monitor.settings import MonitorSettings
from carsbot_monitor.watchlist import Watchlist
from carsbot_monitor.workers import Workers


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
        sink: PostQueue | None = None,
        media_store: MediaBucket | None = None,
        lease: Lease | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.config = cfg = config or MonitorSettings()
        self.store = session_store or SessionStore(self.settings.telegram_session_secret)
        self.registry = registry or ChannelRegistry()
        self.sink = sink or QueueSender(self.settings.posts_queue_url)
        if media_store is None and cfg.media_enabled and self.settings.media_bucket:
            media_store = MediaStore(self.settings.media_bucket)
        self.lease = lease or Lease(
            cfg.lease_key,
            duration=cfg.lease_seconds,
            margin=min(cfg.lease_margin_seconds, cfg.lease_seconds / 2),
        )
        self.telemetry = telemetry or Telemetry()
        self.log = log = self.telemetry.logger
        self.heartbeat = Heartbeat(Path(cfg.heartbeat_file))
        self.pulse = Pulse(
            self.heartbeat,
            self.telemetry,
            self.status,
            interval=cfg.heartbeat_seconds,
            flush_interval=cfg.metrics_flush_seconds,
        )
        self.tg = TelegramGateway(
            lambda: self.connection.client,
            self.telemetry,
            flood_wait_max=cfg.flood_wait_max_seconds,
            logger=log,
        )
        # Blocking AWS calls run on a small dedicated pool; the lease has a thread of its own so that its
        # renewal never waits behind slow data-path I/O (S3 uploads, SQS retries).
        self.io = BlockingPool(cfg.workers + 4)
        self._lease_io = BlockingPool(1, "monitor-lease")
        ctx = Context(cfg, self.tg, self.io, self.telemetry)

        # One backoff policy at four scales: reconnects, re-reads and update retries, joins, checkpoints.
        self.reconnect_backoff = Backoff(cfg.reconnect_min_seconds, cfg.reconnect_max_seconds, jitter=0.2)
        retry = Backoff(cfg.retry_base_seconds, 300.0)
        self.work = WorkQueue(
            maxsize=cfg.queue_max, retry=retry, send_attempts=cfg.send_attempts, telemetry=self.telemetry
        )
        self.checkpoints = CheckpointKeeper(ctx, self.registry, Backoff(5.0, 60.0))
        self.watchlist = Watchlist(ctx, self.registry, self.work, Backoff(10.0, 600.0))
        self.events = LiveEvents(self.watchlist.channels, self.work)
        shared: dict[str, Any] = {
            "work": self.work,
            "checkpoints": self.checkpoints,
            "media": MediaFetcher(ctx, media_store),
            "albums": AlbumIndex(),
            "sink": self.sink,
        }
        self.backfill = Backfiller(ctx, watchlist=self.watchlist, **shared)
        self.live = LivePosts(ctx, backfill=self.backfill, **shared)
        self.workers = Workers(
            watchlist=self.watchlist,
            work=self.work,
            live=self.live,
            backfill=self.backfill,
            checkpoints=self.checkpoints,
            logger=log,
        )
        self.versions = SessionVersions(ctx, self.store)
        self.connection = Connection(
            ctx, factory=client_factory, lease=self.lease, events=self.events, versions=self.versions
        )

        self.state = "created"
        self._reconnects = 0
        # Events bind to the running loop on first use (Python >= 3.10), so they can be made here; a stop
        # requested before run() starts is honoured.
        self._stop = asyncio.Event()
        self._phase_end: asyncio.Event | None = None
        self._phase_reason = ""
        self._phase_tasks: list[asyncio.Task[Any]] = []
        self._started = time.monotonic()

    # ------------------------------------------------------------------------------------ views
    @property
    def channels(self) -> dict[int, ChannelState]:
        """The watched channels by numeric channel id."""
        return self.watchlist.channels

    @property
    def credentials(self) -> SessionCredentials | None:
        """The session in use (or last used)."""
        return self.connection.credentials

    @property
    def connect_attempts(self) -> int:
        return self.connection.attempts

    @property
    def dead_versions(self) -> set[str]:
        return self.versions.dead

    @property
    def fallback_from(self) -> tuple[str, str] | None:
        return self.versions.fallback_from

    def status(self) -> dict[str, Any]:
        """What the heartbeat file shows (and ``carsbot monitor healthcheck`` reads)."""
        return {
            "state": self.state,
            "owner": self.lease.owner,
            "lease_held": self.lease.held,
            "connected": self.connection.client is not None,
            "account_id": self.connection.account.get("account_id"),
            "secret_version": self.credentials.version_id if self.credentials else None,
            "secret_fallback": self.versions.fallback_from is not None,
            "channels": len(self.watchlist.channels),
            "pending_channels": len(self.watchlist.pending),
            "queue": self.work.size(),
            "deferred": len(self.work.deferred),
            "posts_queued": int(self.telemetry.counts.get(health.POSTS_QUEUED, 0)),
            "uptime_seconds": round(time.monotonic() - self._started),
        }

    # ------------------------------------------------------------------------------------ control
    def request_stop(self) -> None:
        """Graceful stop (SIGTERM): finish the job in hand, disconnect, release the lease."""
        self._stop.set()

    async def run(self) -> int:
        self.state = "standby"
        beat = asyncio.create_task(self.pulse.run(), name="monitor-heartbeat")
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
                if await self._lease_io.run(self.lease.release):
                    self.log.info("session lease released")
            return 0
        finally:
            self.state = "stopped"
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)
            self.pulse.write()
            self.telemetry.flush()
            self.io.shutdown()
            self._lease_io.shutdown()

    # ------------------------------------------------------------------------------------ lease
    async def _acquire_lease(self) -> bool:
        announced = False
        while not self._stop.is_set():
            try:
                if await self._lease_io.run(self.lease.try_acquire):
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
            await wait_any(self._stop, timeout=self.config.lease_poll_seconds)
        return False

    async def _keep_lease(self, lost: asyncio.Event) -> None:
        period = min(self.config.lease_renew_seconds, self.lease.duration / 3)
        while True:
            remaining = self.lease.valid_until - time.monotonic()
            await asyncio.sleep(max(0.0, min(period, remaining)))
            remaining = self.lease.valid_until - time.monotonic()
            if remaining <= 0:
                break
            try:
                async with asyncio.timeout(remaining):
                    renewed = await self._lease_io.run(self.lease.renew)
            except TimeoutError:
                break
            except Exception as exc:
                self.log.warning("lease renewal failed; retrying", extra={"error": repr(exc)})
                continue
            if not renewed:
                break
        lost.set()

    # ------------------------------------------------------------------------------------ session
    async def _while_owner(self, lost: asyncio.Event) -> None:
        self.watchlist.reset()  # a new ownership epoch: checkpoints are read from the table again
        while not self._stop.is_set() and not lost.is_set():
            credentials = await self.versions.usable(self._stop, lost, self._waiting_for_session)
            if credentials is None:
                return
            outcome = await self._session(credentials, lost)
            if outcome in {"error", "disconnected"} and not self._stop.is_set() and not lost.is_set():
                self._reconnects += 1
                delay = self.reconnect_backoff.delay(self._reconnects)
                self.log.info("reconnecting", extra={"after_seconds": round(delay, 1), "reason": outcome})
                await wait_any(self._stop, lost, timeout=delay)

    def _waiting_for_session(self) -> None:
        self.state = "waiting-session"

    async def _session(self, credentials: SessionCredentials, lost: asyncio.Event) -> str:
        self.state = "connecting"
        try:
            # Connecting can take a while (Telethon retries); losing the lease meanwhile aborts it at once,
            # so this process never ends up connected while another one holds the lease.
            client, user = await unless_set(self.connection.open(credentials), self._stop, lost)
        except Interrupted:
            return "stop" if self._stop.is_set() else "lost"
        except Exception as exc:
            if is_session_dead(exc):
                self.versions.mark_dead(
                    credentials, exc.reason if isinstance(exc, SessionDead) else repr(exc)
                )
                return "dead"
            self.telemetry.count(health.CONNECT_FAILED)
            self.log.warning("connecting to telegram failed", extra={"error": repr(exc)})
            return "error"
        if lost.is_set() or self._stop.is_set():
            await quiet_disconnect(client)
            return "lost"
        self.connection.adopt(client, credentials, user)
        self._reconnects = 0
        self.versions.connected(credentials)
        self.state = "running"
        self.log.info(
            "connected to telegram",
            extra={**self.connection.account, "secret_version": credentials.version_id},
        )
        self._phase_end = asyncio.Event()
        self._phase_reason = ""
        loaded = asyncio.Event()
        self._phase_tasks = [
            self._task(self.workers.run(), f"monitor-worker-{i}") for i in range(self.config.workers)
        ]
        for name, loop in (
            ("registry", self.watchlist.reload_loop(loaded)),
            ("resolver", self.watchlist.resolver_loop()),
            ("catchup", self.backfill.catchup_loop(loaded)),
            ("idle-watchdog", self.backfill.idle_loop(lambda: self.events.last_update, self._touch)),
            ("maintenance", self.workers.maintenance_loop()),
            ("probe", self._until_probes_fail()),
            ("rotation", self._rotation_loop()),
            ("disconnect-watch", self._until_disconnected(client)),
        ):
            self._phase_tasks.append(self._task(loop, f"monitor-{name}"))
        try:
            await wait_any(self._stop, lost, self._phase_end)
            if self._stop.is_set():
                await self.work.drain(5.0)  # give queued work a moment (checkpoints cover the rest)
        finally:
            for task in self._phase_tasks:
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

    def _task(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run one of the session's loops; a dead session found by any of them ends the session."""

        async def supervised() -> None:
            try:
                await work
            except SessionDead as exc:
                self._session_died(exc)

        return asyncio.create_task(supervised(), name=name)

    def _end_phase(self, reason: str) -> None:
        if self._phase_end is not None and not self._phase_end.is_set():
            self._phase_reason = reason
            self._phase_end.set()

    def _session_died(self, exc: SessionDead) -> None:
        if self._phase_end is not None and self._phase_end.is_set():
            return  # already ending (several tasks may hit the dead session at once)
        if self.connection.credentials is not None:
            self.versions.mark_dead(self.connection.credentials, exc.reason)
        self._end_phase("dead")

    async def _finish_tasks(self, tasks: Sequence[asyncio.Task[Any]], grace: float = 10.0) -> None:
        """Cancel ``tasks`` and wait (at most ``grace`` seconds) until they have ended."""
        stuck = await cancel_and_wait(tasks, grace)
        if stuck:
            self.log.error(
                "monitor tasks did not stop when cancelled; continuing without them",
                extra={"tasks": sorted(task.get_name() for task in tasks if task in stuck)},
            )

    async def _disconnect(self) -> None:
        await self.connection.close()
        if self.state in {"running", "connecting"}:
            self.state = "standby"

    async def _until_disconnected(self, client: Any) -> None:
        if await self.connection.watch(client):
            self._end_phase("disconnected")

    async def _until_probes_fail(self) -> None:
        await self.connection.probe_loop()
        self._end_phase("disconnected")

    def _touch(self) -> None:
        self.events.last_update = time.monotonic()

    async def _rotation_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.secret_poll_seconds)
            try:
                client = await self.connection.rotate()
                if client is not None:
                    self._phase_tasks.append(
                        self._task(self._until_disconnected(client), "monitor-disconnect-watch")
                    )
                    await self.backfill.catch_up("rotation")
            except SessionDead:
                raise
            except Exception as exc:
                self.log.warning("checking the session secret failed", extra={"error": repr(exc)})


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
