"""Index keys of saved searches (pure, light: the storage layer imports it without the alert parser).

A search is stored under one *match key* — ``"toyota|camry"``, ``"toyota|*"`` for a brand without a
model, ``"*|воронеж"`` for a city without a brand, ``"*"`` when neither is given — and a *match sort*
that starts with its lowest year (``"2015#<user>#<search>"``, ``"0000#..."`` for any year). A listing
reads only its own buckets (``listing_match_keys``, at most four) and, within each, only the match sorts
below ``year_sort_bound(year)``: the searches whose lowest year it reaches.
"""

from __future__ import annotations

ANY = "*"
ANY_YEAR = "0000"


def norm(value: str | None) -> str:
    """A brand, model or city as matching compares them: trimmed, lower case, ``ё`` = ``е``."""
    return (value or "").strip().lower().replace("ё", "е")


def match_key(brand: str | None, model: str | None, city: str | None = None) -> str:
    """The index bucket of a search: ``"toyota|camry"``, ``"toyota|*"``, ``"*|воронеж"`` or ``"*"``.

    A search naming a brand is bucketed by brand (and model); its city, if any, is left to the filter.
    """
    if not brand:
        return f"{ANY}|{norm(city)}" if city_key(city) else ANY
    return f"{norm(brand)}|{norm(model) if model else ANY}"


def listing_match_keys(brand: str | None, model: str | None, city: str | None = None) -> list[str]:
    """Every bucket a listing's searches can be in: exact model, any model of the brand, any car of its
    city, any car."""
    keys = []
    if brand and model:
        keys.append(match_key(brand, model))
    if brand:
        keys.append(match_key(brand, None))
    if city_key(city):
        keys.append(match_key(None, None, city))
    keys.append(ANY)
    return keys


def city_key(city: str | None) -> str | None:
    """A city as matching compares it (lower case, ``ё`` = ``е``); ``None`` for none."""
    return norm(city) or None


def year_sort(year: int | None) -> str:
    """A year as the leading part of a match sort (``"0000"``: no lower bound)."""
    return f"{min(year, 9999):04d}" if year and year > 0 else ANY_YEAR


def match_sort(year_from: int | None, user_id: int, search_id: str) -> str:
    """A search's sort key in its bucket: its lowest year, then its owner and id (unique)."""
    return f"{year_sort(year_from)}#{user_id}#{search_id}"


def year_sort_bound(year: int | None) -> str:
    """Match sorts below this belong to searches whose lowest year a listing of ``year`` reaches.

    A listing of unknown year reaches only searches without a lowest year (``"0000#..."``).
    """
    return year_sort(year + 1) if year is not None else ANY_YEAR + "$"  # "$" sorts after "#"
