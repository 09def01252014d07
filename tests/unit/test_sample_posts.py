"""The bundled demo sample (carsbot_dev/local/data/sample_posts.jsonl): valid queued posts, realistic mix.

The replay source feeds these lines to the posts queue exactly as the monitor would, so every line must
validate as ``QueuedPost`` and the file must exercise the scenarios the pipeline has to handle: several
channels, non-car posts, cross-channel duplicates, albums (caption not on the first item), an edit, a
deletion and awkward texts (emoji-only, empty, very long, HTML-dangerous).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import datetime
from importlib.resources import files
from itertools import pairwise

import phonenumbers
import pytest

from carsbot.core.contracts import PostKind, QueuedPost

SAMPLE = files("carsbot_dev.local").joinpath("data/sample_posts.jsonl")
RAW_LINES = SAMPLE.read_text(encoding="utf-8").splitlines()
# Keys a line may carry besides the QueuedPost fields (ignored by the contract): which album item had the
# caption, recorded so the "caption not on the first item" scenario is checkable.
EXTRA_KEYS = {"caption_message_id"}


@pytest.fixture(scope="module")
def posts() -> list[QueuedPost]:
    return [QueuedPost.model_validate_json(line) for line in RAW_LINES]


@pytest.fixture(scope="module")
def raw() -> list[dict[str, object]]:
    return [json.loads(line) for line in RAW_LINES]


def _event_time(post: QueuedPost) -> datetime:
    """When the monitor observed the event: the edit time for edits, the message/deletion time otherwise."""
    if post.kind is PostKind.EDIT:
        assert post.edit_date is not None
        return post.edit_date
    return post.date


def _phones(text: str) -> set[str]:
    return {
        phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        for match in phonenumbers.PhoneNumberMatcher(text, "RU")
    }


@pytest.mark.parametrize("lineno", range(1, len(RAW_LINES) + 1))
def test_every_line_is_a_queued_post(lineno: int) -> None:
    line = RAW_LINES[lineno - 1]
    assert line.strip(), f"line {lineno} is blank"
    data = json.loads(line)
    unknown = set(data) - set(QueuedPost.model_fields) - EXTRA_KEYS
    assert not unknown, f"line {lineno}: unexpected keys {unknown}"
    post = QueuedPost.model_validate_json(line)
    assert post.v == 1
    assert post.date.tzinfo is not None
    assert post.message_id == min(post.message_ids)
    # Round trip: what the replay source sends is what the contract reads back.
    assert QueuedPost.model_validate_json(post.model_dump_json()) == post


def test_size_and_channels(posts: list[QueuedPost]) -> None:
    assert len(posts) >= 40
    channels: dict[int, set[tuple[str | None, str | None]]] = defaultdict(set)
    for post in posts:
        channels[post.channel_id].add((post.channel_username, post.channel_title))
    assert len(channels) >= 5
    for channel_id, names in channels.items():
        assert len(names) == 1, f"channel {channel_id} has inconsistent names {names}"
        ((username, title),) = names
        assert username and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{4,31}", username)
        assert title
    by_kind = {kind: sum(post.kind is kind for post in posts) for kind in PostKind}
    assert by_kind[PostKind.NEW] >= 40
    assert by_kind[PostKind.EDIT] >= 1
    assert by_kind[PostKind.DELETE] >= 1


def test_links_and_media_keys(posts: list[QueuedPost]) -> None:
    for post in posts:
        assert post.link == f"https://t.me/{post.channel_username}/{post.message_id}"
        assert post.original_link() == post.link
        for item in post.media:
            assert item.message_id in post.message_ids
            assert item.key == f"media/{post.channel_id}/{item.message_id}.jpg"
            assert item.mime_type == "image/jpeg"
            assert item.size and item.size > 0


def test_identity_triples_are_unique(posts: list[QueuedPost]) -> None:
    triples = [(post.channel_id, post.message_id, post.kind) for post in posts]
    assert len(triples) == len(set(triples))
    assert len({post.idempotency_key for post in posts}) == len(posts)


def test_events_are_in_time_order(posts: list[QueuedPost]) -> None:
    times = [_event_time(post) for post in posts]
    assert all(earlier < later for earlier, later in pairwise(times))
    last_id: dict[int, int] = {}
    for post in posts:
        if post.kind is PostKind.NEW:
            assert post.message_id > last_id.get(post.channel_id, 0), "new posts' ids grow per channel"
            last_id[post.channel_id] = max(post.message_ids)


def test_album_with_caption_on_a_later_item(posts: list[QueuedPost], raw: list[dict[str, object]]) -> None:
    albums = [(post, data) for post, data in zip(posts, raw, strict=True) if len(post.message_ids) > 1]
    assert albums
    for post, _ in albums:
        assert post.grouped_id is not None
        # Real album ids do not fit a float or JS number exactly, but do fit a signed 64-bit integer.
        assert 2**53 < post.grouped_id < 2**63
        assert [item.message_id for item in post.media] == post.message_ids
        assert post.message_ids == list(range(post.message_ids[0], post.message_ids[-1] + 1))
    late_caption = [
        post
        for post, data in albums
        if 3 <= len(post.message_ids) <= 5
        and data.get("caption_message_id") in post.message_ids
        and data["caption_message_id"] != post.message_id
        and post.text
    ]
    assert late_caption, "need an album of 3-5 photos whose caption is not on the first item"


def test_edits_deletions_follow_originals(posts: list[QueuedPost]) -> None:
    seen: dict[tuple[int, int], QueuedPost] = {}
    edits = deletes = 0
    for post in posts:
        key = (post.channel_id, post.message_id)
        if post.kind is PostKind.NEW:
            seen[key] = post
            continue
        original = seen.get(key)
        assert original is not None, f"{post.kind} of {key} precedes (or lacks) its original"
        assert post.message_ids == original.message_ids
        if post.kind is PostKind.EDIT:
            edits += 1
            assert post.date == original.date
            assert post.edit_date is not None and post.edit_date > original.date
            assert post.text and post.text != original.text
            assert _phones(post.text) == _phones(original.text)
        else:
            deletes += 1
            assert post.text == ""
            assert post.media == []
            assert post.date > original.date
    assert edits >= 1
    assert deletes >= 1


def test_phones_are_fake_but_valid_mobiles(posts: list[QueuedPost]) -> None:
    found = set().union(*(_phones(post.text) for post in posts))
    assert len(found) >= 20
    for e164 in found:
        number = phonenumbers.parse(e164)
        assert phonenumbers.is_valid_number(number), e164
        assert phonenumbers.number_type(number) is phonenumbers.PhoneNumberType.MOBILE, e164
        # +7 9XX 000-XX-XX: the exchange "000" marks every number as a test number.
        assert e164.startswith("+79") and e164[5:8] == "000", e164


def test_duplicates_share_phone_across_channels(posts: list[QueuedPost]) -> None:
    channels_by_phone: dict[str, set[int]] = defaultdict(set)
    for post in posts:
        if post.kind is PostKind.NEW:
            for phone in _phones(post.text):
                channels_by_phone[phone].add(post.channel_id)
    shared = [phone for phone, channels in channels_by_phone.items() if len(channels) >= 2]
    assert len(shared) >= 3, shared


def test_awkward_texts_are_present(posts: list[QueuedPost]) -> None:
    new = [post for post in posts if post.kind is PostKind.NEW]
    assert any(post.text and not re.search(r"\w", post.text) for post in new), "emoji-only post"
    assert any(post.text == "" and post.media for post in new), "photo-only post"
    assert any(len(post.text) > 4000 for post in new), "very long post"
    # Telegram's message limit is 4096 UTF-16 code units: the long post must still be a possible message.
    assert all(len(post.text.encode("utf-16-le")) // 2 <= 4096 for post in posts)
    assert any("<script>" in post.text and "&" in post.text for post in new), "HTML-dangerous text"
    shouting = [post for post in new if len(post.text) > 60 and post.text == post.text.upper()]
    one_line = [post for post in new if len(post.text) > 150 and "\n" not in post.text]
    assert shouting and len(one_line) >= 2


def test_non_car_posts_are_mixed_in(posts: list[QueuedPost]) -> None:
    texts = [post.text.lower() for post in posts if post.kind is PostKind.NEW]
    for marker in ("куплю", "продано", "скоро в продаже", "розыгрыш", "аренд", "автоподбор", "кредит"):
        assert any(marker in text for text in texts), marker
