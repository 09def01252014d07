"""Making an LLM answer safe and merging it with the rules engine's answer (pure functions, no SDKs).

Three steps, applied by the LLM engine to every LLM answer:

1. :func:`llm_fields` turns the model's raw structured output into a valid ``ListingFields``: values out
   of range or of the wrong shape become ``None`` (with a note), phones are normalised to E.164 and
   usernames to bare names.
2. :func:`guard` is the hallucination guard: every phone, username, price and market price must be
   present in the post text after normalisation, otherwise it is dropped (with a note). The description
   goes through :func:`sanitize_description` (no contacts, links, handles or emojis; bounded length).
3. :func:`reconcile` merges the rules result and the guarded LLM result field by field:

   ==========================  ================================================================
   field                       policy
   ==========================  ================================================================
   is_car_sale, reason         LLM (it sees context the keyword rules miss)
   confidence                  agree: the higher of both; disagree: LLM confidence x 0.75
   brand, model                LLM when it names a brand, canonicalised through the rules catalogue
                               ("Лада Гранта" -> Lada Granta); the model comes from the same engine as
                               the brand (never a rules model under an LLM brand that differs)
   year, price, market_price,  rules when both have a value and they differ (the rules engine
   mileage, engine_volume,     parsed explicit notation), otherwise whichever has one
   owners_count
   transmission, drive, fuel   rules when stated (keyword-exact), otherwise LLM
   city                        rules (catalogue match); LLM only when the rules found none and the
                               city is named in the text
   autoteka, equipment,        LLM when it has a value, otherwise rules
   description
   phones, usernames           union of the rules values and the *verified* LLM values
   ==========================  ================================================================

The engine that produced the final listing is recorded by the caller (``ExtractionResult.engine``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from carsbot.core.contracts import ListingFields
from carsbot.core.extraction.normalize import (
    extract_phones,
    find_money,
    find_phone_spans,
    find_vehicle,
    prepare_text,
)

DEFAULT_REGION = "RU"
DESCRIPTION_MAX_WORDS = 100
DESCRIPTION_MAX_CHARS = 900
MAX_EQUIPMENT_ITEMS = 20

_TRANSMISSIONS = {"automatic", "manual", "robot", "variator"}
_DRIVES = {"fwd", "rwd", "awd"}
_USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
_USERNAME_PREFIX_RE = re.compile(r"^(?:https?://)?(?:www\.)?(?:t(?:elegram)?\.me/|@)", re.IGNORECASE)
# A number as written in ads: grouped thousands ("1 350 000", "1.350.000") or plain/decimal ("1.35", "850").
_NUMBER_RE = re.compile(r"\d{1,3}(?:[ \u00a0\u202f\u2009.,']\d{3})+(?!\d)|\d+(?:[.,]\d+)?")
# A number with one of these units after it, or one of these words before it, is a mileage, engine,
# power or year figure, never a price: the guard does not read it as one ("1.5 л" is not 1 500 000 ₽).
_NOT_PRICE_AFTER_RE = re.compile(
    r"\s*(?:т\.?\s*км|тыс\w*\.?\s*км|ткм|км|km|л\.?\s*с|лс|hp|л\.|л\b|литр|l\b|г\.|г\b|гг|год|лет|"
    r"куб|см|cc|квт|kw|владел|хозя)",
    re.IGNORECASE,
)
_NOT_PRICE_BEFORE_RE = re.compile(
    r"(?:пробег\w*|объ[её]м\w*|двигател\w*|дв\.|мощност\w*|год\w*|г\.\s*в\.?|владел\w*|хозя\w*)"
    r"[\s:.\-\u2013\u2014]*$",
    re.IGNORECASE,
)
_DIGIT_RUN_RE = re.compile(r"\+?\d[\d\s\u00a0\-().]*\d")
_URL_RE = re.compile(
    r"(?:https?://|www\.)\S*|\b(?:t|telegram)\.me/\S+|\b[\w.-]+\.(?:ru|com|рф|me|org|net)/\S*", re.I
)
_EMAIL_RE = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_HANDLE_RE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{3,}")
_PHONE_LIKE_RE = re.compile(r"(?:\+|\b)\d[\d\s\u00a0\-().]{7,}\d")
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?…])\s+")
_CITY_ABBREVIATIONS = {
    "москва": ("мск", "москв"),
    "санкт-петербург": ("спб", "питер", "петербург"),
    "новосибирск": ("нск", "новосиб"),
    "екатеринбург": ("екб", "екат"),
    "нижний новгород": ("нн", "нижн"),
}


@dataclass
class GuardResult:
    """The LLM fields after the hallucination guard, with what was dropped."""

    fields: ListingFields
    notes: list[str] = field(default_factory=list)
    dropped: int = 0  # number of hallucinated contacts/prices removed


# --------------------------------------------------------------------------------------------------
# Normalisation helpers
# --------------------------------------------------------------------------------------------------


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """A phone number as E.164 (``+79991234567``), or ``None`` when it is not a possible number."""
    candidate = raw.strip()
    if not candidate or sum(ch.isdigit() for ch in candidate) < 7:
        return None
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_username(raw: str) -> str | None:
    """A Telegram username without ``@`` / ``t.me/``, or ``None`` when it is not a valid username."""
    name = _USERNAME_PREFIX_RE.sub("", raw.strip()).strip().strip("/")
    name = name.split("?", 1)[0].split("/", 1)[0]
    return name if _USERNAME_RE.match(name) else None


def phones_in_text(text: str, region: str = DEFAULT_REGION) -> set[str]:
    """E.164 numbers in ``text``: the rules engine's phones plus whatever phonenumbers' matcher finds."""
    found: set[str] = set(extract_phones(text))
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE):
        found.add(phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164))
    return found


def phone_in_text(phone: str, text: str, region: str = DEFAULT_REGION) -> bool:
    """Whether the E.164 ``phone`` is written in ``text`` (any formatting: ``8 (999) 123-45-67``...)."""
    text = prepare_text(text)
    if phone in phones_in_text(text, region):
        return True
    try:
        national = str(phonenumbers.parse(phone, region).national_number)
    except phonenumbers.NumberParseException:
        return False
    if len(national) < 6:
        return False
    for run in _DIGIT_RUN_RE.findall(text):
        digits = re.sub(r"\D", "", run)
        if national in digits:
            return True
    return False


def username_in_text(username: str, text: str) -> bool:
    """Whether ``username`` appears in ``text`` as a whole token (``@name``, ``t.me/name`` or bare)."""
    pattern = re.compile(r"(?<![A-Za-z0-9_])" + re.escape(username) + r"(?![A-Za-z0-9_])", re.IGNORECASE)
    return bool(pattern.search(prepare_text(text)))


def _strip_phones(text: str, region: str) -> str:
    spans = {(start, end) for start, end, _ in find_phone_spans(text)}
    spans.update(
        (m.start, m.end)
        for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
    )
    # Blank out (rather than cut) so overlapping spans stay valid.
    for start, end in spans:
        text = text[:start] + " " * (end - start) + text[end:]
    return text


def price_candidates(text: str, region: str = DEFAULT_REGION) -> set[int]:
    """Every rouble amount the numbers in ``text`` can denote in the usual ad notations.

    Each number (phone numbers excluded) is read as written, in thousands ("850к", "1 350 т.р.",
    "цена 560") and in millions ("1.35 млн", "1,2кк"); grouped digits are also read as a decimal
    ("1.350" as 1350 and 1.35). The rules engine's own money parser adds its readings ("1 млн 200").
    Used only to check presence, so it is deliberately generous — except for numbers that are plainly
    something else (a unit such as "л", "км", "л.с.", "г." after them, or "пробег", "двигатель", "год"
    before them): "пробег 150 т.км" does not make 150 000 ₽ a price the text states.
    """
    text = _strip_phones(prepare_text(text), region)
    values: set[float] = {float(mention.value) for mention in find_money(text)}
    for match in _NUMBER_RE.finditer(text):
        token = match.group()
        if _NOT_PRICE_AFTER_RE.match(text, match.end()) or _NOT_PRICE_BEFORE_RE.search(
            text, max(0, match.start() - 24), match.start()
        ):
            continue  # the money parser above already read it if it is an amount
        plain = re.sub(r"\D", "", token)
        if plain:
            values.add(float(plain))
        separators = re.findall(r"[.,]", token)
        if len(separators) == 1:
            values.add(float(token.replace(",", ".").replace(" ", "")))
    candidates: set[int] = set()
    for value in values:
        for multiplier in (1, 1_000, 1_000_000):
            amount = round(value * multiplier)
            if 0 < amount < 10**11:
                candidates.add(amount)
    return candidates


def price_in_text(value: int, text: str, region: str = DEFAULT_REGION) -> bool:
    return value in price_candidates(text, region)


def _is_emoji(ch: str) -> bool:
    code = ord(ch)
    if code in (0x200D, 0x20E3, 0xFE0E, 0xFE0F):
        return True
    if 0x1F000 <= code <= 0x1FAFF or 0x2600 <= code <= 0x27BF or 0x2B00 <= code <= 0x2BFF:
        return True
    if 0xE0020 <= code <= 0xE007F or 0x1F1E6 <= code <= 0x1F1FF:
        return True
    return unicodedata.category(ch) == "So"


def strip_emojis(text: str) -> str:
    return "".join(ch for ch in text if not _is_emoji(ch))


def _has_contact(sentence: str) -> bool:
    if _URL_RE.search(sentence) or _EMAIL_RE.search(sentence) or _HANDLE_RE.search(sentence):
        return True
    return any(sum(c.isdigit() for c in m) >= 10 for m in _PHONE_LIKE_RE.findall(sentence))


def _drop_phone(match: re.Match[str]) -> str:
    return "" if sum(c.isdigit() for c in match.group()) >= 10 else match.group()


def sanitize_description(
    text: str | None, *, max_words: int = DESCRIPTION_MAX_WORDS, max_chars: int = DESCRIPTION_MAX_CHARS
) -> str | None:
    """A publishable description: sentences carrying contacts, links or handles are removed, emojis and
    control characters stripped, whitespace collapsed, and the length capped (cut at a sentence end
    when possible). ``None`` when nothing is left."""
    if not text:
        return None
    cleaned = "".join(ch if ch.isprintable() or ch in "\n " else " " for ch in strip_emojis(text))
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    sentences = [s for s in _SENTENCE_SPLIT_RE.split(cleaned) if s.strip()]
    kept = [s for s in sentences if not _has_contact(s)]
    result = " ".join(kept)
    # Anything contact-like that was not at a sentence boundary (e.g. no final punctuation).
    result = _URL_RE.sub("", result)
    result = _EMAIL_RE.sub("", result)
    result = _HANDLE_RE.sub("", result)
    result = _PHONE_LIKE_RE.sub(_drop_phone, result)
    result = re.sub(r"\(\s*\)", "", result)
    result = re.sub(r"\s+([,.;:!?])", r"\1", result)
    result = re.sub(r"\s+", " ", result).strip(" ,;:-–—")
    if not result:
        return None
    words = result.split(" ")
    if len(words) > max_words or len(result) > max_chars:
        result = _cap(words, max_words, max_chars)
    return result or None


def _cap(words: list[str], max_words: int, max_chars: int) -> str:
    clipped = " ".join(words[:max_words])
    if len(clipped) > max_chars:
        clipped = clipped[:max_chars].rsplit(" ", 1)[0]
    end = max(clipped.rfind(". "), clipped.rfind("! "), clipped.rfind("? "))
    if clipped.endswith((".", "!", "?")):
        return clipped
    if end > len(clipped) // 2:
        return clipped[: end + 1]
    return clipped.rstrip(",;:- ") + "…"


# --------------------------------------------------------------------------------------------------
# Raw LLM output -> ListingFields
# --------------------------------------------------------------------------------------------------


def _text(value: Any, limit: int = 120) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = re.sub(r"\s+", " ", strip_emojis(value)).strip()
    return cleaned[:limit] if cleaned else None


def _int(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        value = round(value)
    if not isinstance(value, int):
        return None
    return value if low <= value <= high else None


def llm_fields(raw: Mapping[str, Any], region: str = DEFAULT_REGION) -> tuple[ListingFields, list[str]]:
    """Validate the model's raw answer into ``ListingFields`` (invalid values become ``None``)."""
    notes: list[str] = []

    def checked(name: str, value: Any) -> Any:
        if raw.get(name) is not None and value is None:
            notes.append(f"llm: invalid {name} ignored")
        return value

    engine_volume: float | None = None
    volume = raw.get("engine_volume")
    if isinstance(volume, int | float) and not isinstance(volume, bool):
        litres = float(volume) / 1000 if 500 <= volume <= 9999 else float(volume)  # cc -> litres
        engine_volume = round(litres, 1) if 0 < litres < 10 else None

    transmission = raw.get("transmission") if raw.get("transmission") in _TRANSMISSIONS else None
    drive = raw.get("drive") if raw.get("drive") in _DRIVES else None

    phones: list[str] = []
    for item in raw.get("phones") or []:
        phone = normalize_phone(item, region) if isinstance(item, str) else None
        if phone is None:
            notes.append("llm: unparseable phone ignored")
        elif phone not in phones:
            phones.append(phone)
    usernames: list[str] = []
    for item in raw.get("usernames") or []:
        name = normalize_username(item) if isinstance(item, str) else None
        if name is None:
            notes.append("llm: invalid username ignored")
        elif name.lower() not in {u.lower() for u in usernames}:
            usernames.append(name)
    equipment: list[str] = []
    for item in raw.get("equipment") or []:
        entry = _text(item, 80)
        if entry and not _has_contact(entry) and entry.lower() not in {e.lower() for e in equipment}:
            equipment.append(entry)
    confidence = raw.get("confidence")
    if not isinstance(confidence, int | float) or isinstance(confidence, bool) or confidence != confidence:
        confidence = 1.0
    is_sale = raw.get("is_car_sale")

    fields = ListingFields(
        is_car_sale=bool(is_sale) if isinstance(is_sale, bool) else False,
        reason=_text(raw.get("reason"), 200),
        brand=_text(raw.get("brand"), 40),
        model=_text(raw.get("model"), 60),
        year=checked("year", _int(raw.get("year"), 1900, 2100)),
        price=checked("price", _int(raw.get("price"), 1, 10**10)),
        market_price=checked("market_price", _int(raw.get("market_price"), 1, 10**10)),
        mileage=checked("mileage", _int(raw.get("mileage"), 0, 5_000_000)),
        engine_volume=checked("engine_volume", engine_volume),
        transmission=transmission,  # type: ignore[arg-type]
        drive=drive,  # type: ignore[arg-type]
        owners_count=checked("owners_count", _int(raw.get("owners_count"), 0, 50)),
        city=_text(raw.get("city"), 60),
        fuel=_text(raw.get("fuel"), 30),
        autoteka=_text(raw.get("autoteka"), 200),
        equipment=equipment[:MAX_EQUIPMENT_ITEMS],
        phones=phones,
        usernames=usernames,
        description=raw.get("description") if isinstance(raw.get("description"), str) else None,
        confidence=min(1.0, max(0.0, float(confidence))),
    )
    return fields, notes


