"""Gearbox, drive, owners, fuel, accident status and equipment."""

from __future__ import annotations

import re
import re._parser as _sre_parser  # the stdlib's regex parser (private; the tests run on 3.11-3.13)
from collections.abc import Iterable, Iterator
from typing import Any

from carsbot.core.extraction.normalize.keywords import (
    _NEGATIONS,
    _STARTS,
    GATE_MIN_CHARS,
    Words,
    WordStarts,
    for_lower_case,
    word_starts,
)
from carsbot.core.extraction.normalize.scan import holds_any, matches_at, positions_of
from carsbot.core.extraction.normalize.text import Hit, lowered

# Substrings every match of a pattern holds (its branches start with "\d?", so ``re`` cannot skip ahead).
_ROBOT_NEEDLES: tuple[str, ...] = ("робот", "amt", "амт", "dsg", "dct", "преселектив", "ркпп", "дсг")
_ROBOT_NEEDLES += ("powershift", "пауэршифт", "tronic", "pdk")
_TRANSMISSIONS: tuple[tuple[str, Words], ...] = (
    (
        "variator",
        Words(r"(?:вариатор\w*|\bcvt\b|multitronic|мультитроник\w*|x-?tronic|\bвар\b)", negations=_NEGATIONS),
    ),
    (
        "robot",
        Words(
            r"(?:робот\w*|\bamt\b|\bамт\b|\b\d?dsg\b|\b\d?dct\b|преселектив\w*"
            r"|\bркпп\b|\b\d?dsg\d\b|\b\d?dct\d\b|\bдсг\b|powershift|пауэршифт|s[- ]?tronic|\bpdk\b"
            r"|\bакпп\s*-?\s*робот)",
            negations=_NEGATIONS,
            needles=_ROBOT_NEEDLES,
        ),
    ),
    (
        "automatic",
        Words(
            r"(?:\b\d?акпп\d{0,2}\b|\bакп\b|\bавтомат(?:а|ом|е|у)?\b|автоматическ\w*\s+(?:коробк\w*|кпп|трансмисси\w*)"
            r"|(?:кпп|коробк\w*|трансмисси\w*)\s*[:\-–—]?\s*автоматическ\w*"
            r"|\b\d?ат\b|\b\d?at\b|типтроник|tiptronic|steptronic|\b\d{1,2}g-?tronic|гидромех\w*|\bautomatic\b)",
            negations=_NEGATIONS,
        ),
    ),
    (
        "manual",
        Words(
            r"(?:\b\d?мкпп\d?\b|\bмкп\b|механик[аеуи]\b|механическ\w*\s+(?:кпп|коробк\w*|трансмисси\w*)|\b\d?мт\b"
            r"|(?:кпп|коробк\w*|трансмисси\w*)\s*[:\-–—]?\s*механическ\w*"
            r"|\b\d?mt\b|ручк[аеу]\b|\bмеха\b|\bмех\b|\bmanual\b)",
            negations=_NEGATIONS,
            needles=("мкп", "мех", "мт", "mt", "ручк", "manual"),
        ),
    ),
)


