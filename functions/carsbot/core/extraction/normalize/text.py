"""Text preparation, keyword patterns, ad numbers and tokens shared by every normaliser."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Any

try:  # Python 3.11+ keeps the regex parser in re._parser
    import re._parser as _sre_parser
except ImportError:  # pragma: no cover
    import sre_parse as _sre_parser  # type: ignore[no-redef]


@dataclass(frozen=True)
class Hit:
    """A value a normaliser found, with the rule that produced it and where (for ``carsbot eval``)."""

    value: Any
    rule: str
    start: int
    end: int


# ---------------------------------------------------------------------------------------------------
# Text preparation

_ODD_SPACES = re.compile(r"[\u00a0\u2000-\u200a\u202f\u205f\u3000\t\r\f\v]")
_ZERO_WIDTH = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")
_DASHES = re.compile(r"[\u2010-\u2015\u2212]")


_NEEDS_PREP = re.compile(
    r"[\u00a0\u2000-\u200d\u202f\u205f\u3000\t\r\f\v\u2060\ufeff\u00ad\u2010-\u2015\u2212ёЁ]"
)


def prepare_text(text: str) -> str:
    """Unify spaces, dashes and ``ё`` so the patterns below can stay simple. Idempotent and cheap on
    already-prepared text."""
    if not _NEEDS_PREP.search(text):
        return text
    text = _ZERO_WIDTH.sub("", text)
    text = _ODD_SPACES.sub(" ", text)
    text = _DASHES.sub("-", text)
    return text.replace("ё", "е").replace("Ё", "Е")


class Words:
    """A lower-case keyword pattern, searched in lower-cased text.

    Python's ``re`` skips ahead with a first-character prefilter only when a pattern starts with plain
    characters; a leading ``\\b`` or look-behind disables it and makes a keyword alternation 10-20x
    slower. So leading ``\\b`` are stripped at compile time and the left word boundary (and an optional
    negation such as "не ") is checked in Python on the rare candidate matches.

    Most keywords are absent from most posts, so each pattern also knows the literal beginnings of its
    alternatives (``anchors``, up to three characters, read from the parsed pattern). When none of them
    begins a word of the text (``word_starts``, one set per text), the regex does not run at all.
    """

    __slots__ = ("anchors", "boundary", "gate", "needles", "negations", "regex")

    _LEADING_B = re.compile(r"(^|\||\(\?:|\(\?P<\w+>|\()\\b")

    def __init__(
        self,
        pattern: str,
        *,
        boundary: bool = True,
        negations: tuple[str, ...] = (),
        needles: tuple[str, ...] = (),
    ) -> None:
        self.regex = re.compile(self._LEADING_B.sub(r"\1", pattern))
        self.boundary = boundary
        self.negations = negations
        anchors = _anchors(self.regex.pattern)
        # only anchors that begin with a word character can be checked against the words' beginnings
        usable = boundary and anchors and all(a[0].isalnum() for a in anchors)
        self.anchors = anchors if usable else None
        self.gate = _register(anchors) if usable and anchors else None
        # Substrings every match holds one of (given by hand for a pattern whose branches do not all begin
        # with a letter, so ``re`` cannot skip ahead and tries it at every position): none, no search.
        self.needles = needles

    def finditer(self, low: str) -> Iterator[re.Match[str]]:
        gate = self.gate
        if gate is not None and len(low) > GATE_MIN_CHARS and gate not in word_starts(low).candidates:
            return
        if self.needles and not any(needle in low for needle in self.needles):
            return
        search = self.regex.search
        pos = 0
        while (m := search(low, pos)) is not None:
            start = m.start()
            if (self.boundary and start > 0 and (low[start - 1].isalnum() or low[start - 1] == "_")) or (
                self.negations and low[max(0, start - 6) : start].endswith(self.negations)
            ):
                pos = start + 1  # a rejected candidate may hide a good match inside it ("amt, полный")
                continue
            yield m
            pos = m.end() if m.end() > start else start + 1

    def search(self, low: str) -> re.Match[str] | None:
        """The first match of ``finditer`` (the same loop without a generator: most calls find nothing)."""
        gate = self.gate
        if gate is not None and len(low) > GATE_MIN_CHARS and gate not in word_starts(low).candidates:
            return None
        if self.needles and not any(needle in low for needle in self.needles):
            return None
        search = self.regex.search
        boundary, negations = self.boundary, self.negations
        pos = 0
        while (m := search(low, pos)) is not None:
            start = m.start()
            if (boundary and start > 0 and (low[start - 1].isalnum() or low[start - 1] == "_")) or (
                negations and low[max(0, start - 6) : start].endswith(negations)
            ):
                pos = start + 1
                continue
            return m
        return None

    def count(self, low: str) -> int:
        return sum(1 for _ in self.finditer(low))


_WORD = re.compile(r"\w+")
ANCHOR_CHARS = 4  # a word anchor: up to four letters
GATE_MIN_CHARS = 120  # a shorter text is searched directly (its word set would cost more than the search)
PAIR_CHARS = 3  # after a word of one or two letters and a space: up to three letters of the next word
_WORD_PREFIX = re.compile(r"\w*")


# Every anchor of every gated ``Words`` pattern -> the ids of the patterns it belongs to (filled as the
# patterns are built, at import); a text's word beginnings are looked up here once.
_ANCHOR_INDEX: dict[str, list[int]] = {}
_PATTERN_COUNT = 0


class WordStarts:
    """Which gated ``Words`` patterns may match one text: those with an anchor among the text's word
    beginnings — the first one to four characters of every word (also of a word after its leading
    digits: "6акпп" starts "акп"), and for a word of one or two letters, the word, a space and the first
    one to three characters of the next word ("в про"), or "#" when the next word is a number ("с #")."""

    __slots__ = ("candidates", "patterns")

    def __init__(self, low: str) -> None:
        index = _ANCHOR_INDEX
        found = _WORD.findall(low)
        words = _WORD_IDS
        if _WORD_IDS_STATE[0] != _PATTERN_COUNT or len(words) > WORD_IDS_MAX:
            words.clear()  # a pattern built since, or a bounded memo full
            _WORD_IDS_STATE[0] = _PATTERN_COUNT
        candidates: set[int] = set()
        for w in set(found):
            ids = words.get(w)
            if ids is None:
                ids = words[w] = _ids_of_word(w)
            if ids:
                candidates.update(ids)
        heads = _PAIR_HEADS
        keys = {
            f"{a} {'#' if b[0].isdigit() else b[:n]}"
            for a, b in pairwise(found)
            if a in heads  # only a short word that begins some pair anchor can make one
            for n in (1, 2, 3)
        }
        for key in keys & index.keys():
            candidates.update(index[key])
        self.candidates = candidates
        self.patterns = _PATTERN_COUNT  # how many patterns the index held


# word -> the ids of the patterns its beginnings are anchors of (shared by every text: most words of a
# post were in earlier posts); cleared when a pattern is built or the memo grows past WORD_IDS_MAX.
_WORD_IDS: dict[str, tuple[int, ...]] = {}
_WORD_IDS_STATE = [0]  # the pattern count the memo was filled with
WORD_IDS_MAX = 50_000


def _ids_of_word(word: str) -> tuple[int, ...]:
    index = _ANCHOR_INDEX
    keys = {word[:n] for n in (1, 2, 3, 4)}
    if word[0].isdigit():
        keys.update(word.lstrip("0123456789")[:n] for n in (1, 2, 3, 4))
    ids: set[int] = set()
    for key in keys:
        got = index.get(key)
        if got:
            ids.update(got)
    return tuple(ids)


def clear_word_memo() -> None:
    """Forget every word's anchor ids (``rules.clear_caches`` calls it, so a benchmark measures work)."""
    _WORD_IDS.clear()


