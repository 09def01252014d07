"""Wire contracts between the stages (documented in docs/contracts.md).

* ``QueuedPost`` — what the monitor (or the local replay source) puts on the posts queue.
* ``ListingFields`` — what an extractor produces from a post's text (the ``carsbot extract`` contract).
* ``ListingMessage`` — what the extract function puts on the publish queue.
* ``AlertJob`` / ``NotifyMessage`` / ``NotifyBatch`` — the alerts queue: "listing L was published, DM the
  matching saved searches", "send this one notice to this chat" (alerts, admin broadcast, payment
  reminders) and a pack of such notices (an alert fan-out).

Pure pydantic: no SDK imports here, so every layer may depend on it.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

CONTRACT_VERSION = 1


class PostKind(StrEnum):
    NEW = "new"
    EDIT = "edit"
    DELETE = "delete"


class MediaType(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"


class MediaRef(BaseModel):
    """One media item of a post, already stored in the media bucket."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(min_length=1, description="S3 object key in the media bucket")
    type: MediaType
    message_id: int = Field(description="Source message that carried this media item")
    size: int | None = Field(default=None, ge=0)
    mime_type: str | None = None


def post_id_of(channel_id: int, message_id: int) -> str:
    """The business id of a source post: ``channel_id:message_id`` (album: its lowest message id)."""
    return f"{channel_id}:{message_id}"


def listing_id_of(post_id: str) -> str:
    """An opaque, URL-safe listing id, usable in a ``?start=`` deep link (<= 64 chars, [A-Za-z0-9_-])."""
    digest = hashlib.blake2b(post_id.encode(), digest_size=9).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class QueuedPost(BaseModel):
    """A source-channel post as queued by the monitor.

    An album is one ``QueuedPost``: ``message_ids`` holds every item, ``message_id`` the lowest one
    (the post's identity), ``grouped_id`` Telegram's 64-bit album id. An edit is queued with
    ``kind=edit`` and the full new text; a deletion with ``kind=delete`` and empty text.
    """

    model_config = ConfigDict(extra="ignore")

    v: Literal[1] = 1
    kind: PostKind = PostKind.NEW
    channel_id: int = Field(gt=0, description="Telethon's positive channel id (not the -100 form)")
    message_id: int = Field(gt=0)
    message_ids: list[int] = Field(default_factory=list)
    grouped_id: int | None = None
    text: str = ""
    date: datetime
    edit_date: datetime | None = None
    media: list[MediaRef] = Field(default_factory=list, max_length=10)
    channel_username: str | None = None
    channel_title: str | None = None
    link: str | None = Field(default=None, description="Public link to the original post, when it has one")

    @field_validator("message_ids")
    @classmethod
    def _sorted_ids(cls, value: list[int]) -> list[int]:
        return sorted(set(value))

    def model_post_init(self, __context: object) -> None:
        if not self.message_ids:
            self.message_ids = [self.message_id]
        elif self.message_id not in self.message_ids:
            self.message_ids = sorted({*self.message_ids, self.message_id})

    @property
    def post_id(self) -> str:
        return post_id_of(self.channel_id, self.message_id)

    @property
    def idempotency_key(self) -> str:
        """Business key for at-most-once processing: new posts by id, edits by id and edit time."""
        if self.kind is PostKind.NEW:
            return self.post_id
        if self.kind is PostKind.EDIT:
            stamp = int((self.edit_date or self.date).timestamp())
            return f"{self.post_id}:edit:{stamp}"
        return f"{self.post_id}:delete"

    def original_link(self) -> str | None:
        if self.link:
            return self.link
        if self.channel_username:
            return f"https://t.me/{self.channel_username}/{self.message_id}"
        return f"https://t.me/c/{self.channel_id}/{self.message_id}"


Transmission = Literal["automatic", "manual", "robot", "variator"]
Drive = Literal["fwd", "rwd", "awd"]
Engine = Literal["rules", "llm", "rules-fallback"]


