"""Shared pynamodb attribute types."""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.attributes import UTCDateTimeAttribute


def utcnow() -> datetime:
    return datetime.now(UTC)


class NowAttribute(UTCDateTimeAttribute):
    """A UTC timestamp attribute that defaults to the time of object creation."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("default_for_new", utcnow)
        super().__init__(**kwargs)  # type: ignore[arg-type]
