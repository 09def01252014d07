"""Several items of several tables in one request (``BatchGetItem``), returned as pynamodb models.

pynamodb's ``Model.batch_get`` reads one table. The bot often needs a handful of items from different
tables at once — the sender's record and FSM item; a listing, its hidden flag, the user's contact-request
row and today's counter — and one BatchGetItem (up to 100 keys, any tables, consistent reads) answers
them in one round trip instead of one GetItem each::

    found = get_items([Key(UserModel, 42), Key(ListingModel, "abc")])
    user = found.get(Key(UserModel, 42))  # None: no such item

Keys the service leaves unprocessed (throttling) are asked again, with a short backoff. The request goes
through the connection the bound models share (``transactions.connection``), like a transaction.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import GetError
from pynamodb.models import Model

from carsbot.adapters.db.transactions import connection

MAX_KEYS = 100  # BatchGetItem's limit per request
MAX_ROUNDS = 5  # requests for keys left unprocessed before giving up


@dataclass(frozen=True)
class Key:
    """One item to read: its model (hence table) and key values (python values, as pynamodb takes them)."""

    model: type[Model]
    hash_key: Any
    range_key: Any = None

    def wire(self) -> dict[str, dict[str, str]]:
        """The key as DynamoDB's wire format (``{"user_id": {"N": "42"}}``)."""
        hash_attr = self.model._hash_key_attribute()
        wire = {hash_attr.attr_name: {hash_attr.attr_type: hash_attr.serialize(self.hash_key)}}
        range_attr = self.model._range_key_attribute()
        if range_attr is not None:
            if self.range_key is None:
                raise ValueError(f"{self.model.__name__} needs a range key")
            wire[range_attr.attr_name] = {range_attr.attr_type: range_attr.serialize(self.range_key)}
        return wire


def _identity(table: str, wire: dict[str, dict[str, Any]]) -> tuple[str, tuple[tuple[str, str], ...]]:
    return table, tuple(sorted((name, str(next(iter(value.values())))) for name, value in wire.items()))


def get_items(keys: Iterable[Key], *, consistent_read: bool = True) -> dict[Key, Model]:
    """The items found among ``keys`` (absent ones are missing from the result); one request per 100."""
    wanted = list(dict.fromkeys(keys))
    found: dict[Key, Model] = {}
    for start in range(0, len(wanted), MAX_KEYS):
        found.update(_get_page(wanted[start : start + MAX_KEYS], consistent_read))
    return found


def _get_page(keys: list[Key], consistent_read: bool) -> dict[Key, Model]:
    by_identity: dict[tuple[str, tuple[tuple[str, str], ...]], Key] = {}
    models: dict[str, type[Model]] = {}
    request: dict[str, dict[str, Any]] = {}
    for key in keys:
        table = key.model.Meta.table_name
        if models.setdefault(table, key.model) is not key.model:
            raise ValueError(f"table {table!r} is bound to two models in one read")
        wire = key.wire()
        by_identity[_identity(table, wire)] = key
        request.setdefault(table, {"Keys": [], "ConsistentRead": consistent_read})["Keys"].append(wire)
    found: dict[Key, Model] = {}
    for attempt in range(MAX_ROUNDS):
        try:
            data = connection().dispatch("BatchGetItem", {"RequestItems": request})
        except (BotoCoreError, ClientError) as exc:
            raise GetError(f"Failed to batch get items: {exc}", exc) from exc
        for table, items in (data.get("Responses") or {}).items():
            model = models[table]
            for raw in items:
                key_names = {model._hash_key_attribute().attr_name}
                range_attr = model._range_key_attribute()
                if range_attr is not None:
                    key_names.add(range_attr.attr_name)
                identity = _identity(table, {name: raw[name] for name in key_names})
                found[by_identity[identity]] = model.from_raw_data(raw)
        request = data.get("UnprocessedKeys") or {}
        if not request:
            return found
        time.sleep(min(1.0, 0.05 * 2**attempt))
    raise GetError(f"BatchGetItem left keys unprocessed after {MAX_ROUNDS} requests")