@lru_cache(maxsize=16)
def _word_starts(low: str) -> WordStarts:
    return WordStarts(low)


def word_starts(low: str) -> WordStarts:
    """The ``WordStarts`` of ``low`` (memoised per text: the normalisers share the lower-cased post)."""
    got = _word_starts(low)
    if got.patterns != _PATTERN_COUNT:  # a pattern built after this text was indexed
        _word_starts.cache_clear()
        got = _word_starts(low)
    return got


# The first words of the pair anchors ("в про" -> "в"): words of one or two letters.
_PAIR_HEADS: set[str] = set()


def _register(anchors: frozenset[str]) -> int:
    global _PATTERN_COUNT
    pattern_id = _PATTERN_COUNT
    _PATTERN_COUNT += 1
    for anchor in anchors:
        _ANCHOR_INDEX.setdefault(anchor, []).append(pattern_id)
        head, space, _ = anchor.partition(" ")
        if space:
            _PAIR_HEADS.add(head)
    return pattern_id


def _anchors(pattern: str) -> frozenset[str] | None:
    """The literal beginnings of every way ``pattern`` can match (see ``word_starts``), or None when some
    alternative starts with a class, a repeat or anything else that is not a literal."""
    try:
        parsed = _sre_parser.parse(pattern)
    except Exception:  # pragma: no cover - a pattern re compiled always parses
        return None
    found = _prefixes(list(parsed), {""})
    if not found:
        return None
    cut = set()
    for anchor in found:
        head, _, tail = anchor.partition(" ")
        head = _WORD_PREFIX.match(head).group(0)  # type: ignore[union-attr]  # "б/у" begins the word "б"
        tail = "#" if tail.startswith("#") else _WORD_PREFIX.match(tail).group(0)  # type: ignore[union-attr]
        if not head:
            return None
        pair = tail and len(head) <= 2 and anchor[len(head)] == " "
        cut.add(f"{head} {tail[:PAIR_CHARS]}" if pair else head[:ANCHOR_CHARS])
    return frozenset(cut)