# The same gearbox patterns split so that every branch starts with a letter, or every branch with a digit
# (a "\d?" branch is the letter branch without it plus the digit branch with "\d"): ``re`` skips ahead
# in each. At one position a letter and a digit branch cannot both match, so the earliest match of the
# split list is the earliest of _TRANSMISSIONS, and the order breaks ties as before.
_GEARBOX_SCAN: tuple[tuple[str, Words], ...] = (
    _TRANSMISSIONS[0],
    (
        "robot",
        Words(
            r"(?:робот\w*|\bamt\b|\bамт\b|\bdsg\b|\bdct\b|преселектив\w*"
            r"|\bркпп\b|\bdsg\d\b|\bdct\d\b|\bдсг\b|powershift|пауэршифт|s[- ]?tronic|\bpdk\b"
            r"|\bакпп\s*-?\s*робот)",
            negations=_NEGATIONS,
            needles=_ROBOT_NEEDLES,
        ),
    ),
    ("robot", Words(r"\d(?:dsg\b|dct\b|dsg\d\b|dct\d\b)", negations=_NEGATIONS, needles=("dsg", "dct"))),
    (
        "automatic",
        Words(
            r"(?:\bакпп\d{0,2}\b|\bакп\b|\bавтомат(?:а|ом|е|у)?\b|автоматическ\w*\s+(?:коробк\w*|кпп|трансмисси\w*)"
            r"|кпп\s*[:\-–—]?\s*автоматическ\w*|коробк\w*\s*[:\-–—]?\s*автоматическ\w*"
            r"|трансмисси\w*\s*[:\-–—]?\s*автоматическ\w*"
            r"|\bат\b|\bat\b|типтроник|tiptronic|steptronic|гидромех\w*|\bautomatic\b)",
            negations=_NEGATIONS,
        ),
    ),
    (
        "automatic",
        Words(
            r"\d(?:акпп\d{0,2}\b|ат\b|at\b|\d?g-?tronic)",
            negations=_NEGATIONS,
            needles=("акпп", "ат", "at", "tronic"),
        ),
    ),
    (
        "manual",
        Words(
            r"(?:\bмкпп\d?\b|\bмкп\b|механик[аеуи]\b|механическ\w*\s+(?:кпп|коробк\w*|трансмисси\w*)|\bмт\b"
            r"|кпп\s*[:\-–—]?\s*механическ\w*|коробк\w*\s*[:\-–—]?\s*механическ\w*"
            r"|трансмисси\w*\s*[:\-–—]?\s*механическ\w*"
            r"|\bmt\b|ручк[аеу]\b|\bмеха\b|\bмех\b|\bmanual\b)",
            negations=_NEGATIONS,
            needles=("мкп", "мех", "мт", "mt", "ручк", "manual"),
        ),
    ),
    ("manual", Words(r"\d(?:мкпп\d?\b|мт\b|mt\b)", negations=_NEGATIONS, needles=("мкпп", "мт", "mt"))),
)


_NOT_GEARBOX = re.compile(r"климат\w*(?:[\s-]*контрол\w*)?\s*[:\-]?\s*автомат\w*")


HEAD_CHARS = 3  # a scanned word beginning: up to three characters


