"""The one catalogue of user-facing texts: gettext ``.po`` source, compiled to ``.mo``. Stdlib only.

Source strings (msgids) are English and live in the code as ``_("...")``; what a user reads is the
translation in ``locales/<lang>/LC_MESSAGES/messages.po``. Russian (``ru``) is the only catalogue and the
default. A second language is one more ``.po`` file. The bot reads the catalogue through aiogram's i18n
(``carsbot.bot.i18n``); the alerts fan-out and the payments jobs, which run outside a conversation, through
``translator``.

The ``.po`` files are the committed source. ``compile_catalogues`` turns them into the ``.mo`` files
gettext loads (GNU MO format, as CPython's ``Tools/i18n/msgfmt.py`` writes it); it runs in the Lambda
build (``functions/Makefile``) and in the tests (``python -m carsbot.core.i18n``). Where the package has no
up-to-date ``.mo`` (a fresh checkout), ``compiled_locales_dir`` compiles into it, or into a temporary
directory when the package is read-only.
"""

from __future__ import annotations

import ast
import gettext
import struct
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"
DEFAULT_LOCALE = "ru"


def N_(msgid: str) -> str:
    """Mark a msgid that is translated later (``gettext_noop``): constants, dictionaries of texts."""
    return msgid


# ----------------------------------------------------------------------------- .po -> .mo


@dataclass
class PoEntry:
    msgid: str
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    fuzzy: bool = False

    @property
    def translated(self) -> bool:
        return bool(self.msgstr) and all(self.msgstr.values())


def _unquote(text: str, path: Path, lineno: int) -> str:
    text = text.strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ValueError(f"{path}:{lineno}: expected a quoted string")
    value = ast.literal_eval(text)
    if not isinstance(value, str):
        raise ValueError(f"{path}:{lineno}: not a string")
    return value


def read_po(path: Path) -> list[PoEntry]:
    """The entries of a ``.po`` file (the header is the entry with an empty msgid)."""
    entries: list[PoEntry] = []
    current: PoEntry | None = None
    target: tuple[str, int] | None = None  # which field continuation lines extend
    fuzzy = False

    def finish() -> None:
        nonlocal current
        if current is not None:
            entries.append(current)
        current = None

    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if line.startswith("#,") and "fuzzy" in line:
                fuzzy = True
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            if current is None or target is None:
                raise ValueError(f"{path}:{lineno}: continuation outside an entry")
            value = _unquote(line, path, lineno)
            name, index = target
            if name == "msgstr":
                current.msgstr[index] += value
            else:
                setattr(current, name, (getattr(current, name) or "") + value)
            continue
        if keyword in ("msgctxt", "msgid"):
            starts_new = current is None or bool(current.msgstr) or keyword == "msgctxt"
            if starts_new:
                finish()
                current = PoEntry(msgid="", fuzzy=fuzzy)
                fuzzy = False
        if current is None:
            raise ValueError(f"{path}:{lineno}: {keyword} before msgid")
        if keyword == "msgctxt":
            current.msgctxt = _unquote(rest, path, lineno)
            target = ("msgctxt", 0)
        elif keyword == "msgid":
            current.msgid = _unquote(rest, path, lineno)
            target = ("msgid", 0)
        elif keyword == "msgid_plural":
            current.msgid_plural = _unquote(rest, path, lineno)
            target = ("msgid_plural", 0)
        elif keyword == "msgstr":
            current.msgstr[0] = _unquote(rest, path, lineno)
            target = ("msgstr", 0)
        elif keyword.startswith("msgstr[") and keyword.endswith("]"):
            index = int(keyword[7:-1])
            current.msgstr[index] = _unquote(rest, path, lineno)
            target = ("msgstr", index)
        else:
            raise ValueError(f"{path}:{lineno}: unknown keyword {keyword!r}")
    finish()
    return entries


def write_mo(entries: Iterable[PoEntry], path: Path) -> None:
    """Write a GNU ``.mo`` file (fuzzy and untranslated entries are left out, as msgfmt does)."""
    catalog: dict[bytes, bytes] = {}
    for entry in entries:
        if entry.fuzzy and entry.msgid:
            continue
        if entry.msgid and not entry.translated:
            continue
        key = entry.msgid
        if entry.msgid_plural is not None:
            key += "\0" + entry.msgid_plural
        if entry.msgctxt is not None:
            key = entry.msgctxt + "\x04" + key
        value = "\0".join(entry.msgstr[i] for i in sorted(entry.msgstr))
        catalog[key.encode("utf-8")] = value.encode("utf-8")
    keys = sorted(catalog)
    ids = b"".join(k + b"\0" for k in keys)
    strs = b"".join(catalog[k] + b"\0" for k in keys)
    offsets: list[tuple[int, int, int, int]] = []
    id_pos = str_pos = 0
    for k in keys:
        offsets.append((id_pos, len(k), str_pos, len(catalog[k])))
        id_pos += len(k) + 1
        str_pos += len(catalog[k]) + 1
    count = len(keys)
    keystart = 7 * 4 + 16 * count
    valuestart = keystart + len(ids)
    key_table: list[int] = []
    value_table: list[int] = []
    for o1, l1, o2, l2 in offsets:
        key_table += [l1, o1 + keystart]
        value_table += [l2, o2 + valuestart]
    header = struct.pack("Iiiiiii", 0x950412DE, 0, count, 7 * 4, 7 * 4 + count * 8, 0, 0)
    body = struct.pack(f"{len(key_table)}i", *key_table) + struct.pack(f"{len(value_table)}i", *value_table)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + body + ids + strs)


def _po_files(src: Path) -> list[Path]:
    return sorted(src.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def compile_catalogues(src: Path = LOCALES_DIR, dest: Path | None = None) -> Path:
    """Compile every ``<lang>/LC_MESSAGES/messages.po`` under ``src`` into ``dest`` (default: in place)."""
    dest = dest or src
    for po in _po_files(src):
        mo = dest / po.relative_to(src).with_suffix(".mo")
        write_mo(read_po(po), mo)
    return dest


def _up_to_date(src: Path) -> bool:
    for po in _po_files(src):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            return False
    return True


def compiled_locales_dir(src: Path = LOCALES_DIR) -> Path:
    """A directory with up-to-date ``.mo`` files: the package's own, else compiled where writable."""
    if _up_to_date(src):
        return src
    try:
        return compile_catalogues(src)
    except OSError:  # a read-only package (Lambda's code directory without a build step)
        target = Path(tempfile.gettempdir()) / "carsbot-locales"
        compile_catalogues(src, target)
        return target


@lru_cache(maxsize=8)
def translator(locale: str = DEFAULT_LOCALE) -> gettext.NullTranslations:
    """The catalogue of ``locale`` (the default one when there is none for it)."""
    directory = compiled_locales_dir()
    wanted = locale if (directory / locale / "LC_MESSAGES" / f"{DOMAIN}.mo").exists() else DEFAULT_LOCALE
    return gettext.translation(DOMAIN, localedir=str(directory), languages=[wanted], fallback=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m carsbot.core.i18n [PACKAGE_ROOT]``: compile the catalogues (in place, or in a build)."""
    args = sys.argv[1:] if argv is None else argv
    src = Path(args[0]) / "carsbot" / "core" / "locales" if args else LOCALES_DIR
    compile_catalogues(src)
    print(f"compiled {len(_po_files(src))} catalogue(s) in {src}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
