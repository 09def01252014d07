"""Contacts: phones (E.164 via ``phonenumbers``) and Telegram usernames."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

import phonenumbers

from carsbot.core.extraction.normalize.keywords import Words
from carsbot.core.extraction.normalize.scan import positions_of
from carsbot.core.extraction.normalize.text import prepare_text

# A phone never spans lines ("Луганская 53/2\n8 (8332) 20-30-40" is an address, then a phone).
# Written to begin with a character class (so ``re`` skips ahead to "+" and digits) and with the check on
# what precedes it made after that first character; it matches what
# ``(?<![\w=])(?:\+ ?)?\d[\d \t\-().]{8,22}\d(?![\w])`` matches, about 1.5x faster.
_PHONE_CANDIDATE = re.compile(r"[+\d](?<![\w=][+\d])(?:(?<=\+) ?\d|(?<=\d))[\d \t\-().]{8,22}\d(?![\w])")
_PHONE_STRUCTURED = re.compile(
    r"(?:\+\s?7|(?<!\d)8|(?<!\d)7)[\s\-]*\(?\s*\d{3}\s*\)?[\s\-]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}(?!\d)"
    r"|(?<!\d)9\d{2}[\s\-]*\d{3}[\s\-]*\d{2}[\s\-]*\d{2}(?!\d)"
)
_PHONE_ANY_PLUS = re.compile(r"\+\d{1,3}[\s\-]*\(?\d{1,4}\)?(?:[\s\-]*\d{1,4}){2,4}")


_NON_DIGITS = re.compile(r"\D")
_PHONE_PUNCTUATION = str.maketrans("", "", "+ \t-().")
_PHONE_PUNCTUATION_BYTES = b"+ \t-()."


class _RegionRules:
    """Whether a national significant number has a known type in one region: what
    ``phonenumbers._number_type_helper(...) != UNKNOWN`` computes, from the same metadata.

    That helper checks the general description, then each type's in turn; a description matches a
    number of one of its listed lengths (any length when none is listed) whose whole string its pattern
    matches. Per length, the descriptions that allow it are joined into one pattern: the general one as
    a look-ahead over the whole number, then the types' as alternatives (the patterns are plain digit
    patterns, without back-references, so joining them keeps their meaning)."""

    def __init__(self, metadata: phonenumbers.PhoneMetadata) -> None:
        self.leading = re.compile(metadata.leading_digits) if metadata.leading_digits is not None else None
        self.general = metadata.general_desc
        self.kinds = [
            metadata.premium_rate,
            metadata.toll_free,
            metadata.shared_cost,
            metadata.voip,
            metadata.personal_number,
            metadata.pager,
            metadata.uan,
            metadata.voicemail,
            metadata.fixed_line,
        ]
        if not metadata.same_mobile_and_fixed_line_pattern:  # else mobile is never looked at
            self.kinds.append(metadata.mobile)
        self.by_length: dict[int, re.Pattern[str] | None] = {}

    def known_type(self, national: str) -> bool:
        size = len(national)
        if size not in self.by_length:
            self.by_length[size] = self._pattern_for(size)
        pattern = self.by_length[size]
        return pattern is not None and pattern.fullmatch(national) is not None

    def _pattern_for(self, size: int) -> re.Pattern[str] | None:
        general = _desc_pattern(self.general, size)
        kinds = [p for p in (_desc_pattern(desc, size) for desc in self.kinds) if p is not None]
        if general is None or not kinds:
            return None
        return re.compile(f"(?=(?:{general})\\Z)(?:{'|'.join(f'(?:{p})' for p in kinds)})")


def _desc_pattern(desc: phonenumbers.PhoneNumberDesc | None, size: int) -> str | None:
    """The pattern of a number description that may match a number of ``size`` digits."""
    if desc is None or not desc.national_number_pattern:
        return None
    if desc.possible_length and size not in desc.possible_length:
        return None
    return desc.national_number_pattern


@lru_cache(maxsize=1)
def _country_7_rules() -> list[_RegionRules]:
    """The regions sharing +7 (Russia, Kazakhstan), in ``phonenumbers``' order (static metadata)."""
    rules = []
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[7]:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
        if metadata is not None:
            rules.append(_RegionRules(metadata))
    return rules


