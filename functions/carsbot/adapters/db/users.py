"""Bot users (UsersTable). Key schema and indexes mirror template.yaml (tests/integration checks it).

* ``user_id`` — the Telegram user id (hash key).
* ``by-username`` (``username``, keys only) — ``/grant @username``; usernames are stored lower-case
  without ``@`` (absent when the user has none, so the index holds only users that have one).
* ``by-subscription-end`` (``sub_bucket`` = ``"sub"``, ``subscription_end``; all attributes) — the
  expiry/renewal jobs' range queries ("ends between now+3d and now+3d+1h"), never a scan. ``sub_bucket``
  is set whenever ``subscription_end`` is, and removed with it (``subscription_fields``).

Every change of ``subscription_end`` is a conditional write on the value that was read (grants,
revocations, payment credits), so two writers never lose each other's days.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from carsbot.adapters.db.base import NowAttribute

SUB_BUCKET = "sub"


class UsernameIndex(GlobalSecondaryIndex["UserModel"]):
    class Meta:
        index_name = "by-username"
        projection = KeysOnlyProjection()

    username = UnicodeAttribute(hash_key=True)


class SubscriptionEndIndex(GlobalSecondaryIndex["UserModel"]):
    class Meta:
        index_name = "by-subscription-end"
        projection = AllProjection()

    sub_bucket = UnicodeAttribute(hash_key=True)
    subscription_end = UTCDateTimeAttribute(range_key=True)


class UserModel(Model):
    """A Telegram user who talked to the bot."""

    class Meta:
        table_name = "carsbot-users"

    user_id = NumberAttribute(hash_key=True)
    username = UnicodeAttribute(null=True)  # lower-case, no "@"
    first_name = UnicodeAttribute(null=True)
    last_name = UnicodeAttribute(null=True)
    language = UnicodeAttribute(null=True)  # Telegram's language_code as last seen
    registered_at = NowAttribute()
    blocked = BooleanAttribute(default=False)  # blocked the bot (my_chat_member kicked, or a 403)
    blocked_at = UTCDateTimeAttribute(null=True)
    plan = UnicodeAttribute(null=True)  # code of the last plan bought or granted
    subscription_end = UTCDateTimeAttribute(null=True)
    sub_bucket = UnicodeAttribute(null=True)  # "sub" whenever subscription_end is set
    auto_renew = BooleanAttribute(default=False)
    payment_method_id = UnicodeAttribute(null=True)  # YooKassa saved payment method
    receipt_email = UnicodeAttribute(null=True)
    receipt_phone = UnicodeAttribute(null=True)
    contact_requests = NumberAttribute(default=0)  # distinct listings whose contact card was sent
    searches_count = NumberAttribute(default=0)  # saved searches (kept with them in one transaction)
    updated_at = NowAttribute()

    by_username = UsernameIndex()
    by_subscription_end = SubscriptionEndIndex()


def subscription_fields(end: datetime | None) -> list[Any]:
    """Update actions that set (or clear) ``subscription_end`` together with its index bucket."""
    if end is None:
        return [UserModel.subscription_end.remove(), UserModel.sub_bucket.remove()]
    return [UserModel.subscription_end.set(end), UserModel.sub_bucket.set(SUB_BUCKET)]


def subscription_unchanged(end: datetime | None) -> Any:
    """The condition "``subscription_end`` is still what was read" for a conditional write."""
    if end is None:
        return UserModel.subscription_end.does_not_exist()
    return UserModel.subscription_end == end


def mark_blocked(user_id: int, blocked: bool, now: datetime) -> bool:
    """Record that a user blocked (or unblocked) the bot; False when the user is unknown."""
    from pynamodb.exceptions import UpdateError

    from carsbot.adapters.db.conditions import is_conditional_failure

    actions: list[Any] = [UserModel.blocked.set(blocked), UserModel.updated_at.set(now)]
    actions.append(UserModel.blocked_at.set(now) if blocked else UserModel.blocked_at.remove())
    try:
        UserModel(user_id).update(actions=actions, condition=UserModel.user_id.exists())
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def normalize_username(username: str | None) -> str | None:
    """``"@Ivan_Petrov"`` -> ``"ivan_petrov"``; empty -> ``None``."""
    if not username:
        return None
    name = username.strip().lstrip("@").lower()
    return name or None
