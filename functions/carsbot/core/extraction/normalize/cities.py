"""The seller's city (``core/data/cities.json``, forms from pymorphy3): ``find_city``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from carsbot.core.extraction.normalize.text import _TOKEN, prepare_text


@dataclass(frozen=True)
class _City:
    name: str
    ambiguous: bool
    standalone: bool = False


class _CityIndex:
    def __init__(self, doc: dict[str, Any]) -> None:
        import pymorphy3

        morph = pymorphy3.MorphAnalyzer()
        self.morph = morph
        self.single: dict[str, _City] = {}
        self.multi: dict[tuple[str, ...], _City] = {}
        for item in doc["cities"]:
            city = _City(item["name"], bool(item.get("ambiguous")), bool(item.get("standalone")))
            for spelling in [item["name"], *item.get("aliases", [])]:
                words = [w.lower() for w in _TOKEN.findall(prepare_text(spelling))]
                word_forms = [self._forms(morph, w) for w in words]
                if len(words) == 1:
                    for form in word_forms[0]:
                        self.single.setdefault(form, city)
                else:
                    for combo in _product(word_forms):
                        self.multi.setdefault(tuple(combo), city)
        self.multi_lengths = sorted({len(k) for k in self.multi}, reverse=True)
        self.multi_first = frozenset(k[0] for k in self.multi)

    @staticmethod
    def _forms(morph: Any, word: str) -> set[str]:
        forms = {word}
        if not re.fullmatch(r"[а-я-]+", word) or len(word) < 3:
            return forms
        parses = morph.parse(word)
        geo = [p for p in parses if "Geox" in p.tag] or [p for p in parses if p.tag.POS in {"NOUN", "ADJF"}]
        for p in geo[:1]:
            for f in p.lexeme:
                if "plur" in f.tag and "Pltm" not in p.tag and p.tag.number != "plur":
                    continue
                forms.add(f.word.replace("ё", "е"))
        return forms


def _product(parts: list[set[str]]) -> list[list[str]]:
    combos: list[list[str]] = [[]]
    for options in parts:
        combos = [[*c, o] for c in combos for o in options]
    return combos


@lru_cache(maxsize=1)
def _cities() -> _CityIndex:
    raw = resources.files("carsbot.core").joinpath("data/cities.json").read_text(encoding="utf-8")
    return _CityIndex(json.loads(raw))


_CITY_MARKER = re.compile(
    r"(?:\b(?:в|во|из|с|со|под|около|г\.?|гор\.?|город[ае]?|городе|gorod|г\.о\.)\s*|#|📍\ufe0f?\s*|🏙️?\s*|🌆\s*|📌\s*|🗺️?\s*"
    r"|(?:город|локация|местоположение|находится|осмотр|нахожусь|расположение|location)\s*[:\-–—]?\s*)$",
    re.IGNORECASE,
)
_CITY_STRONG_CONTEXT = re.compile(
    r"(?:город|локация|местоположение|находится|осмотр|нахожусь|📍|🏙|location|г\.)\s*[:\-–—]?\s*(?:в\s+|во\s+|г\.\s*)?$",
    re.IGNORECASE,
)


_STANDALONE_LEFT = re.compile(r"(?:^|[.,;|/•!\n])[ ]*$")
_STANDALONE_RIGHT = re.compile(r"[ ]*(?:[.,;|/•\n]|$)")


def _standalone_city(text: str, city: _City, start: int, end: int) -> bool:
    """An ambiguous city flagged ``standalone`` written alone as a capitalised list item in its
    nominative form, not among the opening words: "... 980 000 руб. Киров, звонить после 18:00"."""
    if not city.standalone or not text[start].isupper() or len(text[:start].strip()) < 20:
        return False  # never the opening words: "Находка! Камри 2018..." is ad-speak
    if text[start:end].lower().replace("ё", "е") != city.name.lower().replace("ё", "е"):
        return False
    return bool(_STANDALONE_LEFT.search(text, max(0, start - 4), start)) and bool(
        _STANDALONE_RIGHT.match(text, end)
    )


# A town missing from cities.json after an explicit city marker: "г. Котельнич", "Город: Бердск", "📍 Кстово".
_MARKED_TOWN = re.compile(
    r"(?:(?<![\d\w])г\.|(?<!\w)гор\.|(?<!\w)[Гг]ород\w*\s*[:\-–—]?|📍\ufe0f?)\s*(?P<w>[А-Я][а-я]{3,}(?:-[А-Яа-я][а-я]+)*)"
    r"(?![а-яА-Я-])"
)
_NOT_TOWNS = frozenset(
    {"россия", "рф", "япония", "корея", "китай", "европа", "сибирь", "урал", "кавказ", "крым", "германия",
     "беларусь", "казахстан", "армения", "грузия", "киргизия", "узбекистан", "приморье", "кубань"}
)  # fmt: skip


def _marked_town(idx: _CityIndex, text: str) -> str | None:
    """The nominative name of a geographic word (pymorphy3 ``Geox``) right after "г."/"Город:"/"📍"."""
    for m in _MARKED_TOWN.finditer(text):
        if text[max(0, m.start() - 3) : m.start()].strip()[-1:].isdigit():
            continue  # "2015 г. Машина" is a year
        word = m.group("w").lower()
        if word in idx.single or word in _NOT_TOWNS:
            continue
        for parse in idx.morph.parse(word):
            if "Geox" in parse.tag and parse.tag.POS == "NOUN" and parse.normal_form not in _NOT_TOWNS:
                return "-".join(part[:1].upper() + part[1:] for part in parse.normal_form.split("-"))
    return None


def find_city(text: str) -> str | None:
    """The city the car is in, as a canonical Russian nominative ("в Москве" → "Москва", "СПб" → ...).

    City names match in any grammatical case (forms from pymorphy3), abbreviations and slang from
    ``core/data/cities.json``. Names that are also common words ("Орёл", "Владимир") count only after a
    place marker ("в", "из", "г.", "#", "📍"). A city after an explicit location label ("Город:",
    "📍", "Осмотр в") wins over earlier mentions.
    """
    idx = _cities()
    text = prepare_text(text)
    tokens = [(m.group(0).lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    first: str | None = None
    for i, (tok, start, _end) in enumerate(tokens):
        city: _City | None = None
        for n in idx.multi_lengths if tok in idx.multi_first else ():
            if i + n <= len(tokens):
                key = tuple(t[0] for t in tokens[i : i + n])
                city = idx.multi.get(key)
                if city:
                    break
        if city is None:
            city = idx.single.get(tok)
        if city is None:
            continue
        left = text[max(0, start - 24) : start]
        if city.ambiguous and not _CITY_MARKER.search(left) and not _standalone_city(text, city, start, _end):
            continue
        if not city.ambiguous and tok.isascii() and not _CITY_MARKER.search(left) and len(tok) <= 3:
            continue  # "msk"-like Latin abbreviations only after a marker
        if tok == "ростов" and re.match(r"^\s*велик", text[_end : _end + 10], re.IGNORECASE):
            continue
        if _CITY_STRONG_CONTEXT.search(left):
            return city.name
        if first is None:
            first = city.name
    if first is None and ("г" in text or "Г" in text or "📍" in text):
        return _marked_town(idx, text)
    return first
