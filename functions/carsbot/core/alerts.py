"""Saved searches (PRODUCT.md §23): the one-line ``/alert`` parser; criteria and matching
(``carsbot.core.searches``, re-exported here) and index keys.

Pure: no SDK. The one-line form is parsed with the extraction core's own normalisers, so a search is
understood exactly the way ads are: brand/model spellings and slang ("камри", "солярис", "ниву"), price
notations ("1.5 млн", "900к", "600т.р.", "1 200 000") and cities in any case ("в Воронеже", "спб").

    parse_alert("камри от 2015 до 1.5 млн Воронеж")
    -> SearchCriteria(brand="Toyota", model="Camry", year_from=2015, price_max=1_500_000, city="Воронеж")

Matching never scans: a search is stored under its index keys (``carsbot.core.search_keys``: a bucket by
brand/model or city, sorted by lowest year), a listing reads only its own buckets and years, and what the
index returns is checked criterion by criterion (``matches``).
"""

from __future__ import annotations

import re
from dataclasses import replace

from carsbot.core.extraction.normalize import (
    MAX_CAR_PRICE,
    MIN_CAR_PRICE,
    find_city,
    find_money,
    find_vehicle,
    prepare_text,
)
from carsbot.core.searches import ListingFacts, SearchCriteria, matches

__all__ = [
    "MAX_ALERT_LINE",
    "MAX_ALERT_YEAR",
    "MIN_ALERT_YEAR",
    "AlertParseError",
    "ListingFacts",
    "SearchCriteria",
    "matches",
    "parse_alert",
    "parse_price_max",
    "with_year_range",
]

MIN_ALERT_YEAR = 1960
MAX_ALERT_YEAR = 2035
MAX_ALERT_LINE = 300


class AlertParseError(ValueError):
    """The line says nothing we can search by (``reason`` is a catalogue message id for the bot)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ----------------------------------------------------------------------------- one-line parsing

_YEAR = r"(?:19[6-9]\d|20[0-3]\d)"
_YEAR_RANGE = re.compile(rf"(?<!\d)(?P<a>{_YEAR})\s*(?:-|–|—|\.\.|по|до)\s*(?P<b>{_YEAR})(?!\d)", re.I)
_YEAR_FROM = re.compile(
    rf"(?:\bот|\bс|\bпосле|\bне\s+старше|\bначиная\s+с)\s*(?P<y>{_YEAR})(?!\d)"
    rf"|(?<!\d)(?P<y2>{_YEAR})\s*(?:г\.?|года?|г\.\s*в\.?)?\s*(?:\+|и\s+(?:новее|моложе|выше|позже))",
    re.I,
)
_YEAR_TO = re.compile(
    rf"(?:\bдо|\bпо|\bне\s+новее|\bне\s+позже)\s*(?P<y>{_YEAR})(?!\d)"
    rf"|(?<!\d)(?P<y2>{_YEAR})\s*(?:г\.?|года?)?\s*и\s+(?:старше|раньше)",
    re.I,
)
_YEAR_BARE = re.compile(rf"(?<![\d.,])(?P<y>{_YEAR})(?:\s*(?:г\.?|года?|г\.\s*в\.?))?(?![\d.,])", re.I)
# A bare amount of roubles written without a unit: "до 1500000", "до 850000".
_BARE_PRICE = re.compile(r"(?<![\d.,])(?P<n>\d{5,9})(?![\d.,])")
_MAX_WORDS = re.compile(r"(?:\bдо|\bне\s+дороже|\bдешевле|\bбюджет\w*|\bмакс\w*|\bза|<)\s*$", re.I)


def _mask(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _price_max(text: str) -> tuple[int | None, str]:
    """The highest price the line allows, and the text with every amount masked out."""
    amounts: list[tuple[int, bool]] = []  # (value, introduced by "до"/"дешевле"/...)
    for m in sorted(find_money(text), key=lambda m: m.start):
        if not MIN_CAR_PRICE <= m.value <= MAX_CAR_PRICE:
            continue
        amounts.append((m.value, bool(_MAX_WORDS.search(text[max(0, m.start - 14) : m.start]))))
        text = _mask(text, m.start, m.end)
    for bare in _BARE_PRICE.finditer(text):
        value = int(bare.group("n"))
        if MIN_CAR_PRICE <= value <= MAX_CAR_PRICE:
            amounts.append((value, bool(_MAX_WORDS.search(text[max(0, bare.start() - 14) : bare.start()]))))
            text = _mask(text, bare.start(), bare.end())
    if not amounts:
        return None, text
    bounded = [value for value, is_max in amounts if is_max]
    return (max(bounded) if bounded else max(value for value, _ in amounts)), text


def _years(text: str) -> tuple[int | None, int | None]:
    m = _YEAR_RANGE.search(text)
    if m:
        a, b = sorted((int(m.group("a")), int(m.group("b"))))
        return a, b
    year_from = year_to = None
    m = _YEAR_FROM.search(text)
    if m:
        year_from = int(m.group("y") or m.group("y2"))
        text = _mask(text, m.start(), m.end())
    m = _YEAR_TO.search(text)
    if m:
        year_to = int(m.group("y") or m.group("y2"))
        text = _mask(text, m.start(), m.end())
    if year_from is None and year_to is None:
        m = _YEAR_BARE.search(text)
        if m:  # "камри 2018": that model year
            year_from = year_to = int(m.group("y"))
    if year_from and year_to and year_from > year_to:
        year_from, year_to = year_to, year_from
    return year_from, year_to


def parse_alert(line: str) -> SearchCriteria:
    """Criteria from one line of free text; raises ``AlertParseError`` when nothing is recognised."""
    text = prepare_text(line or "").strip()
    if not text:
        raise AlertParseError("empty")
    if len(text) > MAX_ALERT_LINE:
        raise AlertParseError("too_long")
    price_max, rest = _price_max(text)
    vehicle = find_vehicle(rest)
    if vehicle.start is not None and vehicle.end is not None:
        rest = _mask(rest, vehicle.start, vehicle.end)
    city = find_city(rest)
    year_from, year_to = _years(rest)
    criteria = SearchCriteria(
        brand=vehicle.brand,
        model=vehicle.model if vehicle.brand else None,
        year_from=year_from,
        year_to=year_to,
        price_max=price_max,
        city=city,
    )
    if criteria.empty:
        raise AlertParseError("nothing_recognised")
    return criteria


def with_year_range(criteria: SearchCriteria, text: str) -> SearchCriteria:
    """``criteria`` with the year range stated in ``text`` ("2015", "от 2015", "2015-2018")."""
    year_from, year_to = _years(prepare_text(text))
    if year_from is None and year_to is None:
        raise AlertParseError("bad_year")
    return replace(criteria, year_from=year_from, year_to=year_to)


def parse_price_max(text: str) -> int:
    """A maximum price from dialog input ("1.5 млн", "900к", "1200000")."""
    value, _ = _price_max(prepare_text(f"до {text}"))
    if value is None:
        raise AlertParseError("bad_price")
    return value
