"""The rules engine: classify a post (car for sale or not) and extract the listing fields, with no LLM.

Pipeline for one post (see docs/extraction.md):

1. Bound the text (head and tail windows for huge posts) and unify spaces, dashes and "ё".
2. Find contacts (phones, usernames, links) and mask them, so their digits and words never feed the
   price, year, mileage or city parsers.
3. Find the vehicle (brand/model from the catalogue) and every other field with the normalisers, each
   on first use: the classification asks for the fields a rule needs when it reaches that rule.
4. Classify: "hard" non-sale signals (sold, coming soon, giveaway, buy request, rental, parts offer,
   credit offer, news, question) decide first; then a car-evidence score built from the fields found.
5. A non-sale keeps every field empty and carries a ``reason`` slug (its trace holds only the fields
   its rules read); a sale has every field found.

Why one module of ~700 lines: it is the single pipeline above, read top to bottom; the normalisers it calls
live in the ``normalize`` package, and splitting the classification rules from the field assembly would
scatter one decision (sale or not, from the fields found) across files.

``prefilter`` exposes step 4 for the LLM engine: posts that are confidently not car sales never reach
the LLM.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar, overload

from carsbot.core.contracts import ListingFields
from carsbot.core.extraction import normalize as nz
from carsbot.core.extraction.base import ExtractionResult
from carsbot.core.extraction.normalize.keywords import WordStarts, word_starts

__all__ = [
    "PREFILTER_MIN_CONFIDENCE",
    "PrefilterVerdict",
    "RulesExtractor",
    "classify",
    "clear_caches",
    "explain",
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
    r"|\bготовим\b[^.\n]{0,60}\bк\s+(?:продаже|фотосессии|публикации|выставлению)"
    r"|(?:в\s+продаже|поступит|появится|выставим)\s+через\s+(?:пару|несколько|\d+)\s+(?:дн|недел|час)\w*"
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
# "не" first and its left word boundary checked after it, so ``re`` skips ahead to "не" (= "\bне\s+...")
_NOT_RENTAL = re.compile(
    r"не(?<!\wне)\s+(?:из-под\s+|из\s+под\s+|из\s+|под\s+|в\s+)?(?:такси|аренд\w*|каршеринг\w*|прокат\w*)"
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
_TYRE_WORDS = _rx(
    r"\bшин[аыу]?\b|\bрезин[аыу]\b|\bрезину\b|\bпокрышк\w*|\bдиск(?:и|ов|ами)?\b|\bколес[аов]?\b|\bколёс\w*|\br\s?1[3-9]\b"
    r"|\br\s?2[0-3]\b|\bшипован\w*|\bлипучк\w*|\bвсесезонк\w*|\bзимняя\s+резина|\bлетняя\s+резина"
)
_TYRE_SIZE = _rx(r"\b\d{3}/\d{2}\s?r?\s?\d{2}\b")  # "215/60 R16": searched only where a "/" is


class _Tyres:
    """Tyre and wheel words, and tyre sizes (the sizes only in a text with a "/")."""

    @staticmethod
    def search(low: str, starts: WordStarts | None = None) -> re.Match[str] | None:
        """The first tyre word or size; ``starts``: the index of the text ``low`` is a piece of."""
        word = _TYRE_WORDS.search(low) if starts is None else _TYRE_WORDS.search_part(low, starts)
        size = _TYRE_SIZE.search(low) if "/" in low else None
        if size is None or (word is not None and word.start() <= size.start()):
            return word  # the earlier of the two, the word on a tie
        return size

    @staticmethod
    def count(low: str) -> int:
        return _TYRE_WORDS.count(low) + (_TYRE_SIZE.count(low) if "/" in low else 0)


_TYRES = _Tyres()
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
    r"|\bпродаж\w*\s+старту\w*|\bбазов\w*\s+(?:верси|комплектаци)\w*|\bобновл[её]нн\w*|\bпрезентова\w*|\bпредставил\w*|\bпремьер\w*|\bстартовал\w*\s+продаж\w*|\bначал\w*\s+продаж\w*|\bпоявится\b|\bпоявились\b"
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
# Toys and models of cars: ride-on electric cars for children, scale and RC models.
_TOY = _rx(
    r"\bдетск\w*\s+(?:электро\w*|машин\w*|авто\w*)|\bдля\s+(?:детей|малыш\w*|ребенка|ребёнка)\b|\bмашинк\w*"
    r"|\bкаталк\w*|\bигрушк\w*|\bрадиоуправля\w*|\bна\s+радиоуправлении|\bмасштабн\w*\s+модел\w*"
    r"|\bколлекционн\w*\s+модел\w*|\bмодел\w*\s+1\s?:\s?\d{1,2}\b|\b1\s?:\s?(?:8|10|12|18|24|32|43|64)\b"
    r"|\bdiecast|\b(?:6|12|24)\s?v\b|\bпульт\w*\s+для\s+родител\w*|\bродительск\w*\s+пульт\w*"
)
# Insurance ads (that may quote an example car).
_INSURANCE = _rx(r"\bосаго\b|\bкаско\b|\bстраховани\w*|\bстраховк\w*|\bстрахов\w*\s+(?:полис|компан)\w*")
# "Congratulations on your purchase", testimonials, "handed over the keys".
_CONGRATS = _rx(
    r"\bпоздравля\w*|\bс\s+покупкой\b|\bдовольн\w*\s+клиент\w*|\bотзыв\w*\s+(?:нашего\s+|наших\s+)?клиент\w*"
    r"|\bспасибо\s+за\s+доверие|\bспасибо,?\s+что\s+выбрал\w*|\bключи\s+(?:от\s+\w+\s+)?вручен\w*|\bвручил\w*\s+ключ\w*"
    r"|\bзабрал\w*\s+сво\w+\s+(?:новую|новенькую|машину|авто)|\bсчастлив\w*\s+(?:владел\w*|обладател\w*)"
)
# Lists, ratings, comparisons and digests of several cars.
_LISTING_WORDS = _rx(
    r"\bтоп-?\s?\d+|\bрейтинг\w*|\bподборк\w*|\bсравнива\w*|\bсравнени\w*|\bобзор\w*|\bитоги\s+(?:месяца|недели|года)"
    r"|\bчто\s+(?:купить|взять|выбрать)\b|\bлучши\w+\s+(?:авто|машин|кроссовер|седан)\w*|\bсамы\w+\s+(?:надежн|угоняем|популярн|продаваем)\w*"
)
# "For example, ..." in an ad for a service, a credit or insurance.
_EXAMPLE = _rx(r"\bнапример\b|\bпример\b|\bк\s+примеру\b|\bпример\s+расч[её]та|\bдля\s+примера")
_BUDGET = _rx(
    r"\bбюджет(?:\s+до|\s*[:\-]|\s+\d|\s+в\s+пределах)|\bготов\w*\s+(?:заплатить|потратить)|\bперекуп\w*\s+тоже"
)
_NEED = _rx(r"^\s*(?:нужн[аоы]|нужен|требуется|рассмотрю|интересует)\b")
_BELOW_MARKET = re.compile(r"ниже\s+(?:рынка|рыночн\w*(?:\s+цен\w*)?)\s+на\s*$", re.IGNORECASE)
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
    """Is the post obviously not a car sale (so it need not reach the LLM)? And the rule that said so."""

    reject: bool
    reason: str | None
    confidence: float
    rule: str | None = None  # e.g. 'credit «автокредит»' (what ``carsbot eval`` shows for a rejected post)


_T = TypeVar("_T")


class _found(Generic[_T]):  # a decorator, named like ``cached_property``
    """A field of ``_Analysis`` found on first use and then kept: ``functools.cached_property`` without
    its lock (Python 3.11 takes one on each first use, twice the cost, and an analysis is made and
    read by one thread: ``_analyse`` reads every field it will ever need before it returns it)."""

    __slots__ = ("find", "name")

    def __init__(self, find: Callable[[Any], _T]) -> None:
        self.find = find
        self.name = find.__name__

    @overload
    def __get__(self, analysis: None, owner: type | None = None) -> _found[_T]: ...
    @overload
    def __get__(self, analysis: object, owner: type | None = None) -> _T: ...
    def __get__(self, analysis: object | None, owner: type | None = None) -> _T | _found[_T]:
        if analysis is None:
            return self
        value = analysis.__dict__[self.name] = self.find(analysis)  # read from there from now on
        return value


@dataclass(frozen=True, slots=True)
class _Amounts:
    """The money block of a post: its amounts, the price among them, the market price, the mileage (an
    amount may turn out to be the mileage), and the text with price and market amounts masked."""

    money: list[nz.MoneyMention]
    price: nz.MoneyMention | None
    market: int | None
    mileage: int | None
    masked_no_money: str


# The order of ``explain``'s fields: the order in which the whole analysis of a sale finds them.
_TRACE_ORDER = (
    "brand",
    "model",
    "mileage",
    "price",
    "market_price",
    "year",
    "engine_volume",
    "transmission",
    "drive",
    "owners_count",
    "city",
    "is_car_sale",
)


class _Analysis:
    """One post, prepared and masked, with every field found on first use.

    The classification reads the fields one rule at a time, and most posts that are not sales are
    decided by a rule that needs few of them or none ("продано", "куплю", "сдам в аренду"): those are
    never looked for. A sale reads them all (``_analyse`` makes sure, and orders the trace as the
    whole analysis writes it). Each field depends only on the text and on the fields it names, so the
    value found does not depend on which rule asked first.
    """

    def __init__(self, raw: str) -> None:
        text = nz.prepare_text(_window(raw or ""))
        phone_spans = nz.find_phone_spans(text)
        spans = [(s, e) for s, e, _ in phone_spans]
        if any(map(text.__contains__, _LINK_HINTS)):
            spans += [m.span() for m in _URL.finditer(text)]  # a link holds one of these
        if "@" in text:  # an e-mail address or a mention holds one
            spans += _email_spans(text)
            spans += [m.span() for m in _MENTION.finditer(text)]
        masked = _mask(text, spans)
        nz.mark_prepared(masked)  # spaces over a prepared text: every normaliser handed it skips the scan
        self.text = text  # windowed and prepared
        self.masked = masked  # contacts masked
        self.phones = list(dict.fromkeys(e for _, _, e in phone_spans))
        self.usernames = nz.extract_usernames(text)
        low = self.low = masked.lower()  # keyword patterns run on it
        nz.remember_lowered(masked, low)  # the normalisers handed ``masked`` lower-case it no more
        word_starts(low)  # every keyword pattern searching the lower-cased post is gated from now on
        self.title = _title(low)
        self.head = low[:200]
        self.trace: dict[str, str] = {}  # field -> 'rule «text that produced it»'
        self.is_sale = False
        self.reason: str | None = None
        self.confidence = 0.5
        self.rule: str | None = None  # the classification rule that decided

    def _note(self, name: str, hit: nz.Hit | None, source: str) -> nz.Hit | None:
        if hit is not None:
            self.trace[name] = f"{hit.rule} «{source[hit.start : hit.end].strip()}»"
        return hit

    @_found
    def vehicle(self) -> nz.Vehicle:
        masked = self.masked
        vehicle = nz.find_vehicle(masked)
        if vehicle.start is not None:
            kind = "vehicle:fuzzy" if vehicle.fuzzy else "vehicle:catalogue"
            self.trace["brand"] = self.trace["model"] = (
                f"{kind} «{masked[vehicle.start : vehicle.end].strip()}»"
            )
        return vehicle

    @_found
    def _amounts(self) -> _Amounts:
        masked, trace = self.masked, self.trace
        money = nz.find_money(masked)
        price_m = nz.best_price(money)
        market_m = next((m for m in money if m.role == "market"), None)
        market = market_m.value if market_m else None

        # Mileage/year/engine parsers see the text with money amounts masked too, and a model named by
        # digits ("Peugeot 2008", "ВАЗ 2107") masked for the year.
        masked_no_money = _mask(masked, [(m.start, m.end) for m in money if m.role in {"price", "market"}])
        nz.mark_prepared(masked_no_money)
        mileage_h = self._note("mileage", nz.mileage_hit(masked_no_money), masked_no_money)
        mileage = mileage_h.value if mileage_h else None
        if mileage is None and price_m is not None and price_m.keyed:
            mileage = _mileage_from_thousands(money, price_m)
            if mileage is not None:
                trace["mileage"] = "mileage:thousands-beside-price"
        if mileage is not None and price_m is not None and not price_m.keyed and price_m.value == mileage:
            # "245тыс пробег 430т.р.": the thousands amount equal to the mileage is not the price
            money = [m for m in money if m is not price_m]
            price_m = nz.best_price(money)
        if mileage is None:
            unit_less = _mileage_among_prices(money)
            if unit_less is not None:
                mileage = unit_less.value
                trace["mileage"] = f"mileage:smaller-of-two-amounts «{unit_less.raw}»"
                money = [m for m in money if m is not unit_less]
                price_m = nz.best_price(money)
        if price_m is not None:
            kind = "keyword" if price_m.keyed else ("unit" if price_m.unit else "grouped-amount")
            trace["price"] = f"price:{kind} «{price_m.raw.strip()}»"
        if market_m is not None:
            trace["market_price"] = f"market:keyword «{market_m.raw.strip()}»"
        elif price_m is not None:
            below = _below_market(masked, money, price_m)
            if below is not None:
                market = price_m.value + below.value
                trace["market_price"] = f"market:price-plus-below-market «{below.raw.strip()}»"
        return _Amounts(money, price_m, market, mileage, masked_no_money)

    @_found
    def price(self) -> int | None:
        price_m = self._amounts.price
        return price_m.value if price_m else None

    @_found
    def market_price(self) -> int | None:
        return self._amounts.market

    @_found
    def mileage(self) -> int | None:
        return self._amounts.mileage

    @_found
    def year(self) -> int | None:
        vehicle, masked_no_money = self.vehicle, self._amounts.masked_no_money
        year_text = masked_no_money
        if vehicle.model and vehicle.model.isdigit() and vehicle.end is not None:
            model_start = masked_no_money.rfind(vehicle.model[:2], 0, vehicle.end)
            if model_start >= 0:
                year_text = _mask(masked_no_money, [(model_start, vehicle.end)])
        year_h = self._note("year", nz.year_hit(year_text), year_text)
        if year_h is None:
            bare_zone = self.title
            if vehicle.start is not None:
                line_start = year_text.rfind("\n", 0, vehicle.start) + 1
                line_end = year_text.find("\n", vehicle.end or vehicle.start)
                bare_zone += "\n" + year_text[line_start : line_end if line_end >= 0 else None]
            # pieces of prepared texts (lower-casing one adds no character preparation removes): the
            # year finder need not scan the zone again
            nz.mark_prepared(bare_zone)
            year_h = self._note("year", nz.year_hit(bare_zone, bare_ok=True), bare_zone)
        return year_h.value if year_h else None

    @_found
    def engine_volume(self) -> float | None:
        vehicle, amounts = self.vehicle, self._amounts
        masked_no_money = amounts.masked_no_money
        after_model = masked_no_money[vehicle.end : vehicle.end + 24] if vehicle.end is not None else None
        engine_h = nz.engine_hit(masked_no_money, after_model=after_model, list_ok=amounts.price is not None)
        if engine_h is None:
            return None
        source = after_model if engine_h.rule == "engine:after-model" and after_model else masked_no_money
        self._note("engine_volume", engine_h, source)
        return engine_h.value

    @_found
    def transmission(self) -> str | None:
        hit = self._note("transmission", nz.transmission_hit(self.masked), self.low)
        return hit.value if hit else None

    @_found
    def drive(self) -> str | None:
        hit = self._note("drive", nz.drive_hit(self.masked), self.low)
        return hit.value if hit else None

    @_found
    def owners(self) -> int | None:
        masked_no_money = self._amounts.masked_no_money
        hit = self._note("owners_count", nz.owners_hit(masked_no_money), masked_no_money)
        return hit.value if hit else None

    @_found
    def city(self) -> str | None:
        hit = self._note("city", nz.city_hit(self.masked), self.masked)
        return hit.value if hit else None

    def all_fields(self) -> None:
        """Find every field (a sale lists them all), and order the trace as the fields are listed."""
        _ = (self.vehicle, self.mileage, self.year, self.engine_volume, self.transmission, self.drive)
        _ = (self.owners, self.city)
        trace = self.trace
        self.trace = {name: trace[name] for name in _TRACE_ORDER if name in trace}


# Searched in the post as written, which no keyword pattern searches: not worth an index of its own.
_URL = nz.Words(r"(?:https?://|www\.)\S+|\b(?:t|telegram|wa|vk)\.(?:me|dog|com|ru)/\S+", indexed=False)
_LINK_HINTS = ("http", "www.", ".me/", ".ru/", ".com/", ".dog/")  # every _URL match holds one
_MENTION = re.compile(r"@[A-Za-z0-9_]{3,}")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b")
_EMAIL_LOCAL = "_.+-"  # the characters of an address's local part besides letters and digits ([\w.+-])


def _email_spans(text: str) -> list[tuple[int, int]]:
    """The spans of ``_EMAIL.finditer(text)``. The pattern begins with a class, so ``re`` would try it at
    every position: each search starts instead where the local part before the next "@" may begin (no
    match starts earlier: the characters before it are not of a local part, and an "@" is not either)."""
    spans = []
    pos = 0
    while (at := text.find("@", pos)) >= 0:
        start = at
        while start > pos and (text[start - 1].isalnum() or text[start - 1] in _EMAIL_LOCAL):
            start -= 1
        m = _EMAIL.search(text, start)
        if m is None:
            break
        spans.append(m.span())
        pos = m.end()
    return spans


_NOT_NEWLINE = re.compile(r"[^\n]")


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with every character of ``spans`` but newlines blanked (offsets kept)."""
    if not spans:
        return text
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        end = min(end, len(text))
        if start >= end:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[str] = []
    pos = 0
    for start, end in merged:
        piece = text[start:end]
        out += (text[pos:start], _NOT_NEWLINE.sub(" ", piece) if "\n" in piece else " " * (end - start))
        pos = end
    out.append(text[pos:])
    return "".join(out)


