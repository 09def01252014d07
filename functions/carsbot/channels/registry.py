"""The channel registry (ChannelsTable): what admins add, what the monitor watches, and checkpoints.

Admin side — the ``carsbot channels`` commands, the bot's admin commands, the sheets console — works by
any accepted reference form (see :mod:`carsbot.channels.refs`) or by numeric channel id:

* :meth:`ChannelRegistry.add` — register (or re-activate) a channel; returns ``(record, created)``;
* :meth:`ChannelRegistry.list_channels` — every channel, optionally of one status, sorted by ref;
* :meth:`ChannelRegistry.pause` / :meth:`ChannelRegistry.resume` / :meth:`ChannelRegistry.remove` — a
  paused channel catches up on what it missed when resumed (unless ``skip_missed``); a removed one
  starts from its newest post when added again;
* :meth:`ChannelRegistry.find` — one channel by reference or id.

Monitor side: load everything, store what a resolve/join learned (numeric id + access hash, so a
username is resolved once, ever) and advance per-channel checkpoints — monotonically, with a conditional
update, and only after SQS accepted the post. Every method is synchronous pynamodb (the monitor calls
them on its I/O threads); the tables are bound by :func:`carsbot.adapters.db.bind_tables`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from carsbot.adapters.db.conditions import is_conditional_failure
from carsbot.adapters.db.models import ChannelModel
from carsbot.channels.refs import ChannelRef, RefKind, parse_channel_ref, peer_channel_id

__all__ = [
    "FAST_FORWARD",
    "ChannelNotFound",
    "ChannelRecord",
    "ChannelRegistry",
    "ChannelStatus",
]


class ChannelStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    REMOVED = "removed"


class ChannelNotFound(LookupError):
    """No channel with that reference or id is registered."""


# A checkpoint below zero means "start from the channel's newest post" (set for channels re-added after
# removal, or resumed with --skip-missed); a never-resolved channel starts there too.
FAST_FORWARD = -1


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ChannelRecord:
    """One registry entry as read (immutable). ``last_message_id`` is the checkpoint."""

    ref: str
    status: str = ChannelStatus.ACTIVE
    link: str | None = None
    channel_id: int | None = None
    access_hash: int | None = None
    username: str | None = None
    title: str | None = None
    last_message_id: int = 0
    join_error: str | None = None
    added_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def resolved(self) -> bool:
        return self.channel_id is not None and self.access_hash is not None

    @property
    def parsed(self) -> ChannelRef:
        return parse_channel_ref(self.ref)

    @property
    def is_invite(self) -> bool:
        return self.ref.startswith("+")

    @property
    def needs_start_point(self) -> bool:
        """The checkpoint must be set from the channel's newest post before anything is queued."""
        return self.channel_id is None or self.last_message_id < 0

    @classmethod
    def of(cls, item: ChannelModel) -> ChannelRecord:
        return cls(
            ref=item.ref,
            status=item.status or ChannelStatus.ACTIVE,
            link=item.link,
            channel_id=int(item.channel_id) if item.channel_id is not None else None,
            access_hash=int(item.access_hash) if item.access_hash is not None else None,
            username=item.username,
            title=item.title,
            last_message_id=int(item.last_message_id or 0),
            join_error=item.join_error,
            added_at=item.added_at,
            updated_at=item.updated_at,
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "ref": self.ref,
            "status": self.status,
            "link": self.link,
            "channel_id": self.channel_id,
            "username": self.username,
            "title": self.title,
            "checkpoint": self.last_message_id,
            "join_error": self.join_error,
            "added_at": self.added_at.isoformat() if self.added_at else None,
        }


