"""Mileage in km (``parse_mileage``)."""

from __future__ import annotations

import re

from carsbot.core.extraction.normalize.text import _NUM, _NUM_START, _number, prepare_text

MAX_MILEAGE = 2_000_000

_KM_UNIT = (
    r"(?P<kunit>т\.?\s?км|тыс\.?\s*км|тыс\.?\s*километр\w*|ткм|тыщ\w*\s*км|[кk]\.?\s?км|[кk]\s?km"
    r"|km|км|километр\w*)"
)
_MILEAGE_UNIT = re.compile(rf"{_NUM_START}(?P<num>{_NUM})\s?{_KM_UNIT}(?![а-яa-z])", re.IGNORECASE)
_MILEAGE_KEY = re.compile(
    rf"(?:пробег\w*|🛣️?|одометр\w*|mileage)(?:\s*(?:по\s+одометру|по\s+рф|оригинальный|реальный|родной|всего|"
    rf"около|примерно|честный|небольшой|маленький|:|-|—|–|~|≈))*\s*(?P<num>{_NUM})\s?"
    rf"(?P<unit>{_KM_UNIT[len('(?P<kunit>') : -1]}|тыс\.?|т\.?|[кk])?(?![а-яa-z\d])",
    re.IGNORECASE,
)
_MILEAGE_EXCLUDE_LEFT = re.compile(
    r"(?:\b(?:расход\w*|запас\w*\s+хода|гаранти\w*|до|от|через|каждые|каждых|в\s+радиусе|ездил\w*\s+по|то\s+на|"
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


_MILEAGE_NOT_KM = re.compile(r"\s*(?:сезон|год|лет|мес|недел|дн[яе]|дней|раз|час|мото)", re.IGNORECASE)
_MILEAGE_BEFORE_KEY = re.compile(
    rf"{_NUM_START}(?P<num>{_NUM})\s?(?P<unit>тыс\w*\.?|т\.?|[кk])?\s*(?:км\.?\s*)?пробег\w*", re.IGNORECASE
)


def parse_mileage(text: str) -> int | None:
    """Mileage in km: "98 т.км", "98 000 км", "98к км", "пробег 120" (= 120 000 km), "🛣 85 000"."""
    text = prepare_text(text)
    for m in _MILEAGE_KEY.finditer(text):
        unit = m.group("unit")
        value = _number(m.group("num"), decimal_unit=bool(unit) and _km(1, unit) == 1000)
        if value is None:
            continue
        if unit:
            km = _km(value, unit)
        elif value < 1000 and not re.match(r"^\s*(?:м\b|миль)", text[m.end() : m.end() + 6]):
            km = round(value * 1000)  # shorthand "пробег 120" means thousands
        else:
            km = round(value)
        right = text[m.end() : m.end() + 8]
        if re.match(r"^\s*(?:₽|руб|р\.|млн)", right, re.IGNORECASE) or (
            unit and re.match(r"^\.?\s?р(?![а-я])", right, re.IGNORECASE)
        ):
            continue  # "пробег 430т.р." reads as money
        if not unit and _MILEAGE_NOT_KM.match(right):
            continue  # "пробег 1 сезон" (tyres), "пробег 2 года": a duration, not kilometres
        if 0 <= km <= MAX_MILEAGE:
            return km
    for m in _MILEAGE_BEFORE_KEY.finditer(text):  # "87тыс пробег", "120 000 км пробег"
        unit = m.group("unit")
        value = _number(m.group("num"), decimal_unit=bool(unit))
        if value is None:
            continue
        km = round(value * 1000) if unit or value < 1000 else round(value)
        if 0 < km <= MAX_MILEAGE:
            return km
    for m in _MILEAGE_UNIT.finditer(text):
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
            return km
    return None