# Lines that are never the title: hashtag-only lines and forwarded-message headers.
_NOT_TITLE = re.compile(r"^(?:#\S+[\s,]*)+$|^(?:переслано|forwarded|пересланное|репост)\b")


def _title(low: str) -> str:
    """The first line with letters that is not hashtags or a forwarding header (stripped)."""
    pos = 0
    while pos <= len(low):  # line by line, not ``split``: the title is usually the first line of many
        end = low.find("\n", pos)
        if end < 0:
            end = len(low)
        line = low[pos:end].strip()
        if line and _has_letters(line) and not _NOT_TITLE.match(line):
            return line
        pos = end + 1
    return ""


# A character that may be a letter: a word character but not a decimal digit or "_" (letters, and the
# few other numerals such as "²"), so ``re`` finds the first candidate instead of a Python loop.
_LETTER_LIKE = re.compile(r"[^\W\d_]")


def _has_letters(text: str) -> bool:
    pos = 0
    while (m := _LETTER_LIKE.search(text, pos)) is not None:
        if m.group().isalpha():
            return True
        pos = m.end()
    return False


def _analyse(raw: str) -> _Analysis:
    analysis = _Analysis(raw)
    analysis.is_sale, analysis.reason, analysis.confidence, analysis.rule = _classify(analysis)
    if analysis.is_sale:
        analysis.all_fields()
    analysis.trace["is_car_sale"] = analysis.rule or ""
    return analysis


