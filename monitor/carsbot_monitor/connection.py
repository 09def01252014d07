"""The Telegram client in use: connected only while the lease is held, verified, probed, rotated.

* :meth:`Connection.open` connects and verifies a client (``users.getUsers(self)``); it refuses to
  connect without the lease. :meth:`Connection.adopt` makes it the client in use (event handlers move
  to it); :meth:`Connection.close` disconnects it.
* :meth:`Connection.watch` returns when the client in use lost its connection (Telethon gave up
  reconnecting); :meth:`Connection.probe_loop` when three liveness probes in a row failed.
* :meth:`Connection.rotate` switches to a new secret version *without a restart*: a second client with
  the new authorization is connected and verified, the handlers move to it, the old one is disconnected.
  Which versions qualify (and which never again) is decided in ``credentials.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from carsbot_monitor import health
from carsbot_monitor.aio import quiet_disconnect
from carsbot_monitor.context import Context
from carsbot_monitor.credentials import SessionVersions
from carsbot_monitor.events import LiveEvents
from carsbot_monitor.gateway import FloodDeferred
from carsbot_monitor.lease import Lease
from carsbot_monitor.session import (
    ClientFactory,
    SessionCredentials,
    SessionDead,
    describe_user,
    is_session_dead,
    verify_authorized,
)


class Connection:
    def __init__(
        self,
        ctx: Context,
        *,
        factory: ClientFactory,
        lease: Lease,
        events: LiveEvents,
        versions: SessionVersions,
    ) -> None:
        self.ctx = ctx
        self.factory = factory
        self.lease = lease
        self.events = events
        self.versions = versions
        self.log = ctx.log
        self.client: Any = None
        self.credentials: SessionCredentials | None = None
        self.account: dict[str, Any] = {}
        self.attempts = 0  # every connection attempt (tests and the heartbeat read it)

    async def open(self, credentials: SessionCredentials) -> tuple[Any, Any]:
        """A connected, verified client for ``credentials`` (raises on failure, leaving it disconnected)."""
        if not self.lease.held:
            raise ConnectionError("refusing to connect without holding the session lease")
        client = self.factory(credentials)
        self.attempts += 1
        self.ctx.telemetry.count(health.CONNECTS)
        timeout = self.ctx.config.connect_timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                await client.connect()
            async with asyncio.timeout(timeout):
                user = await verify_authorized(client)
        except BaseException:
            await quiet_disconnect(client)
            raise
        return client, user

    def adopt(self, client: Any, credentials: SessionCredentials, user: Any) -> None:
        """Make ``client`` the client in use (its events now become jobs)."""
        self.events.attach(client)
        self.client, self.credentials = client, credentials
        self.account = describe_user(user)

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            self.events.detach(client)
            await quiet_disconnect(client)
            self.log.info("disconnected from telegram")

    async def watch(self, client: Any) -> bool:
        """Wait until ``client`` is disconnected; returns whether it was the client in use."""
        try:
            await client.disconnected
        except Exception as exc:
            if client is self.client:
                if is_session_dead(exc):
                    raise SessionDead(repr(exc)) from exc
                self.log.warning("telegram connection closed", extra={"error": repr(exc)})
        return client is self.client

    async def probe_loop(self) -> None:
        """A liveness probe every ``probe_seconds``; returns after three failures in a row."""
        config = self.ctx.config
        failures = 0
        while failures < 3:
            await asyncio.sleep(config.probe_seconds)
            try:
                async with asyncio.timeout(config.connect_timeout_seconds):
                    await self.ctx.tg.probe()
                failures = 0
            except SessionDead:
                raise
            except FloodDeferred:
                failures = 0
            except Exception as exc:
                failures += 1
                self.log.warning("telegram probe failed", extra={"error": repr(exc), "failures": failures})

    async def rotate(self) -> Any:
        """Switch to a new current secret version if it works; returns the new client, else ``None``."""
        current = self.credentials
        if current is None or self.client is None:
            return None
        fresh = await self.versions.new_version(current)
        if fresh is None:
            return None
        if fresh.same_session(current):
            # Same authorization re-stored: connecting it twice would duplicate the key. Just note it.
            self.credentials = fresh
            self.versions.fallback_from = None
            return None
        self.log.info("new session secret version; verifying it", extra={"secret_version": fresh.version_id})
        try:
            client, user = await self.open(fresh)
        except Exception as exc:
            self.versions.verification_failed(fresh, exc)
            return None
        old = self.client
        self.adopt(client, fresh, user)
        self.versions.fallback_from = None
        if old is not None:
            self.events.detach(old)
            await quiet_disconnect(old)
        self.ctx.telemetry.count(health.SESSION_ROTATED)
        self.log.info(
            "switched to the rotated session", extra={**self.account, "secret_version": fresh.version_id}
        )
        return client
