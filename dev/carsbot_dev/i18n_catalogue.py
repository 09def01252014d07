"""The bot's msgids, read from the code: every ``_("...")``, ``ngettext("...", "...", n)`` and ``N_("...")``.

``python -m carsbot_dev.i18n_catalogue`` lists the msgids missing from (or unused in) each catalogue;
``--check`` exits non-zero when there are any (tests/bot/test_i18n.py runs the same check).
"""

from __future__ import annotations

import argparse
import ast
from dataclasses import dataclass
from pathlib import Path

from carsbot.core.i18n import LOCALES_DIR, read_po

PACKAGE = Path(__file__).resolve().parents[2] / "functions" / "carsbot"
# Where user-facing texts live: the bot, the alerts fan-out, the payments messages and the card texts.
TEXT_SOURCES = ("bot", "alerts", "payments", "core/cards.py")
SINGULAR = {"_", "gettext", "N_", "lazy_gettext", "__"}
PLURAL = {"ngettext"}


@dataclass(frozen=True)
class Msgid:
    msgid: str
    plural: str | None
    where: str


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _sources(root: Path) -> list[Path]:
    paths: list[Path] = []
    for name in TEXT_SOURCES:
        target = root / name
        paths += sorted(target.rglob("*.py")) if target.is_dir() else [target] if target.exists() else []
    return paths


def code_msgids(root: Path = PACKAGE) -> list[Msgid]:
    found: list[Msgid] = []
    for path in _sources(root):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or not node.args:
                continue
            name = node.func.id
            first = _literal(node.args[0])
            where = f"{path.relative_to(root.parent)}:{node.lineno}"
            if name in SINGULAR and first is not None:
                found.append(Msgid(first, None, where))
            elif name in PLURAL and first is not None and len(node.args) > 1:
                found.append(Msgid(first, _literal(node.args[1]), where))
    return found


def problems(locales: Path = LOCALES_DIR) -> list[str]:
    wanted = {m.msgid: m for m in code_msgids()}
    out: list[str] = []
    for po in sorted(locales.glob("*/LC_MESSAGES/messages.po")):
        lang = po.parent.parent.name
        entries = {e.msgid: e for e in read_po(po) if e.msgid}
        for msgid, m in wanted.items():
            entry = entries.get(msgid)
            if entry is None or not entry.translated or entry.fuzzy:
                out.append(f"{lang}: missing translation for {msgid!r} ({m.where})")
            elif (m.plural is None) != (entry.msgid_plural is None):
                out.append(f"{lang}: plural mismatch for {msgid!r} ({m.where})")
        for msgid in entries.keys() - wanted.keys():
            out.append(f"{lang}: unused msgid {msgid!r}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--list", action="store_true", help="print every msgid found in the code")
    args = parser.parse_args()
    if args.list:
        seen = set()
        for m in code_msgids():
            if m.msgid not in seen:
                seen.add(m.msgid)
                print(repr(m.msgid), repr(m.plural) if m.plural else "")
        return 0
    found = problems()
    for line in found:
        print(line)
    return 1 if (found and args.check) else 0


if __name__ == "__main__":
    raise SystemExit(main())