def _done(prefix: str) -> bool:
    head, space, tail = prefix.partition(" ")
    return len(tail) >= PAIR_CHARS if space else len(head) >= ANCHOR_CHARS


def _prefixes(items: list[Any], current: set[str]) -> set[str] | None:
    for op, av in items:
        if all(_done(c) for c in current):
            break
        name = str(op)
        digits_or_spaces = (name == "IN" and _is_category([(op, av)], {"SPACE", "DIGIT"})) or (
            name in {"MAX_REPEAT", "MIN_REPEAT"} and _is_category(av[2], {"SPACE", "DIGIT"})
        )
        if name == "LITERAL":
            ch = chr(av)
            current = {c if _done(c) else (c + " " if ch == " " and " " in c else c + ch) for c in current}
            if ch == " " and any(c.count(" ") > 1 for c in current):
                break
        elif name == "AT" or name in {"ASSERT", "ASSERT_NOT"}:
            continue  # zero-width: ^, \\b, look-arounds
        elif digits_or_spaces and current == {""}:
            continue  # leading digits and spaces: the anchor is the first word after them ("\\d\\s+дтп")
        elif digits_or_spaces and all(c.endswith(" ") for c in current) and _is_digits(op, av):
            current = {c + "#" for c in current}  # "с 1 января": a short word, then a number
            break
        elif name in {"MAX_REPEAT", "MIN_REPEAT"} and av[0] == 0 and digits_or_spaces:
            continue  # "\\s*", "\\d?": words are looked up after spaces and after leading digits
        elif name in {"MAX_REPEAT", "MIN_REPEAT"} and av[0] >= 1 and _is_category(av[2], {"SPACE"}):
            if any(" " in c or not c or len(c) > 2 for c in current):
                break  # only a word of one or two letters is followed into the next word
            current = {c + " " for c in current}
        elif name == "SUBPATTERN":
            sub = _prefixes(list(av[-1]), current)
            if sub is None:
                return None
            current = sub
        elif name == "BRANCH" and all(
            all(str(o) in {"AT", "ASSERT", "ASSERT_NOT"} for o, _ in branch) for branch in av[1]
        ):
            continue  # alternative look-behinds: "(?:(?<=•)|(?<=• ))передний"
        elif name == "BRANCH":
            out: set[str] = set()
            for branch in av[1]:
                got = _prefixes(list(branch), set(current))
                if got is None:
                    return None
                out |= got
            return out
        else:
            break  # a class, a repeat...: the beginning so far must do
    return {c.rstrip(" ") if c.endswith(" ") else c for c in current}


def _is_digits(op: Any, av: Any) -> bool:
    body = [(op, av)] if str(op) == "IN" else av[2]
    return _is_category(body, {"DIGIT"})


def _is_category(items: Any, categories: set[str]) -> bool:
    """Is ``items`` (a parsed repeat's body) one character class of the given categories (\\s, \\d)?"""
    items = list(items)
    if len(items) != 1 or str(items[0][0]) != "IN":
        return False
    members = items[0][1]
    return all(str(op) == "CATEGORY" and str(arg).rsplit("_", 1)[-1] in categories for op, arg in members)