def _below_market(text: str, money: list[nz.MoneyMention], price: nz.MoneyMention) -> nz.MoneyMention | None:
    """The amount of "ниже рынка на 200к" stated beside an explicit price (market = price + amount)."""
    if "рын" not in text:
        return None
    for m in money:
        if (
            m is not price
            and _BELOW_MARKET.search(text, max(0, m.start - 40), m.start)
            and m.value < price.value
        ):
            return m
    return None


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


def _specs_count(a: _Analysis) -> int:
    """How many of the engine volume, gearbox and drive the post states."""
    return (a.engine_volume is not None) + (a.transmission is not None) + (a.drive is not None)


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
    specs = _specs_count(a)
    score += min(specs, 3) * 0.5
    if a.owners is not None:
        score += 1.0
    if _CAR_WORDS.occurs(a.low):  # whether, not where: the first alternative found will do
        score += 0.5
    if a.phones or a.usernames:
        score += 0.5
    return score


def _said(m: re.Match[str] | None) -> str:
    return f" «{m.group(0).strip()}»" if m is not None else ""


def _classify(a: _Analysis) -> tuple[bool, str | None, float, str]:
    """``(is_sale, reason, confidence, rule)``: the rule names the signal that decided and its words."""
    masked = a.low
    body = masked.strip()
    if not body or not _has_letters(body):
        return False, "no_car", 0.99, "no_car: no words"
    title, head = a.title, a.head
    starts = word_starts(masked)  # built by _analyse; the title and head are pieces of the text it indexes
    short = len(body) < 350
    # Each rule reads only the fields it needs, when it needs them (``_Analysis`` finds each on first
    # use): a post decided early costs only what that rule read. "например", the sale verb and "is it a
    # concrete car" are likewise found once, when a rule first asks (the same answer whichever asks).
    memo: dict[str, object] = {}

    def example() -> re.Match[str] | None:
        if "example" not in memo:
            memo["example"] = _EXAMPLE.search(masked)
        return memo["example"]  # type: ignore[return-value]

    def sale_verb() -> re.Match[str] | None:
        if "verb" not in memo:
            memo["verb"] = _SALE.search(masked)
        return memo["verb"]  # type: ignore[return-value]

    def specific_car() -> bool:
        return bool(a.vehicle.brand) and (a.year is not None or a.mileage is not None or a.price is not None)

    def described() -> bool:
        # A concrete used car described the way a seller does (a dealer card too): its mileage or owners,
        # or two specs, beside the brand. Credit, trade-in and insurance words in such a post are extras.
        if "described" not in memo:
            memo["described"] = specific_car() and (
                a.mileage is not None or a.owners is not None or _specs_count(a) >= 2
            )
        return memo["described"]  # type: ignore[return-value]

    # Hard signals: the post is about a car but is not an offer to sell it now.
    toy = _TOY.search(masked)
    if toy:
        return False, "toy", 0.95, "toy" + _said(toy)
    giveaway = _GIVEAWAY.search_part(head, starts) or (
        None if (anywhere := _GIVEAWAY.search(masked)) is None or a.price else anywhere
    )
    if giveaway:
        return False, "giveaway", 0.95, "giveaway" + _said(giveaway)
    congrats = _CONGRATS.search(masked)
    if congrats and not (a.phones and not short and described()):
        return False, "congratulation", 0.92, "congratulation" + _said(congrats)
    coming = _COMING_SOON.search(masked)
    if coming:
        return False, "coming_soon", 0.92, "coming_soon" + _said(coming)
    sold = _SOLD.search(masked)
    if sold and (sold.start() < 160 or short or sold.start() > len(masked) - 120):
        return False, "sold", 0.95, "sold" + _said(sold)
    buy = _BUY.search(masked) or _NEED.search(masked)
    if buy and (buy.start() < 120 or not sale_verb()):
        return False, "buy_request", 0.95, "buy_request" + _said(buy)
    budget = _BUDGET.search(masked)
    if budget and not _SALE_POSITIVE.search(masked):
        return False, "buy_request", 0.9, "buy_request" + _said(budget)
    rental = _RENTAL.search(_NOT_RENTAL.sub(" ", masked))
    if rental:
        return False, "rental", 0.93, "rental" + _said(rental)
    not_car = _NOT_CAR.search_part(head, starts)
    if not_car and (a.vehicle.start is None or not_car.start() < a.vehicle.start):
        return False, "not_car", 0.9, "not_car" + _said(not_car)
    swap = _SWAP.search(masked)
    exchange_only = _EXCHANGE_ONLY.search(masked)
    if (exchange_only or (swap and swap.start() < 80)) and not _SALE_POSITIVE.search(masked):
        return False, "exchange", 0.9, "exchange" + _said(exchange_only or swap)
    parts = (
        _PARTS.search_part(title, starts)
        or _PARTS_SALE.search_part(head, starts)
        or (None if (anywhere := _PARTS.search(masked)) is None or a.mileage else anywhere)
    )
    if parts:
        return False, "parts", 0.93, "parts" + _said(parts)
    models = nz.model_mentions(a.masked) if a.vehicle.model else []
    distinct = len({name for name, _, _ in models})
    listing = _LISTING_WORDS.search(masked)
    if distinct >= 3 or (listing and distinct >= 2):
        names = ", ".join(dict.fromkeys(name for name, _, _ in models))
        return False, "list", 0.9, f"list: {distinct} models ({names})" + _said(listing)
    insurance = _INSURANCE.search(masked)
    if insurance and (insurance.start() < 120 or example()) and not (described() and not example()):
        return False, "insurance", 0.9, "insurance" + _said(insurance)
    credit = _CREDIT.search(masked)
    if credit and (not described() or example()) and (credit.start() < 160 or not specific_car()):
        return False, "credit", 0.92, "credit" + _said(credit)
    question = _QUESTION.search(masked)
    if question and not (a.phones or a.usernames) and (question.start() < 160 or not sale_verb()):
        return False, "question", 0.9, "question" + _said(question)
    if "?" in body and not (a.phones or a.usernames) and a.price is None:
        return False, "question", 0.85, "question: a question mark, no contact, no price"
    # Counting news words needs a pass over every match: done here only when the count can decide (no
    # contact, no mileage), else in the tail below, which a sale never reaches; the same for tyre words.
    news_hits = _NEWS.count(masked) if not (a.phones or a.usernames) and a.mileage is None else None
    if news_hits is not None and news_hits >= 2:
        return False, "news", 0.9, f"news: {news_hits} news words" + _said(_NEWS.search(masked))

    tyres_title = _TYRES.search(title, starts)
    if tyres_title and a.mileage is None and a.owners is None:
        return False, "tyres", 0.9, "tyres" + _said(tyres_title)
    service = _SERVICE.search(masked)
    offer = _SERVICE_OFFER.search(masked) if service else None
    if service and (offer or example()) and ((a.mileage is None and a.year is None) or example()):
        return False, "service", 0.9, "service" + _said(service)
    if service and _SERVICE.search_part(title, starts) and a.mileage is None and a.owners is None:
        return False, "service", 0.85, "service" + _said(service)

    evidence = a.vehicle.brand is not None or (
        a.price is not None and (a.year is not None or a.mileage is not None)
    )
    verb_m = sale_verb()
    threshold = 3.5 if verb_m else 4.5
    score = _car_score(a)
    if evidence and score >= threshold:
        confidence = min(0.99, 0.55 + score / 20 + (0.1 if verb_m else 0.0))
        verb = f", sale verb «{verb_m.group(0)}»" if verb_m else ""
        return True, None, round(confidence, 2), f"sale: car score {score:g} >= {threshold:g}{verb}"

    # Not enough evidence of a specific car for sale: name the most likely kind of post.
    weak = f"car score {score:g} < {threshold:g}" if evidence else "no brand, no price with year/mileage"
    if _TYRES.count(masked):
        return False, "tyres", 0.85 if score < 3 else 0.6, f"tyres ({weak})"
    if service:
        return False, "service", 0.85 if score < 3 else 0.6, f"service ({weak})" + _said(service)
    if credit:
        return False, "credit", 0.85, f"credit ({weak})" + _said(credit)
    if insurance:
        return False, "insurance", 0.85, f"insurance ({weak})" + _said(insurance)
    if news_hits or (news_hits is None and _NEWS.search(masked) is not None):
        return False, "news", 0.8 if score < 3 else 0.6, f"news ({weak})"
    if question or body.endswith("?"):
        return False, "question", 0.85 if score < 3 else 0.6, f"question ({weak})"
    if _PARTS.search(masked):
        return False, "parts", 0.85, f"parts ({weak})"
    confidence = 0.9 if score < 2 else (0.75 if score < 3 else 0.55)
    return False, "no_car", confidence, f"no_car ({weak})"


