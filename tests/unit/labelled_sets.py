"""The labelled sets under tests/data and the label checks every set's tests share."""

from __future__ import annotations

import re
from pathlib import Path

import phonenumbers

from carsbot.core.contracts import ListingFields
from carsbot_dev import evaluation as ev

DATA = Path(__file__).resolve().parents[1] / "data"


def load(name: str) -> list[ev.LabelledPost]:
    with (DATA / f"{name}.jsonl").open(encoding="utf-8") as handle:
        return ev.parse_corpus(handle)


def check_labels(posts: list[ev.LabelledPost], *, complete: bool = True) -> None:
    """Each label is a valid ``ListingFields`` whose phones (valid ones) and usernames are in the text;
    a ``complete`` set also labels every contract field and gives every negative its reason."""
    for p in posts:
        if complete:
            assert set(ListingFields.CLI_FIELDS) <= set(p.expected), p.id
        ListingFields(**{k: v for k, v in p.expected.items() if k in ListingFields.CLI_FIELDS})
        digits = re.sub(r"\D", "", p.text)
        for phone in p.expected.get("phones", []):
            assert phonenumbers.is_valid_number(phonenumbers.parse(phone)), (p.id, phone)
            assert phone[2:] in digits, (p.id, phone)  # a labelled phone is in the text
        for name in p.expected.get("usernames", []):
            assert not name.startswith("@") and name.lower() in p.text.lower(), (p.id, name)
        if complete and not p.is_sale:
            assert p.expected.get("reason"), p.id