def _valid_country_7(national: str) -> bool:
    """``phonenumbers.is_valid_number`` for a +7 number with this national significant number, without
    its layers of per-call lookups: the region is the first one whose leading digits match (or, for a
    region without leading digits, whose types know the number), and the number must have a known type
    there."""
    for region in _country_7_rules():
        if region.leading is not None:
            if region.leading.match(national):
                return region.known_type(national)
        elif region.known_type(national):
            return True
    return False


@lru_cache(maxsize=4096)
def _phone_e164(candidate: str) -> str | None:
    # a candidate holds digits and these only; as ASCII bytes they go several times faster
    if candidate.isascii():
        digits = candidate.encode().translate(None, _PHONE_PUNCTUATION_BYTES).decode()
    else:
        digits = candidate.translate(_PHONE_PUNCTUATION)
    if not digits.isdecimal():  # (isdecimal is what \d matches)
        digits = _NON_DIGITS.sub("", candidate)
    plus = candidate.lstrip().startswith("+")
    if plus:
        if not 10 <= len(digits) <= 15:
            return None
    elif len(digits) == 11:
        if digits[0] not in "78":
            return None
    elif len(digits) == 10:
        if digits[0] not in "93487":  # mobile (9xx) or a geographic/800 code
            return None
    else:
        return None
    if (not plus or (digits[0] == "7" and len(digits) == 11)) and len(digits) in (10, 11):
        # A Russian number (+7, 8, 7 or ten digits): the national number is the last ten digits, so
        # only its validity is needed (phonenumbers' parser would find the same number, slower). As a
        # ``PhoneNumber`` holds it as an int, its significant number has no leading zeros.
        national = digits[-10:]
        return "+7" + national if _valid_country_7(str(int(national))) else None
    try:
        number = phonenumbers.parse(("+" + digits) if plus else digits, None if plus else "RU")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def find_phone_spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, e164)`` for every valid phone number in ``text`` (already prepared)."""
    spans: list[tuple[int, int, str]] = []
    for m in _PHONE_CANDIDATE.finditer(text):
        raw = m.group(0)
        e164 = _phone_e164(raw)
        if e164:
            spans.append((m.start(), m.end(), e164))
            continue
        # A run of several numbers ("8 912 345-67-89, 8 (343) 300-10-20" or "2018 89123456789"): split it.
        for pattern in (_PHONE_STRUCTURED, _PHONE_ANY_PLUS):
            for sub in pattern.finditer(raw):
                e164 = _phone_e164(sub.group(0))
                if e164:
                    spans.append((m.start() + sub.start(), m.start() + sub.end(), e164))
            if spans and spans[-1][0] >= m.start():
                break
    return spans


def extract_phones(text: str) -> list[str]:
    """Seller phones normalised to E.164 (``+79123456789``), deduplicated in order of appearance.

    Uses ``phonenumbers`` (default region RU) on phone-shaped digit runs: 10–11 digits for Russian
    numbers ("8 (912) 345-67-89", "+7 912 345 67 89", "89123456789", "(843) 212-34-56"), or any valid
    international number written with "+". Prices, years and digit runs glued to letters (VIN
    fragments, ids) are never phones.
    """
    seen: dict[str, None] = {}
    for _, _, e164 in find_phone_spans(prepare_text(text)):
        seen.setdefault(e164, None)
    return list(seen)


# The look-behind after the "@" (not before it), so ``re`` skips ahead to each "@": the same matches as
# ``(?<![\w@.])@...``, several times faster.
_USERNAME_AT = re.compile(r"@(?<![\w@.]@)(?P<u>[A-Za-z][A-Za-z0-9_]{3,31})(?![\w@])")
_USERNAME_LINK = re.compile(
    r"(?:https?://)?(?:www\.)?(?:t|telegram)\.(?:me|dog)/(?P<u>[A-Za-z][A-Za-z0-9_]{3,31})(?P<rest>/\d+|/|\?\S*)?(?![\w/])",
    re.IGNORECASE,
)
# Every link match holds one of these, lower-cased (no other character lower-cases to these ASCII letters,
# nor matches them under IGNORECASE), and most posts hold none: the link pattern, which ``re`` must try at
# every position, then does not run; else it is searched from shortly before each, up to the longest
# text a match can hold before the host's ".": "https://www.telegram" (every letter matches one character).
_LINK_HOSTS = (".me/", ".dog/")
_LINK_REACH = len("https://www.telegram")
_NOT_USERNAMES = frozenset(
    {"joinchat", "addstickers", "share", "proxy", "socks", "iv", "login", "addlist", "setlanguage"}
)
# Lines that advertise the channel itself, its admin or chat: mentions there are not seller contacts.
# A channel's own handle: "@vologda_auto_channel", "@omsk_avto_news" (not a seller).
_CHANNEL_NAME = re.compile(r"(?:channel|kanal|_news|news_|_chat|chat_|_group|baraholka|rynok)", re.IGNORECASE)
# A separator line ("➖➖➖", "——", "====") starts the channel's footer: mentions below it are the channel's.
_FOOTER_RULE = re.compile(r"^\s*(?:[-—–=_➖•~*·]\s*){3,}", re.MULTILINE)
_PROMO_LINE = Words(
    r"подпис\w*|канал\w*|наш\w*\s+(?:чат|групп\w*)|реклам\w*|размест\w*|предлож\w*\s+(?:пост|объявлен|новост|авто)"
    r"|предложк\w*|админ\w*|вступ\w*|источник|репост\w*|барахолк\w*|обсужден\w*|бот\w*\s+для",
    boundary=False,
)


def _link_matches(text: str) -> Iterator[re.Match[str]]:
    """``_USERNAME_LINK.finditer(text)``, searched only from shortly before each host (see
    ``_LINK_HOSTS``): a match that starts after ``end`` holds a host after ``end``, so it starts at most
    ``_LINK_REACH`` characters before the first such host."""
    low = text.lower()
    if len(low) != len(text):  # the offsets in ``low`` are not those of ``text``
        if any(host in low for host in _LINK_HOSTS):
            yield from _USERNAME_LINK.finditer(text)
        return
    end = 0
    for host in positions_of(low, _LINK_HOSTS):
        if host >= end:
            m = _USERNAME_LINK.search(text, max(end, host - _LINK_REACH))
            if m is None:
                return
            yield m
            end = m.end()


def extract_usernames(text: str) -> list[str]:
    """Telegram usernames a seller can be reached at, without "@", deduplicated (case-insensitively).

    Counted: ``@name`` mentions and ``t.me/name`` profile links. Not counted: links to posts
    (``t.me/channel/123`` — that is a channel, not a contact), invite links (``t.me/+hash``,
    ``joinchat``), bot usernames (ending in "bot"), e-mail addresses, and any mention on a line that
    promotes the channel itself ("Подписывайтесь", "Разместить объявление", "Реклама", "Админ"), handles
    that name a channel or chat (``..._channel``, ``..._news``), and mentions in a footer below a separator
    line ("➖➖➖", "——").
    """
    text = prepare_text(text)
    found: list[tuple[int, str]] = []
    for m in _link_matches(text) if "/" in text else ():
        rest = m.group("rest") or ""
        if rest.startswith("/") and rest[1:].isdigit():
            continue
        if rest.startswith("?"):
            continue
        found.append((m.start(), m.group("u")))
    for m in _USERNAME_AT.finditer(text) if "@" in text else ():
        found.append((m.start(), m.group("u")))
    if not found:
        return []  # (most posts)
    found.sort()
    result: dict[str, str] = {}
    footer = _FOOTER_RULE.search(text)
    for pos, name in found:
        low = name.lower()
        if low in _NOT_USERNAMES or low.endswith("bot") or _CHANNEL_NAME.search(low):
            continue
        if footer is not None and pos > footer.start() and footer.start() > len(text) // 3:
            continue
        line_start = text.rfind("\n", 0, pos) + 1
        line_end = text.find("\n", pos)
        line = text[line_start : line_end if line_end >= 0 else len(text)]
        if _PROMO_LINE.search(line.lower()):
            continue
        result.setdefault(low, name)
    return list(result.values())
