"""Brand and model from the catalogue (``core/data/catalogue.json``): ``find_vehicle``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from carsbot.core.extraction.normalize.text import _CAT_TOKEN, _tokens, normalize_token, prepare_text


def _cyrillic_forms(word: str) -> set[str]:
    """Singular case forms of a Russian noun-like alias ("веста" → "весту", "весты"...), by its ending."""
    forms = {word}
    if len(word) < 4 or not re.fullmatch(r"[а-я]+", word):
        return forms
    if word.endswith(("а",)):
        stem = word[:-1]
        forms |= {stem + end for end in ("у", "ы", "е", "ой", "ою", "и")}
    elif word.endswith("я"):
        stem = word[:-1]
        forms |= {stem + end for end in ("ю", "и", "ей", "е")}
    elif word.endswith("й"):
        stem = word[:-1]
        forms |= {stem + end for end in ("я", "ю", "ем", "е")}
    elif word.endswith("ь"):
        stem = word[:-1]
        forms |= {stem + end for end in ("я", "ю", "ем", "е", "и", "ью")}
    elif word[-1] not in "аеиоуыэюяь":
        forms |= {word + end for end in ("а", "у", "ом", "е")}
    return forms


@dataclass(frozen=True)
class _Alias:
    brand: str
    model: str | None
    weak: bool


class _Catalogue:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.brands: dict[str, list[_Alias]] = {}
        self.models: dict[str, list[_Alias]] = {}
        self.model_aliases_by_brand: dict[str, dict[str, str]] = {}
        self.max_ngram = 1
        for brand in doc["brands"]:
            name = brand["name"]
            for alias in brand["aliases"]:
                self._add(self.brands, alias, _Alias(name, None, False))
            for alias in brand.get("weak_aliases", []):
                self._add(self.brands, alias, _Alias(name, None, True))
            own: dict[str, str] = {}
            for model in brand["models"]:
                for alias in model["aliases"]:
                    for key in self._add(self.models, alias, _Alias(name, model["name"], False)):
                        own.setdefault(key, model["name"])
                for alias in model.get("weak_aliases", []):
                    for key in self._add(self.models, alias, _Alias(name, model["name"], True)):
                        own.setdefault(key, model["name"])
            self.model_aliases_by_brand[name] = own
        self.fuzzy_brand_keys = [
            k for k, v in self.brands.items() if len(k) >= 4 and any(not a.weak for a in v)
        ]
        self.fuzzy_brand_keys_by_length: dict[int, list[str]] = {}
        for key in self.fuzzy_brand_keys:
            self.fuzzy_brand_keys_by_length.setdefault(len(key), []).append(key)
        # token length -> the brand keys of a near length, in that order (filled as lengths are seen)
        self.fuzzy_brand_choices: dict[int, list[str]] = {}
        # first words of multi-word aliases: longer n-grams are only tried from these tokens
        self.multi_first = frozenset(k.split(" ", 1)[0] for k in [*self.brands, *self.models] if " " in k)

    def _add(self, index: dict[str, list[_Alias]], alias: str, entry: _Alias) -> list[str]:
        words = [normalize_token(t) for t in _CAT_TOKEN.findall(prepare_text(alias))]
        if not words:
            return []
        self.max_ngram = max(self.max_ngram, len(words))
        keys = []
        forms = _cyrillic_forms(words[-1])
        if any(ch.isdigit() for ch in words[-1]) and "s" in words[-1]:
            # A code written in Cyrillic by sound: "ЦС55" normalises to "cc55" (Cyrillic "с" reads as "c").
            forms.add(words[-1].replace("s", "c"))
        for form in forms:
            key = " ".join([*words[:-1], form])
            bucket = index.setdefault(key, [])
            if entry not in bucket and not (form not in _cyrillic_forms(words[-1]) and bucket):
                bucket.append(entry)
            keys.append(key)
        return keys


@lru_cache(maxsize=1)
def _catalogue() -> _Catalogue:
    raw = resources.files("carsbot.core").joinpath("data/catalogue.json").read_text(encoding="utf-8")
    return _Catalogue(json.loads(raw))


@dataclass(frozen=True)
class Vehicle:
    brand: str | None
    model: str | None
    end: int | None = None  # offset just after the model (or brand) mention
    start: int | None = None
    fuzzy: bool = False


_DIGIT_MODEL_BLOCK = re.compile(
    r"^(?:хоз|влад|вл|собств|км|km|тыс|т|000|руб|р|млн|г|год|л|ткм|шт|мес|дн|дв|раз|%)", re.IGNORECASE
)


_Hits = list[tuple[int, int, list[_Alias]]]


@lru_cache(maxsize=8)
def _hits(text: str) -> tuple[list[tuple[str, int, int]], _Hits, _Hits]:
    """Tokens of ``text`` (prepared) and the catalogue's model and brand aliases found in them, longest
    n-gram first at each token (memoised: the vehicle finder and the list detector read the same text)."""
    cat = _catalogue()
    tokens = _tokens(text)
    models, brands = cat.models, cat.brands
    model_hits: _Hits = []
    brand_hits: _Hits = []
    count = len(tokens)
    for i in range(count):
        first = tokens[i][0]
        if first not in cat.multi_first:
            entries = models.get(first)
            if entries:
                model_hits.append((i, 1, entries))
            entries = brands.get(first)
            if entries:
                brand_hits.append((i, 1, entries))
            continue
        found_model = found_brand = False
        for n in range(min(cat.max_ngram, count - i), 0, -1):
            key = " ".join(t[0] for t in tokens[i : i + n]) if n > 1 else first
            if not found_model and (entries := models.get(key)):
                model_hits.append((i, n, entries))
                found_model = True
            if not found_brand and (entries := brands.get(key)):
                brand_hits.append((i, n, entries))
                found_brand = True
            if found_model and found_brand:
                break
    return tokens, model_hits, brand_hits


def _digit_model_ok(tokens: list[tuple[str, int, int]], i: int, n: int) -> bool:
    key = tokens[i + n - 1][0]
    if not key.isdigit():
        return True
    nxt = tokens[i + n][0] if i + n < len(tokens) else ""
    return not _DIGIT_MODEL_BLOCK.match(nxt)


def find_vehicle(text: str) -> Vehicle:
    """Brand and model (canonical names from the catalogue) mentioned in ``text``.

    Exact alias matches first (Cyrillic aliases in any case: "Ладу Весту", "Шкоду Октавию"); a model
    alias right after the brand wins; a distinctive model alone implies its brand ("камри" → Toyota
    Camry); then a fuzzy match with ``rapidfuzz`` for misspelled brands ("Хюндяй") and models.
    """
    cat = _catalogue()
    tokens, model_hits, brand_hits = _hits(prepare_text(text))
    if not tokens:
        return Vehicle(None, None)

    def model_after(brand: str, pos: int, lo: int | None = None) -> tuple[int, int, str] | None:
        for i, n, entries in model_hits:
            if (lo if lo is not None else pos) <= i <= pos + 3 and (lo is None or i + n <= lo + 2):
                for e in entries:
                    if e.brand == brand and e.model and _digit_model_ok(tokens, i, n):
                        return i, n, e.model
        return None

    def model_anywhere(brand: str) -> tuple[int, int, str] | None:
        for i, n, entries in model_hits:
            for e in entries:
                if e.brand == brand and e.model and not e.weak:
                    return i, n, e.model
        return None

    first_brand: tuple[int, int, str] | None = None
    for i, n, entries in brand_hits:
        for e in entries:
            near = model_after(e.brand, i + n)
            if e.weak and near is None:
                continue
            if near is None and first_brand is None:
                # a brand alias that is itself part of a model alias ("шевроле нива") is handled by models
                first_brand = (i, n, e.brand)
            if near is not None:
                mi, mn, model = near
                return Vehicle(e.brand, model, tokens[mi + mn - 1][2], tokens[i][1])
    if first_brand is not None:
        i, n, brand = first_brand
        before = model_after(brand, i - 1, lo=max(0, i - 2)) if i > 0 else None  # "Нива Шевроле"
        if before is not None:
            mi, mn, model = before
            return Vehicle(brand, model, tokens[i + n - 1][2], tokens[mi][1])
        anywhere = model_anywhere(brand)
        if anywhere is not None:
            mi, mn, model = anywhere
            return Vehicle(brand, model, tokens[mi + mn - 1][2], tokens[i][1])
        earlier = _strong_model(model_hits, tokens, before=i)
        if earlier is not None:  # "Волгу 31105 ... двигатель 2.4 крайслер": the car named first wins
            return earlier
        fuzzy_model = _fuzzy_model(cat, brand, tokens[i + n : i + n + 3])
        if fuzzy_model is not None:
            j, model = fuzzy_model
            return Vehicle(brand, model, tokens[i + n + j][2], tokens[i][1], fuzzy=True)
        return Vehicle(brand, None, tokens[i + n - 1][2], tokens[i][1])
    return _strong_model(model_hits, tokens) or _fuzzy_vehicle(cat, tokens)


def _strong_model(
    model_hits: list[tuple[int, int, list[_Alias]]],
    tokens: list[tuple[str, int, int]],
    before: int | None = None,
) -> Vehicle | None:
    """The first distinctive model alias (it implies its brand), optionally only before token ``before``."""
    for i, n, entries in model_hits:
        if before is not None and i >= before:
            return None
        strong = [e for e in entries if not e.weak and e.model]
        if strong and _digit_model_ok(tokens, i, n):
            e = strong[0]
            return Vehicle(e.brand, e.model, tokens[i + n - 1][2], tokens[i][1])
    return None


def _fuzzy_model(cat: _Catalogue, brand: str, window: list[tuple[str, int, int]]) -> tuple[int, str] | None:
    for j, (tok, _, _) in enumerate(window):
        if len(tok) < 5 or tok.isdigit():
            continue
        model = _fuzzy_model_of(brand, tok)
        if model is not None:
            return j, model
    return None


@lru_cache(maxsize=4096)
def _fuzzy_model_of(brand: str, token: str) -> str | None:
    """The model of ``brand`` whose alias is closest to a misspelt ``token`` (rapidfuzz ratio >= 80)."""
    from rapidfuzz import fuzz, process

    cat = _catalogue()
    aliases = cat.model_aliases_by_brand.get(brand, {})
    choices = [k for k in aliases if len(k) >= 4 and not k.isdigit()]
    best = process.extractOne(token, choices, scorer=fuzz.ratio, score_cutoff=80) if choices else None
    return aliases[best[0]] if best is not None else None


@lru_cache(maxsize=4096)
def _fuzzy_brand_of(token: str) -> str | None:
    """The brand whose alias is closest to a misspelt ``token`` (rapidfuzz ratio >= 80). An alias at
    ratio >= 80 differs in length by at most a fifth, so only aliases of a near length are scored."""
    from rapidfuzz import fuzz, process

    cat = _catalogue()
    size = len(token)
    choices = cat.fuzzy_brand_choices.get(size)
    if choices is None:
        spread = max(2, size // 4)
        by_length = cat.fuzzy_brand_keys_by_length
        choices = [k for n in range(size - spread, size + spread + 1) for k in by_length.get(n, ())]
        cat.fuzzy_brand_choices[size] = choices
    best = process.extractOne(token, choices, scorer=fuzz.ratio, score_cutoff=80) if choices else None
    if best is None:
        return None
    return next(a.brand for a in cat.brands[best[0]] if not a.weak)


_FUZZY_STOP = frozenset(
    {
        "продам",
        "продаю",
        "продается",
        "продаётся",
        "срочно",
        "состояние",
        "пробег",
        "цена",
        "владелец",
        "хозяин",
    }
)


def _fuzzy_vehicle(cat: _Catalogue, tokens: list[tuple[str, int, int]]) -> Vehicle:
    head = [t for t in tokens[:40] if len(t[0]) >= 5 and t[0].isalpha() and t[0] not in _FUZZY_STOP][:12]
    for tok, start, end in head:
        brand = _fuzzy_brand_of(tok)
        if brand is None:
            continue
        pos = tokens.index((tok, start, end))
        model: str | None = None
        model_end = end
        for j in range(pos + 1, min(pos + 4, len(tokens))):
            entries = cat.models.get(tokens[j][0], [])
            hit = next((e.model for e in entries if e.brand == brand and e.model), None)
            if hit:
                model, model_end = hit, tokens[j][2]
                break
        if model is None:
            fm = _fuzzy_model(cat, brand, tokens[pos + 1 : pos + 4])
            if fm is not None:
                model, model_end = fm[1], tokens[pos + 1 + fm[0]][2]
        return Vehicle(brand, model, model_end, start, fuzzy=True)
    return Vehicle(None, None)


def model_mentions(text: str) -> list[tuple[str, int, int]]:
    """Every distinctive model alias in ``text`` as ``(model, start, end)`` (lists of several cars)."""
    tokens, model_hits, _ = _hits(prepare_text(text))
    found = []
    for i, n, entries in model_hits:
        strong = [e for e in entries if not e.weak and e.model]
        if strong and _digit_model_ok(tokens, i, n):
            found.append((f"{strong[0].brand} {strong[0].model}", tokens[i][1], tokens[i + n - 1][2]))
    return found
