"""The news-channel post (PRODUCT.md §16-18): a fixed template in Telegram HTML.

Pure code: no SDK imports. Every source-derived string is scrubbed of contacts (phones, @usernames,
links) and HTML-escaped before it is put into the post; the only link in a post is our own contacts
deep link ``https://t.me/<bot>?start=l_<listing_id>``, which opens the contact card in the bot.

Example (a text post)::

    🚗 <b>Toyota Camry</b>
    📋 2.5 л • автомат • полный привод • 2018 г.
    📊 1 владелец • 98 000 км
    ⚙️ кожаный салон, камера заднего вида
    💰 <b>1 350 000 ₽</b>
    📉 Выгода 150 000 ₽ (10%) — ниже рынка
    📍 Москва

    <i>Один владелец, обслуживание у дилера...</i>

    <a href="https://t.me/carsbot_demo_bot?start=l_AbCdEf012345">📞 Контакты продавца</a>

Telegram limits (1024 for a media caption, 4096 for a text message) count the *visible* text after
entity parsing, so lengths are measured on the rendered text with the tags removed, in UTF-16 code
units (what Telegram counts; never fewer than Python characters). A post that does not fit degrades:
the description is shortened and then dropped, then the equipment, then the optional lines, then the
remaining free-text fields are trimmed. The deep link always survives.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

CAPTION_LIMIT = 1024
TEXT_LIMIT = 4096
MEDIA_GROUP_LIMIT = 10

DEEP_LINK_PREFIX = "l_"
CONTACTS_LABEL = "📞 Контакты продавца"
REMOVED_BANNER = "❌ Продано / снято с продажи"

_SEP = " • "
_ELLIPSIS = "…"
_BOT_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
_START_PARAM = re.compile(r"^[A-Za-z0-9_-]{1,62}$")

TRANSMISSIONS_RU = {
    "automatic": "автомат",
    "manual": "механика",
    "robot": "робот",
    "variator": "вариатор",
}
DRIVES_RU = {
    "awd": "полный привод",
    "fwd": "передний привод",
    "rwd": "задний привод",
}
FUELS_RU = {
    "petrol": "бензин",
    "gasoline": "бензин",
    "gas": "газ",
    "lpg": "газ",
    "diesel": "дизель",
    "hybrid": "гибрид",
    "electric": "электро",
    "ev": "электро",
}


@dataclass(frozen=True)
class ListingView:
    """What the post template needs from a listing (independent of the storage model).

    ``seller_phones`` and ``seller_usernames`` are never rendered: they are the known contacts of the
    seller, used only to scrub them from free text (a description or an equipment item) that might
    still quote them in some spelling the generic patterns miss.
    """

    listing_id: str
    brand: str | None = None
    model: str | None = None
    year: int | None = None
    price: int | None = None
    market_price: int | None = None  # stated in the ad
    market_estimate: int | None = None  # our median of comparables
    saving: int | None = None
    below_market: bool = False
    mileage: int | None = None
    engine_volume: float | None = None
    transmission: str | None = None  # automatic | manual | robot | variator
    drive: str | None = None  # fwd | rwd | awd
    owners_count: int | None = None
    city: str | None = None
    fuel: str | None = None
    autoteka: str | None = None
    equipment: Sequence[str] = field(default_factory=tuple)
    description: str | None = None
    seller_phones: Sequence[str] = field(default_factory=tuple, repr=False)
    seller_usernames: Sequence[str] = field(default_factory=tuple, repr=False)


# ----------------------------------------------------------------------------- numbers and words


def plural_ru(n: int, one: str, few: str, many: str) -> str:
    """The Russian plural form for ``n``: 1 владелец, 2 владельца, 5 владельцев, 21 владелец."""
    n = abs(int(n))
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def format_int(n: int) -> str:
    """Thousands separated by spaces: ``1350000`` -> ``"1 350 000"``."""
    sign = "-" if n < 0 else ""
    return sign + f"{abs(int(n)):,}".replace(",", " ")


def format_rub(amount: int) -> str:
    return f"{format_int(amount)} ₽"


def format_engine_volume(volume: float) -> str:
    """``2.0`` -> ``"2.0 л"``, ``1.6`` -> ``"1.6 л"`` (one decimal, as car ads write it)."""
    return f"{float(volume):.1f} л"


def format_owners(count: int) -> str:
    return f"{count} {plural_ru(count, 'владелец', 'владельца', 'владельцев')}"


def format_mileage(km: int) -> str:
    return f"{format_int(km)} км"


# ----------------------------------------------------------------------------- contact scrubbing

# Links of any kind (the post's only link is our own deep link, added after scrubbing).
_URL = re.compile(
    r"(?:https?://|www\.|tg://)\S+"
    r"|\b(?:t(?:elegram)?\.me|telegram\.dog|wa\.me|vk\.com|vk\.me|ok\.ru|avito\.ru|drom\.ru|auto\.ru)/\S*",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# @username (Telegram: 5-32 chars; shorter ones are scrubbed too, they are never useful in a post).
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{2,31}\b")
# Phones: international "+..." numbers, Russian numbers with a trunk prefix (8 / 7 / +7) in any
# grouping, bare mobile numbers (9xx...), and bare runs of 10-12 digits. Prices ("1 350 000"),
# mileage and years never match: they are shorter or grouped by thousands.
_SEPS = r"[\s.\-\u2010-\u2015]"  # "8 916 123-45-67", "8.916.123.45.67", "123 - 45 - 67"
_PHONES = (
    re.compile(r"\+\d(?:[\s\-\u2010-\u2015.()]{0,3}\d){6,14}(?!\d)"),
    re.compile(
        rf"(?<![\d+])[78]{_SEPS}{{0,3}}\(?{_SEPS}{{0,1}}\d{{3,5}}{_SEPS}{{0,1}}\)?{_SEPS}{{0,3}}"
        rf"\d{{1,3}}{_SEPS}{{0,3}}\d{{2}}{_SEPS}{{0,3}}\d{{2}}(?!\d)"
    ),
    re.compile(
        rf"(?<![\d+])\(?9\d{{2}}\)?{_SEPS}{{0,3}}\d{{3}}{_SEPS}{{0,3}}\d{{2}}{_SEPS}{{0,3}}\d{{2}}(?!\d)"
    ),
    re.compile(r"(?<!\d)\d{10,12}(?!\d)"),
)
_SPACES = re.compile(r"[ \t\u00a0]{2,}")
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t\u00a0]+([,.;:!?])")
_DOUBLE_PUNCT = re.compile(r"[,;:]+([,.;:!?])")
_EMPTY_PUNCT = re.compile(r"(?:\s*[,;:]\s*)+(?=$|\n)|\(\s*[,;:.\-]*\s*\)")


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _known_phone_patterns(phones: Iterable[str]) -> list[re.Pattern[str]]:
    """Any spelling of a known number: its last 10 digits with separators allowed between digits."""
    patterns = []
    for phone in phones:
        digits = _digits(phone)
        if len(digits) < 7:
            continue
        tail = digits[-10:]
        body = r"[\s\-\u2010-\u2015.()]{0,3}".join(tail)
        patterns.append(re.compile(rf"(?<!\d)(?:\+?\d[\s\-(]{{0,3}})?{body}(?!\d)"))
    return patterns


def scrub_contacts(text: str | None, *, phones: Iterable[str] = (), usernames: Iterable[str] = ()) -> str:
    """Remove phones, @usernames, e-mails and links from ``text`` (plain text, not HTML).

    ``phones``/``usernames`` are the seller's known contacts: any spelling of those numbers and any
    occurrence of those handles (with or without ``@``) are removed as well.
    """
    if not text:
        return ""
    out = _URL.sub(" ", text)
    out = _EMAIL.sub(" ", out)
    out = _MENTION.sub(" ", out)
    for pattern in (*_known_phone_patterns(phones), *_PHONES):
        out = pattern.sub(" ", out)
    for name in usernames:
        name = name.strip().lstrip("@")
        if len(name) >= 3:
            out = re.sub(rf"(?<![\w@])@?{re.escape(name)}(?!\w)", " ", out, flags=re.IGNORECASE)
    out = _SPACES.sub(" ", out)
    out = _SPACE_BEFORE_PUNCT.sub(r"\1", out)
    out = _DOUBLE_PUNCT.sub(r"\1", out)
    out = _EMPTY_PUNCT.sub("", out)
    lines = [line.strip() for line in out.splitlines()]
    return "\n".join(line for line in lines if line).strip(" ,;:-")


# ----------------------------------------------------------------------------- measuring and trimming

_TAG = re.compile(r"<[^>]*>")


def visible_text(html_text: str) -> str:
    """The text a reader sees: tags removed, entities decoded."""
    return html.unescape(_TAG.sub("", html_text))


def telegram_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def visible_length(html_text: str) -> int:
    return telegram_length(visible_text(html_text))


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-16 units, at a word boundary when one is near, plus "…"."""
    if telegram_length(text) <= limit:
        return text
    if limit <= 1:
        return ""
    cut = text[: limit - 1]
    while cut and telegram_length(cut) > limit - 1:
        cut = cut[:-1]
    space = cut.rfind(" ")
    if space >= len(cut) * 0.7:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–—.") + _ELLIPSIS