def _fields(a: _Analysis) -> ListingFields:
    # Validating a dict validates exactly as the constructor does (the same validator, the same fields
    # set), for about half its overhead.
    validate = ListingFields.model_validate
    if not a.is_sale:
        return validate({"is_car_sale": False, "reason": a.reason, "confidence": a.confidence})
    return validate(
        {
            "is_car_sale": True,
            "brand": a.vehicle.brand,
            "model": a.vehicle.model,
            "year": a.year,
            "price": a.price,
            "market_price": a.market_price,
            "mileage": a.mileage,
            "engine_volume": a.engine_volume,
            "transmission": a.transmission,
            "drive": a.drive,
            "owners_count": a.owners,
            "city": a.city,
            "phones": a.phones,
            "usernames": a.usernames,
            "fuel": nz.parse_fuel(a.masked),
            "autoteka": nz.parse_autoteka(a.masked),
            "equipment": nz.parse_equipment(a.masked),
            "confidence": a.confidence,
        }
    )


@lru_cache(maxsize=32)
def _analyse_cached(text: str) -> _Analysis:
    # The LLM engine calls prefilter() and extract_rules() on the same post: analyse it once.
    return _analyse(text)


def clear_caches() -> None:
    """Forget every per-text and per-token memo of the engine (benchmarks measure real work with it)."""
    from carsbot.core.extraction.normalize import contacts, keywords, text, vehicles

    _analyse_cached.cache_clear()
    keywords.clear_word_memo()
    text.forget_prepared()
    text.forget_lowered()
    vehicles._hits.cache_clear()
    vehicles._fuzzy_brand_of.cache_clear()
    vehicles._fuzzy_model_of.cache_clear()
    contacts._phone_e164.cache_clear()


