"""User records and subscription changes made by the bot (admin grants and revocations).

The user record is written only when something changed (first contact, a new username or name, the
language, coming back after blocking the bot), so an ordinary update costs one read. Every change of
``subscription_end`` is conditional on the value that was read and retried on conflict, so a grant
racing with a payment credit (``carsbot.payments``) never loses either's days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from carsbot.adapters.db.conditions import is_conditional_failure
from carsbot.adapters.db.users import (
    UserModel,
    mark_blocked,
    normalize_username,
    subscription_fields,
    subscription_unchanged,
)
from carsbot.core.subscriptions import extend

MAX_ATTEMPTS = 5


class UserNotFound(LookupError):
    pass


@dataclass(frozen=True)
class TelegramUser:
    """The parts of a Telegram ``User`` the record keeps."""

    id: int
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    language: str | None = None

    @classmethod
    def of(cls, user: Any) -> TelegramUser:
        return cls(
            id=int(user.id),
            username=normalize_username(getattr(user, "username", None)),
            first_name=getattr(user, "first_name", None) or None,
            last_name=getattr(user, "last_name", None) or None,
            language=getattr(user, "language_code", None) or None,
        )


def get_user(user_id: int) -> UserModel | None:
    try:
        return UserModel.get(user_id, consistent_read=True)
    except DoesNotExist:
        return None


_UNREAD: Any = object()


def ensure_user(seen: TelegramUser, now: datetime | None = None, *, record: Any = _UNREAD) -> UserModel:
    """The user's record, created on first contact and refreshed when their profile changed.

    ``record`` is the record as this update already read it (``None``: read, absent); without it the
    record is read here. Either way an unchanged profile costs no write.
    """
    now = now or datetime.now(UTC)
    if record is _UNREAD:
        record = get_user(seen.id)
    if record is None:
        record = UserModel(
            seen.id,
            username=seen.username,
            first_name=seen.first_name,
            last_name=seen.last_name,
            language=seen.language,
            registered_at=now,
            updated_at=now,
        )
        try:
            record.save(condition=UserModel.user_id.does_not_exist())
            return record
        except PutError as exc:
            if not is_conditional_failure(exc):
                raise
            record = get_user(seen.id)  # created concurrently (a double tap): use that one
            if record is None:
                raise
    actions = []
    for name in ("username", "first_name", "last_name", "language"):
        value = getattr(seen, name)
        if getattr(record, name) != value:
            attribute = getattr(UserModel, name)
            actions.append(attribute.set(value) if value is not None else attribute.remove())
    if record.blocked:  # they write to the bot again: it is not blocked any more
        actions += [UserModel.blocked.set(False), UserModel.blocked_at.remove()]
    if actions:
        record.update(actions=[*actions, UserModel.updated_at.set(now)])
    return record


def set_blocked(user_id: int, blocked: bool, now: datetime | None = None) -> bool:
    """Mark (or unmark) a user as having blocked the bot; False when the user is unknown."""
    return mark_blocked(user_id, blocked, now or datetime.now(UTC))


def find_user(ref: str) -> UserModel | None:
    """A user by numeric id or ``@username`` (case-insensitive)."""
    text = ref.strip()
    if text.lstrip("-").isdigit():
        return get_user(int(text))
    name = normalize_username(text)
    if not name:
        return None
    for hit in UserModel.by_username.query(name, limit=1):
        return get_user(int(hit.user_id))
    return None


def _change_end(
    user_id: int, compute: Any, *, plan: str | None = None, now: datetime | None = None
) -> UserModel:
    """Apply ``compute(current_end, now) -> new_end`` with a conditional write, retried on conflict."""
    now = now or datetime.now(UTC)
    for _ in range(MAX_ATTEMPTS):
        record = get_user(user_id)
        if record is None:
            raise UserNotFound(user_id)
        current = record.subscription_end
        new_end = compute(current, now)
        actions = [*subscription_fields(new_end), UserModel.updated_at.set(now)]
        if plan is not None:
            actions.append(UserModel.plan.set(plan))
        try:
            record.update(actions=actions, condition=subscription_unchanged(current))
            return record
        except UpdateError as exc:
            if not is_conditional_failure(exc):
                raise
    raise RuntimeError(f"subscription of user {user_id} kept changing; gave up after {MAX_ATTEMPTS} tries")


def grant_days(user_id: int, days: int, *, now: datetime | None = None, plan: str = "grant") -> UserModel:
    """Add ``days`` from ``max(now, current end)`` (an admin grant)."""
    return _change_end(user_id, lambda end, at: extend(end, at, days), plan=plan, now=now)


def revoke(user_id: int, *, now: datetime | None = None) -> UserModel:
    """End the subscription now."""
    return _change_end(user_id, lambda end, at: None, now=now)
