"""Brand and model from the catalogue (``core/data/catalogue.json``): ``find_vehicle``."""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import accumulate, compress, count, repeat
from operator import getitem
from typing import Any

from carsbot.core.extraction.normalize.text import (
    _CAT_TOKEN,
    _CODED_TOKEN,
    _LOOKALIKE,
    normalize_token,
    prepare_text,
)


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


@dataclass(frozen=True, slots=True)  # slots: no per-alias __dict__ to read (the hot loops read them)
class _Alias:
    brand: str
    model: str | None
    weak: bool


# What the catalogue knows about one alias key (see ``_Catalogue.lookup``).
_Keyed = tuple[list[_Alias] | None, _Alias | None, list[_Alias] | None, frozenset[bytes] | None]


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
        # The fuzzy brand keys sorted by length (a stable sort keeps catalogue order within a length: the
        # order ``_fuzzy_brand_of`` scores them in), and what ``_reachable_brand_keys`` needs to count,
        # for every key at once, the letters of a token it lacks: one byte per key of a big integer (the
        # key of rank r in byte r). ``fuzzy_offsets[size]``: per key, 127 - how many letters of a token of
        # that size it may lack to be within reach, or 128 (never) for a key outside the token's length
        # window. ``fuzzy_misses[letter][n]``: per key, how many of n copies of the letter it lacks, for
        # every n a token with offsets can hold (``fuzzy_absent`` for a letter no key holds).
        ranked = self.fuzzy_ranked = sorted(self.fuzzy_brand_keys, key=len)
        self.fuzzy_ones = int.from_bytes(b"\x01" * len(ranked), "little")
        self.fuzzy_high = self.fuzzy_ones << 7
        lengths = bytes(map(len, ranked))
        longest = max(lengths, default=0)
        self.fuzzy_offsets = [0]  # by token size, up to the last size whose window holds a key
        size = 1
        while (window := _fuzzy_lengths(size)).start <= longest:
            table = [128] * 256
            for n in window:
                least_lcs = -(-(size + n - (size + n) // 5) // 2)  # see _reachable_brand_keys
                if n < 256 and least_lcs <= size:
                    table[n] = 127 - (size - least_lcs)
            self.fuzzy_offsets.append(int.from_bytes(lengths.translate(bytes(table)), "little"))
            size += 1
        counts: dict[str, bytearray] = {}  # letter -> per key, its copies of the letter
        for rank, key in enumerate(ranked):
            for letter in set(key):
                counts.setdefault(letter, bytearray(len(ranked)))[rank] = key.count(letter)
        # lacking[n]: a key holding c copies lacks max(0, n - c) of n (n is at most the last token size)
        lacking = [bytes(max(0, n - c) for c in range(256)) for n in range(len(self.fuzzy_offsets))]
        self.fuzzy_misses = {
            letter: [int.from_bytes(copies.translate(table), "little") for table in lacking]
            for letter, copies in counts.items()
        }
        self.fuzzy_absent = [n * self.fuzzy_ones for n in range(len(self.fuzzy_offsets))]
        # Everything ``_hits`` reads about an alias key, in one table (one look-up per token, one table
        # in the CPU caches): its model aliases, the first distinctive one of them (not weak, with a
        # model: it implies the brand), its brand aliases, and for the first word of multi-word keys
        # the words that can follow it (longer n-grams are only tried then: "1 series", not "1 владелец").
        # Keyed by the cp1251 bytes of the key, as ``_tokenize`` gives tokens (a character cp1251 lacks,
        # "?" then, is in no token: such a key would match none either way).
        seconds: dict[str, set[str]] = {}
        for key in [*self.brands, *self.models]:
            if " " in key:
                first, second = key.split(" ")[:2]
                seconds.setdefault(first, set()).add(second)
        self.lookup: dict[bytes, _Keyed] = {}
        for key in dict.fromkeys([*self.brands, *self.models, *seconds]):
            models = self.models.get(key)
            strong = next((e for e in models if not e.weak and e.model), None) if models else None
            follow = frozenset(_cp1251(w) for w in seconds.get(key, ())) or None
            self.lookup[_cp1251(key)] = (models, strong, self.brands.get(key), follow)

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


def _cp1251(text: str) -> bytes:
    return text.encode("cp1251", "replace")


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


# Words after a number that make it a count, not a model (in tokens' cp1251 bytes: they are lower-cased).
_DIGIT_MODEL_BLOCK = re.compile(
    _cp1251(r"^(?:хоз|влад|вл|собств|км|km|тыс|т|000|руб|р|млн|г|год|л|ткм|шт|мес|дн|дв|раз|%)"),
    re.IGNORECASE,
)


class _Tokens:
    """The catalogue tokens of a text (see ``_tokenize``): their ``normalize_token`` forms in cp1251
    bytes (one byte a character, so a form's length is the token's), and their offsets in the text,
    found only for the tokens asked for (most posts: the one or two of the vehicle)."""

    __slots__ = ("_hits", "_located", "_padded", "_starts", "words")

    def __init__(self, words: list[bytes], padded: bytes | None, starts: dict[int, int]) -> None:
        self.words = words
        # The text with every separator a space, each token in its ``words`` form (same offsets) and a
        # space before and after it all, to find a token in as its form between two spaces (at the
        # offset of the token itself); None when ``starts`` already holds every token's start.
        self._padded = padded
        self._starts = starts
        self._hits: list[int] = []  # see ``note_hits``
        self._located = 0  # how many of them have their start in ``starts``

    def note_hits(self, indices: list[int]) -> None:
        """Remember the indices (increasing) of the alias hits. Every token of a hit's form is a hit
        itself, so each hit is the next occurrence of its form (between spaces) past the hit before:
        their starts are found with one ``find`` each, in turn, up to the one asked for."""
        self._hits = indices

    def start(self, i: int) -> int:
        at = self._starts.get(i)
        if at is not None:
            return at
        assert self._padded is not None
        hits, located, starts = self._hits, self._located, self._starts
        if located < len(hits) and hits[located] <= i:  # the hits up to ``i``
            find, words = self._padded.find, self.words
            at = starts[hits[located - 1]] if located else -1
            while located < len(hits) and hits[located] <= i:
                at = starts[hits[located]] = find(b" %b " % words[hits[located]], at + 1)
                located += 1
            self._located = located
            if hits[located - 1] == i:
                return at
        # another token (rare): the n-th one of its form is its form's n-th occurrence between spaces
        word = self.words[i]
        needle = b" %b " % word
        at = -1
        for _ in range(self.words[:i].count(word) + 1):
            at = self._padded.find(needle, at + 1)
        starts[i] = at
        return at

    def end(self, i: int) -> int:
        return self.start(i) + len(self.words[i])  # the look-alike mapping keeps a token's length

    def texts(self, start: int, stop: int) -> list[str]:
        """The forms of the tokens from ``start`` to ``stop`` as text (for rapidfuzz and the models), by
        one decode of them joined by spaces (a token holds none)."""
        words = self.words[start:stop]
        return b" ".join(words).decode("cp1251").split(" ") if words else []


# Alias hits: (token index, n-gram size, the aliases); a model hit also has its first distinctive alias
# (not weak, with a model), which implies its brand, or None.
_ModelHits = list[tuple[int, int, list[_Alias], _Alias | None]]
_BrandHits = list[tuple[int, int, list[_Alias]]]

# The catalogue tokens in lower-cased text, captured: ``split`` gives separators and tokens in turn, and
# their lengths add up to every token's offsets (no match object per token).
_TOKEN_SPLIT = re.compile(f"({_CAT_TOKEN.pattern})")
# A digit or Latin letter next to a Cyrillic letter (or one apostrophe from it): inside a token that
# mixes both, the only kind whose look-alike mapping changes anything.
_MIXED = re.compile(r"[0-9a-z](?:[а-я]|(?<=[а-я].)|'[а-я]|(?<=[а-я]'.))")

# Text without an apostrophe is tokenised in cp1251 bytes, where the characters of ``_CAT_TOKEN``
# ([0-9a-zа-я] in lower-cased text) are single bytes and every other character, encoded or replaced by
# "?", is one byte too (offsets are kept): one ``translate`` lower-cases the token characters and turns
# each separator into a space, and a whitespace ``split`` gives the tokens, several times faster than
# ``lower`` and a regex over Cyrillic text. Outside cp1251, only two characters lower-case to a token
# character: "İ" (to "i" and a combining dot: two characters) and the Kelvin sign (to "k"); a text with
# either is lower-cased first, as the apostrophe path does.
_TOKEN_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz" + "".join(map(chr, range(ord("а"), ord("я") + 1)))
_TOKEN_BYTES = frozenset(_TOKEN_CHARS.encode("cp1251"))


def _separated(byte: int) -> int:
    """The byte a cp1251 byte becomes in ``_tokenize``: its lower-case form if a token character."""
    lower = _cp1251(bytes([byte]).decode("cp1251", "replace").lower())
    return lower[0] if len(lower) == 1 and lower[0] in _TOKEN_BYTES else 0x20


_SEPARATE = bytes(map(_separated, range(256)))
# The script of each byte of those: "a" for a digit or Latin letter, "я" (0xff) for a Cyrillic one. A
# token that mixes both (the only tokens ``_LOOKALIKE`` applies to, as in ``_tokenize``) holds one of
# the pairs "aя", "яa" there, found by ``bytes.find`` (a regex alternation is several times slower);
# it is mapped by the same table in bytes.
_SCRIPTS = bytes(0xFF if b >= 0xE0 else ord("a") if b in _TOKEN_BYTES else 0x20 for b in range(256))
_LATIN_CYRILLIC, _CYRILLIC_LATIN = b"a\xff", b"\xffa"
_LOOKALIKE_BYTES = bytes(
    _LOOKALIKE.get(ord(ch), b) if ch in _TOKEN_CHARS else b
    for b, ch in ((b, bytes([b]).decode("cp1251", "replace")) for b in range(256))
)


def _tokenize(text: str) -> _Tokens:
    """The catalogue tokens of ``text`` (prepared): ``_CAT_TOKEN`` in its lower-cased copy, found in
    cp1251 bytes (see ``_SEPARATE``) unless the text holds an apostrophe (``_tokenize_apostrophes``).

    Tokens that begin a ``_CODED_TOKEN`` match are mapped through ``_LOOKALIKE``. The mapping
    only changes Cyrillic letters, and such a token is coded exactly when it also holds a digit or a Latin
    letter (it mixes the two scripts) and no apostrophe precedes it, unless the text holds a run of
    apostrophes (the pattern's look-ahead then reaches across tokens): that rare case asks
    ``_CODED_TOKEN`` itself."""
    if "'" in text or "’" in text or "\u0130" in text or "\u212a" in text:  # rare: see _SEPARATE
        text = text.lower().replace("’", "'")
        if "'" in text:  # tokens may hold an apostrophe
            return _tokenize_apostrophes(text)
    spaced = _cp1251(text).translate(_SEPARATE)
    scripts = spaced.translate(_SCRIPTS)
    latin_cyrillic = scripts.find(_LATIN_CYRILLIC)
    cyrillic_latin = scripts.find(_CYRILLIC_LATIN)
    if latin_cyrillic >= 0 or cyrillic_latin >= 0:  # map the tokens that mix scripts, each as a whole
        mapped = bytearray(spaced)
        while latin_cyrillic >= 0 or cyrillic_latin >= 0:
            if cyrillic_latin < 0 or 0 <= latin_cyrillic < cyrillic_latin:
                at = latin_cyrillic
            else:
                at = cyrillic_latin
            start = spaced.rfind(b" ", 0, at) + 1
            end = spaced.find(b" ", at)
            end = len(spaced) if end < 0 else end
            mapped[start:end] = spaced[start:end].translate(_LOOKALIKE_BYTES)
            # the next pair of each kind past this token (each kind's finds scan the text once)
            if 0 <= latin_cyrillic < end:
                latin_cyrillic = scripts.find(_LATIN_CYRILLIC, end)
            if 0 <= cyrillic_latin < end:
                cyrillic_latin = scripts.find(_CYRILLIC_LATIN, end)
        spaced = bytes(mapped)
    return _Tokens(spaced.split(), b" %b " % spaced, {})


def _tokenize_apostrophes(low: str) -> _Tokens:
    """``_tokenize`` of a lower-cased text that holds an apostrophe, with one regex ``split``."""
    parts = _TOKEN_SPLIT.split(low)  # [separator, token, separator, ..., token, separator]
    words = parts[1::2]
    starts = list(accumulate(map(len, parts[:-1])))[0::2]
    if "''" in low:
        coded = {bisect_right(starts, m.start()) - 1 for m in _CODED_TOKEN.finditer(low)}
    else:
        coded = {bisect_right(starts, m.start()) - 1 for m in _MIXED.finditer(low)}
        coded = {i for i in coded if starts[i] == 0 or low[starts[i] - 1] != "'"}
    for i in coded:
        words[i] = words[i].translate(_LOOKALIKE)
    return _Tokens(list(map(_cp1251, words)), None, dict(enumerate(starts)))


@lru_cache(maxsize=8)
def _hits(text: str) -> tuple[_Tokens, _ModelHits, _BrandHits]:
    """Tokens of ``text`` (prepared here) and the catalogue's model and brand aliases found in them,
    longest n-gram first at each token (memoised: the vehicle finder and the list detector read the same
    text, so the second one does not even prepare it again)."""
    cat = _catalogue()
    tokens = _tokenize(prepare_text(text))
    words = tokens.words
    lookup = cat.lookup
    model_hits: _ModelHits = []
    brand_hits: _BrandHits = []
    size = len(words)
    # Only tokens that begin some alias key can start a hit (one look-up per token; most are none).
    keyed_at = list(map(lookup.get, words))
    starting = list(compress(count(), keyed_at))
    tokens.note_hits(starting)  # every token of an alias key's form is among them
    for i in starting:
        keyed = keyed_at[i]
        assert keyed is not None  # ``starting`` holds the tokens found
        models, strong, brands, seconds = keyed
        if seconds is None or i + 1 == size or words[i + 1] not in seconds:
            if models:
                model_hits.append((i, 1, models, strong))
            if brands:
                brand_hits.append((i, 1, brands))
            continue
        found_model = found_brand = False
        for n in range(min(cat.max_ngram, size - i), 0, -1):
            keyed = lookup.get(b" ".join(words[i : i + n])) if n > 1 else keyed_at[i]
            if keyed is None:
                continue
            models, strong, brands, _ = keyed
            if not found_model and models:
                model_hits.append((i, n, models, strong))
                found_model = True
            if not found_brand and brands:
                brand_hits.append((i, n, brands))
                found_brand = True
            if found_model and found_brand:
                break
    return tokens, model_hits, brand_hits


def _digit_model_ok(words: list[bytes], i: int, n: int) -> bool:
    key = words[i + n - 1]
    if not key.isdigit():
        return True
    nxt = words[i + n] if i + n < len(words) else b""
    return not _DIGIT_MODEL_BLOCK.match(nxt)


def find_vehicle(text: str) -> Vehicle:
    """Brand and model (canonical names from the catalogue) mentioned in ``text``.

    Exact alias matches first (Cyrillic aliases in any case: "Ладу Весту", "Шкоду Октавию"); a model
    alias right after the brand wins; a distinctive model alone implies its brand ("камри" → Toyota
    Camry); then a fuzzy match with ``rapidfuzz`` for misspelled brands ("Хюндяй") and models.
    """
    cat = _catalogue()
    tokens, model_hits, brand_hits = _hits(text)
    words, start, end = tokens.words, tokens.start, tokens.end
    if not words:
        return Vehicle(None, None)

    first_brand: tuple[int, int, str] | None = None
    for i, n, entries in brand_hits:
        for e in entries:
            near = _model_after(model_hits, words, e.brand, i + n)
            if e.weak and near is None:
                continue
            if near is None and first_brand is None:
                # a brand alias that is itself part of a model alias ("шевроле нива") is handled by models
                first_brand = (i, n, e.brand)
            if near is not None:
                mi, mn, model = near
                return Vehicle(e.brand, model, end(mi + mn - 1), start(i))
    if first_brand is not None:
        i, n, brand = first_brand
        # a model just before the brand: "Нива Шевроле"
        before = _model_after(model_hits, words, brand, i - 1, lo=max(0, i - 2)) if i > 0 else None
        if before is not None:
            mi, mn, model = before
            return Vehicle(brand, model, end(i + n - 1), start(mi))
        anywhere = _model_anywhere(model_hits, brand)
        if anywhere is not None:
            mi, mn, model = anywhere
            return Vehicle(brand, model, end(mi + mn - 1), start(i))
        earlier = _strong_model(model_hits, tokens, before=i)
        if earlier is not None:  # "Волгу 31105 ... двигатель 2.4 крайслер": the car named first wins
            return earlier
        fuzzy_model = _fuzzy_model(brand, tokens.texts(i + n, i + n + 3))
        if fuzzy_model is not None:
            j, model = fuzzy_model
            return Vehicle(brand, model, end(i + n + j), start(i), fuzzy=True)
        return Vehicle(brand, None, end(i + n - 1), start(i))
    return _strong_model(model_hits, tokens) or _fuzzy_vehicle(cat, tokens)


def _model_after(
    model_hits: _ModelHits, words: list[bytes], brand: str, pos: int, lo: int | None = None
) -> tuple[int, int, str] | None:
    """A model of ``brand`` within three tokens after ``pos`` (or ending by ``lo + 2``, from ``lo``)."""
    for i, n, entries, _ in model_hits:
        if (lo if lo is not None else pos) <= i <= pos + 3 and (lo is None or i + n <= lo + 2):
            for e in entries:
                if e.brand == brand and e.model and _digit_model_ok(words, i, n):
                    return i, n, e.model
    return None


def _model_anywhere(model_hits: _ModelHits, brand: str) -> tuple[int, int, str] | None:
    """The first distinctive model alias of ``brand`` anywhere."""
    for i, n, entries, _ in model_hits:
        for e in entries:
            if e.brand == brand and e.model and not e.weak:
                return i, n, e.model
    return None


def _strong_model(model_hits: _ModelHits, tokens: _Tokens, before: int | None = None) -> Vehicle | None:
    """The first distinctive model alias (it implies its brand), optionally only before token ``before``."""
    words = tokens.words
    for i, n, _, strong in model_hits:
        if before is not None and i >= before:
            return None
        if strong is not None and _digit_model_ok(words, i, n):
            return Vehicle(strong.brand, strong.model, tokens.end(i + n - 1), tokens.start(i))
    return None


def _fuzzy_model(brand: str, window: list[str]) -> tuple[int, str] | None:
    for j, tok in enumerate(window):
        if len(tok) < 5 or tok.isdigit():
            continue
        model = _fuzzy_model_of(brand, tok)
        if model is not None:
            return j, model
    return None


@lru_cache(maxsize=4096)
def _fuzzy_model_of(brand: str, token: str) -> str | None:
    """The model of ``brand`` whose alias is closest to a misspelt ``token`` (rapidfuzz ratio >= 80)."""
    choices = _fuzzy_model_choices(brand, len(token))
    if not choices:
        return None
    extract_one, ratio = _rapidfuzz()
    best = extract_one(token, choices, scorer=ratio, score_cutoff=80)
    return _catalogue().model_aliases_by_brand[brand][best[0]] if best is not None else None


@lru_cache(maxsize=1024)
def _fuzzy_model_choices(brand: str, size: int) -> list[str]:
    """The model aliases of ``brand`` scored against a misspelt token of ``size`` letters (a static
    index of the catalogue): of four letters or more and not a number, in catalogue order (``extractOne``
    keeps the first of equal scores), only those of a length that can reach ratio 80 (with d >= |m - n|,
    see ``_reachable_brand_keys``: 5 * |m - n| <= m + n); dropping the others leaves its answer unchanged."""
    aliases = _catalogue().model_aliases_by_brand.get(brand, {})
    return [k for k in aliases if len(k) >= 4 and not k.isdigit() and 5 * abs(len(k) - size) <= len(k) + size]


@lru_cache(maxsize=1)
def _rapidfuzz() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """rapidfuzz's ``process.extractOne`` and ``fuzz.ratio``, imported on first use (it takes 15 ms, and
    most texts never score; an ``import`` statement in the scoring functions costs microseconds a call)."""
    from rapidfuzz import fuzz, process

    return process.extractOne, fuzz.ratio


def _fuzzy_lengths(size: int) -> range:
    """The alias lengths scored against a misspelt token of ``size`` letters: an alias at ratio >= 80
    differs in length by at most a fifth."""
    spread = max(2, size // 4)
    return range(size - spread, size + spread + 1)


@lru_cache(maxsize=4096)
def _fuzzy_brand_of(token: str) -> str | None:
    """The brand whose alias is closest to a misspelt ``token`` (rapidfuzz ratio >= 80), among the
    aliases of a near length (``_fuzzy_lengths``) that can reach 80 (``_reachable_brand_keys``)."""
    cat = _catalogue()
    choices = _reachable_brand_keys(cat, token)
    if not choices:  # most tokens: no import, no scoring
        return None
    extract_one, ratio = _rapidfuzz()
    best = extract_one(token, choices, scorer=ratio, score_cutoff=80)
    if best is None:
        return None
    return next(a.brand for a in cat.brands[best[0]] if not a.weak)


def _reachable_brand_keys(cat: _Catalogue, token: str) -> list[str]:
    """The fuzzy brand keys of ``_fuzzy_lengths(len(token))`` (by length, then in catalogue order) that
    may be at ratio >= 80 from ``token``: dropping only keys that cannot leaves ``extractOne``'s answer
    unchanged, and most tokens (plain words) are left with none, so rapidfuzz is not called at all.

    ratio = 100 * (1 - d / (m + n)) for lengths m, n and d = m + n - 2 * LCS characters inserted or
    deleted, so ratio >= 80 needs d <= (m + n) // 5, i.e. an LCS of at least (m + n - (m + n) // 5) / 2
    letters, and the LCS is at most the letters the two have in common (with repeats): a key may lack
    only so many of the token's letters. Those counts are summed for all keys at once, a byte per key,
    on top of ``fuzzy_offsets`` (see ``_Catalogue``), which sets a byte's high bit exactly when its key
    lacks too many. A byte never carries into the next: it stays at most 128 + the token's length, and
    a token of more than 20 letters has no key in its length window (no offsets: nothing is scored)."""
    size = len(token)
    if size >= len(cat.fuzzy_offsets) or not (total := cat.fuzzy_offsets[size]):
        return []
    # per distinct letter, the row of its count in the token (one C-level pass; a set iterates in the
    # same order both times)
    letters = set(token)
    rows = map(cat.fuzzy_misses.get, letters, repeat(cat.fuzzy_absent))
    total = sum(map(getitem, rows, map(token.count, letters)), total)
    high = cat.fuzzy_high
    over = total & high  # the high bit of each byte whose key lacks too many letters
    if over == high:
        return []
    ranked = cat.fuzzy_ranked
    keep = over ^ high
    choices = []
    while keep:  # lowest rank first
        bit = keep & -keep
        choices.append(ranked[(bit.bit_length() - 1) >> 3])
        keep ^= bit
    return choices


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


def _fuzzy_vehicle(cat: _Catalogue, tokens: _Tokens) -> Vehicle:
    words = tokens.texts(0, 43)  # the first 40 tokens (a misspelt brand among them) and 3 for its model
    head = [
        i for i, tok in enumerate(words[:40]) if len(tok) >= 5 and tok.isalpha() and tok not in _FUZZY_STOP
    ]
    for pos in head[:12]:
        brand = _fuzzy_brand_of(words[pos])
        if brand is None:
            continue
        model: str | None = None
        model_end = tokens.end(pos)
        for j in range(pos + 1, min(pos + 4, len(words))):
            entries = cat.models.get(words[j], [])
            hit = next((e.model for e in entries if e.brand == brand and e.model), None)
            if hit:
                model, model_end = hit, tokens.end(j)
                break
        if model is None:
            fm = _fuzzy_model(brand, words[pos + 1 : pos + 4])
            if fm is not None:
                model, model_end = fm[1], tokens.end(pos + 1 + fm[0])
        return Vehicle(brand, model, model_end, tokens.start(pos), fuzzy=True)
    return Vehicle(None, None)


def model_mentions(text: str) -> list[tuple[str, int, int]]:
    """Every distinctive model alias in ``text`` as ``(model, start, end)`` (lists of several cars)."""
    tokens, model_hits, _ = _hits(text)
    return [
        (f"{strong.brand} {strong.model}", tokens.start(i), tokens.end(i + n - 1))
        for i, n, _, strong in model_hits
        if strong is not None and _digit_model_ok(tokens.words, i, n)
    ]