# ----------------------------------------------------------------------------- the template


def deep_link(bot_username: str, listing_id: str) -> str:
    """The contacts deep link: ``https://t.me/<bot>?start=l_<listing_id>``."""
    bot = bot_username.strip().lstrip("@")
    if not _BOT_USERNAME.match(bot):
        raise ValueError(f"invalid bot username {bot_username!r}")
    if not _START_PARAM.match(listing_id):
        raise ValueError(f"listing id {listing_id!r} cannot be used in a deep link")
    return f"https://t.me/{bot}?start={DEEP_LINK_PREFIX}{listing_id}"


def parse_deep_link_payload(payload: str) -> str | None:
    """The listing id from a ``/start`` payload (``l_<listing_id>``), or ``None``."""
    if payload.startswith(DEEP_LINK_PREFIX) and _START_PARAM.match(payload[len(DEEP_LINK_PREFIX) :]):
        return payload[len(DEEP_LINK_PREFIX) :]
    return None


def market_reference(view: ListingView) -> int | None:
    """The market price the saving is measured against: stated in the ad, else our estimate."""
    return view.market_price or view.market_estimate or None


def compute_saving(view: ListingView) -> tuple[int, int | None] | None:
    """``(saving RUB, percent of the market price)`` when the car is priced below the market."""
    market = market_reference(view)
    saving = view.saving
    if saving is None and market and view.price:
        saving = market - view.price
    if saving is None or saving <= 0:
        return None
    if not market and view.price:
        market = view.price + saving
    percent = max(1, round(saving * 100 / market)) if market else None
    return int(saving), percent