class ChannelRegistry:
    """Synchronous pynamodb operations on the ChannelsTable (the monitor calls them in a thread).

    Admin methods raise :class:`~carsbot.channels.refs.InvalidChannelRef` for text that is no channel
    reference and :class:`ChannelNotFound` for a channel that is not registered.
    """

    # ---------------------------------------------------------------- admin side
    def add(
        self, text: str, *, seller_phone: str | None = None, seller_username: str | None = None
    ) -> tuple[ChannelRecord, bool]:
        """Register a channel (or re-activate a removed/paused one). Returns ``(record, created)``."""
        parsed = parse_channel_ref(text)
        try:
            item = ChannelModel.get(parsed.ref, consistent_read=True)
        except ChannelModel.DoesNotExist:
            item = ChannelModel(
                ref=parsed.ref,
                link=text.strip(),
                status=ChannelStatus.ACTIVE,
                username=parsed.value if parsed.kind is RefKind.PUBLIC else None,
                seller_phone=seller_phone,
                seller_username=seller_username,
            )
            item.save(condition=ChannelModel.ref.does_not_exist())
            return ChannelRecord.of(item), True
        actions: list[Action] = [
            ChannelModel.status.set(ChannelStatus.ACTIVE),
            ChannelModel.updated_at.set(_now()),
        ]
        if item.status != ChannelStatus.ACTIVE:
            actions.append(ChannelModel.join_error.remove())
        if item.status == ChannelStatus.REMOVED:
            # Re-added after removal: start from the newest post, not from what was missed meanwhile.
            actions.append(ChannelModel.last_message_id.set(FAST_FORWARD))
        if seller_phone is not None:
            actions.append(ChannelModel.seller_phone.set(seller_phone))
        if seller_username is not None:
            actions.append(ChannelModel.seller_username.set(seller_username))
        item.update(actions=actions)
        return ChannelRecord.of(item), False

    def find(self, text: str) -> ChannelRecord | None:
        """A channel by reference (any accepted form) or by numeric id (``1234`` / ``-1001234``)."""
        item = self._find_item(text)
        return ChannelRecord.of(item) if item is not None else None

    def _find_item(self, text: str) -> ChannelModel | None:
        stripped = text.strip()
        if stripped.lstrip("-").isdigit():
            channel_id = peer_channel_id(int(stripped))
            for key in ChannelModel.by_channel_id.query(channel_id):
                try:
                    return ChannelModel.get(key.ref, consistent_read=True)
                except ChannelModel.DoesNotExist:
                    continue
            return None
        ref = parse_channel_ref(stripped).ref
        try:
            return ChannelModel.get(ref, consistent_read=True)
        except ChannelModel.DoesNotExist:
            return None

    def set_status(self, text: str, status: ChannelStatus, *, skip_missed: bool = False) -> ChannelRecord:
        """Pause, resume or remove. A resumed channel catches up on what it missed unless ``skip_missed``."""
        item = self._find_item(text)
        if item is None:
            raise ChannelNotFound(f"no channel {text!r} in the registry")
        actions: list[Action] = [ChannelModel.status.set(status), ChannelModel.updated_at.set(_now())]
        if status is ChannelStatus.ACTIVE:
            actions.append(ChannelModel.join_error.remove())  # give a failed join another try
            if skip_missed or item.status == ChannelStatus.REMOVED:
                actions.append(ChannelModel.last_message_id.set(FAST_FORWARD))
        item.update(actions=actions, condition=ChannelModel.ref.exists())
        return ChannelRecord.of(item)

    def pause(self, text: str) -> ChannelRecord:
        """Stop queuing the channel's posts (the monitor drops it within a minute)."""
        return self.set_status(text, ChannelStatus.PAUSED)

    def resume(self, text: str, *, skip_missed: bool = False) -> ChannelRecord:
        """Queue the channel's posts again: what was posted meanwhile too, unless ``skip_missed``."""
        return self.set_status(text, ChannelStatus.ACTIVE, skip_missed=skip_missed)

    def remove(self, text: str) -> ChannelRecord:
        """Stop watching the channel; adding it again starts from its newest post."""
        return self.set_status(text, ChannelStatus.REMOVED)

    def list_channels(self, status: str | None = None) -> list[ChannelRecord]:
        """Every registered channel (of ``status`` if given), sorted by ref."""
        records = [ChannelRecord.of(item) for item in ChannelModel.scan(consistent_read=True)]
        if status:
            records = [record for record in records if record.status == status]
        return sorted(records, key=lambda record: record.ref)

    # ---------------------------------------------------------------- monitor side
    def load_all(self) -> list[ChannelRecord]:
        """Every channel, whatever its status (the monitor reconciles its watch list with it)."""
        return self.list_channels()

    def save_resolution(
        self,
        ref: str,
        *,
        channel_id: int,
        access_hash: int,
        title: str | None,
        username: str | None,
        checkpoint: int | None = None,
    ) -> int | None:
        """Store what resolving/joining learned; ``checkpoint`` is the start point of a channel without one.

        Returns the channel's checkpoint as stored afterwards, or ``None`` when the item was deleted.
        """
        actions: list[Action] = [
            ChannelModel.channel_id.set(channel_id),
            ChannelModel.access_hash.set(access_hash),
            ChannelModel.updated_at.set(_now()),
            ChannelModel.join_error.remove(),
        ]
        if title:
            actions.append(ChannelModel.title.set(title))
        if username:
            actions.append(ChannelModel.username.set(username.lower()))
        condition = ChannelModel.ref.exists()
        if checkpoint is not None:
            actions.append(ChannelModel.last_message_id.set(checkpoint))
            # Only a channel without a start point gets its checkpoint initialised here.
            condition = condition & (
                ChannelModel.channel_id.does_not_exist() | (ChannelModel.last_message_id < 0)
            )
        item = ChannelModel(ref=ref)
        try:
            item.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if not is_conditional_failure(exc):
                raise
            if checkpoint is None:
                return None
            # The start point was set meanwhile: keep it, store the rest.
            return self.save_resolution(
                ref, channel_id=channel_id, access_hash=access_hash, title=title, username=username
            )
        return int(item.last_message_id or 0)

    def save_join_error(self, ref: str, error: str) -> None:
        """Record why the channel cannot be watched (``add``/``resume`` clear it for another try)."""
        try:
            ChannelModel(ref=ref).update(
                actions=[ChannelModel.join_error.set(error[:500]), ChannelModel.updated_at.set(_now())],
                condition=ChannelModel.ref.exists(),
            )
        except UpdateError as exc:
            if not is_conditional_failure(exc):
                raise

    def advance_checkpoint(self, ref: str, message_id: int, last_post_at: datetime | None = None) -> bool:
        """Raise the checkpoint to ``message_id`` if it is higher (never lowers it).

        Returns ``False`` when the stored checkpoint was already at least ``message_id`` or the channel
        is gone.
        """
        actions: list[Action] = [ChannelModel.last_message_id.set(message_id)]
        if last_post_at is not None:
            actions.append(ChannelModel.last_post_at.set(last_post_at))
        try:
            ChannelModel(ref=ref).update(
                actions=actions,
                condition=ChannelModel.ref.exists()
                & (
                    ChannelModel.last_message_id.does_not_exist()
                    | (ChannelModel.last_message_id < message_id)
                ),
            )
        except UpdateError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def checkpoint_of(self, ref: str) -> int | None:
        """The stored checkpoint of ``ref`` (``None`` when it is not registered)."""
        try:
            return int(ChannelModel.get(ref, consistent_read=True).last_message_id or 0)
        except ChannelModel.DoesNotExist:
            return None
