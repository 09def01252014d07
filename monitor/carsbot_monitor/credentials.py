"""Which session secret version the monitor connects with: current, else previous, never a dead one.

* The current version (``AWSCURRENT``) is used unless it is unusable — not a valid session secret, or
  rejected by Telegram (then it is remembered as dead and never tried again).
* Then the previous version (``AWSPREVIOUS``) is used if it still works; that is reported loudly once
  connected (``SessionRotationFailed``) and rotation keeps polling ``AWSCURRENT``.
* With neither, the monitor waits — polling the secret every ``secret_poll_seconds`` — for a new version
  instead of retry-looping.
* Rotation: a new current version is loaded and offered for verification; one that does not work is
  rejected (reported, never retried) and the session in use is kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from carsbot_monitor import health
from carsbot_monitor.aio import wait_any
from carsbot_monitor.context import Context
from carsbot_monitor.session import (
    SessionCredentials,
    SessionDead,
    SessionSecretError,
    SessionStore,
    is_session_dead,
)


class SessionVersions:
    def __init__(self, ctx: Context, store: SessionStore) -> None:
        self.store = store
        self.io = ctx.io
        self.telemetry = ctx.telemetry
        self.log = ctx.log
        self.poll_seconds = ctx.config.secret_poll_seconds
        self.dead: set[str] = set()  # unusable: invalid secret or rejected by Telegram
        self.rejected: set[str] = set()  # new versions that failed verification during rotation
        # Set while the session in use is the AWSPREVIOUS fallback: (unusable current version, reason).
        self.fallback_from: tuple[str, str] | None = None
        self._fallbacks_reported: set[tuple[str, str]] = set()

    # ---------------------------------------------------------------- connecting
    async def usable(
        self, stop: asyncio.Event, lost: asyncio.Event, waiting: Callable[[], None]
    ) -> SessionCredentials | None:
        """The credentials to connect with, or ``None`` once ``stop`` or ``lost`` is set.

        ``waiting()`` is called whenever no version is usable (the monitor shows ``waiting-session``).
        """
        reported: str | None = None
        while not stop.is_set() and not lost.is_set():
            problem: str
            try:
                current, previous = await self.io.run(self.store.staged_versions)
            except Exception as exc:
                problem = (
                    str(exc) if isinstance(exc, SessionSecretError) else f"cannot read the secret: {exc!r}"
                )
            else:
                if current is None:
                    problem = "the session secret has no value; run `carsbot session login`"
                else:
                    credentials, problem = await self._load(current)
                    if credentials is not None:
                        self.fallback_from = None
                        return credentials
                    # Only a version known to be unusable falls back (not a failed read: that is retried).
                    if current in self.dead and previous and previous != current:
                        fallback, previous_problem = await self._load(previous)
                        if fallback is not None:
                            self.fallback_from = (current, problem)
                            return fallback
                        problem = f"{problem}; the previous version is unusable too: {previous_problem}"
            waiting()
            if problem != reported:
                reported = problem
                self.log.error("monitor is not connected", extra={"reason": problem})
            await wait_any(stop, lost, timeout=self.poll_seconds)
        return None

    async def _load(self, version: str) -> tuple[SessionCredentials | None, str]:
        """The credentials of ``version``, or ``None`` and why not (an invalid secret is remembered)."""
        if version in self.dead:
            return None, f"secret version {version} is unusable (invalid or rejected by Telegram)"
        try:
            return await self.io.run(self.store.load, version), ""
        except SessionSecretError as exc:
            self.dead.add(version)
            return None, f"secret version {version}: {exc}"
        except Exception as exc:
            return None, f"cannot read the secret: {exc!r}"

    def connected(self, credentials: SessionCredentials) -> None:
        """Connected with ``credentials``: if that is the fallback, say so (once per pair of versions)."""
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

    def mark_dead(self, credentials: SessionCredentials, reason: str) -> None:
        """Telegram rejected this session: its version is never used again."""
        if credentials.version_id:
            self.dead.add(credentials.version_id)
        self.telemetry.count(health.SESSION_INVALID)
        self.telemetry.flush()
        self.log.error(
            "telegram rejected the session; this secret version is never used again (the previous"
            " version is tried if it is still usable, else the monitor waits for a new version)",
            extra={"reason": reason, "secret_version": credentials.version_id},
        )

    # ---------------------------------------------------------------- rotation
    async def new_version(self, current: SessionCredentials) -> SessionCredentials | None:
        """The credentials of a new ``AWSCURRENT`` version worth verifying, else ``None``.

        A version holding the same authorization as ``current`` is returned too (the caller only notes
        it: connecting it twice would duplicate the key).
        """
        version = await self.io.run(self.store.current_version)
        if not version or version == current.version_id:
            return None
        if version in self.rejected or version in self.dead:
            return None
        try:
            return await self.io.run(self.store.load, version)
        except SessionSecretError as exc:
            self.reject(version, str(exc))
            return None

    def verification_failed(self, credentials: SessionCredentials, exc: BaseException) -> None:
        """A new version could not connect: keep the current session, never retry this version."""
        version = credentials.version_id or ""
        reason = exc.reason if isinstance(exc, SessionDead) else repr(exc)
        if is_session_dead(exc):
            self.dead.add(version)
        self.reject(version, reason)

    def reject(self, version: str, reason: str) -> None:
        self.rejected.add(version)
        self.telemetry.count(health.SESSION_ROTATION_FAILED)
        self.telemetry.flush()
        self.log.error(
            "the new session secret version does not work; keeping the current session",
            extra={"secret_version": version, "reason": reason},
        )
