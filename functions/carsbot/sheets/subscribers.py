"""Подписчики: users -> bot columns; manual grants and revocations -> subscriptions, each exactly once.

A grant cell's value is applied once: one DynamoDB transaction writes the new ``subscription_end``
(conditional on the value read, so a payment credited meanwhile is not lost — the transaction is retried
on conflict) together with a marker ``sheets#grant#<user id>`` holding the value applied (conditional on
the marker not holding it yet). Five syncs, or a sync that crashed after the commit and runs again, see
the marker and apply nothing. A new value in the cell is a new grant; clearing the cell forgets the
marker, so the same value typed again later is applied again. A ticked "Отозвать" works the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pynamodb.exceptions import TransactWriteError

from carsbot.adapters.db.conditions import is_conditional_failure
from carsbot.adapters.db.models import StateModel
from carsbot.adapters.db.transactions import transact_write
from carsbot.adapters.db.users import UserModel, subscription_fields, subscription_unchanged
from carsbot.core.subscriptions import Plan as SubscriptionPlan
from carsbot.core.subscriptions import extend, is_active
from carsbot.sheets.grid import Plan, TabView
from carsbot.sheets.parse import CellError, Grant, fmt_date, fmt_dt, parse_bool, parse_grant

GRANT = "sheets#grant#"
REVOKE = "sheets#revoke#"
ATTEMPTS = 5
USER_ATTRIBUTES = [
    "user_id", "username", "first_name", "last_name", "registered_at", "plan", "subscription_end",
    "contact_requests", "blocked",
]  # fmt: skip


@dataclass
class SubscribersOutcome:
    users: list[UserModel] = field(default_factory=list)
    granted: list[int] = field(default_factory=list)
    revoked: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def user_key(text: str) -> str | None:
    return text if text.isdigit() else None


def _fold_value(text: str) -> str:
    return " ".join(text.lower().split())


def _commit(
    user_id: int, compute: object, marker: str, value: str, plan_code: str | None, now: datetime
) -> datetime | None:
    """The transaction "subscription changed + marker set", retried while the subscription moves."""
    for _ in range(ATTEMPTS):
        user = UserModel.get(user_id, consistent_read=True)
        current = user.subscription_end
        new_end = compute(current)  # type: ignore[operator]
        actions = [*subscription_fields(new_end), UserModel.updated_at.set(now)]
        if plan_code:
            actions.append(UserModel.plan.set(plan_code))
        try:
            with transact_write() as tx:
                tx.update(UserModel(user_id), actions=actions, condition=subscription_unchanged(current))
                tx.save(
                    StateModel(marker, owner=value, updated_at=now),
                    condition=StateModel.pk.does_not_exist() | (StateModel.owner != value),
                )
            return new_end  # type: ignore[no-any-return]
        except TransactWriteError as exc:
            if not is_conditional_failure(exc):
                raise
            try:  # the marker already holds the value: applied before (nothing to do)
                if StateModel.get(marker, consistent_read=True).owner == value:
                    raise _AlreadyApplied from None
            except StateModel.DoesNotExist:
                pass
    raise RuntimeError(f"subscription of user {user_id} kept changing; gave up after {ATTEMPTS} tries")


class _AlreadyApplied(Exception):
    pass


def _grant_end(grant: Grant, now: datetime) -> object:
    if grant.until is not None:
        until = grant.until
        return lambda current: until
    days = grant.days or 0
    return lambda current: extend(current, now, days)


def sync_subscribers(
    view: TabView | None, plan: Plan | None, plans: Sequence[SubscriptionPlan], now: datetime
) -> SubscribersOutcome:
    out = SubscribersOutcome()
    users = {int(u.user_id): u for u in UserModel.scan(attributes_to_get=USER_ATTRIBUTES)}
    if view is None or plan is None:
        out.users = list(users.values())
        return out
    rows: dict[int, int] = {}
    wanted: list[str] = []
    for row in view.data_rows():
        text = view.get(row, "user_id")
        if not text.isdigit():
            continue
        uid = int(text)
        if uid in rows:  # a copied row: its grant would go unnoticed, so say so in the row
            plan.set_at(row, "applied", f"дубликат строки {rows[uid] + 1}: строка не учитывается")
            out.problems.append(f"Подписчики, строка {row + 1}: дубликат пользователя {uid}")
            continue
        rows[uid] = row
        if view.get(row, "grant") or view.get(row, "applied"):
            wanted.append(GRANT + text)
        if view.get(row, "revoke"):
            wanted.append(REVOKE + text)
    markers = {m.pk: m.owner for m in StateModel.batch_get(wanted)} if wanted else {}
    for uid, row in rows.items():
        if uid in users:
            applied = _grant(view, row, uid, markers, plans, now, out)
            applied = _revoke(view, row, uid, markers, now, out) or applied
            if uid in out.granted or uid in out.revoked:
                users[uid] = UserModel.get(uid, consistent_read=True)
            if applied is not None:
                plan.set(str(uid), row, "applied", applied)
            _cells(plan, str(uid), row, users[uid], now)
        else:
            plan.set(str(uid), row, "applied", "нет такого пользователя в боте")
    for uid in sorted(set(users) - set(rows)):
        plan.append(str(uid), {"user_id": uid, **_values(users[uid], now)})
    out.users = list(users.values())
    return out


def _grant(
    view: TabView,
    row: int,
    uid: int,
    markers: Mapping[str, str | None],
    plans: Sequence[SubscriptionPlan],
    now: datetime,
    out: SubscribersOutcome,
) -> str | None:
    text = view.get(row, "grant")
    marker = GRANT + str(uid)
    if not text:
        if marker in markers:  # cleared by the admin: the same value may be granted again later
            StateModel(marker).delete()
            return ""
        return None
    value = _fold_value(text)
    if markers.get(marker) == value:
        return None  # applied by an earlier sync; the "applied" cell already says so
    try:
        grant = parse_grant(text, plans)
    except CellError as exc:
        out.problems.append(f"Подписчики, {uid}: {exc}")
        return f"ошибка: {exc}"
    assert grant is not None
    try:
        end = _commit(uid, _grant_end(grant, now), marker, value, grant.plan or "grant", now)
    except _AlreadyApplied:
        return None
    out.granted.append(uid)
    what = f"+{grant.days} дн." if grant.days else f"до {fmt_date(grant.until)}"
    return f"✓ {what} → подписка до {fmt_date(end)} (выдано {fmt_dt(now)})"


def _revoke(
    view: TabView,
    row: int,
    uid: int,
    markers: Mapping[str, str | None],
    now: datetime,
    out: SubscribersOutcome,
) -> str | None:
    marker = REVOKE + str(uid)
    try:
        ticked = parse_bool(view.get(row, "revoke"))
    except CellError as exc:
        out.problems.append(f"Подписчики, {uid}: «Отозвать»: {exc}")
        return f"ошибка в «Отозвать»: {exc}"
    if not ticked:
        if marker in markers:
            StateModel(marker).delete()
        return None
    if markers.get(marker) == "revoked":
        return None
    try:
        _commit(uid, lambda current: None, marker, "revoked", None, now)
    except _AlreadyApplied:
        return None
    out.revoked.append(uid)
    return f"✓ подписка отозвана ({fmt_dt(now)})"


def _values(user: UserModel, now: datetime) -> dict[str, object]:
    name = " ".join(p for p in (user.first_name, user.last_name) if p)
    end = user.subscription_end
    return {
        "username": f"@{user.username}" if user.username else "",
        "name": name,
        "registered": fmt_dt(user.registered_at),
        "plan": user.plan or "",
        "sub_end": (fmt_date(end) + ("" if is_active(end, now) else " (истекла)")) if end else "",
        "contacts": int(user.contact_requests or 0),
        "blocked": "да" if user.blocked else "",
    }


def _cells(plan: Plan, key: str, row: int, user: UserModel, now: datetime) -> None:
    for name, value in _values(user, now).items():
        plan.set(key, row, name, value)