# --------------------------------------------------------------------------------------------------
# Hallucination guard
# --------------------------------------------------------------------------------------------------


def guard(fields: ListingFields, text: str, region: str = DEFAULT_REGION) -> GuardResult:
    """Drop every phone, username, price and market price of ``fields`` that ``text`` does not contain,
    and sanitise the description. Returns the cleaned fields, notes and the number of drops."""
    notes: list[str] = []
    dropped = 0
    phones = []
    for phone in fields.phones:
        if phone_in_text(phone, text, region):
            phones.append(phone)
        else:
            dropped += 1
            notes.append("guard: dropped phone not in text")
    usernames = []
    for name in fields.usernames:
        if username_in_text(name, text):
            usernames.append(name)
        else:
            dropped += 1
            notes.append("guard: dropped username not in text")
    update: dict[str, Any] = {"phones": phones, "usernames": usernames}
    for name in ("price", "market_price"):
        value = getattr(fields, name)
        if value is not None and not price_in_text(value, text, region):
            update[name] = None
            dropped += 1
            notes.append(f"guard: dropped {name} not in text")
    description = sanitize_description(fields.description)
    if fields.description and description != fields.description:
        notes.append("guard: description sanitised")
    update["description"] = description
    return GuardResult(fields=fields.model_copy(update=update), notes=notes, dropped=dropped)