class ListingFields(BaseModel):
    """Fields an extractor produces from a post's text. Unknown is ``None``, never a guess."""

    model_config = ConfigDict(extra="forbid")

    is_car_sale: bool
    brand: str | None = None
    model: str | None = None
    year: Annotated[int, Field(ge=1900, le=2100)] | None = None
    price: Annotated[int, Field(gt=0)] | None = Field(default=None, description="RUB")
    market_price: Annotated[int, Field(gt=0)] | None = Field(default=None, description="RUB, if stated")
    mileage: Annotated[int, Field(ge=0)] | None = Field(default=None, description="km")
    engine_volume: Annotated[float, Field(gt=0, lt=10)] | None = Field(default=None, description="litres")
    transmission: Transmission | None = None
    drive: Drive | None = None
    owners_count: Annotated[int, Field(ge=0, le=50)] | None = None
    city: str | None = None
    phones: list[str] = Field(default_factory=list, description="E.164")
    usernames: list[str] = Field(default_factory=list, description="Telegram usernames without @")
    # Beyond the CLI contract:
    fuel: str | None = None
    autoteka: str | None = Field(default=None, description="Autoteka / accident status as stated")
    equipment: list[str] = Field(default_factory=list)
    description: str | None = None
    reason: str | None = Field(default=None, description="Why it is not a car sale (when it is not)")
    confidence: Annotated[float, Field(ge=0, le=1)] = 1.0

    CLI_FIELDS: ClassVar[tuple[str, ...]] = (
        "is_car_sale",
        "brand",
        "model",
        "year",
        "price",
        "market_price",
        "mileage",
        "engine_volume",
        "transmission",
        "drive",
        "owners_count",
        "city",
        "phones",
        "usernames",
    )

    def cli_dict(self) -> dict[str, object]:
        """The stable ``carsbot extract`` output fields, in contract order."""
        return {name: getattr(self, name) for name in self.CLI_FIELDS}


class ListingMessage(BaseModel):
    """What the extract function queues for publishing (and for edits/removals of a listing)."""

    model_config = ConfigDict(extra="ignore")

    v: Literal[1] = 1
    action: Literal["publish", "update", "remove"] = "publish"
    listing_id: str
    post_id: str
    requested_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class NotifyButton(BaseModel):
    """An inline button under a notice: a URL button or a callback button (exactly one of the two)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1, max_length=64)
    url: str | None = None
    callback_data: str | None = Field(default=None, max_length=64)

    def model_post_init(self, __context: object) -> None:
        if (self.url is None) == (self.callback_data is None):
            raise ValueError("a button has either a url or callback_data")


class NotifyMessage(BaseModel):
    """One outbound bot message, sent by the alerts function within the bot's rate limits.

    ``dedupe_key`` makes delivery at most once per key: ``alert:<user>:<listing>`` for an alert,
    ``broadcast:<id>:<user>``, ``reminder:<user>:<period end>:<kind>``... A notice whose key was already
    sent is dropped, however often it is queued. ``text`` is Telegram HTML; ``buttons`` are rows.
    """

    model_config = ConfigDict(extra="ignore")

    v: Literal[1] = 1
    kind: Literal["notify"] = "notify"
    chat_id: int
    text: str = Field(min_length=1, max_length=4096)
    buttons: list[list[NotifyButton]] = Field(default_factory=list)
    dedupe_key: str = Field(min_length=1, max_length=200)
    category: str = Field(default="notice", description="alert | broadcast | reminder | notice (metrics)")
    disable_preview: bool = True


class NotifyBatch(BaseModel):
    """Several notices in one queue message (an alert fan-out): sent in order, each at most once.

    Packing a fan-out's notices (``carsbot.adapters.notify.enqueue(..., pack=True)``) makes a thousand
    alerts twenty queue messages, not a thousand; each notice keeps its own ``dedupe_key``, so a pack
    delivered again sends only what was not sent.
    """

    model_config = ConfigDict(extra="ignore")

    v: Literal[1] = 1
    kind: Literal["notify_batch"] = "notify_batch"
    messages: list[NotifyMessage] = Field(min_length=1, max_length=100)


class AlertJob(BaseModel):
    """A listing was published: find the saved searches it matches and queue a notice for each owner."""

    model_config = ConfigDict(extra="ignore")

    v: Literal[1] = 1
    kind: Literal["alert_job"] = "alert_job"
    listing_id: str = Field(min_length=1)
    requested_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
