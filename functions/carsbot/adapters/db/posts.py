"""The posts table's transitions, by name (states: ``carsbot.core.states.PostStatus``).

A post row is created once (conditionally: a redelivery finds the stored row and, if it is decided,
returns its outcome); each decision is one update that also stamps ``updated_at``. Creating a row also
counts it in its channel's ``posts-seen#<channel id>`` state item (the Каналы tab's "Постов получено"):
only the delivery whose conditional put won counts it, so a redelivery never counts twice (a crash
between the two writes loses that one count, never adds one).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.exceptions import DoesNotExist, PutError

from carsbot.adapters.db.conditions import is_conditional_failure
from carsbot.adapters.db.models import PostModel, StateModel
from carsbot.core.states import PostStatus


def _now() -> datetime:
    return datetime.now(UTC)


def posts_seen_key(channel_id: float) -> str:
    """The state item counting the posts received from a channel (its id as stored: a number)."""
    return f"posts-seen#{int(channel_id)}"


class PostsRepository:
    """Named reads and writes of ``PostModel`` items."""

    def find(self, post_id: str) -> PostModel | None:
        try:
            return PostModel.get(post_id)
        except DoesNotExist:
            return None

    def create(self, row: PostModel) -> tuple[PostModel, bool]:
        """Store a new post row; ``(stored row, created)`` — an earlier delivery's row when it exists."""
        try:
            row.save(condition=PostModel.post_id.does_not_exist())
        except PutError as exc:
            if not is_conditional_failure(exc):
                raise
            return PostModel.get(row.post_id), False
        StateModel(posts_seen_key(row.channel_id)).update(actions=[StateModel.counter.add(1)])
        return row, True

    def mark_rejected(self, row: PostModel, reason: str, engine: str) -> None:
        row.update(
            actions=[
                PostModel.status.set(PostStatus.REJECTED),
                PostModel.reason.set(reason),
                PostModel.engine.set(engine),
                PostModel.updated_at.set(_now()),
            ]
        )

    def mark_listing(self, row: PostModel, listing_id: str, engine: str) -> None:
        row.update(
            actions=[
                PostModel.status.set(PostStatus.LISTING),
                PostModel.listing_id.set(listing_id),
                PostModel.engine.set(engine),
                PostModel.updated_at.set(_now()),
            ]
        )

    def mark_duplicate(self, row: PostModel, original_id: str, engine: str) -> None:
        row.update(
            actions=[
                PostModel.status.set(PostStatus.DUPLICATE),
                PostModel.listing_id.set(original_id),
                PostModel.reason.set("duplicate"),
                PostModel.engine.set(engine),
                PostModel.updated_at.set(_now()),
            ]
        )

    def mark_removed(self, row: PostModel) -> None:
        row.update(actions=[PostModel.status.set(PostStatus.REMOVED), PostModel.updated_at.set(_now())])

    def record_edit(self, row: PostModel, text: str, edit_date: datetime) -> None:
        """The source post was edited: its new text (the caller re-reads the row when it needs it)."""
        row.update(
            actions=[
                PostModel.text.set(text),
                PostModel.edit_date.set(edit_date),
                PostModel.updated_at.set(_now()),
            ]
        )
