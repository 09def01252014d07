"""The rules engine: classify a post (car for sale or not) and extract the listing fields, with no LLM.

Pipeline for one post (see docs/extraction.md):

1. Bound the text (head and tail windows for huge posts) and unify spaces, dashes and "ё".
2. Find contacts (phones, usernames, links) and mask them, so their digits and words never feed the
   price, year, mileage or city parsers.
3. Find the vehicle (brand/model from the catalogue) and every other field with the normalisers.
4. Classify: "hard" non-sale signals (sold, coming soon, giveaway, buy request, rental, parts offer,
   credit offer, news, question) decide first; then a car-evidence score built from the fields found.
5. A non-sale keeps every field empty and carries a ``reason`` slug.

``prefilter`` exposes step 4 for the LLM engine: posts that are confidently not car sales never reach
the LLM.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from carsbot.core.contracts import ListingFields
from carsbot.core.extraction import normalize as nz
from carsbot.core.extraction.base import ExtractionResult

__all__ = [
    "PREFILTER_MIN_CONFIDENCE",
    "PrefilterVerdict",
    "RulesExtractor",
    "classify",
    "extract_rules",
    "prefilter",
]

HEAD_CHARS = 6000
TAIL_CHARS = 2000
PREFILTER_MIN_CONFIDENCE = 0.8


def _window(text: str) -> str:
    """Huge posts: analyse a bounded head and tail (contacts are often at the end)."""
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]


def _rx(pattern: str, *, negations: tuple[str, ...] = ()) -> nz.Words:
    """A lower-case keyword pattern (see ``normalize.Words``); searched in the lower-cased post."""
    return nz.Words(pattern, negations=negations)


# --- non-sale signals ------------------------------------------------------------------------------

_SOLD = _rx(
    r"(?:\bпродан[аоы]?\b|\bsold\b|сняли?\s+с\s+продажи|снят[аоы]?\s+с\s+продажи|\bнеактуальн\w*|\bне\s+актуальн\w*"
    r"|уже\s+у\s+нового\s+(?:владельца|хозяина)|нашл[аи]\s+нового\s+(?:владельца|хозяина)|уехал[аи]?\s+к\s+нов\w+\s+(?:владельцу|хозяину))",
    negations=("не ",),
)
_COMING_SOON = _rx(
    r"скоро\s+(?:в\s+продаже|на\s+канале|поступ\w*|будет|выставим|в\s+наличии|появ\w*|старт\w*)|готовится\s+к\s+продаже"
    r"|\bанонс\w*|ожидается\s+поступлени\w*|совсем\s+скоро|следите\s+за\s+(?:обновлени|публикаци|новост)\w*"
    r"|в\s+продаже\s+(?:с|со)\s+(?:понедельника|вторника|среды|четверга|пятницы|субботы|воскресенья|завтра|\d)"
    r"|подготовк\w*\s+к\s+продаже|ещ[её]\s+не\s+выставлен\w*|поступит\s+в\s+продажу"
)
_GIVEAWAY = _rx(
    r"розыгрыш\w*|разыгр\w*|\bконкурс\w*|giveaway|выиграй\w*|выиграть|\bприз\w*|\bдарим\b|победител\w*"
)
_BUY = _rx(
    r"\bкуплю\b|\bкупим\b|\bпокупаем\b|\bвыкуп\w*|\bищу\b|\bищем\b|\bприобрету\b|\bрассмотрю\s+варианты|"
    r"\bнужн[аы]?\s+(?:машин\w*|авто\w*)|\bнужен\s+(?:автомобил\w*|авто)|интересует\s+(?:покупка|авто)|\bвозьму\b|"
    r"срочн\w*\s+выкуп|дорого\s+(?:купим|куплю)|\bскупка\b|\bкупить\s+(?:авто|машину)\s+до",
    negations=("с ", "под "),  # "аренда с выкупом" is a rental
)
_NOT_RENTAL = re.compile(
    r"\bне\s+(?:из-под\s+|из\s+под\s+|из\s+|под\s+|в\s+)?(?:такси|аренд\w*|каршеринг\w*|прокат\w*)"
)
_RENTAL = _rx(
    r"(?:\bаренд\w*|\bпрокат\w*|\bсда[юем]\w*\s+(?:в\s+аренду|авто|машин)|\bсдам\b|\bпосуточн\w*"
    r"|\bпод\s+такси\b|\bаренда\s+с\s+выкупом|\bшеринг\w*)",
    negations=("не ",),
)
_PARTS = _rx(
    r"\bзапчаст\w*|\bразбор\w*|\bавторазбор\w*|\bна\s+запчасти|\bконтрактн\w*\s+(?:двигател|мотор|кпп|акпп|агрегат|коробк)\w*"
    r"|\b(?:двигател\w*|мотор\w*|акпп|мкпп|кпп|коробк\w*|агрегат\w*)[^.\n]{0,40}\bконтрактн\w*"
    r"|\bв\s+разборе\b|\bбу\s+запчаст\w*|\bб/у\s+запчаст\w*|\bоригинальн\w*\s+детал\w*"
)
_PART_ITEMS = (
    r"(?:бампер\w*|фар[аыу]?\b|фары|капот\w*|двер[ьи]\w*|крыл[оья]\w*|двигател\w*|мотор\b|коробк\w*\s+(?:передач|автомат|механик)"
    r"|стартер\w*|генератор\w*|радиатор\w*|сидень[яе]\w*|магнитол\w*|зеркал\w*|решетк\w*|фонар\w*|\bакб\b|аккумулятор\w*"
    r"|крышк\w*|подрамник\w*|турбин\w*|форсунк\w*|глушител\w*|обвес\w*|спойлер\w*|торпед\w*|стекл[оа]\b|амортизатор\w*"
    r"|стойк[иу]\b|рычаг\w*|ступиц\w*|суппорт\w*|багажник\w*\s+на\s+крышу|фаркоп\w*|коврик\w*|чехл\w*|оптик[уа]\b)"
)
_ADJ = r"(?:[а-я]+(?:ый|ий|ой|ая|яя|ые|ие|ую|юю|ое|ее)\s+)"
_PARTS_SALE = _rx(
    rf"(?:продам|продаю|продается|продаётся|в\s+наличии|отдам|есть)\s+{_ADJ}{{0,2}}{_PART_ITEMS}"
    rf"|(?:продам|продаю|в\s+наличии|есть)\s+{_ADJ}{{0,2}}(?:акпп|мкпп|кпп|вариатор\w*|двигател\w*|мотор\w*|коробк\w*)"
    r"\s+(?:\d[.,]\d\s+)?(?:на|для|от)\b"
)
_TYRES = _rx(
    r"\bшин[аыу]?\b|\bрезин[аыу]\b|\bрезину\b|\bпокрышк\w*|\bдиск(?:и|ов|ами)?\b|\bколес[аов]?\b|\bколёс\w*|\br\s?1[3-9]\b"
    r"|\br\s?2[0-3]\b|\b\d{3}/\d{2}\s?r?\s?\d{2}\b|\bшипован\w*|\bлипучк\w*|\bвсесезонк\w*|\bзимняя\s+резина|\bлетняя\s+резина"
)
_SERVICE = _rx(
    r"\bремонт\w*|шиномонтаж\w*|автосервис\w*|\bсто\b|детейлинг\w*|полировк\w*|химчистк\w*|тонировк\w*|покраск\w*"
    r"|диагностик\w*|замен[аы]\s+масла|развал\w*|\bсход\b|эвакуатор\w*|автоподбор\w*|подбор\w*\s+авто\w*|проверк\w*\s+авто\w*"
    r"|толщиномер\w*|оклейк\w*|бронепл[её]нк\w*|перетяжк\w*|автоэлектрик\w*|доставк\w*\s+(?:авто|машин)\w*|пригон\w*"
    r"|под\s+заказ|автовоз\w*|перегон\w*|страхован\w*|постановк\w*\s+на\s+уч[её]т|чип-?тюнинг\w*|автошкол\w*|инструктор\w*"
    r"|кузовн\w*\s+(?:работ|ремонт)\w*|малярн\w*|сварочн\w*|установк\w*\s+(?:гбо|сигнализац|магнитол)\w*|антикор\w*|мойк\w*"
    r"|автомойк\w*|техосмотр\w*|\bоформлени\w*\s+(?:договор|документ|дкп)|выездн\w*\s+(?:диагностик|проверк)\w*|растаможк\w*"
)
_SERVICE_OFFER = _rx(
    r"предлагаем|выполняем|делаем|оказываем|записыва\w*|\bзапись\b|услуг\w*|\bскидк\w*|\bакци\w*|приглашаем|работаем"
    r"|недорого|гаранти\w*\s+качеств|\bпод\s+ключ\b|опытн\w*\s+мастер\w*|\bмастер\w*|качественн\w*|звоните|обращайтесь|поможем"
    r"|проверим|подберем|подберём|привезем|привезём|доставим|оформим|\bот\s+\d"
)
_CREDIT = _rx(
    r"автокредит\w*|одобрим|одобрени\w*\s+(?:кредит|за|\d|по)|кредит\w*\s+(?:без\s+первоначальн|от\s+\d|для\s+всех|любому|с\s+любой|на\s+любой|на\s+авто)"
    r"|ставк\w*\s+от\s+\d|займ\w*\s+под\s+птс|деньги\s+под\s+(?:птс|залог)|залог\s+(?:авто|птс)|лизинг\w*\s+(?:для|от|на\s+любой)"
    r"|рефинансир\w*|кредитн\w*\s+истори\w*|без\s+первоначальн\w*\s+взнос\w*|первоначальн\w*\s+взнос\w*\s+от"
)
_NEWS = _rx(
    r"\bновост\w*|\bсообща\w*|\bпо\s+данным\b|\bзаявил\w*|\bобъявил\w*|\bподорожа\w*|\bподешеве\w*|\bутильсбор\w*|\bминпромторг\w*"
    r"|\bотзыва[ею]т\b|\bотозвал\w*|\bотзов[её]т\b|\bгосдум\w*|\bзаконопроект\w*|\bавтостат\w*|\bаналитик\w*|\bпо\s+итогам\b|\bстатистик\w*|\bотзывн\w*\s+кампани\w*"
    r"|\bпрезентова\w*|\bпредставил\w*|\bпремьер\w*|\bстартовал\w*\s+продаж\w*|\bначал\w*\s+продаж\w*|\bпоявится\b|\bпоявились\b"
    r"|\bсборк\w*|\bзавод\w*|\bконцерн\w*|\bпроизводител\w*|\bрынок\s+(?:новых|подержанных|автомобилей|б/у)|\bпродаж[иа]\s+"
    r"(?:новых|автомобилей|подержанных|в\s+россии|выросли|упали|снизились)|\bрекомендованн\w*\s+цен\w*|\bмодельн\w*\s+ряд\w*"
    r"|\bсообщил\w*|\bсерийн\w*\s+производств\w*|\bстартов\w*\s+цен\w*|\bэксперт\w*|\bожида\w*\s+(?:рост|подорожа|снижени|дефицит)\w*"
    r"|\bгибдд\s+(?:напоминает|предупреждает|сообщает)|\bштраф\w*|\bс\s+\d{1,2}\s+(?:января|февраля|марта|апреля|мая|июня|"
    r"июля|августа|сентября|октября|ноября|декабря)|\bдилер\w*\s+(?:сообщ|повыс|сниз)\w*|\bв\s+россии\b|\bрегулятор\w*"
)
_QUESTION = _rx(
    r"\bподскажите\b|\bпосоветуйте\b|\bкто\s+знает\b|\bкто\s+сталкивался\b|\bчто\s+лучше\b|\bстоит\s+ли\b|\bкак\s+думаете\b"
    r"|\bваше\s+мнение\b|\bпомогите\s+(?:выбрать|советом|разобраться)|\bчто\s+скажете\b|\bкто\s+подскажет\b|\bнужен\s+совет\b"
    r"|\bсколько\s+(?:\w+\s+)?(?:стоит|может\s+стоить|реально|просить|ставить)|\bкакой\s+(?:выбрать|лучше)\b|\bкакую\s+(?:выбрать|взять)|\bкто\s+ездит\b"
    r"|\bкто\s+владел\b|\bотзывы\s+владельцев|\bкак\s+(?:вам|считаете|быть)\b|\bчто\s+выбрать\b|\bопрос\b|\bголосуем\b|\bнормальная\s+цена\s*\?"
)
# Vehicles that are not cars (policy in docs/extraction.md): motorcycles, ATVs, snowmobiles, boats,
# trailers, heavy trucks, buses and machinery. Light commercial vehicles (Газель, Transit) are cars.
_NOT_CAR = _rx(
    r"\bмотоцикл\w*|\bмопед\w*|\bскутер\w*|\bпитбайк\w*|\bмотобайк\w*|\bбайк\b|\bэндуро\b|\bквадроцикл\w*|\bквадрик\w*"
    r"|\bснегоход\w*|\bгидроцикл\w*|\bмотобуксировщик\w*|\bлодк[аиу]\b|\bлодочн\w*|\bкатер\b|\bкатера\b|\bяхт[ауы]\b"
    r"|\bприцеп\w*|\bполуприцеп\w*|\bсамосвал\w*|\bтягач\w*|\bэкскаватор\w*|\bтрактор\w*|\bпогрузчик\w*"
    r"|\bспецтехник\w*|\bавтокран\w*|\bкамаз\w*|\bkamaz\b|\bмаз\b|\bscania\b|\bскания\b|\bавтобус\w*|\bмотоблок\w*"
    r"|\bвелосипед\w*|\bсамокат\w*|\bбуран\b|\byamaha\b|\bямаха\b|\bkawasaki\b|\bкавасаки\b|\bducati\b|\bдукати\b"
    r"|\bharley\b|\bхарлей\b|\bktm\b|\baprilia\b|\bstels\b|\bирбис\b|\birbis\b"
)
# Exchange-only posts: the owner swaps the car and does not sell it.
_EXCHANGE_ONLY = _rx(
    r"\bтолько\s+(?:на\s+)?обмен\w*|\bобмен\s+только\b|\bисключительно\s+обмен\w*|\bпродавать\s+не\s+(?:буду|хочу)"
    r"|\bне\s+продаю\b|\bне\s+прода[её]тся\b|\bбез\s+продажи\b"
)
_SWAP = _rx(r"\b(?:меняю|поменяю|обменяю|обменяюсь|махнусь|махну)\b")
_SALE_POSITIVE = _rx(
    r"\bпрода(?:м|ю|ется|ётся|жа|ю)\b|\bв\s+продаже\b|\bна\s+продажу\b|\bfor\s+sale\b|\bотдам\s+за\b",
    negations=("не ",),
)
_SALE = _rx(
    r"\bпрода(?:м|ю|ется|ётся|ем|ём|ажа|аю)\b|\bв\s+продаже\b|\bна\s+продажу\b|\bсрочно\b|\bторг\w*|\bобмен\w*|\bв\s+наличии\b"
    r"|\bотдам\b|\bреализ\w*|\bfor\s+sale\b|\bпродается\b|\bпродаётся\b|\bуступлю\b|\bпродажа\b"
)
_CAR_WORDS = _rx(
    r"\bптс\b|\bптс\b|\bvin\b|\bвин\b|комплектаци\w*|состояни\w*|\bкузов\w*|\bсалон\w*|\bмотор\w*|\bдвигател\w*|\bкпп\b"
    r"|\bкоробк\w*|\bпривод\w*|\bрасход\w*|\bл\.?\s?с\.?|\bлс\b|\bhp\b|\bседан\w*|\bхэтчбек\w*|\bхетчбек\w*|\bуниверсал\w*"
    r"|\bкроссовер\w*|\bвнедорожник\w*|\bминивэн\w*|\bпикап\w*|\bкупе\b|\bлифтбек\w*|\bавтомобил\w*|\bмашин\w*|\bавто\b"
    r"|\bсигнализаци\w*|\bдвухзонн\w*|\bрестайлинг\w*|\bдорест\w*|\bтюнинг\w*|\bрастаможен\w*|\bучет\w*|\bучёт\w*|\bмаслом?\b"
)


@dataclass(frozen=True)
class PrefilterVerdict:
    """Whether a post is obviously not a car sale (so it need not reach the LLM)."""

    reject: bool
    reason: str | None
    confidence: float


@dataclass
class _Analysis:
    text: str  # windowed and prepared
    masked: str  # contacts masked
    low: str  # masked, lower-cased (keyword patterns run on it)
    title: str
    head: str
    phones: list[str]
    usernames: list[str]
    vehicle: nz.Vehicle
    price: int | None
    market_price: int | None
    mileage: int | None
    year: int | None
    engine_volume: float | None
    transmission: str | None
    drive: str | None
    owners: int | None
    city: str | None
    is_sale: bool
    reason: str | None
    confidence: float


_URL = _rx(r"(?:https?://|www\.)\S+|\b(?:t|telegram|wa|vk)\.(?:me|dog|com|ru)/\S+")
_MENTION = re.compile(r"@[A-Za-z0-9_]{3,}")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b")


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    chars = list(text)
    for start, end in spans:
        for i in range(start, min(end, len(chars))):
            if chars[i] != "\n":
                chars[i] = " "
    return "".join(chars)


# Lines that are never the title: hashtag-only lines and forwarded-message headers.
_NOT_TITLE = re.compile(r"^(?:#\S+[\s,]*)+$|^(?:переслано|forwarded|пересланное|репост)\b")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip()]


def _has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def _analyse(raw: str) -> _Analysis:
    text = nz.prepare_text(_window(raw or ""))
    phone_spans = nz.find_phone_spans(text)
    spans = [(s, e) for s, e, _ in phone_spans]
    spans += [m.span() for m in _URL.finditer(text)]
    spans += [m.span() for m in _EMAIL.finditer(text)]
    spans += [m.span() for m in _MENTION.finditer(text)]
    masked = _mask(text, spans)
    phones = list(dict.fromkeys(e for _, _, e in phone_spans))
    usernames = nz.extract_usernames(text)

    low = masked.lower()
    lines = _lines(low)
    title = next((line for line in lines if _has_letters(line) and not _NOT_TITLE.match(line)), "")
    head = low[:200]

    vehicle = nz.find_vehicle(masked)
    money = nz.find_money(masked)
    price_m = nz.best_price(money)
    market = next((m.value for m in money if m.role == "market"), None)

    # Mileage/year/engine parsers see the text with money amounts masked too.
    masked_no_money = _mask(masked, [(m.start, m.end) for m in money if m.role in {"price", "market"}])
    mileage = nz.parse_mileage(masked_no_money)
    if mileage is None and price_m is not None and price_m.keyed:
        mileage = _mileage_from_thousands(money, price_m)
    if mileage is not None and price_m is not None and not price_m.keyed and price_m.value == mileage:
        # "245тыс пробег 430т.р.": the thousands amount equal to the mileage is not the price
        money = [m for m in money if m is not price_m]
        price_m = nz.best_price(money)
    if mileage is None:
        unit_less = _mileage_among_prices(money)
        if unit_less is not None:
            mileage = unit_less.value
            money = [m for m in money if m is not unit_less]
            price_m = nz.best_price(money)
    year = nz.parse_year(masked_no_money)
    if year is None:
        bare_zone = title
        if vehicle.start is not None:
            line_start = masked_no_money.rfind("\n", 0, vehicle.start) + 1
            line_end = masked_no_money.find("\n", vehicle.end or vehicle.start)
            bare_zone += "\n" + masked_no_money[line_start : line_end if line_end >= 0 else None]
        year = nz.parse_year(bare_zone, bare_ok=True)
    after_model = masked_no_money[vehicle.end : vehicle.end + 24] if vehicle.end is not None else None
    engine = nz.parse_engine_volume(masked_no_money, after_model=after_model, list_ok=price_m is not None)
    transmission = nz.parse_transmission(masked)
    drive = nz.parse_drive(masked)
    owners = nz.parse_owners(masked_no_money)
    city = nz.find_city(masked)

    analysis = _Analysis(
        text=text,
        masked=masked,
        low=low,
        title=title,
        head=head,
        phones=phones,
        usernames=usernames,
        vehicle=vehicle,
        price=price_m.value if price_m else None,
        market_price=market,
        mileage=mileage,
        year=year,
        engine_volume=engine,
        transmission=transmission,
        drive=drive,
        owners=owners,
        city=city,
        is_sale=False,
        reason=None,
        confidence=0.5,
    )
    analysis.is_sale, analysis.reason, analysis.confidence = _classify(analysis)
    return analysis


_THOUSANDS_ONLY = re.compile(r"^\d{1,3}\s?(?:тыс\.?|т\.?)$", re.IGNORECASE)


def _mileage_from_thousands(money: list[nz.MoneyMention], price: nz.MoneyMention) -> int | None:
    """A bare "190тыс" (no money unit) beside an explicit price elsewhere is the mileage.

    Example: "5.5 V8, 190тыс, цена 1.1кк".
    """
    for m in money:
        if m is price or m.keyed or m.role == "market" or m.start > price.start:
            continue
        if _THOUSANDS_ONLY.match(m.raw.strip()):
            return m.value
    return None


_ROUBLES_OR_MILLIONS = re.compile(r"₽|руб|rub|rur|р\.?$|млн|миллион|mln|лям|мульт|кк", re.IGNORECASE)


def _mileage_among_prices(money: list[nz.MoneyMention]) -> nz.MoneyMention | None:
    """With no mileage stated, a thousands amount without a rouble unit next to a larger price is the
    mileage: "87к, один хозяин, 1 070 000", "230 тыс, 2 владельца, 620к", "87 000 / 1 320 000".
    """
    prices = [m for m in money if m.role == "price"]
    if len(prices) < 2:
        return None
    for m in prices:
        if m.keyed or not 1_000 <= m.value < 1_000_000 or _ROUBLES_OR_MILLIONS.search(m.raw):
            continue
        if any(other is not m and other.value > m.value for other in prices):
            return m
    return None


def _car_score(a: _Analysis) -> float:
    score = 0.0
    if a.vehicle.brand:
        score += 1.5
    if a.vehicle.model:
        score += 1.0
    if a.year:
        score += 1.0
    if a.mileage is not None:
        score += 1.5
    if a.price:
        score += 1.5
    specs = sum(x is not None for x in (a.engine_volume, a.transmission, a.drive))
    score += min(specs, 3) * 0.5
    if a.owners is not None:
        score += 1.0
    if _CAR_WORDS.search(a.low):
        score += 0.5
    if a.phones or a.usernames:
        score += 0.5
    return score


def _classify(a: _Analysis) -> tuple[bool, str | None, float]:
    masked = a.low
    body = masked.strip()
    if not body or not _has_letters(body):
        return False, "no_car", 0.99
    title, head = a.title, a.head
    score = _car_score(a)
    sale_verb = bool(_SALE.search(masked))
    short = len(body) < 350
    specific_car = bool(a.vehicle.brand) and (
        a.year is not None or a.mileage is not None or a.price is not None
    )

    # Hard signals: the post is about a car but is not an offer to sell it now.
    if _GIVEAWAY.search(head) or (_GIVEAWAY.search(masked) and not a.price):
        return False, "giveaway", 0.95
    if _COMING_SOON.search(masked):
        return False, "coming_soon", 0.92
    sold = _SOLD.search(masked)
    if sold and (sold.start() < 160 or short or sold.start() > len(masked) - 120):
        return False, "sold", 0.95
    buy = _BUY.search(masked)
    if buy and (buy.start() < 120 or not sale_verb):
        return False, "buy_request", 0.95
    if _RENTAL.search(_NOT_RENTAL.sub(" ", masked)):
        return False, "rental", 0.93
    not_car = _NOT_CAR.search(head)
    if not_car and (a.vehicle.start is None or not_car.start() < a.vehicle.start):
        return False, "not_car", 0.9
    swap = _SWAP.search(masked)
    if (_EXCHANGE_ONLY.search(masked) or (swap and swap.start() < 80)) and not _SALE_POSITIVE.search(masked):
        return False, "exchange", 0.9
    parts_title = _PARTS.search(title) or _PARTS_SALE.search(head)
    if parts_title or (_PARTS.search(masked) and a.mileage is None):
        return False, "parts", 0.93
    credit = _CREDIT.search(masked)
    if credit and (credit.start() < 160 or not specific_car):
        return False, "credit", 0.92
    question = _QUESTION.search(masked)
    if question and not (a.phones or a.usernames) and (question.start() < 160 or not sale_verb):
        return False, "question", 0.9
    if "?" in body and not (a.phones or a.usernames) and a.price is None:
        return False, "question", 0.85
    news_hits = _NEWS.count(masked)
    if news_hits >= 2 and not (a.phones or a.usernames) and a.mileage is None:
        return False, "news", 0.9

    tyre_hits = _TYRES.count(masked)
    tyres_title = bool(_TYRES.search(title))
    if tyres_title and a.mileage is None and a.owners is None:
        return False, "tyres", 0.9
    service = _SERVICE.search(masked)
    if service and _SERVICE_OFFER.search(masked) and a.mileage is None and a.year is None:
        return False, "service", 0.9
    if service and _SERVICE.search(title) and a.mileage is None and a.owners is None:
        return False, "service", 0.85

    evidence = a.vehicle.brand is not None or (
        a.price is not None and (a.year is not None or a.mileage is not None)
    )
    threshold = 3.5 if sale_verb else 4.5
    if evidence and score >= threshold:
        confidence = min(0.99, 0.55 + score / 20 + (0.1 if sale_verb else 0.0))
        return True, None, round(confidence, 2)

    # Not enough evidence of a specific car for sale: name the most likely kind of post.
    if tyre_hits:
        return False, "tyres", 0.85 if score < 3 else 0.6
    if service:
        return False, "service", 0.85 if score < 3 else 0.6
    if credit:
        return False, "credit", 0.85
    if news_hits:
        return False, "news", 0.8 if score < 3 else 0.6
    if question or body.endswith("?"):
        return False, "question", 0.85 if score < 3 else 0.6
    if _PARTS.search(masked):
        return False, "parts", 0.85
    confidence = 0.9 if score < 2 else (0.75 if score < 3 else 0.55)
    return False, "no_car", confidence


def _fields(a: _Analysis) -> ListingFields:
    if not a.is_sale:
        return ListingFields(is_car_sale=False, reason=a.reason, confidence=a.confidence)
    return ListingFields(
        is_car_sale=True,
        brand=a.vehicle.brand,
        model=a.vehicle.model,
        year=a.year,
        price=a.price,
        market_price=a.market_price,
        mileage=a.mileage,
        engine_volume=a.engine_volume,
        transmission=a.transmission,  # type: ignore[arg-type]
        drive=a.drive,  # type: ignore[arg-type]
        owners_count=a.owners,
        city=a.city,
        phones=a.phones,
        usernames=a.usernames,
        fuel=nz.parse_fuel(a.masked),
        autoteka=nz.parse_autoteka(a.masked),
        equipment=nz.parse_equipment(a.masked),
        confidence=a.confidence,
    )


@lru_cache(maxsize=32)
def _analyse_cached(text: str) -> _Analysis:
    # The LLM engine calls prefilter() and extract_rules() on the same post: analyse it once.
    return _analyse(text)


def extract_rules(text: str) -> ListingFields:
    """Classify ``text`` and extract its listing fields with rules only. Never raises on any string."""
    return _fields(_analyse_cached(text if isinstance(text, str) else ""))


def classify(text: str) -> tuple[bool, str | None, float]:
    """``(is_car_sale, reason, confidence)`` for ``text``."""
    a = _analyse_cached(text if isinstance(text, str) else "")
    return a.is_sale, a.reason, a.confidence


def prefilter(text: str) -> PrefilterVerdict:
    """Is the post obviously not a car sale? ``reject`` only for confident non-sale verdicts."""
    is_sale, reason, confidence = classify(text)
    reject = (not is_sale) and confidence >= PREFILTER_MIN_CONFIDENCE
    return PrefilterVerdict(reject=reject, reason=reason if not is_sale else None, confidence=confidence)


class RulesExtractor:
    """The rules engine behind the ``Extractor`` protocol: no network, no LLM calls."""

    name = "rules"

    def extract(self, text: str, *, deadline: float | None = None) -> ExtractionResult:
        fields = extract_rules(text)  # no I/O: the deadline does not matter
        return ExtractionResult(fields=fields, engine="rules", llm_calls=0)
