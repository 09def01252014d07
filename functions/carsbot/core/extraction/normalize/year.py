"""Model year (``parse_year``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from carsbot.core.extraction.normalize.cities import _reversed_at_end
from carsbot.core.extraction.normalize.keywords import for_lower_case
from carsbot.core.extraction.normalize.scan import digits_before, holds_any, matches_at
from carsbot.core.extraction.normalize.text import Hit, lowered_exactly

MAX_YEAR = datetime.now(UTC).year + 1
MIN_YEAR = 1950

_YEAR4 = r"(?:19[5-9]\d|20[0-4]\d)"
# The same years, written so that the pattern starts with a character class ("1" or "2") and ``re`` can
# skip ahead to it; the look-behind that keeps it out of longer numbers comes after that first digit.
_YEAR4_FIRST = r"(?:1(?<![\d.,]1)9[5-9]|2(?<![\d.,]2)0[0-4])\d"
_YEAR_SUFFIXED = re.compile(
    rf"(?P<y>{_YEAR4_FIRST})\s?(?:г\.?\s?в\.?|гв\b|г/в|г\.|г(?![а-я])|года?(?![а-я])|год\b|year|y\.?o?\b)",
    re.IGNORECASE,
)
# The keywords that begin with "г" ("год выпуска", "г.в.", "г/в"), factored so that the pattern of them
# alone (``_YEAR_KEYED_AT_G_LOW``) starts with a literal, which ``re`` skips ahead to.
_KEYED_G = r"г(?:од\w*\s*(?:выпуска|производства|вып\.?)?|\.\s?в\.?|/в)"
_KEYED_VALUE = rf"\s*[:\-–—=]?\s*(?P<y>{_YEAR4}|\d{{2}}(?![\d.,]))"
_YEAR_KEYED = re.compile(rf"(?:{_KEYED_G}|📅|🗓️?|year){_KEYED_VALUE}", re.IGNORECASE)
_YEAR_SHORT = re.compile(
    r"(?P<y>\d(?<![\d.,]\d)\d)\s?(?:г\.?\s?в\.?|гв\b|г/в"
    r"|года?\s+выпуска|год\b|года\b|г\.(?!\s*\d)|г(?=[ ,;]))",
    re.IGNORECASE,
)
_YEAR_BARE = re.compile(
    r"(?P<y>(?:1(?<![\d.,:/\-+]1)9[5-9]|2(?<![\d.,:/\-+]2)0[0-4])\d)(?![\d.,]?\d)"
    r"(?!\s*(?:км|km|т\.|тыс|руб|₽|р\.|к\b|см|куб|cc|л\.с))"
)
_YEAR_BARE_EXCLUDE_LEFT = re.compile(
    r"(?:\b(?:с|до|в|после|то|от|куплен\w*|покупал\w*|гаранти\w*)\s+|№|#)$", re.IGNORECASE
)
_YEAR_SHORT_EXCLUDE_LEFT = re.compile(
    r"(?:владе\w*|собственност\w*|уже|более|около|почти|лет|за|на\s+учете|в\s+семье|езжу|катаюсь|стаж)\s*$",
    re.IGNORECASE,
)


def _excluded_left(left: str) -> bool:
    """Does ``left`` end with "с", "до", "куплен"... (and a space) or "№"/"#"? Each such ending has a space
    or one of those signs last (or a line break), a quick test before the pattern."""
    return (
        bool(left)
        and (left[-1].isspace() or left[-1] in "№#")
        and _YEAR_BARE_EXCLUDE_LEFT_REVERSED.match(left[::-1]) is not None
    )


# The same test as one ``match`` on the reversed text: ``search`` tries the IGNORECASE alternation at
# every position of ``left`` (see ``cities._reversed_at_end``, which derives it from the pattern).
_YEAR_BARE_EXCLUDE_LEFT_REVERSED = _reversed_at_end(_YEAR_BARE_EXCLUDE_LEFT)


def _valid_year(y: int) -> bool:
    return MIN_YEAR <= y <= MAX_YEAR


def _two_digit_year(yy: int) -> int | None:
    if yy <= MAX_YEAR % 100:
        return 2000 + yy
    if yy >= 70:
        return 1900 + yy
    return None


def parse_year(text: str, *, bare_ok: bool = False) -> int | None:
    """Model year: "2018 г.", "2018г.в.", "год выпуска: 2018", "18 год" (= 2018), "'17" (= 2017).

    A bare "2018" counts only when ``bare_ok`` (the rules engine passes the title line or the
    fragment right after the model, where a bare year is the norm: "Camry 2018").
    """
    hit = year_hit(text, bare_ok=bare_ok)
    return hit.value if hit else None


def year_hit(text: str, *, bare_ok: bool = False) -> Hit | None:
    """The model year and the rule that found it (see ``parse_year``)."""
    # The scans run on the lower-cased copy without IGNORECASE when that matches exactly the same (``re``
    # skips ahead to a pattern's first letters only in case-sensitive patterns); the checks around a
    # match still read ``text`` at the same offsets.
    text, low, exact = lowered_exactly(text)
    # In the lower-cased copy, the keyword rule is matched only from an "г" ("год выпуска", "г.в.";
    # an emoji or a Latin "year" sends it back to its full scan), and the suffix and two-digit rules
    # only from two or four digits before an "г" or a "y" ("2018г", "18 год", "2018 year"). The suffix
    # letters found right after a digit (``_SUFFIX_AFTER_DIGIT``) are the only ones ``digits_before``
    # keeps, so it makes the same starts from them as from every "г" and "y".
    if not exact:
        keyed: Iterable[re.Match[str]] = _YEAR_KEYED.finditer(text)
    elif holds_any(low, ("📅", "🗓", "year")):
        keyed = _YEAR_KEYED_LOW.finditer(low)
    else:
        keyed = _YEAR_KEYED_AT_G_LOW.finditer(low)  # matches from an "г": the same as _YEAR_KEYED_LOW's
    for m in keyed:
        raw = m.group("y")
        y = int(raw) if len(raw) == 4 else _two_digit_year(int(raw))
        if y and _valid_year(y):
            return Hit(y, "year:keyword", m.start(), m.end())
    suffixes_g: list[int] = []  # the "г" after a digit (for the two-digit rule)
    if not exact:
        suffixed: Iterable[re.Match[str]] = _YEAR_SUFFIXED.finditer(text)
    else:  # the suffix is an "г..." or a Latin "year", "y.o."
        if "y" in low:
            suffixes = list(map(_START, _SUFFIX_AFTER_DIGIT_Y.finditer(low)))
            suffixes_g = [at for at in suffixes if low[at] == "г"]
        else:
            suffixes = suffixes_g = list(map(_START, _SUFFIX_AFTER_DIGIT.finditer(low)))
        suffixed = matches_at(_YEAR_SUFFIXED_LOW, low, digits_before(low, suffixes, 4))
    for m in suffixed:
        y = int(m.group("y"))
        strong = _STRONG_SUFFIX.match(text, m.end("y"), m.end())
        if not strong and _excluded_left(text[max(0, m.start() - 12) : m.start()]):
            continue  # "куплена в 2019 году", "с 2020 г." are not the model year
        if _valid_year(y):
            return Hit(y, "year:suffixed", m.start(), m.end())
    short = (
        matches_at(_YEAR_SHORT_LOW, low, digits_before(low, suffixes_g, 2))
        if exact
        else _YEAR_SHORT.finditer(text)
    )
    for m in short:
        left = text[max(0, m.start() - 20) : m.start()]
        if _YEAR_SHORT_EXCLUDE_LEFT.search(left):
            continue
        y2 = _two_digit_year(int(m.group("y")))
        if y2 and _valid_year(y2):
            return Hit(y2, "year:two-digit", m.start(), m.end())
    if "'" in text or "’" in text:
        for m in _YEAR_APOSTROPHE.finditer(text):
            y2 = _two_digit_year(int(m.group("y")))
            if y2 and _valid_year(y2):
                return Hit(y2, "year:apostrophe", m.start(), m.end())
    if bare_ok:
        # (``re`` skips ahead to the first digit, "1" or "2": on the short zone the rules engine passes,
        # cheaper than finding "19" and "20" first and matching there)
        for m in _YEAR_BARE.finditer(text):
            if _excluded_left(text[max(0, m.start() - 12) : m.start()]):
                continue
            y = int(m.group("y"))
            if _valid_year(y):
                return Hit(y, "year:bare", m.start(), m.end())
    return None


# "2018 г.в." (not a bare "2018 г."): the model year even after "с"/"в".
_STRONG_SUFFIX = re.compile(r"\s?(?:г\.?\s?в|гв|г/в)", re.IGNORECASE)
_YEAR_KEYED_LOW = for_lower_case(_YEAR_KEYED)
_YEAR_KEYED_AT_G_LOW = for_lower_case(re.compile(_KEYED_G + _KEYED_VALUE, re.IGNORECASE))
# A suffix's first letter right after a digit, or after a digit and one space ("2018г", "18 год", "2018
# year"): ``digits_before`` keeps only those, so its number can end there. Both start with what ``re``
# skips ahead to (the one with "y" only for a text holding one).
_START = re.Match.start  # a match's offset, for ``map`` over ``finditer``
_SUFFIX_AFTER_DIGIT = re.compile(r"г(?:(?<=\dг)|(?<=\d\sг))")
_SUFFIX_AFTER_DIGIT_Y = re.compile(r"[гy](?:(?<=\d[гy])|(?<=\d\s[гy]))")
_YEAR_SUFFIXED_LOW = for_lower_case(_YEAR_SUFFIXED)
_YEAR_SHORT_LOW = for_lower_case(_YEAR_SHORT)
# "Соренто '17", "Camry ’19": an apostrophe and two digits is a model year.
_YEAR_APOSTROPHE = re.compile(r"(?<![\w'’])['’](?P<y>\d{2})(?![\d'’]|\s*(?:км|т\.|тыс|%|см|л\b))")