class _KeywordScan:
    """Where a set of keyword patterns (``Words`` with a word boundary) match, found in one scan.

    A ``Words`` match is kept only where a word starts, so instead of one search per pattern, one regex
    finds the word beginnings any of the patterns can begin with (their first one to three literal
    characters, read from the parsed patterns, each kept only at a word start or right after a word's
    leading digits: "6акпп"); only there are the patterns matched, one by one, in order. That finds what
    ``Words.search`` finds for each pattern (whether a boundary or negation rejects a match depends only
    on where it starts) for the cost of about one search instead of one per pattern."""

    __slots__ = ("bits", "gated", "heads", "named")

    def __init__(self, named: tuple[tuple[str, Words], ...]) -> None:
        assert all(words.boundary and words.bits for _, words in named)
        self.named = named
        # (for the index's mask) each pattern's bits, and those of its alternatives with no inner
        # characters to look for (``Words.inner``): any of these set, and the pattern may match
        self.gated = tuple((words.bits, name, words, _plain_bits(words)) for name, words in named)
        self.bits = 0
        for _, words in named:
            self.bits |= words.bits
        heads: set[tuple[bool, str]] = set()
        for _, words in named:
            found = _heads(list(_sre_parser.parse(words.regex.pattern)), False, "")
            # (every pattern here begins with literal characters, after leading digits at most)
            assert found is not None and all(head for _, head, _ in found), words.regex.pattern
            heads.update((after_digits, head) for after_digits, head, _ in found)
        # "x(?<!\w.)(?=..)" keeps a head at a word start only, "x(?<![^\W\d].)(?=..)" also after digits. Each
        # branch starts with the literal first character of its heads, so ``re`` skips ahead to those
        # characters, and matches that character only (the rest is looked ahead): no word start is
        # stepped over.
        rests: dict[tuple[str, bool], set[str]] = {}
        for after_digits, head in heads:
            rests.setdefault((head[0], after_digits), set()).add(head[1:])
        branches = []
        for (first, after_digits), ends in sorted(rests.items()):
            ahead = "" if "" in ends else "(?=" + "|".join(re.escape(end) for end in sorted(ends)) + ")"
            branches.append(re.escape(first) + (r"(?<![^\W\d].)" if after_digits else r"(?<!\w.)") + ahead)
        self.heads = re.compile("|".join(branches))

    def _word_starts(self, low: str) -> Iterator[int]:
        """The starts of the words that begin with a head (one or more times, in order)."""
        for head in self.heads.finditer(low):
            start = head.start()
            while start > 0 and low[start - 1].isdecimal():  # "6акпп": the word starts at its digits
                start -= 1
            if start == 0 or not (low[start - 1].isalnum() or low[start - 1] == "_"):
                yield start

    def first(self, low: str, starts: WordStarts | None = None) -> tuple[str, re.Match[str]] | None:
        """The earliest match of any of the patterns and its name; at one position their order decides
        (the earliest of each pattern's ``Words.search``).

        ``starts``: an index whose word beginnings include those of ``low`` (the post's, built by the
        rules engine). It rules out most patterns at once: none, no scan; else only the others are
        matched at the word starts."""
        named: Iterable[tuple[str, Words]] = self.named
        if starts is not None:
            mask = starts.mask
            if not mask & self.bits:  # (the union of the patterns' bits: none is possible)
                return None
            # Only the patterns with an alternative the index lets through whose inner characters the
            # text holds ("автомат, полный" needs "полный"): often none is left, and then no scan runs.
            named = [
                (name, words)
                for bits, name, words, plain in self.gated
                if mask & bits and (mask & plain or words._alive((mask & bits) >> (words.gate or 0), low))
            ]
            if not named:
                return None
        for start in self._word_starts(low):
            for name, words in named:
                m = words.regex.match(low, start)
                if m is not None and not (
                    words.negations and low[max(0, start - 6) : start].endswith(words.negations)
                ):
                    return name, m  # (what ``_match_at`` finds, inlined: this loop is hot)
        return None

    def names(self, low: str) -> list[str]:
        """The names of the patterns that match anywhere (``Words.search`` finds them), in their order."""
        starts = _STARTS.get(low)
        if starts is not None:  # the text's index (the rules engine's post): only the possible patterns
            mask = starts.mask
            if not mask & self.bits:
                return []
            return [
                name for bits, name, words, _ in self.gated if mask & bits and words.search_part(low, starts)
            ]
        if len(low) > GATE_MIN_CHARS:
            # A longer text has its word beginnings indexed (``WordStarts``, shared with the classifier),
            # which rules out most of the patterns at once (looked up once here, as ``Words.search``
            # would for each): the search of the others is cheaper than a scan.
            maybe = word_starts(low).candidates
            return [
                name
                for name, words in self.named
                if (words.gate is None or words.gate in maybe) and words.search(low)
            ]
        found: set[str] = set()
        for start in self._word_starts(low):
            for name, words in self.named:
                if name not in found and _match_at(low, start, words) is not None:
                    found.add(name)
        return [name for name, _ in self.named if name in found]


def _plain_bits(words: Words) -> int:
    """The bits (in a ``WordStarts.mask``) of the alternatives of ``words`` that hold no inner characters."""
    if not words.parts:
        return words.bits
    gate = words.gate or 0  # (a pattern with alternatives is gated)
    plain = 0
    for i, inner in enumerate(words.inner):
        if not inner:
            plain |= 1 << (gate + i)
    return plain


def _match_at(low: str, start: int, words: Words) -> re.Match[str] | None:
    """The match of ``words`` at ``start`` (a word start) unless a negation comes right before it."""
    m = words.regex.match(low, start)
    if m is not None and words.negations and low[max(0, start - 6) : start].endswith(words.negations):
        return None
    return m


def _first_at(words: Words, low: str, starts: list[int]) -> re.Match[str] | None:
    """What ``words.search(low)`` finds when its matches can only start at ``starts`` (ascending)."""
    for start in starts:
        if start == 0 or not (low[start - 1].isalnum() or low[start - 1] == "_"):
            m = _match_at(low, start, words)
            if m is not None:
                return m
    return None


