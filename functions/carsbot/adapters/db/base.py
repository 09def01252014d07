"""Shared pynamodb attribute types."""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.attributes import UTCDateTimeAttribute


def utcnow() -> datetime:
    return datetime.now(UTC)


def day_of(when: datetime) -> str:
    """The UTC day of ``when`` as the daily indexes key it: "2025-01-31"."""
    return when.astimezone(UTC).strftime("%Y-%m-%d")


class NowAttribute(UTCDateTimeAttribute):
    """A UTC timestamp attribute that defaults to the time of object creation."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("default_for_new", utcnow)
        super().__init__(**kwargs)  # type: ignore[arg-type]
