"""Saved searches of a user: create (at most N, exact under concurrency), list, delete, describe.

A search and the user's ``searches_count`` change in one transaction, the create conditional on the
count staying below the limit, so a double tap never makes an 11th search.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from aiogram.utils.i18n import gettext as _
from pynamodb.exceptions import DoesNotExist, TransactWriteError

from carsbot.adapters.db.bot import SavedSearchModel
from carsbot.adapters.db.conditions import is_conditional_failure
from carsbot.adapters.db.transactions import transact_write
from carsbot.adapters.db.users import UserModel
from carsbot.core.formatting import format_rub
from carsbot.core.searches import SearchCriteria


class SearchLimitReached(Exception):
    pass


def criteria_of(item: SavedSearchModel) -> SearchCriteria:
    return item.criteria()


def list_searches(user_id: int) -> list[SavedSearchModel]:
    return sorted(SavedSearchModel.query(user_id, consistent_read=True), key=lambda s: s.created_at)


def create(user_id: int, criteria: SearchCriteria, *, limit: int, now: datetime) -> SavedSearchModel:
    search_id = uuid.uuid4().hex[:12]
    item = SavedSearchModel.of(user_id, search_id, criteria, created_at=now)
    try:
        with transact_write() as tx:
            tx.save(item, condition=SavedSearchModel.search_id.does_not_exist())
            tx.update(
                UserModel(user_id),
                actions=[UserModel.searches_count.add(1), UserModel.updated_at.set(now)],
                condition=UserModel.user_id.exists()
                & (UserModel.searches_count.does_not_exist() | (UserModel.searches_count < limit)),
            )
    except TransactWriteError as exc:
        if is_conditional_failure(exc):
            raise SearchLimitReached from None
        raise
    return item


def delete(user_id: int, search_id: str, *, now: datetime) -> bool:
    try:
        SavedSearchModel.get(user_id, search_id, consistent_read=True)
    except DoesNotExist:
        return False
    try:
        with transact_write() as tx:
            tx.delete(SavedSearchModel(user_id, search_id), condition=SavedSearchModel.search_id.exists())
            tx.update(
                UserModel(user_id),
                actions=[UserModel.searches_count.add(-1), UserModel.updated_at.set(now)],
                condition=UserModel.searches_count > 0,
            )
    except TransactWriteError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def describe(criteria: SearchCriteria) -> str:
    """A one-line Russian summary: "Toyota Camry, 2015–2018, до 1 500 000 ₽, Воронеж"."""
    parts: list[str] = []
    car = " ".join(p for p in (criteria.brand, criteria.model) if p)
    parts.append(car or _("any car"))
    if criteria.year_from and criteria.year_to:
        if criteria.year_from == criteria.year_to:
            parts.append(str(criteria.year_from))
        else:
            parts.append(f"{criteria.year_from}–{criteria.year_to}")
    elif criteria.year_from:
        parts.append(_("from {year}").format(year=criteria.year_from))
    elif criteria.year_to:
        parts.append(_("up to {year}").format(year=criteria.year_to))
    if criteria.price_max:
        parts.append(_("up to {price}").format(price=format_rub(criteria.price_max)))
    if criteria.city:
        parts.append(criteria.city)
    return ", ".join(parts)