def _heads(items: list[Any], after_digits: bool, head: str) -> set[tuple[bool, str, bool]] | None:
    """The beginnings of every match of the parsed ``items`` that follows ``head``: (whether digits may
    come first, the first up to HEAD_CHARS literal characters, whether all of ``items`` was read so
    what follows may extend it). None when a match can begin with something else than a literal."""
    for at, (op, av) in enumerate(items):
        if len(head) >= HEAD_CHARS:
            return {(after_digits, head, False)}
        name = str(op)
        rest: list[Any] | None = items[at + 1 :]
        if name == "LITERAL":
            head += chr(av)
            continue
        if name in {"AT", "ASSERT", "ASSERT_NOT"}:
            continue  # zero-width: \b, look-arounds (a head may only be too short, never wrong)
        if name in {"MAX_REPEAT", "MIN_REPEAT"} and not head and _is_digit_class(av[2]):
            after_digits = True  # "\d?акпп", "\d(?:dsg...)": leading digits, then the word's letters
            continue
        if name == "IN" and not head and _is_digit_class([(op, av)]):
            after_digits = True
            continue
        if name == "IN":
            chars = _literal_chars(av)
            ways = [[(_sre_parser.LITERAL, ord(ch))] for ch in chars] if chars else None
        elif name == "SUBPATTERN":
            ways = None if av[1] or av[2] else [list(av[-1])]  # (a group with its own flags: not read)
        elif name == "BRANCH":
            ways = [list(branch) for branch in av[1]]
        elif name in {"MAX_REPEAT", "MIN_REPEAT"} and av[0] == 0 and av[1] == 1:
            ways = [[], list(av[2])]  # optional: without it, or with it once
        elif name in {"MAX_REPEAT", "MIN_REPEAT"} and av[0] >= 1:
            ways = [list(av[2])]  # once at least; what follows may be it again, so the head ends there
            rest = None
        else:
            ways = None
        if ways is None:
            return {(after_digits, head, False)} if head else None
        out: set[tuple[bool, str, bool]] = set()
        for way in ways:
            got = _heads(way, after_digits, head)
            if got is None:
                return None
            for digits, begun, open_ in got:
                if rest is None or not open_:
                    out.add((digits, begun, False))
                    continue
                more = _heads(rest, digits, begun)
                if more is None:
                    return None
                out |= more
        return out
    return {(after_digits, head, True)}


def _is_digit_class(items: Any) -> bool:
    items = list(items)
    return (
        len(items) == 1
        and str(items[0][0]) == "IN"
        and [(str(op), str(arg)) for op, arg in items[0][1]] == [("CATEGORY", "CATEGORY_DIGIT")]
    )


def _literal_chars(members: Any) -> str | None:
    """The characters of a small class of literals and ranges ("[xх]", "[- ]", "[аеуи]"), else None."""
    chars = ""
    for op, arg in members:
        if str(op) == "LITERAL":
            chars += chr(arg)
        elif str(op) == "RANGE" and arg[1] - arg[0] < 8:
            chars += "".join(chr(code) for code in range(arg[0], arg[1] + 1))
        else:
            return None
    return chars


def parse_transmission(text: str) -> str | None:
    """``automatic|manual|robot|variator`` from "АКПП", "автомат", "механика", "робот DSG", "CVT"..."""
    hit = transmission_hit(text)
    return hit.value if hit else None


def transmission_hit(text: str) -> Hit | None:
    """The gearbox and the word that named it (the first gearbox word of the post)."""
    text = lowered(text)[1]
    # The post's index (when the rules engine built it for this text) also gates the text without the
    # climate-control words: taking them out leaves only words, or beginnings of words, that it had
    # (and no gearbox or drive anchor spans two words).
    starts = _STARTS.get(text)
    if "климат" in text:
        text = _NOT_GEARBOX.sub(" ", text)
    found = _GEARBOX_WORDS.first(text, starts)
    if found is None:
        return None
    best_name, best = found
    # "робот" / "DSG" beside "АКПП" means a robotised box: the more specific name wins on the same line.
    if best_name == "automatic":
        line_end = text.find("\n", best.start())
        line = text[best.start() : line_end if line_end >= 0 else len(text)]
        for name, words in _MORE_SPECIFIC:
            found = words.first(line, starts)  # (the line's words are words of the text)
            more = found[1] if found else None
            if more:
                start = best.start() + more.start()
                return Hit(name, f"gearbox:{name}-beside-automatic", start, best.start() + more.end())
    return Hit(best_name, f"gearbox:{best_name}", best.start(), best.end())


_GEARBOX_WORDS = _KeywordScan(_GEARBOX_SCAN)
_TRANSMISSION_OF = dict(_TRANSMISSIONS)
# The names that win beside "автомат", in that order, each with a scan of its own pattern.
_MORE_SPECIFIC = tuple(
    (name, _KeywordScan(((name, _TRANSMISSION_OF[name]),))) for name in ("robot", "variator")
)


