"""Mileage in km (``parse_mileage``)."""

from __future__ import annotations

import re

from carsbot.core.extraction.normalize.keywords import for_lower_case
from carsbot.core.extraction.normalize.scan import digits_before, holds_any, matches_at, positions_of
from carsbot.core.extraction.normalize.text import _NUM, _NUM_FROM_DIGIT, Hit, _number, lowered

MAX_MILEAGE = 2_000_000

_KM_UNIT = (
    r"(?P<kunit>т\.?\s?км|тыс\.?\s*км|тыс\.?\s*километр\w*|ткм|тыщ\w*\s*км|[кk]\.?\s?км|[кk]\s?km"
    r"|km|км|километр\w*)"
)
_MILEAGE_UNIT = re.compile(rf"(?P<num>{_NUM_FROM_DIGIT})\s?{_KM_UNIT}(?![а-яa-z])", re.IGNORECASE)
_MILEAGE_KEY = re.compile(
    rf"(?:пробег\w*|🛣️?|одометр\w*|mileage)(?:\s*(?:по\s+одометру|по\s+рф|оригинальный|реальный|родной|всего|"
    rf"около|примерно|честный|небольшой|маленький|сейчас|на\s+сегодня|на\s+данный\s+момент|:|-|—|–|~|≈))*\s*(?P<num>{_NUM})\s?"
    rf"(?P<unit>{_KM_UNIT[len('(?P<kunit>') : -1]}|тыс\.?|тыщ\w*|тысяч\w*|т\.?|[кk])?(?![а-яa-z\d])",
    re.IGNORECASE,
)
_MILEAGE_EXCLUDE_LEFT = re.compile(
    r"(?:\b(?:расход\w*|запас\w*\s+хода|заряд\w*|гаранти\w*|до|от|через|каждые|каждых|в\s+радиусе|ездил\w*\s+по|то\s+на|"
    r"пройдено|проехал\w*\s+всего\s+за|назад|замен\w*|менял\w*)[^\d\n]{0,10}|\bл\s*/\s*)$",
    re.IGNORECASE,
)


def _km(value: float, unit: str | None) -> int:
    u = (unit or "").lower().replace(" ", "").replace(".", "")
    if u in {"км", "km"} or u.startswith("километр"):
        return round(value)
    if u.startswith(("т", "к", "k")):
        return round(value * 1000)
    return round(value)


# "пробег 1 сезон" (tyres), "пробег 2 года": a duration, not kilometres.
_MILEAGE_NOT_KM = re.compile(r"\s*(?:сезон|год|лет|мес|недел|дн[яе]|дней|раз|час|мото)", re.IGNORECASE)
# "...пробег 2 хоз": the owners' count, on the same line.
_OWNERS_AFTER = re.compile(r"[ \t]*(?:хоз|влад|вл\b|вл\.|собств)", re.IGNORECASE)
_MILEAGE_BEFORE_KEY = re.compile(
    rf"(?P<num>{_NUM_FROM_DIGIT})\s?(?P<unit>тыс\w*\.?|тыщ\w*|т\.?|[кk])?\s*(?:км\.?\s*)?пробег\w*",
    re.IGNORECASE,
)


def parse_mileage(text: str) -> int | None:
    """Mileage in km: "98 т.км", "98 000 км", "98к км", "пробег 120" (= 120 000 km), "🛣 85 000", "98т"."""
    hit = mileage_hit(text)
    return hit.value if hit else None