@dataclass(frozen=True)
class _Clean:
    """Scrubbed plain-text fields of a view (not yet escaped)."""

    title: str
    specs: str
    usage: str
    equipment: str
    price: str
    saving: str
    city: str
    autoteka: str
    description: str


def _clean(view: ListingView) -> _Clean:
    def scrub(value: object) -> str:
        text = scrub_contacts(
            str(value) if value is not None else None,
            phones=view.seller_phones,
            usernames=view.seller_usernames,
        )
        return " ".join(text.split())

    title = " ".join(part for part in (scrub(view.brand), scrub(view.model)) if part)

    specs: list[str] = []
    if view.engine_volume:
        engine = format_engine_volume(view.engine_volume)
        fuel = scrub(FUELS_RU.get((view.fuel or "").strip().lower(), view.fuel))
        specs.append(f"{engine} {fuel.lower()}" if fuel else engine)
    elif view.fuel:
        fuel = scrub(FUELS_RU.get(view.fuel.strip().lower(), view.fuel))
        if fuel:
            specs.append(fuel.lower())
    if view.transmission:
        gearbox = TRANSMISSIONS_RU.get(view.transmission.strip().lower())
        if gearbox:
            specs.append(gearbox)
    if view.drive:
        drive = DRIVES_RU.get(view.drive.strip().lower())
        if drive:
            specs.append(drive)
    if view.year:
        specs.append(f"{view.year} г.")

    usage: list[str] = []
    if view.owners_count:
        usage.append(format_owners(view.owners_count))
    if view.mileage is not None:
        usage.append(format_mileage(view.mileage))

    equipment = ", ".join(item for item in (scrub(e) for e in view.equipment) if item)

    saving = ""
    computed = compute_saving(view)
    if computed:
        amount, percent = computed
        saving = f"Выгода {format_rub(amount)}"
        if percent is not None:
            saving += f" ({percent}%)"
        saving += " — ниже рынка"
    elif view.below_market:
        saving = "Ниже рынка"

    description = scrub_contacts(view.description, phones=view.seller_phones, usernames=view.seller_usernames)
    return _Clean(
        title=title or "Автомобиль",
        specs=_SEP.join(specs),
        usage=_SEP.join(usage),
        equipment=equipment,
        price=format_rub(view.price) if view.price else "Цена не указана",
        saving=saving,
        city=scrub(view.city),
        autoteka=scrub(view.autoteka),
        description=" ".join(description.split()),
    )