_BOXES = ("акпп", "мкпп", "робот", "вариатор", "автомат", "механика", "at", "mt", "cvt")


def _each_box(tail: str, boxes: tuple[str, ...], *, mech: bool = False) -> str:
    """``|box1<tail>|box2<tail>...``: the same matches as ``|(?:box1|box2...)<tail>`` in the same order, but
    each branch starts with a letter, so ``re`` skips ahead to the possible first letters (a branch that
    starts with a group or a look-behind makes it try every position of the post)."""
    if mech:  # "мех" after "механика", as in the alternation it replaces
        at = boxes.index("механика") + 1
        boxes = (*boxes[:at], "мех", *boxes[at:])
    return "".join(f"|{box}{tail}" for box in boxes)


_DRIVES: tuple[tuple[str, Words], ...] = (
    (
        "awd",
        Words(
            r"(?:полн\w*\s+привод\w*|привод\w*\s*[:\-–—]?\s*(?:полный|4wd|awd|4x4|4х4)|полноприв\w*|\b4wd\b|\bawd\b"
            r"|\b4\s?[xх]\s?4\b|\b4вд\b|4matic|4-?матик|quattro|кватро|x-?drive|4motion|4моушн|all\s?grip|\bполный\b(?=\s*[,.;\n]|$)"
            + _each_box(r"\s*[,/]?\s*полный\b", (*_BOXES, "ат", "мт"), mech=True)
            + ")",
            needles=("полн", "4", "awd", "quattro", "кватро", "drive", "grip"),
        ),
    ),
    (
        "fwd",
        Words(
            r"(?:передн\w*\s+привод\w*|привод\w*\s*[:\-–—]?\s*передн\w*|переднеприв\w*|\bfwd\b"
            + _each_box(r"\s*,\s*передний\b(?=\s*[,.;\n]|$)", _BOXES)
            + r"|передний(?:(?<=[•|/,]передний)|(?<=[•|/,] передний))\b(?=\s*(?:[,.;•|/\n]|$)))",
            needles=("передн", "fwd"),
        ),
    ),
    (
        "rwd",
        Words(
            r"(?:задн\w*\s+привод\w*|привод\w*\s*[:\-–—]?\s*задн\w*|заднеприв\w*|\brwd\b"
            + _each_box(r"\s*,\s*задний\b(?=\s*[,.;\n]|$)", _BOXES)
            + r"|задний(?:(?<=[•|/,]задний)|(?<=[•|/,] задний))\b(?=\s*(?:[,.;•|/\n]|$)))",
            needles=("задн", "rwd"),
        ),
    ),
)


_DRIVE_WORDS = _KeywordScan(_DRIVES)
# (``transmission_hit`` relies on it: a word taken out of a text leaves no new pair of words behind.)
assert not any(" " in a for _, w in (*_GEARBOX_SCAN, *_TRANSMISSIONS, *_DRIVES) for a in w.anchors or ())


def parse_drive(text: str) -> str | None:
    """``fwd|rwd|awd`` from "полный привод", "4WD", "привод: передний", "заднеприводный"..."""
    hit = drive_hit(text)
    return hit.value if hit else None


def drive_hit(text: str) -> Hit | None:
    """The drive and the words that named it (the first drive statement of the post)."""
    low = lowered(text)[1]
    found = _DRIVE_WORDS.first(low, _STARTS.get(low))
    if found is None:
        return None
    name, m = found
    return Hit(name, f"drive:{name}", m.start(), m.end())