def for_lower_case(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """``pattern`` without IGNORECASE, for lower-cased text (``re`` searches it faster), when its letters
    are all lower case already; else ``pattern`` itself."""
    letters = re.sub(r"\\.|\(\?P[<=]\w+>?", "", pattern.pattern)  # escapes and group names aside
    if not pattern.flags & re.IGNORECASE or any(ch.isupper() for ch in letters):
        return pattern
    return re.compile(pattern.pattern, pattern.flags & ~re.IGNORECASE)


_NEGATIONS = ("не ", "не  ", "нет ", "без ")


# ---------------------------------------------------------------------------------------------------
# Numbers

# A number as written in ads: "1 350 000", "1.350.000", "1,35", "850", "98000".
_NUM = r"\d{1,3}(?:(?:[ .,']|, )\d{3})+(?![.,]?\d)|\d+(?:[.,]\d+)?"
# Where a number may start: not inside another number, and a digit glued to letters on its left (a code
# such as "DSG7" or "AT6") never starts a comma-grouped amount ("DSG7, 120 тыс км" is not 7 120).
_NUM_START = r"(?<![\d.,])(?:(?<![^\W\d_])|(?!\d{1,3}, \d))"
# The same number, written to start with its first digit (so ``re`` can skip ahead to digits) and with
# the checks on what precedes it made after that digit: ``(?P<num>{_NUM_FROM_DIGIT})`` matches what
# ``{_NUM_START}(?P<num>{_NUM})`` matches, several times faster on long posts.
_NUM_FROM_DIGIT = (
    r"\d(?<![\d.,]\d)(?:(?<![^\W\d_]\d)|(?!\d{0,2}, \d))"
    r"(?:\d{0,2}(?:(?:[ .,']|, )\d{3})+(?![.,]?\d)|\d*(?:[.,]\d+)?)"
)


def _number(raw: str, *, decimal_unit: bool = False) -> float | None:
    """Parse an ad number. ``decimal_unit`` means a millions/thousands unit follows ("1,35 млн")."""
    s = raw.strip().replace("'", "").replace(" ", "")
    if not s:
        return None
    seps = [ch for ch in s if ch in ".,"]
    try:
        if not seps:
            return float(s)
        if len(seps) == 1:
            head, tail = re.split(r"[.,]", s)
            if len(tail) == 3 and not decimal_unit:
                return float(head + tail)  # thousands separator: "1.350" / "850,000"
            return float(f"{head}.{tail}")
        # several separators: grouping ("1.350.000", "1,350,000"); a trailing decimal is dropped
        parts = re.split(r"[.,]", s)
        if all(len(part) == 3 for part in parts[1:]):
            return float("".join(parts))
        return float("".join(parts[:-1]) + "." + parts[-1])
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------------
# Tokens

_TOKEN = re.compile(r"[0-9a-zа-я]+(?:['’-][0-9a-zа-я]+)*", re.IGNORECASE)
# Catalogue tokens split on hyphens: "ВАЗ-2114" -> "ваз 2114", "CX-5" -> "cx 5" (aliases split the same way).
_CAT_TOKEN = re.compile(r"[0-9a-zа-я]+(?:['’][0-9a-zа-я]+)*", re.IGNORECASE)
# Cyrillic letters in codes, by look ("Х5", "Е200", "ХС90") or by sound ("ЦС55", "ЛХ570", "Ф7").
_LOOKALIKE = str.maketrans("авекмнорстухіцлфдгизп", "abekmhopctyxiclfdgizp")
_HAS_LATIN_OR_DIGIT = re.compile(r"[0-9a-z]")


def normalize_token(token: str) -> str:
    """Lower-case, ``ё``→``е``; tokens with digits or Latin letters get Cyrillic look-alikes mapped to
    Latin ("Х5" → "x5", "Е200" → "e200", "сх-5" → "cx-5") so catalogue codes match however typed."""
    token = token.lower().replace("ё", "е").replace("’", "'")
    if _HAS_LATIN_OR_DIGIT.search(token):
        token = token.translate(_LOOKALIKE)
    return token


@lru_cache(maxsize=8)
def _tokens(text: str) -> list[tuple[str, int, int]]:
    """Catalogue tokens of ``text`` (prepared) as ``normalize_token`` forms with their spans (memoised:
    the vehicle finder and the list detector read the same text). Treat the result as read-only."""
    low = text.lower().replace("’", "'")
    coded = {m.start() for m in _CODED_TOKEN.finditer(low)}  # tokens with a digit or a Latin letter
    return [
        (m.group(0).translate(_LOOKALIKE) if m.start() in coded else m.group(0), m.start(), m.end())
        for m in _CAT_TOKEN_LOW.finditer(low)
    ]


_CAT_TOKEN_LOW = re.compile(_CAT_TOKEN.pattern)  # the same tokens in lower-cased text, without IGNORECASE
# The start of every catalogue token that holds a digit or a Latin letter (same boundaries as _CAT_TOKEN).
_CODED_TOKEN = re.compile(r"(?<![0-9a-zа-я'])(?=[а-я']*[0-9a-z])[0-9a-zа-я]+")