def _assemble(c: _Clean, link: str | None, banner: str | None) -> str:
    e = html.escape
    lines: list[str] = []
    if banner:
        lines += [f"<b>{e(banner)}</b>", ""]
    lines.append(f"🚗 <b>{e(c.title or _ELLIPSIS)}</b>")
    if c.specs:
        lines.append(f"📋 {e(c.specs)}")
    if c.usage:
        lines.append(f"📊 {e(c.usage)}")
    if c.autoteka:
        lines.append(f"🔎 Автотека: {e(c.autoteka)}")
    if c.equipment:
        lines.append(f"⚙️ {e(c.equipment)}")
    if c.price:
        lines.append(f"💰 <b>{e(c.price)}</b>" if c.price[0].isdigit() else f"💰 {e(c.price)}")
    if c.saving:
        lines.append(f"📉 {e(c.saving)}")
    if c.city:
        lines.append(f"📍 {e(c.city)}")
    if c.description:
        lines += ["", f"<i>{e(c.description)}</i>"]
    if link:
        lines += ["", f'<a href="{e(link, quote=True)}">{e(CONTACTS_LABEL)}</a>']
    return "\n".join(lines)


def _fit(c: _Clean, link: str | None, banner: str | None, limit: int) -> str:
    def fits(candidate: _Clean) -> bool:
        return visible_length(_assemble(candidate, link, banner)) <= limit

    if fits(c):
        return _assemble(c, link, banner)

    # 1. shorten, then drop, the description; 2. the same for the equipment.
    for name, minimum in (("description", 60), ("equipment", 30)):
        c = _shorten(c, name, fits, minimum)
        if fits(c):
            return _assemble(c, link, banner)

    # 3. drop the optional lines.
    for name in ("autoteka", "city", "usage", "saving", "specs"):
        if fits(c):
            break
        c = replace(c, **{name: ""})
    if fits(c):
        return _assemble(c, link, banner)

    # 4. trim what is left (the title, the price): whatever the input, the link survives.
    c = _shorten(c, "title", fits, 1)
    if not fits(c):
        c = replace(c, title=_ELLIPSIS)
    if not fits(c):
        c = replace(c, price="")
    result = _assemble(c, link, banner)
    if visible_length(result) > limit:
        raise ValueError(f"limit {limit} is too small for a post with its contacts link")
    return result


def _shorten(c: _Clean, name: str, fits: Callable[[_Clean], bool], minimum: int) -> _Clean:
    """``c`` with field ``name`` truncated to the longest length that fits (dropped below ``minimum``)."""
    text: str = getattr(c, name)
    without = replace(c, **{name: ""})
    if not text or not fits(without):
        return without
    lo, hi = minimum, telegram_length(text)
    best: _Clean | None = None
    while lo <= hi:  # the rendered length grows with the budget, so bisect on it
        mid = (lo + hi) // 2
        candidate = replace(c, **{name: truncate(text, mid)})
        if fits(candidate):
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    return best if best is not None else without


def render_post(
    view: ListingView,
    bot_username: str,
    limit: int = TEXT_LIMIT,
    *,
    removed: bool = False,
) -> str:
    """The post in Telegram HTML, fitting ``limit`` visible characters (1024 caption, 4096 text).

    ``removed=True`` renders the sold/removed version: a banner on top and no contacts link (the
    listing is no longer for sale, so there is nothing to unlock).
    """
    link = None if removed else deep_link(bot_username, view.listing_id)
    banner = REMOVED_BANNER if removed else None
    return _fit(_clean(view), link, banner, limit)


def render_caption(view: ListingView, bot_username: str, *, removed: bool = False) -> str:
    """The post as a media caption (<= 1024 visible characters)."""
    return render_post(view, bot_username, CAPTION_LIMIT, removed=removed)


def render_text(view: ListingView, bot_username: str, *, removed: bool = False) -> str:
    """The post as a text message (<= 4096 visible characters)."""
    return render_post(view, bot_username, TEXT_LIMIT, removed=removed)
