"""The session lease: one DynamoDB item that decides which monitor process may connect to Telegram.

Two clients on one Telegram session get its key revoked (AUTH_KEY_DUPLICATED), so every process that
connects with the stored session (the monitor and ``carsbot session check``) holds this lease first.

Item (StateTable, ``pk = monitor#lease``): ``owner`` (a per-process id), ``version`` (incremented on every
acquisition: a fencing token), ``expires_at`` (epoch seconds, also the table's TTL attribute) and
``data`` (host/pid/when, for humans). All writes are conditional:

* acquire — the item is absent, expired, or already ours; sets a new expiry and ``version + 1``;
* renew — ``owner`` and ``version`` are still ours; extends the expiry;
* release — same condition; expires the item now so a successor starts at once.

``expires_at`` has one-second resolution and is rounded *down* when stored, so a contender can only take
over strictly after the full lease duration; the holder gives the session up ``margin`` seconds before
its own (request-start based) deadline. Clocks are NTP-synchronised on Fargate. The wall clock is
injectable (``clock``): tests move it explicitly instead of waiting for a lease to run out.

Stalls: the holder's validity is counted on the monotonic clock from the *start* of its last successful
renewal, so a stalled process (event loop blocked, CPU starved, a slow request) can only give the session
up early, never late. With the production timings (60 s lease, renewal every 15 s, 10 s margin) a stall
of up to ~35 s costs nothing; a longer one ends the session before a contender could take over.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from carsbot.adapters.db.conditions import is_conditional_failure
from carsbot.adapters.db.models import StateModel


def new_owner_id(prefix: str = "monitor") -> str:
    return f"{prefix}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


@dataclass(frozen=True)
class LeaseHolder:
    owner: str | None
    version: int
    expires_at: datetime | None
    data: dict[str, Any] | None

    def is_live(self, now: float | None = None) -> bool:
        if self.expires_at is None:
            return False
        return self.expires_at.timestamp() >= int(time.time() if now is None else now)


class Lease:
    """Synchronous lease operations (the monitor runs them in a worker thread)."""

    def __init__(
        self,
        key: str = "monitor#lease",
        *,
        owner: str | None = None,
        duration: float = 60.0,
        margin: float = 10.0,
        purpose: str = "monitor",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if margin >= duration:
            raise ValueError("lease margin must be shorter than the lease duration")
        self.key = key
        self.owner = owner or new_owner_id(purpose)
        self.duration = duration
        self.margin = margin
        self.purpose = purpose
        self.clock = clock  # wall clock (epoch seconds) for the stored expiry
        self.version: int | None = None
        self.valid_until = 0.0  # time.monotonic() deadline after which we must consider the lease lost

    @property
    def held(self) -> bool:
        return self.version is not None and time.monotonic() < self.valid_until

    def _expiry(self, now: float) -> datetime:
        return _ts(now + self.duration)

    def try_acquire(self) -> bool:
        """Take the lease if it is free, expired or ours. Returns whether we hold it now."""
        started = time.monotonic()
        now = self.clock()
        item = StateModel(pk=self.key)
        condition = (
            StateModel.pk.does_not_exist()
            | StateModel.expires_at.does_not_exist()
            | (StateModel.expires_at < _ts(now))
            | (StateModel.owner == self.owner)
        )
        try:
            item.update(
                actions=[
                    StateModel.owner.set(self.owner),
                    StateModel.expires_at.set(self._expiry(now)),
                    StateModel.version.add(1),
                    StateModel.data.set(
                        {
                            "purpose": self.purpose,
                            "host": socket.gethostname(),
                            "pid": os.getpid(),
                            "acquired_at": _ts(now).isoformat(),
                        }
                    ),
                    StateModel.updated_at.set(_ts(now)),
                ],
                condition=condition,
            )
        except UpdateError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        self.version = int(item.version)
        self.valid_until = started + self.duration - self.margin
        return True

    def renew(self) -> bool:
        """Extend our lease. ``False`` means someone else holds it now (we lost it)."""
        if self.version is None:
            return False
        started = time.monotonic()
        now = self.clock()
        try:
            StateModel(pk=self.key).update(
                actions=[
                    StateModel.expires_at.set(self._expiry(now)),
                    StateModel.updated_at.set(_ts(now)),
                ],
                condition=(StateModel.owner == self.owner) & (StateModel.version == self.version),
            )
        except UpdateError as exc:
            if is_conditional_failure(exc):
                self.version = None
                self.valid_until = 0.0
                return False
            raise
        self.valid_until = started + self.duration - self.margin
        return True

    def release(self) -> bool:
        """Give the lease up now (a successor may take it at once). Returns whether it was ours."""
        if self.version is None:
            return False
        version, self.version, self.valid_until = self.version, None, 0.0
        try:
            StateModel(pk=self.key).update(
                actions=[StateModel.expires_at.set(_ts(0)), StateModel.updated_at.set(_ts(self.clock()))],
                condition=(StateModel.owner == self.owner) & (StateModel.version == version),
            )
        except (UpdateError, PutError, DeleteError) as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def holder(self) -> LeaseHolder | None:
        try:
            item = StateModel.get(self.key, consistent_read=True)
        except StateModel.DoesNotExist:
            return None
        return LeaseHolder(
            owner=item.owner,
            version=int(item.version or 0),
            expires_at=item.expires_at,
            data=item.data if isinstance(item.data, dict) else None,
        )
