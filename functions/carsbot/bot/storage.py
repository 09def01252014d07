"""aiogram FSM storage in DynamoDB (aiogram ships none): one bot-state item per FSM key, with a TTL.

A dialog left half-way (a saved search being created, a broadcast awaiting confirmation) expires by
itself after ``ttl`` (DynamoDB TTL on ``expires_at``; expired items are also ignored on read, since TTL
deletion is lazy). State and data live in one item, so clearing both is one delete.

In a private chat (the bot's only kind) the FSM key belongs to the sender, and within an update
(``carsbot.bot.update_scope``) the first read takes the sender's user record in the same BatchGetItem
and leaves it for the user-record middleware: one request for both. Within the update the item is then
served from the scope and kept current by every write.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, KeyBuilder, StateType, StorageKey
from pynamodb.exceptions import DoesNotExist

from carsbot.adapters.db.batch import Key, get_items
from carsbot.adapters.db.bot import BotStateModel
from carsbot.adapters.db.users import UserModel
from carsbot.bot import update_scope

FSM = "fsm"  # update_scope kind of an FSM item

DEFAULT_TTL = timedelta(hours=24)


class DynamoDBStorage(BaseStorage):
    def __init__(self, *, ttl: timedelta = DEFAULT_TTL, key_builder: KeyBuilder | None = None) -> None:
        self.ttl = ttl
        self.key_builder = key_builder or DefaultKeyBuilder(prefix="fsm", separator="#", with_bot_id=True)

    def _pk(self, key: StorageKey) -> str:
        return self.key_builder.build(key)

    def _read(self, key: StorageKey) -> BotStateModel | None:
        pk = self._pk(key)
        known, item = update_scope.recall(FSM, pk)
        if known:
            return item  # type: ignore[no-any-return]
        if update_scope.active() and key.chat_id == key.user_id:
            user = Key(UserModel, key.user_id)
            found = get_items([Key(BotStateModel, pk), user])
            update_scope.remember(update_scope.USER, key.user_id, found.get(user))
            item = found.get(Key(BotStateModel, pk))
        else:
            try:
                item = BotStateModel.get(pk, consistent_read=True)
            except DoesNotExist:
                item = None
        update_scope.remember(FSM, pk, item)
        return item  # type: ignore[return-value]

    def _load(self, key: StorageKey) -> BotStateModel | None:
        item = self._read(key)
        if item is None:
            return None
        if item.expires_at is not None and item.expires_at <= datetime.now(UTC):
            return None
        return item

    def _save(self, key: StorageKey, state: str | None, data: dict[str, Any]) -> None:
        pk = self._pk(key)
        if state is None and not data:
            BotStateModel(pk).delete()
            update_scope.remember(FSM, pk, None)
            return
        now = datetime.now(UTC)
        item = BotStateModel(pk, state=state, data=data, updated_at=now, expires_at=now + self.ttl)
        item.save()
        update_scope.remember(FSM, pk, item)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        item = self._load(key)
        self._save(key, value, dict(item.data or {}) if item else {})

    async def get_state(self, key: StorageKey) -> str | None:
        item = self._load(key)
        return item.state if item else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):
            raise DataNotDictLikeError(f"Data must be a dict or dict-like object, got {type(data).__name__}")
        item = self._load(key)
        self._save(key, item.state if item else None, dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        item = self._load(key)
        return dict(item.data or {}) if item else {}

    async def close(self) -> None:
        return None
