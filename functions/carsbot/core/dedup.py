"""Cross-channel duplicate detection: fingerprints of a car, independent of the channel that posted it.

Two posts are the same car when they share a seller contact (normalised phone or username) together with
brand, model and year and their prices are within a few percent, or when their texts are identical after
normalisation (case, punctuation, emoji and whitespace removed). Pure functions; storage is elsewhere.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from carsbot.core.contracts import ListingFields

PRICE_TOLERANCE = 0.05  # 5 %
# Listings one contact+car fingerprint can tell apart: a dealer's cars of the same model and year at
# clearly different prices each own a slot (``car#...``, ``car#...#2``, ...). Text fingerprints have one.
CAR_FINGERPRINT_SLOTS = 8
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise_text(text: str) -> str:
    """Lower-case letters and digits only: what survives re-posting with other emoji and spacing."""
    folded = unicodedata.normalize("NFKC", text).lower().replace("ё", "е")
    return _NON_WORD.sub("", folded)


def text_fingerprint(text: str) -> str | None:
    normalised = normalise_text(text)
    if len(normalised) < 40:  # too short to identify a car on its own
        return None
    return "text#" + hashlib.sha256(normalised.encode()).hexdigest()[:32]


def car_fingerprints(fields: ListingFields) -> list[str]:
    """One fingerprint per seller contact, when brand, model and year are known."""
    if not (fields.brand and fields.model and fields.year):
        return []
    car = f"{fields.brand}|{fields.model}|{fields.year}".lower()
    contacts = [f"tel:{p}" for p in fields.phones] + [f"tg:{u.lower()}" for u in fields.usernames]
    return [
        "car#" + hashlib.sha256(f"{contact}|{car}".encode()).hexdigest()[:32]
        for contact in sorted(set(contacts))
    ]


def fingerprints(fields: ListingFields, text: str) -> list[str]:
    found = car_fingerprints(fields)
    text_fp = text_fingerprint(text)
    if text_fp:
        found.append(text_fp)
    return found


def fingerprint_slots(fingerprint: str) -> list[str]:
    """The storage keys a fingerprint may occupy, first slot first."""
    if not fingerprint.startswith("car#"):
        return [fingerprint]
    return [fingerprint, *(f"{fingerprint}#{n}" for n in range(2, CAR_FINGERPRINT_SLOTS + 1))]


def prices_match(a: int | None, b: int | None, tolerance: float = PRICE_TOLERANCE) -> bool:
    """Prices within ``tolerance`` of each other; an unknown price on either side matches."""
    if a is None or b is None:
        return True
    return abs(a - b) <= tolerance * max(a, b)