def mileage_hit(text: str) -> Hit | None:
    """The mileage and the rule that found it. Miles count only when no kilometre figure is stated."""
    text, low = lowered(text)
    if not holds_any(low, _MILEAGE_MARKS) and not _GLUED_T.search(low):
        return None  # no kilometre, mileage or mile word and no "98т": nothing to read
    miles: Hit | None = None
    # the patterns run on the lower-cased copy when it keeps every offset (faster without IGNORECASE)
    scan, low_case = (low, True) if len(low) == len(text) else (text, False)
    # On the lower-cased copy a pattern can only match where its words are: a missing word skips a scan.
    # (IGNORECASE on ``text`` also matches a few odd look-alike letters, so there every pattern runs.)
    # every "пробег" of the lower-cased copy, found once: the figures before it, then the keywords
    key_at = positions_of(low, ("пробег",)) if low_case else []
    keyed = not low_case or bool(key_at)
    before, unit_less = _before_key(scan, low_case=low_case, key_at=key_at) if keyed else (None, None)
    if low_case:  # only where a keyword starts
        others = positions_of(low, _OTHER_KEYWORDS)
        keyword_matches = matches_at(_MILEAGE_KEY_LOW, low, sorted(key_at + others) if others else key_at)
    else:
        keyword_matches = _MILEAGE_KEY.finditer(text)
    for m in keyword_matches:
        unit = m.group("unit")
        thousands = bool(unit) and _km(1, unit) == 1000  # else a kilometre unit, or none
        value = _figure(m.group("num"), decimal_unit=thousands)
        if value is None:
            continue
        right = text[m.end() : m.end() + 8]
        if _MILES.match(right):
            miles = miles or _miles(value, unit, m)
            continue
        if before is not None and not ((unit and not thousands) or "км" in right[:4].lower()):
            return before  # "180т пробег 620 тыщ": the figure before the keyword carried the unit
        if unit:
            km = _km(value, unit)
        elif value < 1000 and not _METRES_OR_MILES.match(text, m.end(), m.end() + 6):
            km = round(value * 1000)  # shorthand "пробег 120" means thousands
        else:
            km = round(value)
        if _MONEY_RIGHT.match(right) or (unit and _ROUBLES_RIGHT.match(right)):
            continue  # "пробег 430т.р." reads as money
        if not unit and (_MILEAGE_NOT_KM.match(right) or (value < 10 and _OWNERS_AFTER.match(right))):
            continue  # "пробег 1 сезон" (tyres), "пробег 2 года", "пробег 2 хоз": not kilometres
        if 0 <= km <= MAX_MILEAGE:
            return Hit(km, "mileage:keyword", m.start(), m.end())
    if before is not None:
        return before
    if unit_less is not None:
        return unit_less
    if not low_case or holds_any(low, ("км", "km", "километр")):  # every kilometre unit holds one
        # In the lower-cased copy, the scan stops one character (the look-ahead) after the last unit.
        end = _last_unit_end(low) + 1 if low_case else len(text)
        for m in (_MILEAGE_UNIT_LOW if low_case else _MILEAGE_UNIT).finditer(scan, 0, end):
            line_start = text.rfind("\n", 0, m.start()) + 1
            left = text[max(line_start, m.start() - 30) : m.start()]
            if _MILEAGE_EXCLUDE_LEFT.search(left):
                continue
            if text[m.end() : m.end() + 2].startswith(("/ч", "/h")):
                continue  # speed "км/ч"
            thousands = _km(1, m.group("kunit")) == 1000
            value = _number(m.group("num"), decimal_unit=thousands)
            if value is None:
                continue
            km = _km(value, m.group("kunit"))
            if km < 100 and not thousands:
                continue  # "5 км от метро"
            if km <= MAX_MILEAGE:
                return Hit(km, "mileage:km-unit", m.start(), m.end())
    if miles is None and (not low_case or holds_any(low, ("миль", "mile"))):
        for m in (_MILES_UNIT_LOW if low_case else _MILES_UNIT).finditer(scan):
            value = _number(m.group("num"), decimal_unit=bool(m.group("unit")))
            if value is not None:
                miles = _miles(value, m.group("unit"), m)
                break
    if miles is not None:
        return miles
    # "195т 310тыс", "1.4тси, DSG, 130т, 790 тыщ": only at 2-3 digits (and a space) before a "т" (or what
    # IGNORECASE takes for one)
    glued = positions_of(text, _T_LETTERS)
    for m in matches_at(
        _GLUED_T, text, sorted(digits_before(text, glued, 3) + digits_before(text, glued, 2))
    ):
        if _MONEY_LEFT.search(text, max(0, m.start() - 12), m.start()):
            continue
        return Hit(int(m.group("num")) * 1000, "mileage:glued-t", m.start(), m.end())
    return None


def _before_key(
    text: str, *, low_case: bool = False, key_at: list[int] | None = None
) -> tuple[Hit | None, Hit | None]:
    """The first figure before "пробег" with a thousands unit ("87тыс пробег") and the first without one
    ("120 000 км пробег"), each also read as thousands when small. One scan: the unit-less figure is only
    wanted when no figure has a unit, so the scan stops at the first that has one. ``key_at``: the
    offsets of "пробег" in the lower-cased ``text``, when known."""
    # Every match ends with a word "пробег...": in the lower-cased copy, only the figures just before
    # each "пробег" are scanned (see ``_windows_before_key``).
    windows = _windows_before_key(text, key_at) if low_case else [(0, len(text))]
    pattern = _MILEAGE_BEFORE_KEY_LOW if low_case else _MILEAGE_BEFORE_KEY
    unit_less: Hit | None = None
    matches = (m for start, end in windows for m in pattern.finditer(text, start, end))
    for m in matches:
        unit = m.group("unit")
        if unit_less is not None and not unit:
            continue
        value = _figure(m.group("num"), decimal_unit=bool(unit))
        if value is None:
            continue
        km = round(value * 1000) if unit or value < 1000 else round(value)
        if 0 < km <= MAX_MILEAGE:
            hit = Hit(km, "mileage:before-keyword", m.start(), m.end())
            if unit:
                return hit, unit_less
            unit_less = hit
    return None, unit_less


def _figure(raw: str, *, decimal_unit: bool) -> float | None:
    """``_number(raw, decimal_unit=decimal_unit)``, read at once when ``raw`` is digits and spaces only
    (the usual figure: no separator to interpret)."""
    digits = raw.replace(" ", "")
    if digits.isdecimal():
        return float(digits)
    return _number(raw, decimal_unit=decimal_unit)