_OWNER_WORDS = r"(?:хозя\w*|хоз\.?(?![а-я])|владел\w*|вл\.(?![а-я])|собственник\w*|собств\.)"
_NUMBER_WORDS = {
    "один": 1, "одна": 1, "одного": 1, "одним": 1, "единственный": 1, "единственная": 1, "единственного": 1,
    "первый": 1, "первого": 1, "первая": 1, "первой": 1,
    "два": 2, "две": 2, "двое": 2, "второй": 2, "второго": 2, "вторая": 2, "двух": 2,
    "три": 3, "трое": 3, "третий": 3, "третьего": 3, "третья": 3, "трех": 3,
    "четыре": 4, "четверо": 4, "четвертый": 4, "четырех": 4,
    "пять": 5, "пятеро": 5, "пятый": 5,
}  # fmt: skip
_OWNERS_NUM_FIRST = re.compile(
    r"(?P<n>\d(?<![\d.,]\d))\s?(?:-?\s?(?:х|ти|ий|ой|я|й|ая|ый))?\s?(?:хозя\w*|хоз\.?(?![а-я])|хоз(?![а-я])|владел\w*|вл\.?(?![а-я])"
    r"|влад\.?(?![а-я])|собственник\w*|собств\.?|owners?\b)",
    re.IGNORECASE,
)
_OWNERS_KEY_FIRST = re.compile(
    rf"(?:{_OWNER_WORDS}|👤|👥)(?:\s*(?:по|в)\s*(?:птс|документам|паспорту)|\s+было|\s+всего)?\s*[:\-–—=]?\s*"
    rf"(?P<n>\d)(?![\d\s\-()]*\d{{3}})(?!\d|[.,]\d)",
    re.IGNORECASE,
)
_OWNERS_NUM_FIRST_LOW = for_lower_case(_OWNERS_NUM_FIRST)
_OWNERS_KEY_FIRST_LOW = for_lower_case(_OWNERS_KEY_FIRST)
_NUMBER_WORD = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
_OWNERS_WORD = Words(
    rf"(?P<w>{_NUMBER_WORD})(?:\s+и\s+(?:единственн\w*|последн\w*))?\s+(?:{_OWNER_WORDS}|хозяйк\w*)"
)
# The count after the word: "владелец один", "хозяйка одна", "собственников двое".
_OWNERS_WORD_AFTER = Words(
    rf"(?:{_OWNER_WORDS}|хозяйк\w*)(?:\s+по\s+птс)?\s*[:\-–—]?\s*(?P<w>{_NUMBER_WORD})\b(?!\s+(?:из|раз|год))"
)
# "один владелец до меня, я второй": the seller counts himself.
_OWNERS_ME = Words(r"\bя\s+(?P<w>второй|третий|четвертый|пятый)\b(?!\s+(?:раз|год|день|месяц|час|сезон))")
# Every owner statement holds one of these (a quick test before the patterns run).
_OWNER_MARKS = ("хоз", "влад", "вл.", "вл ", "собств", "owner", "👤", "👥")
# What every owner word of the owner patterns begins with, but "вл" ("владелец", "влад.", "вл.", see
# ``_owner_words``); the digit of _OWNERS_NUM_FIRST comes at most seven characters before it ("2-ой хоз").
_OWNER_STARTS = ("хоз", "собств", "owner", "👤", "👥")
_NUMBER_BEFORE_OWNER = 7
# The counts "я ..." may give (see _OWNERS_ME).
_ME_ORDINALS = ("второй", "третий", "четвертый", "пятый")


def _owner_words(low: str) -> list[int]:
    """Where an owner word of the owner patterns may begin (ascending): at "хоз", "собств"..., and at a
    "вл" that "ад" or no letter ``[а-я]`` follows (an owner word that begins with "вл" is "владел...",
    "влад" or "вл" and a dot or no letter): not inside "новлен", "власть"."""
    found = positions_of(low, _OWNER_STARTS)
    at = low.find("вл")
    while at >= 0:
        if not ("а" <= low[at + 2 : at + 3] <= "я") or low.startswith("ад", at + 2):
            found.append(at)
        at = low.find("вл", at + 1)
    found.sort()
    return found


def _me_starts(low: str) -> list[int]:
    """Where an ``_OWNERS_ME`` match can start (ascending): at an "я" with white space, then an ordinal
    after it (found from the ordinals: an "я" ends many words)."""
    starts = []
    for ordinal in positions_of(low, _ME_ORDINALS):
        me = _skip_spaces_back(low, ordinal) - 1
        if 0 <= me < ordinal - 1 and low[me] == "я":  # (at least one space between)
            starts.append(me)
    return starts


def _digits_shortly_before(low: str, owner_words: list[int]) -> list[int]:
    """The digits at most _NUMBER_BEFORE_OWNER characters before an owner word (ascending, no repeats)."""
    starts: set[int] = set()
    for word in owner_words:  # (one C-level scan of each window; most hold no digit)
        starts.update(m.start() for m in _DIGIT.finditer(low, max(0, word - _NUMBER_BEFORE_OWNER), word))
    return sorted(starts)


_DIGIT = re.compile(r"\d")  # (what ``str.isdecimal`` accepts)