def extract_rules(text: str) -> ListingFields:
    """Classify ``text`` and extract its listing fields with rules only. Never raises on any string."""
    return _fields(_analyse_cached(text if isinstance(text, str) else ""))


def explain(text: str) -> dict[str, str]:
    """For each field the rules engine filled (and ``is_car_sale``), the rule and the words it used."""
    return dict(_analyse_cached(text if isinstance(text, str) else "").trace)


def classify(text: str) -> tuple[bool, str | None, float]:
    """``(is_car_sale, reason, confidence)`` for ``text``."""
    a = _analyse_cached(text if isinstance(text, str) else "")
    return a.is_sale, a.reason, a.confidence


def prefilter(text: str) -> PrefilterVerdict:
    """Is the post obviously not a car sale? ``reject`` only for confident non-sale verdicts."""
    a = _analyse_cached(text if isinstance(text, str) else "")
    reject = (not a.is_sale) and a.confidence >= PREFILTER_MIN_CONFIDENCE
    return PrefilterVerdict(
        reject=reject,
        reason=a.reason if not a.is_sale else None,
        confidence=a.confidence,
        rule=a.rule if reject else None,
    )


class RulesExtractor:
    """The rules engine behind the ``Extractor`` protocol: no network, no LLM calls."""

    name = "rules"

    def extract(self, text: str, *, deadline: float | None = None) -> ExtractionResult:
        fields = extract_rules(text)  # no I/O: the deadline does not matter
        return ExtractionResult(fields=fields, engine="rules", llm_calls=0, trace=explain(text))
