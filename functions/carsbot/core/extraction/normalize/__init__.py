"""Normalisers for Russian used-car posts: pure functions from text to canonical values.

Every function takes the post text (or a fragment of it) and returns a canonical value or ``None`` /
an empty list when the value is not stated. Nothing is guessed. Units and canonical forms:

* prices — RUB integers (``parse_price``, ``parse_market_price``);
* mileage — km integer (``parse_mileage``); year — int (``parse_year``);
* engine volume — litres, one decimal (``parse_engine_volume``);
* transmission — ``automatic|manual|robot|variator``; drive — ``fwd|rwd|awd``;
* owners — int (``parse_owners``); city — canonical Russian nominative (``find_city``);
* brand/model — canonical Latin names from ``core/data/catalogue.json`` (``find_vehicle``);
* phones — E.164 via ``phonenumbers`` (``extract_phones``); usernames — without ``@``.

Regexes are compiled once at import; the catalogue and city indexes are built lazily on first use and
cached for the life of the process. ``phonenumbers`` and ``rapidfuzz`` are plain libraries (no network).

The package is split by topic: ``text`` (preparation, numbers, tokens), ``keywords`` (keyword patterns
and the per-text word index that gates them), ``scan`` (candidate-start matching, exact lower-case
search), ``money``, ``mileage``, ``year``, ``engine``, ``specs`` (gearbox, drive, owners, fuel, accidents,
equipment), ``contacts``, ``vehicles`` (catalogue) and ``cities``. Every public name is re-exported here.
"""

from carsbot.core.extraction.normalize.cities import city_hit, find_city
from carsbot.core.extraction.normalize.contacts import extract_phones, extract_usernames, find_phone_spans
from carsbot.core.extraction.normalize.engine import engine_hit, parse_engine_volume
from carsbot.core.extraction.normalize.keywords import Words
from carsbot.core.extraction.normalize.mileage import MAX_MILEAGE, mileage_hit, parse_mileage
from carsbot.core.extraction.normalize.money import (
    MAX_CAR_PRICE,
    MIN_CAR_PRICE,
    MoneyMention,
    best_price,
    find_money,
    parse_market_price,
    parse_price,
)
from carsbot.core.extraction.normalize.specs import (
    drive_hit,
    owners_hit,
    parse_autoteka,
    parse_drive,
    parse_equipment,
    parse_fuel,
    parse_owners,
    parse_transmission,
    transmission_hit,
)
from carsbot.core.extraction.normalize.text import (
    Hit,
    mark_prepared,
    normalize_token,
    prepare_text,
    remember_lowered,
)
from carsbot.core.extraction.normalize.vehicles import Vehicle, find_vehicle, model_mentions
from carsbot.core.extraction.normalize.year import MAX_YEAR, MIN_YEAR, parse_year, year_hit

__all__ = [
    "MAX_CAR_PRICE",
    "MAX_MILEAGE",
    "MAX_YEAR",
    "MIN_CAR_PRICE",
    "MIN_YEAR",
    "Hit",
    "MoneyMention",
    "Vehicle",
    "Words",
    "best_price",
    "city_hit",
    "drive_hit",
    "engine_hit",
    "extract_phones",
    "extract_usernames",
    "find_city",
    "find_money",
    "find_phone_spans",
    "find_vehicle",
    "mark_prepared",
    "mileage_hit",
    "model_mentions",
    "normalize_token",
    "owners_hit",
    "parse_autoteka",
    "parse_drive",
    "parse_engine_volume",
    "parse_equipment",
    "parse_fuel",
    "parse_market_price",
    "parse_mileage",
    "parse_owners",
    "parse_price",
    "parse_transmission",
    "parse_year",
    "prepare_text",
    "remember_lowered",
    "transmission_hit",
    "year_hit",
]