def _number_words_before(low: str, owner_words: list[int]) -> list[int]:
    """Where an ``_OWNERS_WORD`` match can start: it ends with spaces and an owner word, after the number
    word alone ("один владелец") or after "<number> и единственный/последний" ("один и единственный
    хозяин"), so at the start of the word before those spaces, or of the word before "и" before that."""
    starts: set[int] = set()
    for owner in owner_words:
        if owner == 0 or not low[owner - 1].isspace():
            continue  # no space before the owner word
        end = _skip_spaces_back(low, owner - 1)
        word = _word_start_back(low, end)
        starts.add(word)
        conjunction_end = _skip_spaces_back(low, word)
        conjunction = _word_start_back(low, conjunction_end)
        if conjunction_end < word and low[conjunction:conjunction_end] == "и":
            starts.add(_word_start_back(low, _skip_spaces_back(low, conjunction)))
    return sorted(starts)


def _skip_spaces_back(low: str, end: int) -> int:
    while end > 0 and low[end - 1].isspace():
        end -= 1
    return end


def _word_start_back(low: str, end: int) -> int:
    while end > 0 and (low[end - 1].isalnum() or low[end - 1] == "_"):
        end -= 1
    return end


_OWNER_NEAR = Words(r"владел\w*|хозя\w*|собственник\w*", boundary=False)


def parse_owners(text: str) -> int | None:
    """Owner count: "1 хозяин", "собственников: 2", "один владелец", "владелец один", "2 вл. по ПТС",
    "первый хозяин" (= 1), "владельцев было 4", "..., я третий" (after an owner word)."""
    hit = owners_hit(text)
    return hit.value if hit else None


def owners_hit(text: str) -> Hit | None:
    """The owner count and the rule that found it (the earliest statement wins)."""
    text, low = lowered(text)
    if not holds_any(low, _OWNER_MARKS):
        return None  # no owner word at all: most posts that state no count
    hits: list[Hit] = []
    same_offsets = len(low) == len(text)  # lower case is cheaper to search (when offsets are kept)
    owner_words = _owner_words(low)
    if same_offsets:  # matched only where they can start: an owner word, or a digit just before one
        number_first = matches_at(_OWNERS_NUM_FIRST_LOW, low, _digits_shortly_before(low, owner_words))
        keyword_first = matches_at(_OWNERS_KEY_FIRST_LOW, low, owner_words)
    else:
        number_first, keyword_first = _OWNERS_NUM_FIRST.finditer(text), _OWNERS_KEY_FIRST.finditer(text)
    for rule, matches in (("owners:number-first", number_first), ("owners:keyword-first", keyword_first)):
        for m in matches:
            n = int(m.group("n"))
            if 1 <= n <= 9:
                hits.append(Hit(n, rule, m.start(), m.end()))
                break
    # The word rules at the words they begin with ("один ...", "владелец ...", "я ...").
    for rule, word in (
        ("owners:word", _first_at(_OWNERS_WORD, low, _number_words_before(low, owner_words))),
        ("owners:word-after", _first_at(_OWNERS_WORD_AFTER, low, owner_words)),
    ):
        if word:
            hits.append(Hit(_NUMBER_WORDS[word.group("w")], rule, word.start(), word.end()))
    me = _first_at(_OWNERS_ME, low, _me_starts(low))
    if me and _OWNER_NEAR.search(low[max(0, me.start() - 80) : me.end() + 30]):
        return Hit(_NUMBER_WORDS[me.group("w")], "owners:me", me.start(), me.end())  # the seller's own place
    return min(hits, key=lambda h: h.start) if hits else None


_FUELS: tuple[tuple[str, Words], ...] = (
    ("hybrid", Words(r"гибрид\w*|hybrid")),
    ("electric", Words(r"электромобил\w*|\bэлектро\b|\bev\b|электрическ\w*\s+двиг")),
    ("diesel", Words(r"дизел\w*|дизель|\bдиз\.?\b|\btdi\b|\bcdi\b|\bcrdi\b|\bd4d\b|\bdiesel\b")),
    ("gas", Words(r"\bгбо\b|газ/бенз\w*|бенз\w*/газ|пропан|метан")),
    ("petrol", Words(r"бензин\w*|\bбенз\b|\bpetrol\b|\bgasoline\b|\bтурбобенз\w*")),
)


