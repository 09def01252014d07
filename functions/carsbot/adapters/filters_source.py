"""Listing filters as admins set them in the sheet (Фильтры, per-channel keywords, moderation mode).

The sheets sync stores the last good values in one StateTable item (``FILTERS_KEY``); the extract
function reads it through ``FiltersSource``, cached for ``ttl`` seconds (60 by default: a change in the
sheet is in force within two minutes of being typed — one sync plus one cache period — and costs one
read per container a minute, not one per post). A value the sheet does not set (blank, or never
synced) falls back to the deployment's configuration (``Settings``); a DynamoDB error keeps the last
values read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from carsbot.adapters.db.models import StateModel
from carsbot.config import Settings
from carsbot.core.filters import FilterRules
from carsbot.observability import logger

FILTERS_KEY = "sheets#filters"
GLOBAL_FIELDS = ("include_keywords", "exclude_keywords", "min_price", "max_price", "min_confidence")


def load_filters() -> dict[str, Any]:
    """The stored filter values (``{}`` when the sheet never set any)."""
    try:
        item = StateModel.get(FILTERS_KEY, consistent_read=True)
    except StateModel.DoesNotExist:
        return {}
    return dict(item.data or {})


def save_filters(data: dict[str, Any]) -> None:
    StateModel(FILTERS_KEY, data=data, updated_at=datetime.now(UTC)).save()


def default_rules(settings: Settings) -> FilterRules:
    return FilterRules(
        include_keywords=tuple(settings.include_keywords),
        exclude_keywords=tuple(settings.exclude_keywords),
        min_price=settings.min_price,
        max_price=settings.max_price,
        min_confidence=settings.min_confidence,
    )


def rules_from(data: dict[str, Any], defaults: FilterRules, channel_id: int | None = None) -> FilterRules:
    """Stored values over the defaults; a channel's own keywords on top (pure)."""
    values: dict[str, Any] = {}
    for name in GLOBAL_FIELDS:
        value = data.get(name)
        if value is not None:
            values[name] = tuple(value) if isinstance(value, list) else value
    rules = replace(defaults, **values)
    channel = (data.get("channels") or {}).get(str(channel_id)) if channel_id is not None else None
    if channel:
        include = tuple(channel.get("include") or ()) or tuple(rules.include_keywords)
        exclude = tuple(dict.fromkeys((*rules.exclude_keywords, *(channel.get("exclude") or ()))))
        rules = replace(rules, include_keywords=include, exclude_keywords=exclude)
    return rules


class FiltersSource:
    """Cached filters for the extract function (one StateTable read per ``ttl`` seconds)."""

    def __init__(
        self, settings: Settings, *, ttl: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.defaults = default_rules(settings)
        self.ttl = ttl
        self.clock = clock
        self._data: dict[str, Any] = {}
        self._loaded_at: float | None = None

    def _current(self) -> dict[str, Any]:
        now = self.clock()
        if self._loaded_at is None or now - self._loaded_at >= self.ttl:
            try:
                self._data = load_filters()
            except Exception as exc:  # keep the last values; the next read tries again
                logger.warning("filters unavailable, keeping the last values", extra={"error": repr(exc)})
            self._loaded_at = now
        return self._data

    def rules(self, channel_id: int | None = None) -> FilterRules:
        return rules_from(self._current(), self.defaults, channel_id)

    def moderation(self) -> bool:
        return bool(self._current().get("moderation"))