def _word_end(text: str, at: int) -> int:
    """Where the word (run of word characters) at ``at`` ends."""
    return _WORD_TAIL.match(text, at).end()  # type: ignore[union-attr]  # (``\\w*`` always matches)


_WORD_TAIL = re.compile(r"\w*")


def _windows_before_key(low: str, key_at: list[int] | None = None) -> list[tuple[int, int]]:
    """The stretches of ``low`` where a ``_MILEAGE_BEFORE_KEY`` match can be: from the earliest start a
    figure may have before each "пробег" to the end of that word (overlapping stretches merged).

    A match is a figure (digits, spaces and ``.,'``), then up to two words that may be glued to it or
    to each other (a unit such as "тыс..." or "т.", and "км."), each perhaps after spaces, then spaces
    and "пробег...". Walking back from the "пробег" over spaces, two runs of word characters and dots
    (with the spaces before each) and then the figure's characters reaches that start or goes past it
    (``_BACK_TO_FIGURE``, matched on the reversed text before the "пробег"). Every lookahead of the
    pattern stays inside the stretch, so each is scanned as the whole text was. ``key_at``: the offsets
    of "пробег" in ``low``, when known."""
    windows: list[tuple[int, int]] = []
    for at in positions_of(low, ("пробег",)) if key_at is None else key_at:
        before = max(0, at - _LOOK_BACK)
        start = at - _BACK_TO_FIGURE.match(low[before:at][::-1]).end()  # type: ignore[union-attr]
        if start == before:
            start = 0  # (the walk may go on before the piece reversed: the whole text, rarely)
        end = _word_end(low, at)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows


# The walk back from a "пробег" (see ``_windows_before_key``) on the reversed text: spaces, two runs of
# word characters and dots each with the spaces before it, then the figure's characters (each run as
# long as it goes: always a match).
_BACK_TO_FIGURE = re.compile(r"\s*(?:[\w.]*\s*){2}[\d\s.,']*")
_LOOK_BACK = 64  # characters reversed for it


def _last_unit_end(low: str) -> int:
    """Where the last kilometre unit ("км", "km", "километр...") of ``low`` ends (-1 without one)."""
    ends = [low.rfind(unit) + 2 for unit in ("км", "km") if unit in low]
    if "километр" in low:
        ends.append(_word_end(low, low.rfind("километр")))
    return max(ends, default=-1)


def _miles(value: float, unit: str | None, m: re.Match[str]) -> Hit:
    scaled = value * 1000 if unit else value
    return Hit(round(scaled * KM_PER_MILE), "mileage:miles", m.start(), m.end())


KM_PER_MILE = 1.609344
_MILEAGE_KEY_LOW = for_lower_case(_MILEAGE_KEY)
_MILEAGE_UNIT_LOW = for_lower_case(_MILEAGE_UNIT)
_MILEAGE_BEFORE_KEY_LOW = for_lower_case(_MILEAGE_BEFORE_KEY)
_OTHER_KEYWORDS = ("🛣", "одометр", "mileage")  # with "пробег", what every match of _MILEAGE_KEY begins with
# Every mileage statement holds one of these, or a glued "98т" (a quick test before the patterns run).
_MILEAGE_MARKS = ("км", "km", "пробег", "одометр", "mileage", "🛣", "миль", "mile", "кило")
_MILES = re.compile(r"^\s*(?:миль|miles?\b|mi\b)", re.IGNORECASE)
_MILES_UNIT = re.compile(
    rf"(?P<num>{_NUM_FROM_DIGIT})\s?(?P<unit>тыс\.?|т\.?|[кk])?\s?(?:миль|miles?\b)", re.IGNORECASE
)
# Thousands glued to "т", two or three digits, no money word before: "98т" (a 4-5 digit "1350т" is money).
# (The check on the left comes after the first digit, so that ``re`` skips ahead to digits.)
_GLUED_T = re.compile(r"(?P<num>[1-9](?<![\d.,][1-9])\d{1,2})\s?т(?![а-яa-z.]|\.\s?р)", re.IGNORECASE)
# After the figure: "пробег 120 м" (metres) or "120 миль" is not shorthand for thousands of km.
_METRES_OR_MILES = re.compile(r"\s*(?:м\b|миль)")
_MONEY_RIGHT = re.compile(r"\s*(?:₽|руб|р\.|млн)", re.IGNORECASE)
_ROUBLES_RIGHT = re.compile(r"\.?\s?р(?![а-я])", re.IGNORECASE)
_T_LETTERS = ("т", "Т", "\u1c84", "\u1c85")  # what "т" matches with IGNORECASE (the last two: old forms)
_MONEY_LEFT = re.compile(r"(?:цен\w*|стоимост\w*|за|прошу|💰)\s*[:\-]?\s*$", re.IGNORECASE)

_MILES_UNIT_LOW = for_lower_case(_MILES_UNIT)