# --------------------------------------------------------------------------------------------------
# Reconciliation
# --------------------------------------------------------------------------------------------------


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and _fold(a) == _fold(b)


def _fold(value: str) -> str:
    return re.sub(r"[\s\-_]+", "", value.lower().replace("ё", "е"))


def city_in_text(city: str, text: str) -> bool:
    """Whether ``city`` (nominative, possibly multi-word) is named in ``text`` in any case form."""
    folded_text = text.lower().replace("ё", "е")
    folded_city = city.lower().replace("ё", "е")
    stems = [folded_city[: max(4, len(folded_city) - 2)]] if len(folded_city) > 4 else [folded_city]
    stems.extend(_CITY_ABBREVIATIONS.get(folded_city, ()))
    return any(re.search(r"(?<![а-яa-z])" + re.escape(stem), folded_text) for stem in stems)


def canonical_vehicle(brand: str, model: str | None) -> tuple[str | None, str | None]:
    """The catalogue's canonical brand/model for the LLM's spelling ("Лада Гранта" -> Lada, Granta).

    A brand the catalogue does not know is kept as written; so is a model it does not know.
    """
    found = find_vehicle(f"{brand} {model or ''}".strip())
    if not found.brand:
        return brand, model
    return found.brand, found.model or model


def _union(first: Iterable[str], second: Iterable[str], *, casefold: bool) -> list[str]:
    seen: set[str] = set()
    merged: list[str] = []
    for value in [*first, *second]:
        key = value.lower() if casefold else value
        if key not in seen:
            seen.add(key)
            merged.append(value)
    return merged