def _first_found(named: tuple[tuple[str, Words], ...], low: str) -> str | None:
    """The name of the first of ``named`` that ``Words.search`` finds in ``low``. (A few patterns with rare
    first letters: a search each is cheaper than a joint scan. The text's ``WordStarts``, shared with
    the classifier, is looked up once instead of once per pattern.)"""
    starts = _STARTS.get(low)
    if starts is not None:  # the text's index (the rules engine's post): its mask gates each pattern
        mask = starts.mask
        for name, words in named:
            if mask & words.bits and words.search_part(low, starts):
                return name
        return None
    maybe = word_starts(low).candidates if len(low) > GATE_MIN_CHARS else None
    for name, words in named:
        if (maybe is None or words.gate is None or words.gate in maybe) and words.search(low):
            return name
    return None


def parse_fuel(text: str) -> str | None:
    """``petrol|diesel|hybrid|electric|gas`` when stated (gas = LPG/CNG equipment)."""
    return _first_found(_FUELS, lowered(text)[1])


_NOT = ("не ",)
_AUTOTEKA: tuple[tuple[str, Words], ...] = (
    ("после ДТП", Words(r"(?:после\s+дтп|битая|битый|бита\b|был[ао]?\s+в\s+дтп|тотал\w*)", negations=_NOT)),
    ("были ДТП", Words(r"(?:есть\s+дтп|был[иао]?\s+дтп|мелкое\s+дтп|незначительн\w*\s+дтп|\d\s+дтп)")),
    ("без ДТП", Words(r"(?:без\s+дтп|дтп\s+не\s+был\w*|дтп\s*[:\-]?\s*нет|не\s+бит\w*|небит\w*|не\s+битая)")),
    ("автотека чистая", Words(r"автотек\w*\s+(?:чист\w*|идеальн\w*|без\s+замечаний)|чист\w*\s+автотек\w*")),
)  # fmt: skip


def parse_autoteka(text: str) -> str | None:
    """Accident / Autoteka status as stated: "после ДТП", "были ДТП", "без ДТП", "автотека чистая"."""
    return _first_found(_AUTOTEKA, lowered(text)[1])


_EQUIPMENT: tuple[tuple[str, Words], ...] = tuple(
    (label, Words(pattern))
    for label, pattern in (
        ("климат-контроль", r"климат\w*(?:[\s-]*контрол\w*)?"),
        ("кондиционер", r"кондиционер\w*|\bкондей\b"),
        ("подогрев сидений", r"подогрев\w*\s+(?:передних\s+|задних\s+|всех\s+)?сид\w*|подогрев\s+сидушек"),
        ("подогрев руля", r"подогрев\w*\s+рул\w*"),
        ("камера заднего вида", r"камер\w*(?:\s+заднего\s+вида)?|360"),
        ("парктроники", r"парктроник\w*|парковочн\w*\s+датчик\w*"),
        ("кожаный салон", r"кож\w*\s+салон|салон\s*[:\-]?\s*кож\w*|кожа\b"),
        ("люк", r"\bлюк\b"),
        ("панорамная крыша", r"панорам\w*"),
        ("навигация", r"навигаци\w*|навигатор\w*|\bgps\b"),
        ("круиз-контроль", r"круиз\w*"),
        ("ксенон", r"ксенон\w*|\bби-?ксенон\w*"),
        ("светодиодная оптика", r"\bled\b|светодиод\w*"),
        ("мультимедиа", r"мультимеди\w*|carplay|android\s+auto|магнитол\w*"),
        ("автозапуск", r"автозапуск\w*"),
        ("бесключевой доступ", r"бесключев\w*|keyless|запуск\s+с\s+кнопки|кнопк\w*\s+старт"),
        ("электропривод сидений", r"электропривод\w*\s+сид\w*|сидень\w*\s+с\s+электропривод\w*"),
        ("датчик дождя и света", r"датчик\w*\s+(?:дождя|света)"),
        ("электропривод багажника", r"электропривод\w*\s+багажник\w*|электробагажник\w*"),
        ("фаркоп", r"фаркоп\w*"),
    )
)

_EQUIPMENT_WORDS = _KeywordScan(_EQUIPMENT)


def parse_equipment(text: str) -> list[str]:
    """Equipment items stated in the text, as short Russian labels, in a stable order."""
    return _EQUIPMENT_WORDS.names(lowered(text)[1])