def reconcile(rules: ListingFields, llm: ListingFields, text: str = "") -> tuple[ListingFields, list[str]]:
    """Merge the rules result and the *guarded* LLM result (policy in the module docstring)."""
    notes: list[str] = []
    agree = rules.is_car_sale == llm.is_car_sale
    if not agree:
        notes.append(f"reconcile: classification rules={rules.is_car_sale} llm={llm.is_car_sale}, llm wins")
    confidence = max(rules.confidence, llm.confidence) if agree else llm.confidence * 0.75

    brand: str | None
    model: str | None
    if llm.brand:
        brand, model = canonical_vehicle(llm.brand, llm.model)
        brand = brand or llm.brand
        if rules.brand and not _same(rules.brand, brand):
            notes.append("reconcile: brand differs, llm wins")
        model = model or (rules.model if _same(rules.brand, brand) else None)
    else:
        brand, model = rules.brand, rules.model

    merged: dict[str, Any] = {}
    for name in ("year", "price", "market_price", "mileage", "engine_volume", "owners_count"):
        rule_value, llm_value = getattr(rules, name), getattr(llm, name)
        if rule_value is not None and llm_value is not None and rule_value != llm_value:
            notes.append(f"reconcile: {name} differs, rules wins")
        merged[name] = rule_value if rule_value is not None else llm_value
    for name in ("transmission", "drive", "fuel"):
        rule_value = getattr(rules, name)
        merged[name] = rule_value if rule_value is not None else getattr(llm, name)

    city = rules.city
    if city is None and llm.city:
        if not text or city_in_text(llm.city, text):
            city = llm.city
        else:
            notes.append("reconcile: llm city not named in text, ignored")

    fields = ListingFields(
        is_car_sale=llm.is_car_sale,
        reason=(llm.reason or rules.reason) if not llm.is_car_sale else None,
        brand=brand,
        model=model,
        city=city,
        autoteka=llm.autoteka or rules.autoteka,
        equipment=llm.equipment or rules.equipment,
        description=llm.description or rules.description,
        phones=_union(rules.phones, llm.phones, casefold=False),
        usernames=_union(rules.usernames, llm.usernames, casefold=True),
        confidence=min(1.0, max(0.0, confidence)),
        **merged,
    )
    return fields, notes
